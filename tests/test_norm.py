"""batch_norm: gradients, the two-pass reference, PyTorch, running statistics, errors."""

import numpy as np
import pytest

import minires as mr
import minires.functional as F
from helpers import check_gradients, compare_with_torch, input_in_layout, on_device, random_array
from reference_ops import batch_norm_two_pass
from strict_device import count_synchronizations

TOLERANCE = 1e-10

# (x shape, with weight and bias); each case runs in training and in evaluation
SHAPE_CASES = [
    pytest.param((6, 1), False, id="2d_one_channel"),
    pytest.param((5, 16), True, id="2d_16_channels_affine"),
    pytest.param((3, 1, 2, 3), True, id="4d_one_channel_affine"),
    pytest.param((2, 16, 2, 1), False, id="4d_16_channels"),       # small spatially: fast
    pytest.param((1, 3, 2, 3), True, id="4d_batch_of_one"),        # N = 1 is legal: H*W > 1
]
MODES = [pytest.param(True, id="training"), pytest.param(False, id="eval")]


def running_stats(channels, device):
    """Fresh (running_mean, running_var) Tensors on ``device``; not 0 and 1, so an update shows."""
    mean = on_device(random_array(channels, seed=10), device, requires_grad=False)
    var = on_device(random_array(channels, seed=11, positive=True), device, requires_grad=False)
    return mean, var


def affine_inputs(x_shape, affine):
    """Host arrays [x] or [x, weight, bias] for a case."""
    channels = x_shape[1]
    extra = [random_array(channels, seed=1), random_array(channels, seed=2)] if affine else []
    return [random_array(x_shape)] + extra


def assert_close(actual, expected, what=""):
    np.testing.assert_allclose(actual, expected, rtol=TOLERANCE, atol=TOLERANCE, err_msg=what)


# --- Gradients, by central differences ----------------------------------------------

@pytest.mark.parametrize("training", MODES)
@pytest.mark.parametrize("x_shape, affine", SHAPE_CASES)
def test_gradients(x_shape, affine, training, device):
    channels = x_shape[1]
    eval_stats = running_stats(channels, device)    # evaluation only reads them

    def batch_norm(x, *weight_and_bias):
        # training updates the running stats in place, and gradcheck calls this many
        # times: fresh copies on each call keep every call the same function
        mean, var = running_stats(channels, device) if training else eval_stats
        return F.batch_norm(x, mean, var, *weight_and_bias, training=training)

    check_gradients(batch_norm, affine_inputs(x_shape, affine), device)


def test_gradients_without_running_stats(device):
    # training with running_mean = running_var = None keeps no statistics
    check_gradients(lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
                    affine_inputs((2, 3, 2, 2), affine=True), device)


# --- The two-pass reference, on every device ----------------------------------------

# (x shape, with weight and bias, momentum)
REFERENCE_CASES = [
    pytest.param((8, 3), True, 0.1, id="2d_affine"),
    pytest.param((2, 4, 3, 5), False, 0.1, id="4d"),
    pytest.param((1, 16, 2, 2), True, 0.25, id="4d_batch_of_one_16_channels"),
]


@pytest.mark.parametrize("x_shape, affine, momentum", REFERENCE_CASES)
def test_training_matches_two_pass_reference(x_shape, affine, momentum, device):
    # a mean of 1e4 next to a spread of 1: a one-pass E[x^2] - E[x]^2 would lose ~1e-8
    x, *weight_and_bias = affine_inputs(x_shape, affine)
    x = x + 1e4
    running_mean, running_var = running_stats(x_shape[1], device)
    initial_mean, initial_var = running_mean.numpy(), running_var.numpy()
    y = F.batch_norm(on_device(x, device), running_mean, running_var,
                     *[on_device(a, device) for a in weight_and_bias], training=True, momentum=momentum)
    expected, mean, _, unbiased_var = batch_norm_two_pass(x, *weight_and_bias)
    assert y.device == device
    assert_close(y.numpy(), expected, "output")
    assert_close(running_mean.numpy(), (1 - momentum) * initial_mean + momentum * mean, "running_mean")
    assert_close(running_var.numpy(), (1 - momentum) * initial_var + momentum * unbiased_var,
                 "running_var (updated with the unbiased variance)")


@pytest.mark.parametrize("x_shape, affine", SHAPE_CASES)
def test_evaluation_uses_running_stats_and_leaves_them(x_shape, affine, device):
    x, *weight_and_bias = affine_inputs(x_shape, affine)
    running_mean, running_var = running_stats(x_shape[1], device)
    mean, var = running_mean.numpy(), running_var.numpy()
    y = F.batch_norm(on_device(x, device), running_mean, running_var,
                     *[on_device(a, device) for a in weight_and_bias], training=False)
    per_channel = (1, -1) + (1,) * (len(x_shape) - 2)              # (C,) -> (1, C) or (1, C, 1, 1)
    expected = (x - mean.reshape(per_channel)) / np.sqrt(var.reshape(per_channel) + 1e-5)
    if affine:
        weight, bias = (a.reshape(per_channel) for a in weight_and_bias)
        expected = expected * weight + bias
    assert_close(y.numpy(), expected)
    np.testing.assert_array_equal(running_mean.numpy(), mean)
    np.testing.assert_array_equal(running_var.numpy(), var)


# --- PyTorch ------------------------------------------------------------------------

@pytest.mark.parametrize("training", MODES)
@pytest.mark.parametrize("x_shape, affine", SHAPE_CASES)
def test_matches_torch(x_shape, affine, training, torch):
    # forward and the gradients of x, weight and bias
    mean, var = (stat.numpy() for stat in running_stats(x_shape[1], "cpu"))   # host copies for torch

    def ours(x, *weight_and_bias):
        stats = running_stats(x_shape[1], "cpu")
        return F.batch_norm(x, *stats, *weight_and_bias, training=training)

    def theirs(x, *weight_and_bias):
        stats = torch.tensor(mean), torch.tensor(var)
        return torch.nn.functional.batch_norm(x, *stats, *weight_and_bias, training=training)

    compare_with_torch(torch, ours, theirs, affine_inputs(x_shape, affine), tolerance=TOLERANCE)


# (x shape, momentum)
RUNNING_CASES = [
    pytest.param((8, 3), 0.1, id="2d"),
    pytest.param((2, 3, 4, 5), 0.1, id="4d"),
    pytest.param((4, 2, 3, 1), 0.7, id="4d_momentum_0.7"),
]


@pytest.mark.parametrize("x_shape, momentum", RUNNING_CASES)
def test_running_stats_after_three_steps_match_torch(x_shape, momentum, torch):
    ours = running_stats(x_shape[1], "cpu")
    theirs = [torch.tensor(stat.numpy()) for stat in ours]
    for step in range(3):                                          # three different batches
        batch = random_array(x_shape, seed=20 + step) * (step + 1) + step
        y = F.batch_norm(on_device(batch, "cpu"), *ours, training=True, momentum=momentum)
        expected = torch.nn.functional.batch_norm(torch.tensor(batch), *theirs, training=True,
                                                  momentum=momentum)
        assert_close(y.numpy(), expected.numpy(), f"output at step {step}")
    assert_close(ours[0].numpy(), theirs[0].numpy(), "running_mean")
    assert_close(ours[1].numpy(), theirs[1].numpy(), "running_var")
    batch = random_array(x_shape, seed=30)                         # then evaluation with them
    assert_close(F.batch_norm(on_device(batch, "cpu"), *ours).numpy(),
                 torch.nn.functional.batch_norm(torch.tensor(batch), *theirs).numpy(), "evaluation")


# --- Errors -------------------------------------------------------------------------

def batch(*shape, dtype=mr.float64):
    return mr.tensor(np.ones(shape), dtype=dtype)


def vector(length, dtype=mr.float64):
    return mr.tensor(np.ones(length), dtype=dtype)


# (call, error, message it must match)
ERROR_CASES = [
    pytest.param(lambda: F.batch_norm(batch(4, 3), vector(4), vector(3), training=True), ValueError,
                 r"batch_norm: running_mean must have shape \(3,\).*input \(4, 3\); got \(4,\)",
                 id="running_mean_wrong_length"),
    pytest.param(lambda: F.batch_norm(batch(4, 3, 2, 2), vector(3), vector(2)), ValueError,
                 r"batch_norm: running_var must have shape \(3,\).*input \(4, 3, 2, 2\); got \(2,\)",
                 id="running_var_wrong_length"),
    pytest.param(lambda: F.batch_norm(batch(4, 3), None, None, vector(5), training=True), ValueError,
                 r"batch_norm: weight must have shape \(3,\).*got \(5,\)", id="weight_wrong_length"),
    pytest.param(lambda: F.batch_norm(batch(4, 3, 5), None, None, training=True), ValueError,
                 r"batch_norm: expected an input of shape \(N, C\) or \(N, C, H, W\); got \(4, 3, 5\)",
                 id="3d_input"),
    pytest.param(lambda: F.batch_norm(batch(4, 3), None, None, training=False), ValueError,
                 r"batch_norm: evaluation \(training=False\) needs running_mean and running_var",
                 id="eval_without_running_stats"),
    pytest.param(lambda: F.batch_norm(batch(4, 3), vector(3), None, training=True), ValueError,
                 "batch_norm: give both running_mean and running_var", id="only_running_mean"),
    pytest.param(lambda: F.batch_norm(batch(4, 3), None, vector(3), training=True), ValueError,
                 "batch_norm: give both running_mean and running_var", id="only_running_var"),
    pytest.param(lambda: F.batch_norm(batch(1, 3), None, None, training=True), ValueError,
                 r"batch_norm: training needs more than one value per channel; got input \(1, 3\)",
                 id="one_value_per_channel"),
    pytest.param(lambda: F.batch_norm(batch(4, 3), None, None, training=True, momentum=1.5), ValueError,
                 r"batch_norm: momentum must be a number in \[0, 1\]; got 1.5", id="momentum_above_1"),
    pytest.param(lambda: F.batch_norm(batch(4, 3), None, None, training=True, momentum=-0.1), ValueError,
                 r"batch_norm: momentum must be a number in \[0, 1\]; got -0.1", id="momentum_below_0"),
    pytest.param(lambda: F.batch_norm(batch(4, 3), None, None, training=True, momentum=None), ValueError,
                 r"got None \(PyTorch's momentum=None, a cumulative average, is not supported\)",
                 id="momentum_none"),
    pytest.param(lambda: F.batch_norm(batch(4, 3, dtype=mr.float32), None, None, vector(3), training=True),
                 TypeError, "batch_norm: expected inputs of one floating dtype; "
                            "got x float32, weight float64",
                 id="float32_x_float64_weight"),
]


@pytest.mark.parametrize("call, error, message", ERROR_CASES)
def test_bad_input_gives_a_clear_error(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_one_value_per_channel_is_fine_in_evaluation():
    y = F.batch_norm(batch(1, 3), vector(3), vector(3), training=False)
    assert y.shape == (1, 3)


# --- Synchronisations ---------------------------------------------------------------

def test_training_step_makes_no_synchronisation():
    x = on_device(random_array((2, 3, 4, 4)), "strict")
    weight = on_device(random_array(3, seed=1), "strict")
    bias = on_device(random_array(3, seed=2), "strict")
    running_mean, running_var = running_stats(3, "strict")
    with count_synchronizations() as syncs:
        y = F.batch_norm(x, running_mean, running_var, weight, bias, training=True)
        (y * y).sum().backward()
    assert syncs.count == 0
    assert x.grad is not None and weight.grad is not None and bias.grad is not None


@pytest.mark.parametrize("training", MODES)
@pytest.mark.parametrize("layout", ["channels_last", "strided"])
def test_any_memory_layout_gives_the_same_values_and_gradients(layout, training, device):
    """Batch norm works on channel rows (a channels-last copy when needed): the input's
    layout and the incoming gradient's change nothing but speed."""
    x, weight, bias = random_array((3, 4, 5, 6), seed=3), random_array(4, seed=4), random_array(4, seed=5)
    grad_output = random_array(x.shape, seed=6)
    results = []
    for this_layout in ("channels_first", layout):
        tensors = [on_device(input_in_layout(x, this_layout), device), on_device(weight, device),
                   on_device(bias, device)]
        mean, var = running_stats(4, device)
        output = F.batch_norm(tensors[0], mean, var, *tensors[1:], training=training)
        output.backward(on_device(input_in_layout(grad_output, this_layout), device, requires_grad=False))
        results.append([output.numpy(), mean.numpy(), var.numpy()] + [t.grad.numpy() for t in tensors])
    for name, first, other in zip(("output", "running mean", "running var", "x grad", "weight grad", "bias grad"),
                                  *results):
        assert_close(other, first, name)
