"""max_pool2d, avg_pool2d, adaptive_avg_pool2d, global_avg_pool2d: gradients, loop references,
PyTorch, errors."""

import numpy as np
import pytest

import minires as mr
import minires.functional as F
from helpers import check_gradients, compare_with_torch, on_device, random_array
from reference_ops import avg_pool2d_loops, max_pool2d_backward_loops, max_pool2d_loops
from strict_device import count_synchronizations

TOLERANCE = 1e-10

# (x shape, kernel_size, stride, padding)
POOL_CASES = [
    pytest.param((1, 1, 4, 4), 2, None, 0, id="batch_1_stride_from_kernel"),
    pytest.param((2, 3, 5, 5), 1, 1, 0, id="kernel_1"),                  # the identity
    pytest.param((2, 2, 5, 7), 2, 1, 1, id="odd_overlapping_padding_1"),
    pytest.param((1, 3, 7, 5), 3, 2, 1, id="kernel_3_stride_2_padding_1"),
    pytest.param((2, 2, 7, 5), 3, None, 0, id="kernel_3_leftover_rows"),  # last row and columns unused
    pytest.param((2, 16, 3, 3), 2, 1, 0, id="16_channels"),               # small spatially: fast
    pytest.param((2, 2, 7, 6), (3, 2), (2, 1), (1, 0), id="pairs"),
]
POOLS = [
    pytest.param(F.max_pool2d, max_pool2d_loops, "max_pool2d", id="max"),
    pytest.param(F.avg_pool2d, avg_pool2d_loops, "avg_pool2d", id="avg"),
]


def distinct_array(shape, seed=0):
    """Values 0.01 apart in random order: no ties, and a 1e-6 step never changes a max."""
    size = int(np.prod(shape))
    order = np.random.default_rng(seed).permutation(size)
    return ((order - size / 2) * 0.01).reshape(shape)


def assert_close(actual, expected, what=""):
    np.testing.assert_allclose(actual, expected, rtol=TOLERANCE, atol=TOLERANCE, err_msg=what)


# --- Gradients, by central differences ----------------------------------------------

@pytest.mark.parametrize("pool, reference, name", POOLS)
@pytest.mark.parametrize("x_shape, kernel_size, stride, padding", POOL_CASES)
def test_gradients(pool, reference, name, x_shape, kernel_size, stride, padding, device):
    check_gradients(lambda x: pool(x, kernel_size, stride, padding), [distinct_array(x_shape)], device)


@pytest.mark.parametrize("x_shape", [(1, 1, 3, 3), (2, 16, 2, 3)])
def test_global_avg_pool_gradients(x_shape, device):
    check_gradients(F.global_avg_pool2d, [random_array(x_shape)], device)


# --- The loop references, on every device -------------------------------------------

@pytest.mark.parametrize("pool, reference, name", POOLS)
@pytest.mark.parametrize("x_shape, kernel_size, stride, padding", POOL_CASES)
def test_forward_matches_loops(pool, reference, name, x_shape, kernel_size, stride, padding, device):
    x = random_array(x_shape)
    y = pool(on_device(x, device), kernel_size, stride, padding)
    assert y.device == device
    assert_close(y.numpy(), reference(x, kernel_size, stride, padding))


def max_pool_backward_on(x, kernel_size, stride, padding, device):
    """(grad of x from minires on ``device``, the same from the loops), for random grad_output."""
    x_tensor = on_device(x, device)
    y = F.max_pool2d(x_tensor, kernel_size, stride, padding)
    grad_output = random_array(y.shape, seed=7)
    y.backward(on_device(grad_output, device, requires_grad=False))
    expected = max_pool2d_backward_loops(x, grad_output, kernel_size, stride, padding)
    return x_tensor.grad.numpy(), expected


@pytest.mark.parametrize("x_shape, kernel_size, stride, padding", POOL_CASES)
def test_max_pool_backward_matches_loops(x_shape, kernel_size, stride, padding, device):
    assert_close(*max_pool_backward_on(random_array(x_shape), kernel_size, stride, padding, device))


# (x shape, kernel_size, stride, padding) for inputs full of ties
TIE_CASES = [
    pytest.param((1, 1, 4, 4), 2, None, 0, id="side_by_side"),
    pytest.param((2, 2, 5, 5), 3, 1, 1, id="overlapping_padded"),
    pytest.param((1, 2, 5, 6), (2, 3), (1, 2), (1, 1), id="pairs"),
]


@pytest.mark.parametrize("x_shape, kernel_size, stride, padding", TIE_CASES)
def test_max_pool_ties_send_gradient_to_first_max(x_shape, kernel_size, stride, padding, device):
    # values 0, 1 and 2 only: most windows hold their maximum more than once, and the
    # first one in row-major order takes the whole gradient, as in PyTorch
    x = np.random.default_rng(3).integers(0, 3, x_shape).astype(np.float64)
    assert_close(*max_pool_backward_on(x, kernel_size, stride, padding, device))


def test_max_pool_tie_by_hand(device):
    # one 2x2 window of equal values: all the gradient goes to the top-left one
    x = on_device(np.full((1, 1, 2, 2), 5.0), device)
    F.max_pool2d(x, 2).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[[[1.0, 0.0], [0.0, 0.0]]]])


def test_max_pool_padding_never_wins(device):
    # every value negative: a zero padding would win the border windows, -inf never does
    x = -1.0 - np.abs(random_array((2, 2, 5, 5)))
    y = F.max_pool2d(on_device(x, device), 3, 1, 1)
    assert_close(y.numpy(), max_pool2d_loops(x, 3, 1, 1))
    assert np.all(y.numpy() < 0)
    assert_close(*max_pool_backward_on(x, 3, 1, 1, device))


def test_avg_pool_padding_counts_in_the_divisor(device):
    # ones, kernel 2, padding 1: corner windows see 1 input of 4, edges 2, the centre 4
    y = F.avg_pool2d(on_device(np.ones((1, 1, 2, 2)), device), 2, 1, 1)
    expected = [[[[0.25, 0.5, 0.25], [0.5, 1.0, 0.5], [0.25, 0.5, 0.25]]]]
    assert_close(y.numpy(), expected)
    assert_close(y.numpy(), avg_pool2d_loops(np.ones((1, 1, 2, 2)), 2, 1, 1))


def test_global_avg_pool_is_the_mean_of_each_channel(device):
    x = random_array((2, 3, 4, 5))
    y = F.global_avg_pool2d(on_device(x, device))
    assert y.shape == (2, 3) and y.device == device
    assert_close(y.numpy(), x.mean(axis=(2, 3)))


# --- PyTorch ------------------------------------------------------------------------

@pytest.mark.parametrize("pool, reference, name", POOLS)
@pytest.mark.parametrize("x_shape, kernel_size, stride, padding", POOL_CASES)
def test_matches_torch(pool, reference, name, x_shape, kernel_size, stride, padding, torch):
    torch_pool = getattr(torch.nn.functional, name)
    compare_with_torch(torch, lambda x: pool(x, kernel_size, stride, padding),
                       lambda x: torch_pool(x, kernel_size, stride, padding),
                       [distinct_array(x_shape)], tolerance=TOLERANCE)


@pytest.mark.parametrize("x_shape, kernel_size, stride, padding", TIE_CASES)
def test_max_pool_ties_match_torch(x_shape, kernel_size, stride, padding, torch):
    x = np.random.default_rng(3).integers(0, 3, x_shape).astype(np.float64)
    compare_with_torch(torch, lambda t: F.max_pool2d(t, kernel_size, stride, padding),
                       lambda t: torch.nn.functional.max_pool2d(t, kernel_size, stride, padding),
                       [x], tolerance=TOLERANCE)


@pytest.mark.parametrize("x_shape", [(1, 1, 3, 3), (2, 16, 2, 3), (3, 2, 5, 4)])
def test_global_avg_pool_matches_torch(x_shape, torch):
    compare_with_torch(torch, F.global_avg_pool2d, lambda x: x.mean((2, 3)),
                       [random_array(x_shape)], tolerance=TOLERANCE)


# --- adaptive_avg_pool2d ------------------------------------------------------------

# (x shape, output_size): the CIFAR case 1, sizes that divide the input, sizes that do not
# (windows of unequal size that overlap), an output larger than the input, and None.
ADAPTIVE_CASES = [
    pytest.param((2, 3, 8, 8), 1, id="1"),
    pytest.param((2, 3, 5, 7), (1, 1), id="1x1"),
    pytest.param((1, 2, 6, 4), (3, 2), id="dividing"),
    pytest.param((2, 2, 5, 7), 3, id="overlapping"),
    pytest.param((1, 1, 7, 5), (4, 3), id="overlapping_pair"),
    pytest.param((1, 2, 3, 2), (5, 4), id="larger_than_input"),
    pytest.param((1, 2, 5, 6), (None, 4), id="none_keeps_height"),
]


def adaptive_avg_pool2d_loops(x, output_size):
    """The answer key: each output pixel the mean of PyTorch's window, pixel by pixel."""
    N, C, H, W = x.shape
    OH, OW = output_size
    out = np.zeros((N, C, OH, OW))
    for oh in range(OH):
        for ow in range(OW):
            top, bottom = int(np.floor(oh * H / OH)), int(np.ceil((oh + 1) * H / OH))
            left, right = int(np.floor(ow * W / OW)), int(np.ceil((ow + 1) * W / OW))
            out[:, :, oh, ow] = x[:, :, top:bottom, left:right].mean(axis=(2, 3))
    return out


def test_adaptive_bins_by_hand():
    from minires.functional.pool import adaptive_bins
    assert adaptive_bins(5, 3) == [(0, 2), (1, 4), (3, 5)]
    assert adaptive_bins(8, 4) == [(0, 2), (2, 4), (4, 6), (6, 8)]
    assert adaptive_bins(2, 3) == [(0, 1), (0, 2), (1, 2)]


@pytest.mark.parametrize("x_shape, output_size", ADAPTIVE_CASES)
def test_adaptive_avg_pool_gradients(x_shape, output_size, device):
    check_gradients(lambda x: F.adaptive_avg_pool2d(x, output_size), [random_array(x_shape)], device)


@pytest.mark.parametrize("x_shape, output_size", ADAPTIVE_CASES)
def test_adaptive_avg_pool_matches_loops(x_shape, output_size, device):
    x = random_array(x_shape)
    sizes = output_size if isinstance(output_size, tuple) else (output_size, output_size)
    sizes = tuple(size if size is not None else x_shape[2 + axis] for axis, size in enumerate(sizes))
    output = F.adaptive_avg_pool2d(on_device(x, device), output_size)
    assert output.device == device and output.dtype == mr.float64
    assert_close(output.numpy(), adaptive_avg_pool2d_loops(x, sizes))


@pytest.mark.parametrize("x_shape, output_size", ADAPTIVE_CASES)
def test_adaptive_avg_pool_matches_torch(x_shape, output_size, torch):
    compare_with_torch(torch, lambda x: F.adaptive_avg_pool2d(x, output_size),
                       lambda x: torch.nn.functional.adaptive_avg_pool2d(x, output_size),
                       [random_array(x_shape)], tolerance=TOLERANCE)


def test_adaptive_avg_pool_of_1_is_global_avg_pool_keeping_dims():
    x = mr.tensor(random_array((2, 4, 5, 3)), dtype=mr.float32)
    output = F.adaptive_avg_pool2d(x, 1)
    assert output.shape == (2, 4, 1, 1) and output.dtype == mr.float32
    np.testing.assert_allclose(output.numpy()[:, :, 0, 0], F.global_avg_pool2d(x).numpy(), rtol=1e-6)


# --- Errors -------------------------------------------------------------------------

def images(*shape):
    return mr.tensor(np.ones(shape), dtype=mr.float64)


# (x, kernel_size, stride, padding, error, message it must match, after the op's name)
ERROR_CASES = [
    pytest.param(images(2, 3, 4), 2, None, 0, ValueError,
                 r"expected a 4-D input \(N, C, H, W\); got shape \(2, 3, 4\)", id="3d_input"),
    pytest.param(images(1, 1, 5, 5), 3, 1, 2, ValueError,
                 r"padding \(2, 2\) must be at most half the kernel size \(3, 3\)", id="padding_over_half"),
    pytest.param(images(1, 1, 5, 5), (2, 1), 1, (0, 1), ValueError,
                 r"padding \(0, 1\) must be at most half the kernel size \(2, 1\)",
                 id="padding_over_half_pair"),
    pytest.param(images(1, 1, 2, 2), 5, None, 1, ValueError,
                 r"the kernel \(5x5\) is larger than the padded input \(4x4",
                 id="kernel_larger_than_padded_input"),
    pytest.param(images(1, 1, 6, 2), (2, 3), None, 0, ValueError,
                 r"the kernel \(2x3\) is larger than the padded input \(6x2", id="kernel_wider_than_input"),
    pytest.param(images(1, 1, 4, 4), 2, 0, 0, ValueError, "stride must be at least 1; got 0", id="stride_0"),
    pytest.param(images(1, 1, 4, 4), 2, (1, 0), 0, ValueError,
                 r"stride must be at least 1; got \(1, 0\)", id="stride_0_pair"),
    pytest.param(images(1, 1, 4, 4), 2.0, None, 0, TypeError,
                 "kernel_size must be an int or a pair of ints; got 2.0", id="float_kernel"),
    pytest.param(images(1, 1, 4, 4), (2, 2, 2), None, 0, TypeError,
                 r"kernel_size must be an int or a pair of ints; got \(2, 2, 2\)", id="kernel_triple"),
]


@pytest.mark.parametrize("pool, reference, name", POOLS)
@pytest.mark.parametrize("x, kernel_size, stride, padding, error, message", ERROR_CASES)
def test_bad_input_gives_a_clear_error(pool, reference, name, x, kernel_size, stride, padding,
                                       error, message):
    with pytest.raises(error, match=f"{name}: {message}"):
        pool(x, kernel_size, stride, padding)


def test_global_avg_pool_needs_4d_input():
    with pytest.raises(ValueError, match=r"global_avg_pool2d: expected a 4-D input .*got shape \(2, 3\)"):
        F.global_avg_pool2d(images(2, 3))


@pytest.mark.parametrize("x, output_size, error, message", [
    pytest.param(images(2, 3, 4), 1, ValueError, r"expected a 4-D input \(N, C, H, W\); got shape \(2, 3, 4\)",
                 id="3d_input"),
    pytest.param(images(1, 1, 4, 4), 0, ValueError, "output_size must be at least 1; got", id="size_0"),
    pytest.param(images(1, 1, 4, 4), 2.0, TypeError, "output_size must be an int or a pair of ints",
                 id="float_size"),
    pytest.param(images(1, 1, 4, 4), (1, 2, 3), ValueError, r"output_size must be an int or a pair \(OH, OW\)",
                 id="triple"),
    pytest.param(images(1, 1, 0, 4), 1, ValueError, r"the input image is empty", id="empty_image"),
])
def test_adaptive_avg_pool_bad_input(x, output_size, error, message):
    with pytest.raises(error, match=f"adaptive_avg_pool2d: {message}"):
        F.adaptive_avg_pool2d(x, output_size)


# --- Synchronisations ---------------------------------------------------------------

@pytest.mark.parametrize("pool", [
    pytest.param(lambda x: F.max_pool2d(x, 3, 2, 1), id="max"),
    pytest.param(lambda x: F.avg_pool2d(x, 3, 2, 1), id="avg"),
    pytest.param(F.global_avg_pool2d, id="global_avg"),
    pytest.param(lambda x: F.adaptive_avg_pool2d(x, (2, 3)), id="adaptive_avg"),
])
def test_forward_and_backward_make_no_synchronisation(pool):
    x = on_device(random_array((2, 3, 5, 5)), "strict")
    with count_synchronizations() as syncs:
        (pool(x) * 2.0).sum().backward()
    assert syncs.count == 0
    assert x.grad is not None
