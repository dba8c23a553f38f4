"""Learning-rate schedules, as torch.optim.lr_scheduler.

A scheduler sets the "lr" of each of an optimiser's parameter groups from a count of
steps, ``last_epoch``. The constructor records each group's starting lr as
"initial_lr" (the schedule's base lr) and sets the lr for step 0; each ``step()``
(once per epoch, or once per batch: the schedule counts whatever you count) advances
the count by one and sets the next lr:

    optimizer = SGD(model.parameters(), lr=0.1, momentum=0.9)
    scheduler = MultiStepLR(optimizer, milestones=[100, 150], gamma=0.1)
    for epoch in range(200):
        train_one_epoch(model, optimizer)       # uses lr = 0.1, then 0.01, then 0.001
        scheduler.step()

Every lr here is computed in closed form from ``last_epoch`` and the base lr, so a
scheduler's whole state is that count: saving and loading it resumes the schedule
exactly. (PyTorch updates some lrs recursively, from the previous lr; the two agree
to rounding.)
"""

import bisect
import math

from minires import backend
from minires.optim.optimizer import Optimizer, check_number


class LRScheduler:
    """Base class: "initial_lr", ``last_epoch``, step(), get_last_lr(), saving and loading.

    A subclass defines ``get_lr()``, the lr of each group at step ``self.last_epoch``.

    Args:
        optimizer: the Optimizer whose groups' "lr" this sets.
        last_epoch: the step last taken; -1 (the default) starts the schedule. To resume
            by hand, pass the count of steps already taken: each group must then have
            its "initial_lr" already (it has, in a loaded optimiser state dict).
    """

    def __init__(self, optimizer, last_epoch=-1):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(self).__name__}: expected an Optimizer; got {type(optimizer).__name__}")
        self.optimizer = optimizer
        for number, group in enumerate(optimizer.param_groups):
            if last_epoch == -1:
                group.setdefault("initial_lr", group["lr"])
            elif "initial_lr" not in group:
                raise KeyError(f"{type(self).__name__}: resuming at last_epoch={last_epoch}, but param "
                               f"group {number} has no 'initial_lr'; load the optimiser's state dict first")
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self.step()                                       # sets the lr of step last_epoch + 1

    def get_lr(self) -> list:
        """The lr of each group at step ``self.last_epoch``."""
        raise NotImplementedError(f"{type(self).__name__} must define get_lr()")

    def step(self):
        """Advances the schedule by one step and sets each group's lr."""
        self.last_epoch += 1
        self._set_lrs()

    def _set_lrs(self):
        self._last_lr = self.get_lr()
        for group, lr in zip(self.optimizer.param_groups, self._last_lr):
            group["lr"] = lr

    def get_last_lr(self) -> list:
        """The lr of each group set by the last step (or by the constructor)."""
        return list(self._last_lr)

    def state_dict(self) -> dict:
        """{"last_epoch": int, "base_lrs": [float], "_last_lr": [float]}: plain Python values.

        The schedule's settings (milestones, T_max, ...) are not saved: like a model's
        architecture, they come from the constructor. The lrs themselves are in the
        optimiser's state dict.
        """
        return {"last_epoch": self.last_epoch, "base_lrs": list(self.base_lrs),
                "_last_lr": list(self._last_lr)}

    def load_state_dict(self, state_dict):
        """Restores what state_dict() returned; the next step() continues the schedule.

        Everything is checked first: a ValueError names a missing entry, a count that is
        not an int >= -1, or lrs that are not one number >= 0 per param group.
        """
        _check_keys(self, state_dict, ("last_epoch", "base_lrs", "_last_lr"))
        last_epoch = _check_last_epoch(self, state_dict["last_epoch"])
        groups = len(self.optimizer.param_groups)
        base_lrs, last_lrs = (_check_lrs(self, key, state_dict[key], groups) for key in ("base_lrs", "_last_lr"))
        self.last_epoch, self.base_lrs, self._last_lr = last_epoch, base_lrs, last_lrs


def _check_keys(scheduler, state_dict, keys):
    """Raises a ValueError unless ``state_dict`` is a dict with every one of ``keys``."""
    where = f"{type(scheduler).__name__}.load_state_dict"
    if not isinstance(state_dict, dict):
        raise ValueError(f"{where}: the state dict is {type(state_dict).__name__} {state_dict!r:.40}; "
                         "expected the dict that state_dict() returns")
    missing = [key for key in keys if key not in state_dict]
    if missing:
        raise ValueError(f"{where}: the state dict lacks {missing} "
                         f"(it has {sorted(map(str, state_dict))}); pass what state_dict() returned")


def _plain(value):
    """A NumPy scalar or 0-d array (what a checkpoint makes of one) as a Python number."""
    if backend.is_array(value) and value.shape == ():
        return value.item()
    return backend.scalar_value(value)


def _check_last_epoch(scheduler, last_epoch):
    """A saved step count, as an int >= -1 (-1: a scheduler of SequentialLR not yet started)."""
    last_epoch = _plain(last_epoch)
    if isinstance(last_epoch, bool) or not isinstance(last_epoch, int) or last_epoch < -1:
        raise ValueError(f"{type(scheduler).__name__}.load_state_dict: last_epoch is {last_epoch!r:.40} "
                         "in the state dict; expected an int >= -1 (a count of steps)")
    return last_epoch


def _check_lrs(scheduler, key, lrs, groups):
    """Saved lrs, as a list of ``groups`` Python numbers >= 0, one per param group."""
    where = f"{type(scheduler).__name__}.load_state_dict"
    if not isinstance(lrs, (list, tuple)):
        raise ValueError(f"{where}: {key} is {type(lrs).__name__} {lrs!r:.40} in the state dict; "
                         "expected a list of lrs, one per param group")
    if len(lrs) != groups:
        what = "base lrs" if key == "base_lrs" else f"lrs in {key}"
        raise ValueError(f"{where}: the state dict has {len(lrs)} {what}, the optimiser {groups} param groups")
    lrs = [_plain(lr) for lr in lrs]
    for lr in lrs:
        check_number(where, f"each of {key}", lr)
    return lrs


def _check_positive_int(scheduler_name, name, value):
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{scheduler_name}: {name} must be a positive int; got {value!r}")


class StepLR(LRScheduler):
    """Multiplies the lr by gamma every step_size steps, as torch.optim.lr_scheduler.StepLR.

        lr_t = base_lr * gamma ** (t // step_size)

    StepLR(optimizer, step_size=30, gamma=0.1) gives lr 0.1 for steps 0-29, 0.01 for
    30-59, and so on: MultiStepLR with evenly spaced milestones.

    Args:
        step_size: the number of steps (an int > 0) between drops.
        gamma: the factor.
    """

    def __init__(self, optimizer, step_size, gamma=0.1, last_epoch=-1):
        _check_positive_int("StepLR", "step_size", step_size)
        check_number("StepLR", "gamma", backend.scalar_value(gamma))
        self.step_size, self.gamma = step_size, gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        return [base_lr * self.gamma ** (self.last_epoch // self.step_size) for base_lr in self.base_lrs]


class MultiStepLR(LRScheduler):
    """Multiplies the lr by gamma at each milestone, as torch.optim.lr_scheduler.MultiStepLR.

        lr_t = base_lr * gamma ** (number of milestones <= t)

    The step schedule of ResNet on CIFAR-10 (He et al., 2016): lr 0.1, divided by 10 at
    32k and 48k iterations. A milestone listed twice multiplies by gamma twice.

    Args:
        milestones: steps (ints) at which the lr drops, in any order.
        gamma: the factor.
    """

    def __init__(self, optimizer, milestones, gamma=0.1, last_epoch=-1):
        milestones = list(milestones)
        if any(isinstance(m, bool) or not isinstance(m, int) or m < 0 for m in milestones):
            raise ValueError(f"MultiStepLR: milestones must be non-negative ints; got {milestones!r}")
        self.milestones = sorted(milestones)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        drops = bisect.bisect_right(self.milestones, self.last_epoch)   # milestones <= last_epoch
        return [base_lr * self.gamma ** drops for base_lr in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    """Half a cosine from the base lr down to eta_min over T_max steps, as
    torch.optim.lr_scheduler.CosineAnnealingLR (Loshchilov and Hutter, "SGDR:
    Stochastic Gradient Descent with Warm Restarts", 2017, without the restarts):

        lr_t = eta_min + (base_lr - eta_min) * (1 + cos(pi * t / T_max)) / 2

    so lr_0 = base_lr and lr_T_max = eta_min. Past T_max the cosine goes on (the lr
    rises again), as in PyTorch: choose T_max = the number of steps you will take.
    """

    def __init__(self, optimizer, T_max, eta_min=0.0, last_epoch=-1):
        _check_positive_int("CosineAnnealingLR", "T_max", T_max)
        self.T_max = T_max
        self.eta_min = eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        cosine = (1.0 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2.0
        return [self.eta_min + (base_lr - self.eta_min) * cosine for base_lr in self.base_lrs]


class LinearLR(LRScheduler):
    """A linear warm-up: the lr factor goes from start_factor to end_factor in total_iters
    steps, then stays, as torch.optim.lr_scheduler.LinearLR:

        lr_t = base_lr * (start_factor + (end_factor - start_factor) * min(t, total_iters) / total_iters)

    Goyal et al. ("Accurate, Large Minibatch SGD: Training ImageNet in 1 Hour", 2017)
    warm up this way; He et al. (2016) start their 110-layer ResNet at lr 0.01 for the
    same reason: a deep net can diverge at the full lr before its weights settle.
    """

    def __init__(self, optimizer, start_factor=1.0 / 3, end_factor=1.0, total_iters=5, last_epoch=-1):
        if not 0 < start_factor <= 1:
            raise ValueError(f"LinearLR: start_factor must be in (0, 1]; got {start_factor!r}")
        if not 0 <= end_factor <= 1:
            raise ValueError(f"LinearLR: end_factor must be in [0, 1]; got {end_factor!r}")
        _check_positive_int("LinearLR", "total_iters", total_iters)
        self.start_factor, self.end_factor, self.total_iters = start_factor, end_factor, total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        progress = min(self.last_epoch, self.total_iters) / self.total_iters
        factor = self.start_factor + (self.end_factor - self.start_factor) * progress
        return [base_lr * factor for base_lr in self.base_lrs]


class SequentialLR(LRScheduler):
    """Runs one scheduler after another, as torch.optim.lr_scheduler.SequentialLR.

    Scheduler i runs from milestones[i - 1] on, restarted at its own step 0 at that
    milestone. The usual pair is a warm-up and then the main schedule:

        warmup = LinearLR(optimizer, start_factor=0.1, total_iters=5)
        cosine = CosineAnnealingLR(optimizer, T_max=95)
        scheduler = SequentialLR(optimizer, [warmup, cosine], milestones=[5])

    gives lr 0.1 * base at step 0 rising linearly (0.28, 0.46, ...) until step 5, where
    the cosine starts from the full base lr and decays to 0 at step 100.

    Args:
        schedulers: the schedulers, built on this optimiser.
        milestones: len(schedulers) - 1 steps (ints) at which the next one takes over.
    """

    def __init__(self, optimizer, schedulers, milestones, last_epoch=-1):
        schedulers, milestones = list(schedulers), list(milestones)
        if not schedulers:
            raise ValueError("SequentialLR: expected at least one scheduler; got none")
        for number, scheduler in enumerate(schedulers):
            if not isinstance(scheduler, LRScheduler) or scheduler.optimizer is not optimizer:
                raise ValueError(f"SequentialLR: scheduler {number} ({type(scheduler).__name__}) must "
                                 "be a scheduler of the optimiser given to SequentialLR")
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(f"SequentialLR: {len(schedulers)} schedulers need {len(schedulers) - 1} "
                             f"milestones; got {len(milestones)}: {milestones}")
        self.optimizer = optimizer
        self._schedulers = schedulers
        self._milestones = milestones
        self.last_epoch = last_epoch + 1
        # Each scheduler's constructor took its step 0 and set the lr: undo that, and let
        # the one that runs first take step 0 again.
        for group in optimizer.param_groups:
            group["lr"] = group["initial_lr"]
        for scheduler in schedulers:
            scheduler.last_epoch -= 1
        first = self._schedulers[bisect.bisect_right(milestones, self.last_epoch)]
        first.step()
        self._last_lr = first.get_last_lr()

    def step(self):
        """Advances by one step; at a milestone, the next scheduler restarts at its step 0."""
        self.last_epoch += 1
        index = bisect.bisect_right(self._milestones, self.last_epoch)
        scheduler = self._schedulers[index]
        if index > 0 and self._milestones[index - 1] == self.last_epoch:
            scheduler.last_epoch = 0                      # the restart
            scheduler._set_lrs()
        else:
            scheduler.step()
        self._last_lr = scheduler.get_last_lr()

    def state_dict(self) -> dict:
        """{"last_epoch", "_last_lr", "_schedulers": [each scheduler's state dict]}."""
        return {"last_epoch": self.last_epoch, "_last_lr": list(self._last_lr),
                "_schedulers": [scheduler.state_dict() for scheduler in self._schedulers]}

    def load_state_dict(self, state_dict):
        """Restores what state_dict() returned, its schedulers' states included.

        Everything is checked before anything is written (a ValueError names what is wrong).
        """
        _check_keys(self, state_dict, ("last_epoch", "_last_lr", "_schedulers"))
        last_epoch = _check_last_epoch(self, state_dict["last_epoch"])
        last_lrs = _check_lrs(self, "_last_lr", state_dict["_last_lr"], len(self.optimizer.param_groups))
        saved = state_dict["_schedulers"]
        if not isinstance(saved, (list, tuple)) or len(saved) != len(self._schedulers):
            found = (f"{len(saved)} schedulers" if isinstance(saved, (list, tuple))
                     else f"{saved!r:.40} as _schedulers")
            raise ValueError(f"SequentialLR.load_state_dict: the state dict has {found}, "
                             f"this one {len(self._schedulers)}")
        for scheduler, scheduler_state in zip(self._schedulers, saved):          # check all first
            _check_keys(scheduler, scheduler_state, ("last_epoch", "base_lrs", "_last_lr"))
            _check_last_epoch(scheduler, scheduler_state["last_epoch"])
            for key in ("base_lrs", "_last_lr"):
                _check_lrs(scheduler, key, scheduler_state[key], len(self.optimizer.param_groups))
        for scheduler, scheduler_state in zip(self._schedulers, saved):
            scheduler.load_state_dict(scheduler_state)
        self.last_epoch, self._last_lr = last_epoch, last_lrs
