"""VANConstraint: the alpha and Lagrange-multiplier updates (7) and (8) of the VAN paper,
checked against the equations computed here by hand."""

import numpy as np
import pytest

import minires as mr
from minires import backend, models
from minires.optim import SGD, VANConstraint
from strict_device import count_synchronizations

LR = 0.1
FRACTION = 0.1


def van_net(device, width=3):
    """An MLP with two DenseVANBlocks ("blocks.0", "blocks.1") of ``width`` units, float64."""
    mr.manual_seed(0)
    return models.mlp_net("van", depth=4, width=width, in_features=2, num_classes=2).double().to(device)


def set_values(tensor, values, device):
    tensor.array[...] = backend.to_device(np.asarray(values, dtype=np.float64), device)


def test_finds_the_van_layers():
    model = van_net("cpu")
    van = VANConstraint(model)
    assert van.layer_names == ["blocks.0", "blocks.1"]
    assert van.alphas[0] is model.blocks[0].alpha and van.alphas[1] is model.blocks[1].alpha
    assert van.lagrange_multipliers[1] is model.blocks[1].lagrange_multiplier
    others = van.parameters_except_alphas()
    assert len(others) == len(list(model.parameters())) - 2
    assert not any(parameter is alpha for parameter in others for alpha in van.alphas)
    SGD(others, lr=LR)                                      # what the training code does


def test_one_step_by_the_equations(device):
    model = van_net(device)
    van = VANConstraint(model, multiplier_lr_fraction=FRACTION)
    first, second = model.blocks[0], model.blocks[1]
    alpha = np.array([0.0, 0.5, 0.95])
    multiplier = np.array([-1.0, -1.0, -2.5])
    grad = np.array([15.0, 0.3, -2.0])     # pushes alpha below 0, inside (0, 1), above 1
    set_values(first.alpha, alpha, device)
    set_values(first.lagrange_multiplier, multiplier, device)
    first.alpha.grad = mr.Tensor(backend.to_device(grad, device))
    second.alpha.grad = None               # no gradient: dL/dalpha = 0
    alpha_array = first.alpha.array

    with count_synchronizations() as syncs:
        van.step(LR)
    assert syncs.count == 0

    new_alpha = np.clip(alpha - LR * (grad + multiplier), 0.0, 1.0)                # (7)
    new_multiplier = multiplier + FRACTION * LR * (new_alpha - 1.0)                # (8), new alpha
    np.testing.assert_array_equal(new_alpha, [0.0, 0.57, 1.0])
    np.testing.assert_array_equal(first.alpha.numpy(), new_alpha)
    np.testing.assert_array_equal(first.lagrange_multiplier.numpy(), new_multiplier)
    old_alpha_reading = multiplier + FRACTION * LR * (alpha - 1.0)
    assert not np.allclose(first.lagrange_multiplier.numpy(), old_alpha_reading)
    # The second block: alpha 0 + lr * 1 = 0.1; lambda = -1 + 0.01 * (0.1 - 1).
    np.testing.assert_array_equal(second.alpha.numpy(), np.full(3, 0.0 + LR * 1.0))
    np.testing.assert_array_equal(second.lagrange_multiplier.numpy(), np.full(3, -1.0 + 0.01 * (0.1 - 1.0)))
    assert first.alpha.array is alpha_array and first.alpha.device == device


def test_multipliers_only_decrease_and_alphas_stay_in_the_unit_interval(device):
    model = van_net(device)
    van = VANConstraint(model, multiplier_lr_fraction=0.5)
    rng = np.random.default_rng(0)
    for _ in range(60):
        before = [multiplier.numpy() for multiplier in van.lagrange_multipliers]
        for alpha in van.alphas:
            alpha.grad = mr.Tensor(backend.to_device(rng.normal(scale=3.0, size=alpha.shape), device))
        van.step(LR)
        for old, multiplier, alpha in zip(before, van.lagrange_multipliers, van.alphas):
            assert np.all(multiplier.numpy() <= old)
            assert np.all((alpha.numpy() >= 0.0) & (alpha.numpy() <= 1.0))
    assert np.any(van.lagrange_multipliers[0].numpy() < -1.0)


def test_alpha_residual():
    model = van_net("cpu")
    van = VANConstraint(model)
    assert van.alpha_residual() == 3.0                 # alpha = 0: ||1 - 0||^2 = 3 in each layer
    set_values(model.blocks[0].alpha, [0.0, 0.5, 1.0], "cpu")
    set_values(model.blocks[1].alpha, [0.2, 0.2, 0.2], "cpu")
    residual = van.alpha_residual()
    assert type(residual) is float
    np.testing.assert_allclose(residual, (1.0 + 0.25 + 0.0 + 3 * 0.64) / 2, rtol=1e-15)


@pytest.mark.parametrize("gradient", [0.0, 0.5], ids=["no gradient", "gradient against"])
def test_alphas_reach_one(device, gradient):
    model = van_net(device)
    van = VANConstraint(model)
    residuals = [van.alpha_residual()]
    for _ in range(200):
        for alpha in van.alphas:
            alpha.grad = mr.Tensor(backend.to_device(np.full(alpha.shape, gradient), device))
        van.step(LR)
        residuals.append(van.alpha_residual())
    assert residuals[0] == 3.0 and residuals[-1] == 0.0
    assert residuals[10] < residuals[1] < residuals[0]
    if gradient == 0.0:                                # alpha rises by lr per step: 1 after 10 steps
        assert residuals[9] > 0.0 and residuals[10] == pytest.approx(0.0, abs=1e-28)


def test_zero_grad_and_state_dict():
    model = van_net("cpu")
    van = VANConstraint(model, multiplier_lr_fraction=0.5)
    for alpha in van.alphas:
        alpha.grad = mr.Tensor(np.ones(alpha.shape))
    van.zero_grad()
    assert all(alpha.grad is None for alpha in van.alphas)
    other = VANConstraint(van_net("cpu"))
    other.load_state_dict(van.state_dict())
    assert other.multiplier_lr_fraction == 0.5
    assert van.state_dict() == {"multiplier_lr_fraction": 0.5, "lagrange_multipliers": True,
                                "alpha_lr": None, "alpha_loss": "mean"}
    other.load_state_dict({"multiplier_lr_fraction": 0.25})              # a run saved before lambda = 0 existed
    assert other.multiplier_lr_fraction == 0.25
    with pytest.raises(ValueError, match="no 'multiplier_lr_fraction' entry"):
        other.load_state_dict({})
    with pytest.raises(ValueError, match="the state dict is NoneType None; expected the dict"):
        other.load_state_dict(None)
    with pytest.raises(ValueError, match="multiplier_lr_fraction must be a number >= 0"):
        other.load_state_dict({"multiplier_lr_fraction": -0.1})


def test_errors():
    with pytest.raises(ValueError, match="MLPNet has no VAN layer"):
        VANConstraint(models.mlp_net("plain", depth=4, width=3, in_features=2))
    with pytest.raises(ValueError, match="multiplier_lr_fraction must be a number >= 0"):
        VANConstraint(van_net("cpu"), multiplier_lr_fraction=-1.0)
    with pytest.raises(ValueError, match="lr must be a number >= 0"):
        VANConstraint(van_net("cpu")).step(-0.1)


def test_van_with_lambda_zero_learns_the_alphas_freely():
    """VAN (lambda = 0): alpha <- clip(alpha - lr * dL/dalpha, 0, 1), the multipliers 0 for good."""
    model = van_net("cpu")
    van = VANConstraint(model, lagrange_multipliers=False)
    assert all(not multiplier.numpy().any() for multiplier in van.lagrange_multipliers)
    rng = np.random.default_rng(0)
    for alpha in van.alphas:
        set_values(alpha, rng.uniform(0.0, 1.0, alpha.shape), "cpu")
        alpha.grad = mr.Tensor(rng.normal(scale=3.0, size=alpha.shape))
    expected = [np.clip(alpha.numpy() - LR * alpha.grad.numpy(), 0.0, 1.0) for alpha in van.alphas]
    van.step(LR)
    for alpha, values in zip(van.alphas, expected):
        np.testing.assert_array_equal(alpha.numpy(), values)
    assert all(not multiplier.numpy().any() for multiplier in van.lagrange_multipliers)
    assert van.state_dict() == {"multiplier_lr_fraction": 0.1, "lagrange_multipliers": False,
                                "alpha_lr": None, "alpha_loss": "mean"}
    with pytest.raises(ValueError, match="the state dict has lagrange_multipliers=True, this constraint False"):
        van.load_state_dict({"multiplier_lr_fraction": 0.1, "lagrange_multipliers": True})
    with pytest.raises(TypeError, match="lagrange_multipliers must be True or False; got 0"):
        VANConstraint(model, lagrange_multipliers=0)



def test_alpha_lr_and_the_summed_loss_by_the_equations():
    """alpha_lr fixes eta in (7) whatever the weights' lr, eta' = fraction * alpha_lr in (8);
    alpha_loss="sum" takes dC/dalpha as N times the mean loss's gradient."""
    alpha = np.array([0.2, 0.5, 0.9])
    multiplier = np.array([-1.0, -1.5, -0.5])
    grad = np.array([0.4, -0.1, 0.02])                  # the gradient of the batch-mean loss
    batch_size, alpha_lr, weights_lr = 16, 0.01, 0.1
    for alpha_loss, scale in (("mean", 1.0), ("sum", float(batch_size))):
        model = van_net("cpu")
        van = VANConstraint(model, multiplier_lr_fraction=FRACTION, alpha_lr=alpha_lr, alpha_loss=alpha_loss)
        first = model.blocks[0]
        set_values(first.alpha, alpha, "cpu")
        set_values(first.lagrange_multiplier, multiplier, "cpu")
        first.alpha.grad = mr.Tensor(grad.copy())
        van.step(weights_lr, batch_size=batch_size)
        new_alpha = np.clip(alpha - alpha_lr * (scale * grad + multiplier), 0.0, 1.0)          # (7)
        np.testing.assert_allclose(first.alpha.numpy(), new_alpha, rtol=1e-15)
        np.testing.assert_allclose(first.lagrange_multiplier.numpy(),
                                   multiplier + FRACTION * alpha_lr * (new_alpha - 1.0), rtol=1e-15)  # (8)
        assert van.state_dict() == {"multiplier_lr_fraction": FRACTION, "lagrange_multipliers": True,
                                    "alpha_lr": alpha_lr, "alpha_loss": alpha_loss}


def test_the_summed_loss_slows_the_phase_out():
    """On the same data, the alphas reach 1 later when dC/dalpha comes from the summed loss;
    with the mean loss and lr 0.1 they get there in about 1/lr steps (lambda = -1 at the start)."""
    rng = np.random.default_rng(0)
    x = mr.Tensor(rng.normal(size=(64, 2)))
    target = mr.Tensor((x.numpy()[:, 0] > 0).astype(np.int64))
    steps_to_plain = {}
    for alpha_loss in ("mean", "sum"):
        model = van_net("cpu", width=8)
        van = VANConstraint(model, multiplier_lr_fraction=FRACTION, alpha_loss=alpha_loss)
        optimizer = SGD(van.parameters_except_alphas(), lr=LR)
        for step in range(1, 400):
            model.zero_grad()
            mr.functional.cross_entropy(model(x), target).backward()
            optimizer.step()
            van.step(LR, batch_size=64)
            if van.alpha_residual() == 0.0:
                break
        steps_to_plain[alpha_loss] = step
    # about 1/lr = 10 steps with the mean; the README quotes both numbers
    assert steps_to_plain == {"mean": 10, "sum": 87}


def test_alpha_settings_errors_and_older_state_dicts():
    with pytest.raises(ValueError, match="alpha_loss must be one of \\('mean', 'sum'\\); got 'total'"):
        VANConstraint(van_net("cpu"), alpha_loss="total")
    with pytest.raises(ValueError, match="alpha_lr must be a number >= 0"):
        VANConstraint(van_net("cpu"), alpha_lr=-0.1)
    summed = VANConstraint(van_net("cpu"), alpha_loss="sum")
    with pytest.raises(ValueError, match="alpha_loss='sum' needs the batch size N .*got None"):
        summed.step(LR)
    with pytest.raises(ValueError, match="the state dict has alpha_loss='mean', this constraint 'sum'"):
        summed.load_state_dict({"multiplier_lr_fraction": 0.1})       # a run saved before alpha_loss existed
    fixed = VANConstraint(van_net("cpu"), alpha_lr=0.01)
    with pytest.raises(ValueError, match="the state dict has alpha_lr=None, this constraint 0.01"):
        fixed.load_state_dict({"multiplier_lr_fraction": 0.1})
    fixed.load_state_dict(fixed.state_dict())
