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


class LeakyReLU(mr.autograd.Function):
    """The right answer: the mask saved in forward, G times the slope in backward."""

    def __init__(self, negative_slope=0.01):
        self.negative_slope = negative_slope

    def forward(self, xp, x):
        self.save_for_backward(x > 0)
        return xp.where(x > 0, x, self.negative_slope * x)

    def backward(self, grad_output):
        (positive,) = self.saved
        return (grad_output * self.xp.where(positive, 1.0, self.negative_slope),)


class ForgetsTheUpstreamGradient(LeakyReLU):
    def backward(self, grad_output):
        (positive,) = self.saved
        return (self.xp.where(positive, 1.0, self.negative_slope),)


class FlipsTheSign(LeakyReLU):
    def backward(self, grad_output):
        return (-super().backward(grad_output)[0],)


class ReLUBackward(LeakyReLU):
    def backward(self, grad_output):
        (positive,) = self.saved
        return (grad_output * positive,)


class SwapsTheSlopes(LeakyReLU):
    def backward(self, grad_output):
        (positive,) = self.saved
        return (grad_output * self.xp.where(positive, self.negative_slope, 1.0),)


class FixedSlope(LeakyReLU):
    def forward(self, xp, x):
        self.save_for_backward(x > 0)
        return xp.where(x > 0, x, 0.01 * x)


class ZeroForNegatives(LeakyReLU):
    def forward(self, xp, x):
        self.save_for_backward(x > 0)
        return xp.maximum(x, 0.0)


class SumsOverTheBatch(LeakyReLU):
    def backward(self, grad_output):
        return (super().backward(grad_output)[0].sum(axis=0),)


class ReturnsATensor(LeakyReLU):
    def forward(self, xp, x):
        self.save_for_backward(x > 0)
        return mr.tensor(xp.where(x > 0, x, self.negative_slope * x))


class BackwardReturnsATensor(LeakyReLU):
    def backward(self, grad_output):
        return mr.tensor(super().backward(grad_output)[0])


class NoArrayModule(LeakyReLU):
    def forward(self, x):                               # forgot xp
        return np.where(x > 0, x, self.negative_slope * x)


class NothingSaved(LeakyReLU):
    def forward(self, xp, x):
        return xp.where(x > 0, x, self.negative_slope * x)


class NoOption(mr.autograd.Function):
    def forward(self, xp, x):
        self.save_for_backward(x > 0)
        return xp.where(x > 0, x, 0.1 * x)

    def backward(self, grad_output):
        (positive,) = self.saved
        return (grad_output * self.xp.where(positive, 1.0, 0.1),)


class ChangesGradOutputInPlace(LeakyReLU):
    def backward(self, grad_output):
        (positive,) = self.saved
        grad_output[~positive] *= self.negative_slope
        return (grad_output,)


class ChangesItsInputInPlace(LeakyReLU):
    def forward(self, xp, x):
        self.save_for_backward(x > 0)
        x[x < 0] *= self.negative_slope
        return x


class ReturnsNothing(LeakyReLU):
    def backward(self, grad_output):
        pass


def test_leaky_relu_function_right_answer_passes():
    right = lesson02.check_leaky_relu_function(LeakyReLU)
    assert right and repr(right).startswith("correct") and "mr.gradcheck passes" in right.message


def test_leaky_relu_reference_is_leaky_relu():
    x = np.array([-2.0, -0.5, 0.5, 3.0])
    grad_output = np.array([1.0, 2.0, 3.0, 4.0])
    y, grad_x = lesson02.leaky_relu_reference(x, grad_output, 0.1)
    np.testing.assert_allclose(y, [-0.2, -0.05, 0.5, 3.0])
    np.testing.assert_allclose(grad_x, [0.1, 0.2, 3.0, 4.0])


def test_leaky_relu_function_typical_mistakes():
    hints = {
        ForgetsTheUpstreamGradient: "multiply by the upstream gradient",
        FlipsTheSign: "sign is flipped",
        ReLUBackward: "not 0 (that is ReLU's backward)",
        SwapsTheSlopes: "slopes are swapped",
        FixedSlope: "not a fixed 0.01",
        ZeroForNegatives: "not 0 (that is ReLU)",
        SumsOverTheBatch: "of that input's shape (4, 5)",
        ReturnsATensor: "forward receives arrays and returns an array",
        BackwardReturnsATensor: "not Tensors or lists",
        NoArrayModule: "apply passes the array module xp",
        NothingSaved: "call self.save_for_backward",
        NoOption: "options reach __init__",
        ChangesGradOutputInPlace: "changed grad_output in place",
        ChangesItsInputInPlace: "changed its input x in place",
        ReturnsNothing: "x got no gradient",
    }
    for wrong, hint in hints.items():
        grade = lesson02.check_leaky_relu_function(wrong)
        assert not grade and repr(grade).startswith("not yet"), wrong.__name__
        assert hint in grade.message, f"{wrong.__name__}: {grade.message}"


def test_leaky_relu_function_not_a_class():
    none = lesson02.check_leaky_relu_function(None)
    assert not none and "no answer yet" in none.message
    assert "pass the class itself" in lesson02.check_leaky_relu_function(LeakyReLU()).message
    assert "derived from mr.autograd.Function" in lesson02.check_leaky_relu_function(lambda x: x).message


def test_leaky_relu_function_gradcheck_catches_what_one_upstream_gradient_misses():
    class RightOnlyForTheCheckedShape(LeakyReLU):
        def backward(self, grad_output):
            grad = super().backward(grad_output)[0]
            return (grad if grad.shape == (4, 5) else 2 * grad,)

    grade = lesson02.check_leaky_relu_function(RightOnlyForTheCheckedShape)
    assert not grade and "mr.gradcheck fails with it inside a graph" in grade.message
