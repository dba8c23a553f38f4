"""The exercise checks of lesson 02: right answers pass, typical mistakes get a hint."""

import numpy as np

import minires as mr
import minires.functional as F
from minires.lessons.checks import lesson02


def test_conv_output_shape():
    settings = dict(input_shape=(8, 3, 32, 32), out_channels=16, kernel_size=3, stride=2, padding=1)
    right = lesson02.check_conv_output_shape((8, 16, 16, 16), **settings)
    assert right and repr(right).startswith("correct")
    assert "divide by the stride" in lesson02.check_conv_output_shape((8, 16, 32, 32), **settings).message
    assert "C_out = 16" in lesson02.check_conv_output_shape((8, 3, 16, 16), **settings).message
    one_side = lesson02.check_conv_output_shape((8, 16, 15, 15), **settings)
    assert not one_side and "expected (8, 16, 16, 16)" in one_side.message
    none = lesson02.check_conv_output_shape(None, **settings)
    assert not none and "no answer yet" in none.message
    assert "tuple of 4 ints" in lesson02.check_conv_output_shape("abc", **settings).message


def test_conv_output_shape_matches_minires():
    x = mr.tensor(np.zeros((2, 3, 9, 9)), dtype=mr.float32)
    w = mr.tensor(np.zeros((5, 3, 3, 3)), dtype=mr.float32)
    shape = F.conv2d(x, w, stride=2, padding=0).shape
    assert lesson02.check_conv_output_shape(shape, (2, 3, 9, 9), 5, 3, 2, 0)


def logits_and_targets():
    rng = np.random.default_rng(0)
    return rng.standard_normal((4, 5)), np.array([0, 3, 3, 1])


def test_softmax_cross_entropy_gradient_against_minires():
    logits, targets = logits_and_targets()
    scores = mr.tensor(logits, dtype=mr.float64, requires_grad=True)
    F.cross_entropy(scores, targets).backward()
    right = lesson02.check_softmax_cross_entropy_gradient(scores.grad, logits, targets)
    assert right and repr(right).startswith("correct")


def test_softmax_cross_entropy_gradient_typical_mistakes():
    logits, targets = logits_and_targets()
    expected = lesson02.softmax_cross_entropy_gradient(logits, targets)
    assert "divide by N" in lesson02.check_softmax_cross_entropy_gradient(expected * 4, logits, targets).message
    assert "sign is flipped" in lesson02.check_softmax_cross_entropy_gradient(-expected, logits, targets).message
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    assert "one-hot" in lesson02.check_softmax_cross_entropy_gradient(probabilities / 4, logits, targets).message
    none = lesson02.check_softmax_cross_entropy_gradient(None, logits, targets)
    assert not none and "no answer yet" in none.message


def batch_norm_inputs():
    rng = np.random.default_rng(1)
    return rng.standard_normal((4, 2)), rng.standard_normal((4, 2)), np.array([1.5, -0.5])


def test_batch_norm_input_gradient_against_minires():
    x, grad_output, gamma = batch_norm_inputs()
    inputs = mr.tensor(x, dtype=mr.float64, requires_grad=True)
    F.batch_norm(inputs, None, None, weight=mr.tensor(gamma, dtype=mr.float64), training=True).backward(grad_output)
    right = lesson02.check_batch_norm_input_gradient(inputs.grad, x, grad_output, gamma)
    assert right and repr(right).startswith("correct")


def test_batch_norm_input_gradient_typical_mistakes():
    x, grad_output, gamma = batch_norm_inputs()
    constant_statistics = gamma * grad_output / np.sqrt(x.var(axis=0) + 1e-5)
    grade = lesson02.check_batch_norm_input_gradient(constant_statistics, x, grad_output, gamma)
    assert not grade and "treated the mean and variance as constants" in grade.message
    none = lesson02.check_batch_norm_input_gradient(None, x, grad_output, gamma)
    assert not none and "no answer yet" in none.message
    assert "shape (2,), expected (4, 2)" in lesson02.check_batch_norm_input_gradient([1.0, 2.0], x, grad_output, gamma).message
