"""Memory layout: the helpers of layout.py, and ops that keep a channels-last layout."""

import numpy as np
import pytest

import minires as mr
import minires.functional as F
from helpers import input_in_layout, random_array
from minires.functional import layout


def is_channels_last(array):
    return array.transpose(0, 2, 3, 1).flags.c_contiguous


def test_memory_order_of_the_two_layouts():
    x = random_array((2, 3, 4, 5))
    assert layout.memory_order(x) == (0, 1, 2, 3)
    assert layout.memory_order(input_in_layout(x, "channels_last")) == (0, 2, 3, 1)


@pytest.mark.parametrize("order", [(0, 1, 2, 3), (0, 2, 3, 1), (3, 2, 1, 0)])
def test_zeros_in_memory_order(order):
    zeros = layout.zeros_in_memory_order(np, (2, 3, 4, 5), order, np.float32)
    assert zeros.shape == (2, 3, 4, 5) and zeros.dtype == np.float32 and not zeros.any()
    assert layout.memory_order(zeros) == order


@pytest.mark.parametrize("shape", [(6, 4), (2, 4, 3, 5)])
def test_channel_rows_round_trip(shape):
    x = random_array(shape)
    rows = layout.channel_rows(np, x)
    assert rows.flags.c_contiguous and rows.shape[1] % shape[1] == 0
    for column in range(rows.shape[1]):          # column k holds channel k % C
        channel = column % shape[1]
        assert set(rows[:, column]) <= set(x[:, channel].ravel())
    np.testing.assert_array_equal(layout.from_channel_rows(rows, shape), x)


def test_channel_rows_of_a_channels_last_image_is_free():
    x = input_in_layout(random_array((2, 4, 3, 5)), "channels_last")
    assert np.shares_memory(layout.channel_rows(np, x), x)


def channels_last_tensor(shape):
    return mr.tensor(input_in_layout(random_array(shape), "channels_last"), requires_grad=True)


def test_ops_of_a_resnet_keep_channels_last():
    """Forward results and input gradients stay channels-last through the ops a ResNet
    (or an ImageNet-style stem with pooling) uses, so that no element-wise op meets two layouts (several times slower)."""
    x = channels_last_tensor((2, 4, 6, 6))
    weight = mr.tensor(random_array((4, 4, 3, 3)), requires_grad=True)
    outputs = {
        "conv2d": F.conv2d(x, weight, padding=1),
        "batch_norm": F.batch_norm(x, None, None, training=True),
        "relu": F.relu(x),
        "pad": F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, 2, 2)),     # the option-A shortcut
        "max_pool2d": F.max_pool2d(x, 3, stride=2, padding=1),
        "avg_pool2d": F.avg_pool2d(x, 2),
    }
    for name, output in outputs.items():
        assert is_channels_last(output.data), name
        x.grad = None
        output.backward(mr.tensor(input_in_layout(random_array(output.shape), "channels_last")))
        assert is_channels_last(x.grad), f"{name}: input gradient"


def test_global_pool_gradient_takes_the_input_layout():
    for this_layout in ("channels_first", "channels_last"):
        x = mr.tensor(input_in_layout(random_array((2, 3, 4, 4)), this_layout), requires_grad=True)
        F.global_avg_pool2d(x).sum().backward()
        assert layout.memory_order(x.grad) == layout.memory_order(x.data)
        np.testing.assert_allclose(x.grad, np.full((2, 3, 4, 4), 1 / 16))
