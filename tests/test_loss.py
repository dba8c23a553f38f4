"""softmax, log_softmax and cross_entropy: gradients, the loop reference, PyTorch, extreme
logits, the forms a target may take, and the errors a user meets."""

import re

import numpy as np
import pytest

import minires as mr
import minires.functional as F
from helpers import check_gradients, compare_with_torch, on_device, random_array
from reference_ops import cross_entropy_loops
from strict_device import StrictArray, count_synchronizations

REDUCTIONS = ["mean", "sum", "none"]
# Logits of magnitude 1e4: exp() of them overflows unless each row's max is subtracted first.
EXTREME_LOGITS = np.array([[1e4, -1e4, 0.0],          # one huge, one hugely negative: loss 2e4
                           [1e4, 1e4 - 1, 1e4 - 2],   # large but close: every class counts
                           [1e4, 1e4, 1e4],           # all equal and large: uniform, log(3)
                           [-1e4, -1e4, -1e4]])       # all equal and very negative
EXTREME_TARGETS = [1, 2, 0, 1]
# Underflow to 0 (exp(-2e4)) is expected and harmless; overflow, 0/0 and log(0) are not.
NO_OVERFLOW = dict(over="raise", invalid="raise", divide="raise")
# (minires op, its PyTorch twin given the torch module)
SOFTMAX_OPS = [
    pytest.param(F.softmax, lambda torch, x, dim: torch.softmax(x, dim=dim), id="softmax"),
    pytest.param(F.log_softmax, lambda torch, x, dim: torch.log_softmax(x, dim=dim), id="log_softmax"),
]


def cross_entropy_case(target, reduction):
    """A (minires op, PyTorch twin given torch) pair: cross_entropy against fixed targets."""
    def torch_fn(torch, x):
        return torch.nn.functional.cross_entropy(x, torch.tensor(target), reduction=reduction)
    return pytest.param(lambda x: F.cross_entropy(x, target, reduction), torch_fn,
                        id=f"cross_entropy_{reduction}")


# (minires op, PyTorch twin given torch) on EXTREME_LOGITS
EXTREME_CASES = [pytest.param(F.softmax, lambda torch, x: torch.softmax(x, dim=-1), id="softmax"),
                 pytest.param(F.log_softmax, lambda torch, x: torch.log_softmax(x, dim=-1), id="log_softmax")
                 ] + [cross_entropy_case(EXTREME_TARGETS, reduction) for reduction in REDUCTIONS]


# --- softmax and log_softmax -----------------------------------------------------------

# Each dim of a 3-D input, the last one given as -1.
@pytest.mark.parametrize("dim", [-1, 0, 1])
@pytest.mark.parametrize("op, torch_op", SOFTMAX_OPS)
def test_softmax_gradients(op, torch_op, dim, device):
    check_gradients(lambda x: op(x, dim=dim), [random_array((2, 3, 4))], device)


# Values and gradients along each dim equal PyTorch's to 1e-10.
@pytest.mark.parametrize("dim", [-1, 0, 1])
@pytest.mark.parametrize("op, torch_op", SOFTMAX_OPS)
def test_softmax_matches_torch(op, torch_op, dim, torch):
    compare_with_torch(torch, lambda x: op(x, dim=dim), lambda x: torch_op(torch, x, dim),
                       [random_array((2, 3, 4))])


# A dim the input does not have names the op, the dim and the shape.
def test_softmax_dim_out_of_range(device):
    with pytest.raises(IndexError, match=r"softmax: dim 3 is out of range .* \(shape \(2, 3, 4\)\)"):
        F.softmax(on_device(random_array((2, 3, 4)), device), dim=3)


# --- cross_entropy: values and gradients -----------------------------------------------

CROSS_ENTROPY_CASES = [
    pytest.param((5, 4), [0, 3, 1, 1, 2], id="batch5_C4"),
    pytest.param((1, 4), [2], id="batch1"),                 # one sample
    pytest.param((3, 1), [0, 0, 0], id="C1"),               # one class: loss 0, gradient 0
    pytest.param((6, 10), [9, 0, 4, 7, 2, 5], id="C10"),    # ten classes, first and last used
]


# Central differences in float64, every reduction and case, on every device.
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape, target", CROSS_ENTROPY_CASES)
def test_cross_entropy_gradients(shape, target, reduction, device):
    check_gradients(lambda logits: F.cross_entropy(logits, target, reduction), [random_array(shape)], device)


# The answer key: the row-by-row loop in reference_ops.py.
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape, target", CROSS_ENTROPY_CASES)
def test_cross_entropy_matches_loops(shape, target, reduction, device):
    logits = random_array(shape)
    loss = F.cross_entropy(on_device(logits, device), target, reduction)
    expected = cross_entropy_loops(logits, np.array(target), reduction)
    np.testing.assert_allclose(loss.numpy(), expected, rtol=1e-12, atol=1e-12)


# With a single class softmax is 1: the loss and its gradient are exactly 0.
def test_cross_entropy_one_class_is_zero(device):
    logits = on_device(random_array((3, 1)), device)
    loss = F.cross_entropy(logits, [0, 0, 0])
    loss.backward()
    assert loss.item() == 0.0 and np.all(logits.grad.numpy() == 0.0)


# Loss and gradient equal torch.nn.functional.cross_entropy's, for each reduction.
@pytest.mark.parametrize("fn, torch_fn", [cross_entropy_case([0, 3, 1, 1, 2], reduction)
                                         for reduction in REDUCTIONS])
def test_cross_entropy_matches_torch(fn, torch_fn, torch):
    compare_with_torch(torch, fn, lambda x: torch_fn(torch, x), [random_array((5, 4))])


# Rows of 1e4: no overflow, NaN or inf in the outputs or gradients, on any device.
@pytest.mark.parametrize("fn, torch_fn", EXTREME_CASES)
def test_extreme_logits_stay_finite(fn, torch_fn, device):
    logits = on_device(EXTREME_LOGITS, device)
    with np.errstate(**NO_OVERFLOW):
        output = fn(logits)
        output.sum().backward()
    assert np.all(np.isfinite(output.numpy())) and np.all(np.isfinite(logits.grad.numpy()))


# ... and the values and gradients equal PyTorch's.
@pytest.mark.parametrize("fn, torch_fn", EXTREME_CASES)
def test_extreme_logits_match_torch(fn, torch_fn, torch):
    compare_with_torch(torch, fn, lambda x: torch_fn(torch, x), [EXTREME_LOGITS])


# --- cross_entropy: the forms of a target ------------------------------------------------

TARGET_VALUES = [2, 0, 1, 2]
TARGET_FORMS = {
    "list": lambda device: TARGET_VALUES,
    "numpy_int32": lambda device: np.array(TARGET_VALUES, dtype=np.int32),
    "numpy_int64": lambda device: np.array(TARGET_VALUES, dtype=np.int64),
    "host_tensor": lambda device: mr.tensor(TARGET_VALUES, device="cpu"),
    "device_tensor": lambda device: mr.tensor(TARGET_VALUES, device=device),
    "device_tensor_int32": lambda device: mr.tensor(TARGET_VALUES, dtype=mr.int32, device=device),
}
HOST_FORMS = ["list", "numpy_int32", "numpy_int64", "host_tensor"]


def loss_and_gradient(target, device):   # the same logits every call
    logits = on_device(random_array((4, 3)), device)
    loss = F.cross_entropy(logits, target, "sum")
    loss.backward()
    return loss.numpy(), logits.grad.numpy()


# Every form gives exactly the answer of a plain list.
@pytest.mark.parametrize("form", TARGET_FORMS)
def test_target_forms_agree(form, device):
    loss, grad = loss_and_gradient(TARGET_FORMS[form](device), device)
    expected_loss, expected_grad = loss_and_gradient(TARGET_VALUES, device)
    np.testing.assert_array_equal(loss, expected_loss)
    np.testing.assert_array_equal(grad, expected_grad)


# Host targets are checked on the host and copied over: no synchronisation in a whole step.
@pytest.mark.parametrize("form", HOST_FORMS)
def test_host_targets_cost_no_synchronization(form):
    logits, target = on_device(random_array((4, 3)), "strict"), TARGET_FORMS[form]("strict")
    with count_synchronizations() as syncs:
        loss = F.cross_entropy(logits, target)
        assert isinstance(loss.grad_fn.target, StrictArray)   # the copy the op works with
        loss.backward()
    assert syncs.count == 0
    assert isinstance(logits.grad.array, StrictArray)


# Device targets are never read back: no synchronisation either.
def test_device_targets_cost_no_synchronization():
    logits, target = on_device(random_array((4, 3)), "strict"), mr.tensor(TARGET_VALUES, device="strict")
    with count_synchronizations() as syncs:
        F.cross_entropy(logits, target).backward()
    assert syncs.count == 0


# --- cross_entropy: errors ---------------------------------------------------------------

# A negative target and one equal to C; the message names the bad target and C.
# Host targets (also "device" targets of the cpu device) are checked before the op runs.
@pytest.mark.parametrize("where", ["host", "device"])
@pytest.mark.parametrize("bad", [-1, 3])
def test_target_out_of_range(bad, where, device):
    target = [0, bad, 1]
    target = mr.tensor(target, device=device) if where == "device" else np.array(target)
    logits = on_device(random_array((3, 3)), device)
    if where == "device" and device != "cpu":
        # a GPU target is not read back: its row's loss is NaN, the others are untouched
        losses = F.cross_entropy(logits, target, reduction="none").numpy()
        expected = F.cross_entropy(logits, np.array([0, 0, 1]), reduction="none").numpy()
        assert np.isnan(losses[1]) and np.array_equal(losses[[0, 2]], expected[[0, 2]])
        assert np.isnan(F.cross_entropy(logits, target).item())
        return
    with pytest.raises(IndexError, match=rf"cross_entropy: target {bad} is out of range for 3 classes "
                                         r"\(targets must be in \[0, 2\]"):
        F.cross_entropy(logits, target)


# Float and bool targets are refused (bool's dtype kind is 'b', not an integer kind).
@pytest.mark.parametrize("target, dtype", [(np.array([0.0, 1.0]), "float64"), ([0.0, 1.0], "float32"),
                                           (np.array([True, False]), "bool"), ([True, False], "bool")])
def test_target_must_hold_integers(target, dtype, device):
    message = rf"cross_entropy: target must hold integer class indices.*got dtype {dtype}"
    with pytest.raises(TypeError, match=message):
        F.cross_entropy(on_device(random_array((2, 3)), device), target)


# One class index per row, no more, no fewer, no extra axis.
@pytest.mark.parametrize("shape", [(4, 1), (5,), ()])
def test_target_shape(shape, device):
    message = r"cross_entropy: target must have shape \(4,\).*got " + re.escape(str(shape))
    with pytest.raises(ValueError, match=message):
        F.cross_entropy(on_device(random_array((4, 3)), device), np.zeros(shape, dtype=np.int64))


# Device targets must sit with the logits: nothing moves between devices implicitly.
def test_target_on_another_device():
    with pytest.raises(mr.backend.DeviceMismatchError, match="target is on strict but the logits are on cpu"):
        F.cross_entropy(on_device(random_array((2, 3)), "cpu"), mr.tensor([0, 1], device="strict"))


# 1-D (one sample without a batch axis) and 3-D logits are refused.
@pytest.mark.parametrize("shape", [(3,), (2, 3, 4)])
def test_logits_must_be_2d(shape, device):
    message = r"cross_entropy: expected logits of shape \(N, C\); got " + re.escape(str(shape))
    with pytest.raises(ValueError, match=message):
        F.cross_entropy(on_device(random_array(shape), device), [0])


# A misspelt reduction is an error, not a silent "none".
def test_bad_reduction():
    message = r"cross_entropy: reduction must be one of \('mean', 'sum', 'none'\); got 'average'"
    with pytest.raises(ValueError, match=message):
        F.cross_entropy(on_device(random_array((2, 3)), "cpu"), [0, 1], reduction="average")


# An empty batch: "sum" is 0 and "none" gives no losses, as in PyTorch; the mean is 0/0, refused.
def test_empty_batch(device):
    logits, target = on_device(np.zeros((0, 3)), device), np.zeros(0, dtype=np.int64)
    assert F.cross_entropy(logits, target, "sum").item() == 0.0
    assert F.cross_entropy(logits, target, "none").shape == (0,)
    assert F.cross_entropy(logits, [], "sum").item() == 0.0          # an empty list is read as int64
    with pytest.raises(ValueError, match=r"cross_entropy: the mean over an empty batch .* is undefined"):
        F.cross_entropy(logits, target, "mean")


# --- nll_loss and mse_loss --------------------------------------------------------------

def log_probabilities(shape, seed=0):
    """Rows of log-probabilities, as log_softmax gives them."""
    logits = random_array(shape, seed)
    return logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape, target", CROSS_ENTROPY_CASES)
def test_nll_loss_gradients(shape, target, reduction, device):
    check_gradients(lambda x: F.nll_loss(x, target, reduction), [log_probabilities(shape)], device)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nll_loss_matches_torch(reduction, torch):
    target = [0, 3, 1, 1, 2]
    compare_with_torch(torch, lambda x: F.nll_loss(x, target, reduction),
                       lambda x: torch.nn.functional.nll_loss(x, torch.tensor(target), reduction=reduction),
                       [log_probabilities((5, 4))])


# nll_loss of log_softmax is cross_entropy, in values and gradients.
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nll_loss_of_log_softmax_is_cross_entropy(reduction, device):
    target = [2, 0, 1]
    first, second = on_device(random_array((3, 4)), device), on_device(random_array((3, 4)), device)
    composed = F.nll_loss(F.log_softmax(first, dim=1), target, reduction)
    direct = F.cross_entropy(second, target, reduction)
    np.testing.assert_allclose(composed.numpy(), direct.numpy(), rtol=1e-12, atol=1e-12)
    composed.sum().backward()
    direct.sum().backward()
    np.testing.assert_allclose(first.grad.numpy(), second.grad.numpy(),
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(5,), (2, 3), (2, 1, 3, 2)])
def test_mse_loss_gradients_of_input_and_target(shape, reduction, device):
    check_gradients(lambda x, y: F.mse_loss(x, y, reduction),
                    [random_array(shape, seed=0), random_array(shape, seed=1)], device)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_mse_loss_matches_torch(reduction, torch):
    compare_with_torch(torch, lambda x, y: F.mse_loss(x, y, reduction),
                       lambda x, y: torch.nn.functional.mse_loss(x, y, reduction=reduction),
                       [random_array((3, 4), seed=0), random_array((3, 4), seed=1)])


# float32 in, float32 out, as in PyTorch; an array target needs no gradient.
def test_losses_keep_float32():
    logits = mr.tensor(random_array((4, 3)), dtype=mr.float32, requires_grad=True)
    for loss in (F.nll_loss(logits, [0, 1, 2, 0]), F.mse_loss(logits, np.zeros((4, 3), np.float32))):
        loss.backward()
        assert loss.dtype == mr.float32 and logits.grad.dtype == np.float32
        logits.grad = None


@pytest.mark.parametrize("call, error, message", [
    pytest.param(lambda x: F.nll_loss(x, [0, 1, 2], "avg"), ValueError,
                 r"nll_loss: reduction must be one of \('mean', 'sum', 'none'\); got 'avg'", id="nll_reduction"),
    pytest.param(lambda x: F.nll_loss(x[0], [0]), ValueError, r"nll_loss: expected an input of shape \(N, C\)",
                 id="nll_1d"),
    pytest.param(lambda x: F.nll_loss(x, [0, 1, 4]), IndexError,
                 r"nll_loss: target 4 is out of range for 4 classes", id="nll_range"),
    pytest.param(lambda x: F.nll_loss(x, [0.0, 1.0, 2.0]), TypeError, "nll_loss: target must hold integer",
                 id="nll_float_target"),
    pytest.param(lambda x: F.nll_loss(x, [0, 1]), ValueError, r"nll_loss: target must have shape \(3,\)",
                 id="nll_target_shape"),
    pytest.param(lambda x: F.mse_loss(x, x[:, :1]), ValueError,
                 r"mse_loss: input has shape \(3, 4\) but target has shape \(3, 1\); they must be equal",
                 id="mse_shapes"),
    pytest.param(lambda x: F.mse_loss(x, 1.0), TypeError,
                 "mse_loss: target must be a floating Tensor or array .* got float", id="mse_number"),
    pytest.param(lambda x: F.mse_loss(x, np.zeros((3, 4), np.int64)), TypeError,
                 "mse_loss: target must be a floating Tensor or array .* got dtype int64", id="mse_int_target"),
    pytest.param(lambda x: F.mse_loss(x, x, reduction=None), ValueError,
                 "mse_loss: reduction must be one of", id="mse_reduction"),
])
def test_nll_and_mse_misuse_gives_a_clear_error(call, error, message):
    with pytest.raises(error, match=message):
        call(on_device(random_array((3, 4)), "cpu"))


# PyTorch raises for the same misuse (so minires is no stricter there).
def test_torch_also_refuses_bad_nll_targets(torch):
    with pytest.raises((IndexError, RuntimeError)):
        torch.nn.functional.nll_loss(torch.zeros(3, 4), torch.tensor([0, 1, 4]))
    with pytest.raises(ValueError):
        torch.nn.functional.mse_loss(torch.zeros(3, 4), torch.zeros(3, 4), reduction="avg")
