"""The answer key checked: every reference op in reference_ops.py against PyTorch.

The op tests trust these loop versions to be right; here they earn it, forward and,
for convolution and max pooling, backward against torch autograd, all in float64.
"""

import numpy as np
import pytest

from helpers import random_array
from reference_ops import (avg_pool2d_loops, batch_norm_two_pass, conv2d_backward_loops,
                           conv2d_loops, cross_entropy_loops, max_pool2d_backward_loops,
                           max_pool2d_loops)

TOLERANCE = 1e-12

# (x shape, weight shape, stride, padding, with bias)
CONV_CASES = [
    ((1, 1, 5, 5), (1, 1, 3, 3), 1, 0, False),           # batch 1, one channel
    ((2, 3, 7, 6), (4, 3, 3, 3), 2, 1, True),            # odd sizes, stride 2, padding 1
    ((2, 2, 9, 9), (3, 2, 5, 5), 1, 2, True),            # kernel 5, padding 2
    ((3, 4, 5, 7), (2, 4, 1, 1), 2, 0, True),            # kernel 1, stride leaves inputs unused
    ((2, 3, 8, 7), (2, 3, 3, 5), (2, 1), (1, 2), False), # pairs, non-square kernel
]

# (x shape, kernel_size, stride, padding)
POOL_CASES = [
    ((1, 1, 4, 4), 2, None, 0),                          # batch 1, stride from kernel_size
    ((2, 3, 7, 7), 3, 2, 1),                             # odd size, stride 2, padding 1
    ((2, 2, 9, 8), 5, 1, 2),                             # kernel 5, padding 2, overlapping windows
    ((2, 3, 5, 5), 1, 2, 0),                             # kernel 1
    ((2, 2, 7, 6), (3, 2), (2, 1), 1),                   # pairs
]


def assert_close(actual, expected, what="", atol=TOLERANCE):
    np.testing.assert_allclose(actual, expected, rtol=TOLERANCE, atol=atol, err_msg=what)


@pytest.mark.parametrize("x_shape, weight_shape, stride, padding, with_bias", CONV_CASES)
def test_conv2d_matches_torch(torch, x_shape, weight_shape, stride, padding, with_bias):
    x, weight = random_array(x_shape, seed=0), random_array(weight_shape, seed=1)
    bias = random_array(weight_shape[0], seed=2) if with_bias else None
    x_torch = torch.tensor(x, requires_grad=True)
    weight_torch = torch.tensor(weight, requires_grad=True)
    bias_torch = torch.tensor(bias, requires_grad=True) if with_bias else None
    expected = torch.nn.functional.conv2d(x_torch, weight_torch, bias_torch,
                                          stride=stride, padding=padding)
    assert_close(conv2d_loops(x, weight, bias, stride, padding), expected.detach().numpy())

    grad_output = random_array(expected.shape, seed=3)
    expected.backward(torch.tensor(grad_output))
    grad_x, grad_weight, grad_bias = conv2d_backward_loops(x, weight, grad_output, stride, padding)
    assert_close(grad_x, x_torch.grad.numpy(), "grad_x")
    assert_close(grad_weight, weight_torch.grad.numpy(), "grad_weight")
    assert_close(grad_bias, grad_output.sum(axis=(0, 2, 3)), "grad_bias")
    if with_bias:
        assert_close(grad_bias, bias_torch.grad.numpy(), "grad_bias against torch")


@pytest.mark.parametrize("x_shape, kernel_size, stride, padding", POOL_CASES)
def test_max_pool2d_matches_torch(torch, x_shape, kernel_size, stride, padding):
    x = random_array(x_shape, seed=0)
    x_torch = torch.tensor(x, requires_grad=True)
    expected = torch.nn.functional.max_pool2d(x_torch, kernel_size, stride, padding)
    assert_close(max_pool2d_loops(x, kernel_size, stride, padding), expected.detach().numpy())

    grad_output = random_array(expected.shape, seed=1)
    expected.backward(torch.tensor(grad_output))
    assert_close(max_pool2d_backward_loops(x, grad_output, kernel_size, stride, padding),
                 x_torch.grad.numpy(), "grad_x")


def test_max_pool2d_ties_send_gradient_to_the_first_maximum_like_torch(torch):
    x = np.round(random_array((2, 2, 6, 6), seed=0))    # few distinct values: many ties
    x[0, 0] = 0.0                                       # a channel that is all ties
    x_torch = torch.tensor(x, requires_grad=True)
    expected = torch.nn.functional.max_pool2d(x_torch, 3, 2, 1)
    grad_output = random_array(expected.shape, seed=1)
    expected.backward(torch.tensor(grad_output))
    assert_close(max_pool2d_backward_loops(x, grad_output, 3, 2, 1), x_torch.grad.numpy())


@pytest.mark.parametrize("x_shape, kernel_size, stride, padding", POOL_CASES)
def test_avg_pool2d_matches_torch(torch, x_shape, kernel_size, stride, padding):
    x = random_array(x_shape, seed=0)
    expected = torch.nn.functional.avg_pool2d(torch.tensor(x), kernel_size, stride, padding)
    assert_close(avg_pool2d_loops(x, kernel_size, stride, padding), expected.numpy())


# (x shape, with affine weight and bias, offset added to every value)
BATCH_NORM_CASES = [
    ((5, 3), False, 0.0),
    ((4, 3), True, 0.0),
    ((2, 3, 4, 5), True, 0.0),
    ((1, 2, 3, 3), True, 0.0),                          # batch 1: spatial values still give M = 9
    ((3, 2, 3, 3), False, 1e4),                         # large mean next to the spread
]


@pytest.mark.parametrize("x_shape, affine, offset", BATCH_NORM_CASES)
def test_batch_norm_two_pass_matches_torch(torch, x_shape, affine, offset):
    x = random_array(x_shape, seed=0) + offset
    C = x_shape[1]
    weight = random_array(C, seed=1) if affine else None
    bias = random_array(C, seed=2) if affine else None
    y, mean, biased_var, unbiased_var = batch_norm_two_pass(x, weight, bias, eps=1e-5)

    x_torch = torch.tensor(x)
    running_mean, running_var = torch.zeros(C), torch.ones(C)   # momentum 1: they become the batch's
    expected = torch.nn.functional.batch_norm(
        x_torch, running_mean, running_var,
        None if weight is None else torch.tensor(weight), None if bias is None else torch.tensor(bias),
        training=True, momentum=1.0, eps=1e-5)
    channel_first = x_torch.transpose(0, 1).reshape(C, -1)      # (N, C, ...) -> (C, M)
    # Floats near the offset lie np.spacing(offset) apart (1.8e-12 at 1e4), so the mean, and
    # with it y, is only known to about that: ours and torch's may be neighbouring floats.
    assert_close(y, expected.numpy(), "y", atol=TOLERANCE + 2 * np.spacing(offset))
    assert_close(mean, running_mean.numpy(), "mean")
    assert_close(unbiased_var, running_var.numpy(), "unbiased_var")
    assert_close(biased_var, channel_first.var(dim=1, correction=0).numpy(), "biased_var")


def test_batch_norm_two_pass_refuses_one_value_per_channel():
    with pytest.raises(ValueError, match="more than one value per channel"):
        batch_norm_two_pass(np.ones((1, 3)))


# (logits shape, scale of the logits)
CROSS_ENTROPY_CASES = [((4, 5), 1.0), ((1, 3), 1.0), ((7, 10), 1000.0)]   # the last would overflow exp()


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("logits_shape, scale", CROSS_ENTROPY_CASES)
def test_cross_entropy_matches_torch(torch, logits_shape, scale, reduction):
    logits = random_array(logits_shape, seed=0) * scale
    target = np.random.default_rng(1).integers(0, logits_shape[1], size=logits_shape[0])
    expected = torch.nn.functional.cross_entropy(torch.tensor(logits), torch.tensor(target),
                                                 reduction=reduction)
    with np.errstate(over="raise", invalid="raise"):    # the stable form never overflows
        loss = cross_entropy_loops(logits, target, reduction)
    assert np.shape(loss) == tuple(expected.shape)
    np.testing.assert_allclose(loss, expected.numpy(), rtol=TOLERANCE, atol=TOLERANCE * scale)


def test_cross_entropy_rejects_an_unknown_reduction():
    with pytest.raises(ValueError, match="reduction"):
        cross_entropy_loops(np.zeros((2, 3)), np.array([0, 1]), reduction="average")
