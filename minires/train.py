"""Training: one epoch, an evaluation, and ``fit``, which runs many and records them.

The loop is the one every PyTorch user has written::

    for images, labels in train_loader:
        logits = model(images)                     # (N, num_classes)
        loss = F.cross_entropy(logits, labels)
        model.zero_grad()
        loss.backward()
        optimizer.step()

with three additions that the experiments of this project need:

- a learning-rate schedule stepped after every batch (cosine, warm-up) or after every
  epoch (the ResNet recipe's MultiStepLR);
- for VAN nets, the constrained update of the alphas and the Lagrange multipliers
  (:class:`minires.optim.VANConstraint`) after the optimiser's step;
- a history, one record per epoch, of what the papers plot: training loss and error,
  test loss and error, the learning rate, and for VAN nets the alpha residual.

:func:`training_state` and :func:`restore_training_state` gather and restore
everything a resumed run needs to continue exactly as an uninterrupted one would.
"""

import contextlib
import math
import time

from tqdm import tqdm   # text bars: the same in a terminal and a notebook (tqdm.auto needs ipywidgets)

import minires.functional as F
from minires import backend
from minires.autograd import no_grad
from minires.fast import one_blas_thread
from minires.nn.utils import clip_grad_norm_

SCHEDULER_INTERVALS = ("step", "epoch")


class TrainingDiverged(RuntimeError):
    """The loss or the parameters became NaN or infinite.

    ``fit`` raises it before ``on_epoch_end`` is called for the epoch, so that a run
    never records a non-finite model: the checkpoint on disk stays the last finite one.
    """


def _no_batches(function, loader):
    size = len(loader.dataset) if hasattr(loader, "dataset") else "?"
    return ValueError(f"{function}: the loader gave no batches (its dataset holds {size} images); "
                      "give it a dataset that is not empty")


def non_finite_parameters(model) -> list:
    """The names of the parameters holding a NaN or an infinity.

    One reduction per parameter on its device, read back together: one wait for the
    GPU per call, not one per parameter.
    """
    named = list(model.named_parameters())
    if not named:
        return []
    xp = backend.array_module(named[0][1].device)
    finite = xp.stack([xp.isfinite(parameter.array).all() for _, parameter in named])
    return [name for (name, _), ok in zip(named, backend.to_numpy(finite).tolist()) if not ok]


def check_finite(model, record):
    """Raises TrainingDiverged when an epoch's record or the model is not finite."""
    for key in ("train_loss", "test_loss"):
        if key in record and not math.isfinite(record[key]):
            raise TrainingDiverged(
                f"the model diverged in epoch {record['epoch']}: its {key.replace('_', ' ')} is "
                f"{record[key]} (learning rate {record['lr']:g}); lower the learning rate or clip "
                "gradients")
    bad = non_finite_parameters(model)
    if bad:
        raise TrainingDiverged(
            f"the model diverged in epoch {record['epoch']}: {len(bad)} parameters hold NaN or "
            f"infinity ({bad[0]}{', ...' if len(bad) > 1 else ''}; learning rate {record['lr']:g}); "
            "lower the learning rate or clip gradients")


def _blas_threads_for(model):
    """minires.fast.one_blas_thread() for a model that computes with the fast kernels,
    which split batches over minires's own threads; nothing for one that uses the
    references, whose large matrix products want BLAS's threads."""
    return one_blas_thread() if getattr(model, "fast", False) else contextlib.nullcontext()


def _count_correct(logits, labels):
    """How many rows of logits (N, C) put their largest score on the label (N,).

    A 0-d array on the logits' device: reading it on the host would make Python wait
    for the GPU, so the loops add the counts up there and read the total once.
    """
    return (logits.argmax(dim=1) == labels).sum().array


def train_one_epoch(model, loader, optimizer, scheduler=None, scheduler_interval="epoch",
                    van=None, max_grad_norm=None, progress=True, description="train", after_step=None):
    """Runs one pass over ``loader``, updating the model after every batch.

    Args:
        model: a Module that maps images (N, C, H, W) to logits (N, num_classes).
        loader: yields (images, labels) on the model's device.
        optimizer: updates the model's parameters (for VAN nets: all but the alphas).
        scheduler: stepped after every batch when ``scheduler_interval == "step"``;
            left alone here otherwise (``fit`` steps it after the epoch).
        van: a VANConstraint, stepped after the optimiser with the same learning rate
            (and the batch size, for its alpha_loss="sum").
        max_grad_norm: clip the gradients' total 2-norm to this value when given.
        progress: show a tqdm bar with the running loss and images/s.
        after_step: called as ``after_step(images, labels)`` after every update (the
            command line's --track measures the net there; see minires.tracking).

    A model that computes with the fast kernels (``model.fast``) trains inside
    minires.fast.one_blas_thread(): BLAS at one thread per call, given back its
    threads when the epoch ends.

    Returns:
        dict with train_loss (mean cross-entropy), train_error (fraction of wrong
        predictions, measured on the fly in training mode) and images_per_second.
    """
    model.train()
    total_loss, correct_on_device, seen = 0.0, 0, 0
    start = time.perf_counter()
    bar = tqdm(loader, desc=description, unit="batch", leave=False, disable=not progress,
               dynamic_ncols=True)
    with _blas_threads_for(model):
        for step, (images, labels) in enumerate(bar):
            logits = model(images)                                   # (N, num_classes)
            loss = F.cross_entropy(logits, labels)
            model.zero_grad()
            loss.backward()
            if max_grad_norm is not None:
                clip_grad_norm_(model.parameters(), max_grad_norm)
            learning_rate = optimizer.param_groups[0]["lr"]
            optimizer.step()
            if van is not None and van.alpha_loss == "sum":         # dC/dalpha needs N then
                van.step(learning_rate, batch_size=labels.shape[0])
            elif van is not None:                                      # as before alpha_loss existed,
                van.step(learning_rate)                                # so step(lr) overrides still work
            if scheduler is not None and scheduler_interval == "step":
                scheduler.step()
            if after_step is not None:
                after_step(images, labels)

            loss_value = loss.item()          # the one read-back per step: the loss, for logging
            if not math.isfinite(loss_value):
                raise TrainingDiverged(
                    f"the training loss became {loss_value} at batch {step + 1} "
                    f"(learning rate {learning_rate:g}); lower the learning rate or clip gradients")
            batch_size = labels.shape[0]
            total_loss += loss_value * batch_size
            correct_on_device = correct_on_device + _count_correct(logits, labels)   # not read: no wait
            seen += batch_size
            bar.set_postfix(loss=f"{total_loss / seen:.3f}", img_s=f"{seen / (time.perf_counter() - start):.0f}")
        bar.close()
    if seen == 0:
        raise _no_batches("train_one_epoch", loader)
    total_correct = int(correct_on_device)                        # read once, after the epoch
    return {"train_loss": total_loss / seen,
            "train_error": 1.0 - total_correct / seen,
            "images_per_second": seen / (time.perf_counter() - start)}


def evaluate(model, loader, progress=False, description="test"):
    """Mean cross-entropy and error of ``model`` on ``loader``, in evaluation mode.

    Evaluation mode matters: batch norm then uses its running statistics instead of
    the batch's, and dropout is off. No graph is recorded (``no_grad``).

    Returns:
        dict with test_loss and test_error.
    """
    model.eval()
    loss_on_device, correct_on_device, seen = 0.0, 0, 0     # summed on the device, read at the end
    with no_grad(), _blas_threads_for(model):
        for images, labels in tqdm(loader, desc=description, unit="batch", leave=False,
                                   disable=not progress, dynamic_ncols=True):
            logits = model(images)                               # (N, num_classes)
            loss_on_device = loss_on_device + F.cross_entropy(logits, labels, reduction="sum").array
            correct_on_device = correct_on_device + _count_correct(logits, labels)
            seen += labels.shape[0]
    if seen == 0:
        raise _no_batches("evaluate", loader)
    total_loss, total_correct = float(loss_on_device), int(correct_on_device)
    return {"test_loss": total_loss / seen, "test_error": 1.0 - total_correct / seen}


def fit(model, train_loader, test_loader, optimizer, epochs, scheduler=None,
        scheduler_interval="epoch", van=None, max_grad_norm=None, start_epoch=0,
        history=None, on_epoch_end=None, progress=True, log=print, after_step=None):
    """Trains for epochs ``start_epoch + 1 .. epochs``, evaluating after each.

    Args:
        model, train_loader, optimizer, van, max_grad_norm: see train_one_epoch.
        test_loader: evaluated after every epoch.
        epochs: the last epoch to train (a resumed run passes the same number).
        scheduler: a learning-rate scheduler, stepped after every batch
            (``scheduler_interval="step"``) or after every epoch (``"epoch"``).
        start_epoch: epochs already done (0 for a new run; k when resuming after k).
        history: the records of the epochs already done (when resuming).
        on_epoch_end: called as ``on_epoch_end(record, history)`` after each epoch;
            the command line writes metrics, curves and a checkpoint there. It is
            not called for an epoch whose losses or parameters are not finite:
            ``fit`` raises TrainingDiverged instead.
        progress: show progress bars.
        log: where the one-line summary of each epoch goes (None: nowhere).
        after_step: called as ``after_step(epoch, images, labels)`` after every update.

    Returns:
        the history: one dict per epoch with epoch, lr (the rate at the epoch's start),
        train_loss, train_error, test_loss, test_error, images_per_second, seconds,
        and alpha_residual for VAN nets.
    """
    if scheduler_interval not in SCHEDULER_INTERVALS:
        raise ValueError(f"fit: scheduler_interval must be one of {SCHEDULER_INTERVALS}; "
                         f"got {scheduler_interval!r}")
    if not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"fit: epochs must be a positive int; got {epochs!r}")
    history = list(history or [])
    for epoch in range(start_epoch + 1, epochs + 1):
        start = time.perf_counter()
        learning_rate = optimizer.param_groups[0]["lr"]
        record = {"epoch": epoch, "lr": learning_rate}
        step_callback = None if after_step is None else (
            lambda images, labels, epoch=epoch: after_step(epoch, images, labels))
        record.update(train_one_epoch(model, train_loader, optimizer, scheduler,
                                      scheduler_interval, van, max_grad_norm, progress,
                                      description=f"epoch {epoch}/{epochs}", after_step=step_callback))
        if scheduler is not None and scheduler_interval == "epoch":
            scheduler.step()
        record.update(evaluate(model, test_loader, progress, description=f"test {epoch}/{epochs}"))
        if van is not None:
            record["alpha_residual"] = van.alpha_residual()
        record["seconds"] = time.perf_counter() - start
        if log is not None:
            log(describe_epoch(record, epochs))
        check_finite(model, record)              # before the record is kept or saved
        history.append(record)
        if on_epoch_end is not None:
            on_epoch_end(record, history)
    return history


def describe_epoch(record, epochs) -> str:
    """One line that summarises an epoch's record."""
    line = (f"epoch {record['epoch']:>3}/{epochs}  lr {record['lr']:.4g}  "
            f"train loss {record['train_loss']:.4f} err {100 * record['train_error']:5.2f}%  "
            f"test loss {record['test_loss']:.4f} err {100 * record['test_error']:5.2f}%  "
            f"{record['images_per_second']:.0f} img/s  {record['seconds']:.1f} s")
    if "alpha_residual" in record:
        line += f"  alpha residual {record['alpha_residual']:.4f}"
    return line


def training_state(model, optimizer, scheduler, van, train_loader, history) -> dict:
    """Everything a resumed run needs, as host arrays and plain values (see checkpoint)."""
    return {
        "epoch": history[-1]["epoch"] if history else 0,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "van": van.state_dict() if van is not None else None,
        "train_loader": train_loader.state_dict(),
        "random": backend.random_state(),
        "history": history,
    }


def restore_training_state(state, model, optimizer, scheduler, van, train_loader):
    """Loads what :func:`training_state` saved into freshly built objects.

    Returns:
        (epochs done, history so far), to pass to ``fit`` as start_epoch and history.
    """
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    if scheduler is not None:
        scheduler.load_state_dict(state["scheduler"])
    if van is not None:
        van.load_state_dict(state["van"])
    train_loader.load_state_dict(state["train_loader"])
    backend.set_random_state(state["random"])
    return state["epoch"], list(state["history"])
