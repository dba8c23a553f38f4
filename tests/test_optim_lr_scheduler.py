"""Learning-rate schedulers against torch.optim.lr_scheduler; resuming from state dicts."""

import json

import numpy as np
import pytest

import minires as mr
from minires import optim
from minires.nn import Parameter
from minires.optim.lr_scheduler import CosineAnnealingLR, LinearLR, MultiStepLR, SequentialLR, StepLR

STEPS = 30
BASE_LRS = (0.1, 0.02)


def two_group_optimizer(library, parameter):
    """An SGD optimiser of ``library`` (minires.optim or torch.optim) with two groups."""
    return library.SGD([{"params": [parameter()]}, {"params": [parameter()], "lr": BASE_LRS[1]}],
                       lr=BASE_LRS[0], momentum=0.9)


def mr_optimizer():
    return two_group_optimizer(optim, lambda: Parameter(mr.tensor(np.ones(2))))


# Each builds a scheduler from a module with the names of torch.optim.lr_scheduler.
SCHEDULES = {
    "StepLR": lambda s, opt: s.StepLR(opt, step_size=7, gamma=0.5),
    "StepLR-default-gamma": lambda s, opt: s.StepLR(opt, 4),
    "MultiStepLR": lambda s, opt: s.MultiStepLR(opt, milestones=[12, 5, 12, 20], gamma=0.5),
    "CosineAnnealingLR": lambda s, opt: s.CosineAnnealingLR(opt, T_max=STEPS, eta_min=0.001),
    "LinearLR": lambda s, opt: s.LinearLR(opt, start_factor=0.1, end_factor=0.9, total_iters=8),
    "LinearLR-defaults": lambda s, opt: s.LinearLR(opt),
    "SequentialLR": lambda s, opt: s.SequentialLR(
        opt, [s.LinearLR(opt, start_factor=0.1, total_iters=5), s.CosineAnnealingLR(opt, T_max=25)],
        milestones=[5]),
}


def lr_history(scheduler, optimizer, steps=STEPS):
    """[get_last_lr()] after construction and after each step; checks the groups agree."""
    history = [scheduler.get_last_lr()]
    for _ in range(steps):
        optimizer.step()
        scheduler.step()
        history.append(scheduler.get_last_lr())
        assert [group["lr"] for group in optimizer.param_groups] == [float(lr) for lr in history[-1]]
    return np.array(history, dtype=float)


@pytest.mark.parametrize("name", SCHEDULES)
def test_matches_torch(torch, name):
    optimizer = mr_optimizer()
    scheduler = SCHEDULES[name](optim.lr_scheduler, optimizer)
    assert [group["initial_lr"] for group in optimizer.param_groups] == list(BASE_LRS)
    ours = lr_history(scheduler, optimizer)
    torch_optimizer = two_group_optimizer(torch.optim, lambda: torch.nn.Parameter(torch.ones(2)))
    theirs = lr_history(SCHEDULES[name](torch.optim.lr_scheduler, torch_optimizer), torch_optimizer)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=0)
    assert scheduler.last_epoch == STEPS
    assert len(np.unique(ours[:, 0])) > 3, "the schedule should change the lr"


def test_hand_computed_values():
    optimizer = mr_optimizer()
    warmup = LinearLR(optimizer, start_factor=0.1, total_iters=5)
    cosine = CosineAnnealingLR(optimizer, T_max=4)
    lrs = lr_history(SequentialLR(optimizer, [warmup, cosine], milestones=[5]), optimizer, steps=9)[:, 0]
    expected = [0.01, 0.028, 0.046, 0.064, 0.082, 0.1, 0.1 * (1 + np.cos(np.pi / 4)) / 2, 0.05,
                0.1 * (1 + np.cos(3 * np.pi / 4)) / 2, 0.0]
    np.testing.assert_allclose(lrs, expected, rtol=1e-13, atol=1e-17)
    optimizer = mr_optimizer()
    lrs = lr_history(MultiStepLR(optimizer, milestones=[2, 4, 4], gamma=0.1), optimizer, steps=5)[:, 1]
    np.testing.assert_allclose(lrs, [0.02, 0.02, 0.002, 0.002, 0.00002, 0.00002], rtol=1e-13)


def plain_values_only(value):
    if isinstance(value, dict):
        return all(isinstance(key, str) and plain_values_only(item) for key, item in value.items())
    if isinstance(value, list):
        return all(plain_values_only(item) for item in value)
    return type(value) in (int, float)


@pytest.mark.parametrize("name", SCHEDULES)
def test_resuming_is_bit_exact(name):
    optimizer = mr_optimizer()
    scheduler = SCHEDULES[name](optim.lr_scheduler, optimizer)
    lr_history(scheduler, optimizer, steps=7)
    assert plain_values_only(scheduler.state_dict())
    saved_scheduler = json.loads(json.dumps(scheduler.state_dict()))
    saved_optimizer = optimizer.state_dict()
    saved_optimizer["param_groups"] = json.loads(json.dumps(saved_optimizer["param_groups"]))
    uninterrupted = lr_history(scheduler, optimizer, steps=STEPS - 7)

    fresh_optimizer = mr_optimizer()
    fresh = SCHEDULES[name](optim.lr_scheduler, fresh_optimizer)
    fresh_optimizer.load_state_dict(saved_optimizer)
    fresh.load_state_dict(saved_scheduler)
    assert fresh.last_epoch == 7
    resumed = lr_history(fresh, fresh_optimizer, steps=STEPS - 7)
    np.testing.assert_array_equal(resumed, uninterrupted)


def test_resuming_with_last_epoch_needs_initial_lr():
    optimizer = mr_optimizer()
    with pytest.raises(KeyError, match="param group 0 has no 'initial_lr'"):
        CosineAnnealingLR(optimizer, T_max=10, last_epoch=4)
    for group in optimizer.param_groups:
        group["initial_lr"] = group["lr"]
    scheduler = CosineAnnealingLR(optimizer, T_max=10, last_epoch=4)
    assert scheduler.last_epoch == 5
    np.testing.assert_allclose(scheduler.get_last_lr()[0], 0.1 * (1 + np.cos(np.pi / 2)) / 2, rtol=1e-14)


@pytest.mark.parametrize("build, match", [
    (lambda opt: CosineAnnealingLR(opt, T_max=0), "T_max must be a positive int"),
    (lambda opt: LinearLR(opt, start_factor=0.0), r"start_factor must be in \(0, 1\]"),
    (lambda opt: LinearLR(opt, end_factor=1.5), r"end_factor must be in \[0, 1\]"),
    (lambda opt: LinearLR(opt, total_iters=2.5), "total_iters must be a positive int"),
    (lambda opt: MultiStepLR(opt, milestones=[3, -1]), "milestones must be non-negative ints"),
    (lambda opt: StepLR(opt, step_size=0), "StepLR: step_size must be a positive int; got 0"),
    (lambda opt: StepLR(opt, step_size=2.0), "StepLR: step_size must be a positive int"),
    (lambda opt: StepLR(opt, step_size=2, gamma=-0.1), "StepLR: gamma must be a number >= 0.0"),
    (lambda opt: SequentialLR(opt, [LinearLR(opt), LinearLR(opt)], milestones=[]), "2 schedulers need 1"),
    (lambda opt: SequentialLR(opt, [LinearLR(mr_optimizer())], milestones=[]), "scheduler 0 .* must be"),
    (lambda opt: SequentialLR(opt, [], milestones=[]), "at least one scheduler"),
])
def test_bad_arguments_are_refused(build, match):
    with pytest.raises(ValueError, match=match):
        build(mr_optimizer())


def test_load_errors():
    scheduler = CosineAnnealingLR(mr_optimizer(), T_max=10)
    with pytest.raises(ValueError, match=r"lacks \['base_lrs', '_last_lr'\]"):
        scheduler.load_state_dict({"last_epoch": 3})
    with pytest.raises(ValueError, match="1 base lrs, the optimiser 2 param groups"):
        scheduler.load_state_dict({"last_epoch": 3, "base_lrs": [0.1], "_last_lr": [0.1]})
    with pytest.raises(TypeError, match="expected an Optimizer"):
        CosineAnnealingLR([], T_max=10)


GOOD = {"last_epoch": 3, "base_lrs": [0.1, 0.02], "_last_lr": [0.05, 0.01]}


@pytest.mark.parametrize("saved, match", [
    (None, "CosineAnnealingLR.load_state_dict: the state dict is NoneType None; expected the dict"),
    ({**GOOD, "last_epoch": -4}, r"last_epoch is -4 in the state dict; expected an int >= -1"),
    ({**GOOD, "last_epoch": "3"}, r"last_epoch is '3' in the state dict"),
    ({**GOOD, "last_epoch": 2.5}, r"last_epoch is 2.5 in the state dict"),
    ({**GOOD, "base_lrs": 0.1}, "base_lrs is float 0.1 in the state dict; expected a list of lrs"),
    ({**GOOD, "base_lrs": [0.1, "x"]}, "each of base_lrs must be a number >= 0.0; got 'x'"),
    ({**GOOD, "_last_lr": None}, "_last_lr is NoneType None in the state dict"),
    ({**GOOD, "_last_lr": [0.1]}, "the state dict has 1 lrs in _last_lr, the optimiser 2 param groups"),
])
def test_a_damaged_state_dict_is_named_and_changes_nothing(saved, match):
    scheduler = CosineAnnealingLR(mr_optimizer(), T_max=10)
    before = scheduler.state_dict()
    with pytest.raises(ValueError, match=match):
        scheduler.load_state_dict(saved)
    assert scheduler.state_dict() == before


def test_a_checkpoints_numbers_are_read_back_as_python_numbers():
    """A NumPy number in a state dict comes back from a checkpoint as a 0-d array."""
    scheduler = CosineAnnealingLR(mr_optimizer(), T_max=10)
    scheduler.load_state_dict({"last_epoch": np.array(3), "base_lrs": [np.array(0.1), 0.02],
                               "_last_lr": [np.float64(0.05), 0.01]})
    assert scheduler.state_dict() == GOOD and type(scheduler.last_epoch) is int


def test_a_damaged_sequential_state_dict_changes_nothing():
    optimizer = mr_optimizer()
    scheduler = SCHEDULES["SequentialLR"](optim.lr_scheduler, optimizer)
    before = scheduler.state_dict()
    damaged = json.loads(json.dumps(before))
    damaged["_schedulers"][1]["base_lrs"] = None            # the first would load, the second not
    damaged["_schedulers"][0]["last_epoch"] = 4
    with pytest.raises(ValueError, match="CosineAnnealingLR.load_state_dict: base_lrs is NoneType None"):
        scheduler.load_state_dict(damaged)
    assert scheduler.state_dict() == before
    with pytest.raises(ValueError, match="the state dict has 3 as _schedulers, this one 2"):
        scheduler.load_state_dict({**before, "_schedulers": 3})
