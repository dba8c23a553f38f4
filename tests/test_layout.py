"""Memory layout: the helpers of minires.fast.layout, and which ops keep a channels-last layout.

Each test states what the code does today, checked both ways where a layout could go
either way: the fast kernels return channels-last images whatever they are given (ReLU
keeps its input's layout); the reference ops F.pad and F.getitem pass a layout through.
"""

import numpy as np
import pytest

import minires as mr
import minires.functional as F
from minires import fast
from minires.fast import layout
from helpers import input_in_layout, on_device, random_array

LAYOUTS = ["contiguous", "channels_last"]


def is_channels_last(array):
    """Whether an (N, C, H, W) array lies in memory as (N, H, W, C), C-contiguous."""
    return array.transpose(0, 2, 3, 1).flags.c_contiguous


def is_channels_first(array):
    return array.flags.c_contiguous


def in_layout(this_layout):
    return is_channels_last if this_layout == "channels_last" else is_channels_first


# --- The helpers ---------------------------------------------------------------------

@pytest.mark.parametrize("shape, this_layout", [((6, 4), "contiguous"), ((2, 4, 3, 5), "contiguous"),
                                                ((2, 4, 3, 5), "channels_last"), ((1, 1, 1, 7), "contiguous")])
def test_channel_rows_round_trip(shape, this_layout):
    x = random_array(shape) if len(shape) == 2 else input_in_layout(random_array(shape), this_layout)
    rows = layout.channel_rows(np, x)
    N, C = shape[:2]
    assert rows.flags.c_contiguous and rows.shape == (N, x.size // N)
    # column k holds channel k % C: pixel after pixel, each pixel's C values side by side
    per_pixel = x.reshape(N, C, -1).transpose(0, 2, 1)                       # (N, H*W, C)
    np.testing.assert_array_equal(rows.reshape(N, -1, C), per_pixel)
    back = layout.from_channel_rows(rows, shape)
    assert back.shape == shape
    np.testing.assert_array_equal(back, x)
    if len(shape) == 4:
        assert is_channels_last(back) and np.shares_memory(back, rows)        # a view of the rows


def test_channels_last_is_free_and_channels_first_is_copied():
    x = random_array((2, 4, 3, 5))
    x_last = input_in_layout(x, "channels_last")
    for helper in (lambda a: layout.channels_last(np, a), lambda a: layout.channel_rows(np, a)):
        assert np.shares_memory(helper(x_last), x_last)                       # free: a view
        assert not np.shares_memory(helper(x), x)                             # a copy
        np.testing.assert_array_equal(helper(x), helper(x_last))              # the same values
    nhwc = layout.channels_last(np, x)
    assert nhwc.shape == (2, 3, 5, 4) and nhwc.flags.c_contiguous
    view = layout.channels_first_view(nhwc)
    assert view.shape == x.shape and is_channels_last(view) and np.shares_memory(view, nhwc)
    np.testing.assert_array_equal(view, x)


# --- The fast kernels -------------------------------------------------------------------

def run_with_layouts(op, x_layout, grad_layout, device, x_shape=(2, 4, 6, 6)):
    """op(x), x in ``x_layout``, then backward with a gradient in ``grad_layout``: (output, x.grad) arrays."""
    x = on_device(input_in_layout(random_array(x_shape), x_layout), device)
    output = op(x)
    grad = input_in_layout(random_array(output.shape, seed=1), grad_layout) if output.ndim == 4 \
        else random_array(output.shape, seed=1)
    output.backward(on_device(grad, device, requires_grad=False))
    return output.array, x.grad.array


def fast_kernels(device):
    weight = on_device(random_array((5, 4, 3, 3), seed=2), device)
    running_mean, running_var = (on_device(random_array(4, seed=3 + k, positive=True), device, requires_grad=False)
                                 for k in range(2))
    return {
        "conv2d": lambda x: fast.conv2d(x, weight, padding=1),
        "conv2d_stride_2": lambda x: fast.conv2d(x, weight, stride=2, padding=1),
        "conv2d_rgb": lambda x: fast.conv2d(x[:, :3], weight[:, :3], padding=1),   # the im2col forward
        "batch_norm_training": lambda x: fast.batch_norm(x, None, None, training=True),
        "batch_norm_evaluation": lambda x: fast.batch_norm(x, running_mean, running_var, training=False),
    }


@pytest.mark.parametrize("grad_layout", LAYOUTS)
@pytest.mark.parametrize("x_layout", LAYOUTS)
def test_fast_conv2d_and_batch_norm_return_channels_last(x_layout, grad_layout, device):
    """Whatever the layouts given, output and input gradient come back channels-last."""
    for name, op in fast_kernels(device).items():
        output, grad_x = run_with_layouts(op, x_layout, grad_layout, device)
        assert is_channels_last(output) and not is_channels_first(output), f"{name}: output"
        if name != "conv2d_rgb":                                  # x[:, :3]'s gradient is getitem's
            assert is_channels_last(grad_x) and not is_channels_first(grad_x), f"{name}: input gradient"


@pytest.mark.parametrize("grad_layout", LAYOUTS)
@pytest.mark.parametrize("x_layout", LAYOUTS)
def test_fast_relu_keeps_the_input_layout(x_layout, grad_layout, device):
    """Output and input gradient in x's layout, whatever the incoming gradient's."""
    output, grad_x = run_with_layouts(fast.relu, x_layout, grad_layout, device)
    assert in_layout(x_layout)(output), "output"
    assert in_layout(x_layout)(grad_x), "input gradient"


def test_a_fast_residual_block_stays_channels_last(device):
    """conv-bn-relu-conv-bn, plus the option-A shortcut (x[:, :, ::2, ::2] padded with zero
    channels), then relu: channels-last from end to end (on NumPy), and so is the input gradient."""
    x = on_device(input_in_layout(random_array((2, 4, 8, 8)), "channels_last"), device)
    weight_1 = on_device(random_array((8, 4, 3, 3), seed=1), device)
    weight_2 = on_device(random_array((8, 8, 3, 3), seed=2), device)
    branch = fast.relu(fast.batch_norm(fast.conv2d(x, weight_1, stride=2, padding=1), None, None, training=True))
    branch = fast.batch_norm(fast.conv2d(branch, weight_2, padding=1), None, None, training=True)
    shortcut = F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, 2, 2))                   # (2, 8, 4, 4)
    output = fast.relu(branch + shortcut)
    # NumPy's ufuncs keep their inputs' layout (order "K"); CuPy's allocate a C-contiguous
    # output. So on a GPU the sums are channels-first: branch + shortcut (and the ReLU after
    # it), and x's gradient, the sum of the gradients along the branch and the shortcut.
    summed_layout = is_channels_first if device == "cuda" else is_channels_last
    assert is_channels_last(shortcut.array) and summed_layout(output.array)
    output.backward(on_device(input_in_layout(random_array(output.shape, seed=3), "channels_last"), device))
    assert summed_layout(x.grad.array)


# --- Reference ops that pass a layout through -------------------------------------------

@pytest.mark.parametrize("grad_layout", LAYOUTS)
@pytest.mark.parametrize("x_layout", LAYOUTS)
def test_pad_output_takes_the_input_layout_and_its_gradient_the_incoming_one(x_layout, grad_layout, device):
    """F.pad fills a new array in x's layout (full_like); backward returns the middle of the
    incoming gradient, a view in that gradient's layout, which x.grad (a copy) keeps."""
    output, grad_x = run_with_layouts(lambda x: F.pad(x, (1, 2, 0, 1, 2, 2)), x_layout, grad_layout, device)
    assert output.shape == (2, 8, 7, 9)
    assert in_layout(x_layout)(output), "output"
    assert in_layout(grad_layout)(grad_x), "input gradient"


@pytest.mark.parametrize("grad_layout", LAYOUTS)
@pytest.mark.parametrize("x_layout", LAYOUTS)
def test_getitem_gradient_takes_the_incoming_layout(x_layout, grad_layout, device):
    """F.getitem's backward makes zeros_like(incoming gradient, shape=x's shape): with as many
    dimensions, in the incoming gradient's layout (NumPy's and CuPy's order "K")."""
    _, grad_x = run_with_layouts(lambda x: x[:, :, ::2, 1:], x_layout, grad_layout, device)
    assert in_layout(grad_layout)(grad_x)
    np.testing.assert_array_equal(mr.backend.to_numpy(grad_x)[:, :, 1::2], 0.0)   # rows not picked


@pytest.mark.parametrize("x_layout", LAYOUTS)
def test_getitem_gradient_with_fewer_dimensions_is_channels_first(x_layout, device):
    """An int index drops an axis: the incoming gradient (C, H, W) has no layout to give the
    zeros (N, C, H, W), which are then C-contiguous, whatever x's layout."""
    _, grad_x = run_with_layouts(lambda x: x[1], x_layout, "contiguous", device)
    assert is_channels_first(grad_x) and not is_channels_last(grad_x)
    np.testing.assert_array_equal(mr.backend.to_numpy(grad_x)[0], 0.0)
