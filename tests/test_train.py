"""The training loop: what fit records, when the schedule steps, and a diverging loss."""

import math

import numpy
import pytest

import minires as mr
from minires import data, models, optim
from minires.train import TrainingDiverged, evaluate, fit, train_one_epoch
from strict_device import count_synchronizations


def loaders(size=48, batch_size=16):
    dataset = data.random_subset(data.cifar10_sample(train=False), size, seed=0)
    return (data.DataLoader(dataset, batch_size, shuffle=True, seed=0),
            data.DataLoader(dataset, batch_size))


def small_net(family="residual"):
    mr.manual_seed(0)
    return models.cifar_net(family, depth=8, width=2)


@pytest.mark.parametrize("interval, expected_lrs", [("epoch", [0.1, 0.01, 0.001]),
                                                     ("step", [0.1, 0.01, 0.001])])
def test_the_schedule_steps_per_epoch_or_per_batch(interval, expected_lrs):
    train_loader, test_loader = loaders()                      # 3 batches per epoch
    model = small_net()
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    # per epoch, [1, 4] would give 0.1, 0.01, 0.01; per batch (3 a epoch) it reaches 4 steps in epoch 2
    milestones = [1, 2] if interval == "epoch" else [1, 4]
    scheduler = optim.lr_scheduler.MultiStepLR(optimizer, milestones, gamma=0.1)
    history = fit(model, train_loader, test_loader, optimizer, 3, scheduler, interval,
                  progress=False, log=None)
    numpy.testing.assert_allclose([record["lr"] for record in history], expected_lrs, rtol=1e-12)


def test_history_records_what_the_papers_plot():
    train_loader, test_loader = loaders()
    model = small_net("van")
    van = optim.VANConstraint(model)
    optimizer = optim.SGD(van.parameters_except_alphas(), lr=0.05, momentum=0.9)
    lines = []
    history = fit(model, train_loader, test_loader, optimizer, 2, van=van, progress=False, log=lines.append)
    assert [record["epoch"] for record in history] == [1, 2] and len(lines) == 2
    for record in history:
        assert 0 <= record["train_error"] <= 1 and 0 <= record["test_error"] <= 1
        assert math.isfinite(record["train_loss"]) and record["images_per_second"] > 0
    at_start = sum(alpha.shape[0] for alpha in van.alphas) / len(van.alphas)     # every alpha at 0
    assert history[1]["alpha_residual"] < history[0]["alpha_residual"] < at_start
    assert "alpha residual" in lines[0]
    # the test numbers are those of evaluate() in evaluation mode
    again = evaluate(model, test_loader)
    assert again["test_loss"] == pytest.approx(history[-1]["test_loss"], rel=1e-6)
    assert not model.training


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")
def test_a_diverging_loss_stops_training_with_advice():
    train_loader, test_loader = loaders()
    model = small_net()
    model.fc.bias.array[0] = float("inf")             # what a far too large step leaves behind
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(TrainingDiverged, match="lower the learning rate"):
        fit(model, train_loader, test_loader, optimizer, 3, progress=False, log=None)


def test_fit_argument_errors():
    train_loader, test_loader = loaders()
    model = small_net()
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="scheduler_interval must be one of"):
        fit(model, train_loader, test_loader, optimizer, 1, scheduler_interval="batch")
    with pytest.raises(ValueError, match="epochs must be a positive int"):
        fit(model, train_loader, test_loader, optimizer, 0)


def test_a_training_step_reads_back_only_its_loss():
    """On the strict stand-in for CUDA: one synchronisation per step (loss.item(), for the
    progress bar and the divergence check), one after the epoch (the correct count), and
    two for a whole evaluation (its loss and correct sums)."""
    dataset = data.random_subset(data.cifar10_sample(train=False), 48, seed=0)
    train_loader = data.DataLoader(dataset, 16, shuffle=True, seed=0, device="strict")   # 3 steps
    model = small_net().to("strict")
    optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    with count_synchronizations() as syncs:
        record = train_one_epoch(model, train_loader, optimizer, progress=False)
    assert syncs.count == 3 + 1
    assert 0 <= record["train_error"] <= 1
    with count_synchronizations() as syncs:
        evaluate(model, data.DataLoader(dataset, 16, device="strict"))
    assert syncs.count == 2


def test_a_non_finite_parameter_ends_the_run_before_the_epoch_is_recorded():
    """Finite losses, but a parameter the loss does not reach holds NaN: fit raises before
    on_epoch_end, so that the command line never saves such a model."""
    train_loader, test_loader = loaders()
    model = small_net()
    model.spare = mr.nn.Parameter(mr.tensor([1.0, float("nan")]))
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    saved = []
    with pytest.raises(TrainingDiverged, match=r"diverged in epoch 1: 1 parameters hold NaN or infinity \(spare;"):
        fit(model, train_loader, test_loader, optimizer, 2, progress=False, log=None,
            on_epoch_end=lambda record, history: saved.append(record))
    assert saved == []


def test_a_loader_without_batches_is_a_clear_error():
    model = small_net()
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="train_one_epoch: the loader gave no batches"):
        train_one_epoch(model, [], optimizer, progress=False)
    with pytest.raises(ValueError, match="evaluate: the loader gave no batches"):
        evaluate(model, [])
