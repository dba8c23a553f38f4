"""Exercise checks of lesson 02 (the layers by hand).

- ``check_leaky_relu_function``: leaky ReLU written by the reader as an
  ``mr.autograd.Function`` subclass: its forward and backward against the reference, and
  ``mr.gradcheck`` with it inside a graph.
- ``check_conv_output_shape``: the output shape of a 2-D convolution.
- ``check_softmax_cross_entropy_gradient``: d(mean cross-entropy)/d(logits).
- ``check_batch_norm_input_gradient``: dL/dx of batch norm in training mode, for a
  tiny (N, C) input.
"""

import numpy as np

import minires.functional as F
from minires.autograd import Function
from minires.gradcheck import GradcheckError, gradcheck
from minires.lessons.grading import Grade, as_host_array, grade_array
from minires.tensor import Tensor

LEAKY_SLOPES = (0.1, 0.25)           # two slopes, so that one fixed in the code shows up
GRADCHECK_TOLERANCE = {"atol": 1e-7, "rtol": 1e-7}


def leaky_relu_reference(x, grad_output, negative_slope):
    """Leaky ReLU's output and dL/dx by minires's own ops: relu(x) - negative_slope * relu(-x).

    Args:
        x: the input array; grad_output: G = dL/dy, of x's shape; negative_slope: the
            slope for x < 0.

    Returns:
        (y, dL/dx), two float64 NumPy arrays of x's shape.
    """
    inputs = Tensor(np.array(x, dtype=np.float64), requires_grad=True)
    y = F.relu(inputs) - negative_slope * F.relu(-inputs)
    y.backward(np.array(grad_output, dtype=np.float64))
    return y.numpy(), inputs.grad.numpy()


def _away_from_zero(rng, shape):
    """Standard normal values moved 0.2 away from 0, where leaky ReLU has its kink."""
    values = rng.standard_normal(shape)
    return values + 0.2 * np.sign(values)


def check_leaky_relu_function(answer):
    """Checks leaky ReLU written as a Function subclass: y = x for x > 0, negative_slope * x for x < 0.

    The class gets its slope as the option ``negative_slope`` (``LeakyReLU.apply(x,
    negative_slope=0.1)`` calls ``LeakyReLU(negative_slope=0.1)``). Its forward and
    backward are compared with the reference (minires's relu(x) - negative_slope * relu(-x))
    for two slopes, on a float64 input kept away from the kink at 0; then
    ``mr.gradcheck`` runs on a small graph with the op inside: linear -> yours -> tanh.

    Args:
        answer: the reader's class (the class itself, not an instance).
    """
    if answer is None:
        return Grade(False, "LeakyReLU: no answer yet (the cell still holds None)", "missing")
    if isinstance(answer, Function):
        return Grade(False, "LeakyReLU: you passed an instance; pass the class itself (answer = LeakyReLU, "
                     "not LeakyReLU()): apply makes a new instance for every call", "unreadable")
    if not (isinstance(answer, type) and issubclass(answer, Function)):
        return Grade(False, f"LeakyReLU: expected a class derived from mr.autograd.Function "
                     f"(class LeakyReLU(mr.autograd.Function): ...), got {type(answer).__name__}", "unreadable")
    try:
        for negative_slope in LEAKY_SLOPES:
            grade = _check_forward_and_backward(answer, negative_slope)
            if not grade:
                return grade
        return _check_inside_a_graph(answer)
    except Exception as error:        # a check never raises on an answer, whatever it does
        return Grade(False, f"{answer.__name__}: {type(error).__name__}: {error}")


def _check_forward_and_backward(function_class, negative_slope):
    name = function_class.__name__
    rng = np.random.default_rng(2)
    x_array = _away_from_zero(rng, (4, 5))                                  # (N, C)
    grad_output = rng.standard_normal((4, 5))                               # G = dL/dy
    expected_y, expected_grad = leaky_relu_reference(x_array, grad_output, negative_slope)
    x = Tensor(x_array.copy(), requires_grad=True)
    call = f"{name}.apply(x, negative_slope={negative_slope})"
    try:
        y = function_class.apply(x, negative_slope=negative_slope)
    except Exception as error:
        return Grade(False, f"{call} raised {type(error).__name__}: {error}{_forward_error_hint(error)}")
    if not np.array_equal(x.array, x_array):
        return Grade(False, f"{name}: forward changed its input x in place (x[...] = ... or x *= ...); other "
                     "ops may use x too: compute a new array, e.g. with xp.where", "values")
    forward = grade_array(f"{name} forward, negative_slope {negative_slope}", y.array, expected_y,
                          rtol=1e-12, atol=1e-12)
    if not forward:
        if forward.problem != "values":
            return forward
        return Grade(False, forward.message + ". Hint: " + _forward_hint(y.array, x_array, negative_slope),
                     "values")

    untouched = grad_output.copy()
    try:
        y.backward(grad_output)
    except Exception as error:
        return Grade(False, f"{name}.backward raised {type(error).__name__}: {error}"
                     f"{_backward_error_hint(error, x_array.shape)}")
    if not np.array_equal(grad_output, untouched):
        return Grade(False, f"{name}: backward changed grad_output in place; other ops may share that array "
                     "(an addition hands the same G on to both of its inputs): compute a new array, e.g. "
                     "grad_output * factor", "values")
    if x.grad is None:
        return Grade(False, f"{name}: x got no gradient: backward must return it, one per input "
                     "(return (grad_x,))", "missing")
    backward = grade_array(f"{name} backward dL/dx, negative_slope {negative_slope}", x.grad.array,
                           expected_grad, rtol=1e-12, atol=1e-12)
    if not backward:
        if backward.problem != "values":
            return backward
        return Grade(False, backward.message + ". Hint: "
                     + _backward_hint(x.grad.array, x_array, grad_output, negative_slope), "values")
    return Grade(True, "")


def _forward_error_hint(error):
    text = str(error)
    if isinstance(error, NotImplementedError):
        return ". Hint: define forward(self, xp, x) and backward(self, grad_output) in your class"
    if "negative_slope" in text or "takes no arguments" in text:
        return (". Hint: options reach __init__: def __init__(self, negative_slope=0.01): "
                "self.negative_slope = negative_slope")
    if "positional argument" in text and "forward" in text:
        return ". Hint: forward(self, xp, x): apply passes the array module xp (numpy or cupy) before the array"
    if "got Tensor" in text:
        return (". Hint: forward receives arrays and returns an array: compute with xp (xp.where, "
                "xp.maximum) or array arithmetic, not with F ops or mr.tensor")
    return ""


def _forward_hint(y, x, negative_slope):
    if np.allclose(y, np.maximum(x, 0)):
        return "for x < 0 the output is negative_slope * x, not 0 (that is ReLU)"
    if np.allclose(y, np.where(x > 0, negative_slope * x, x)):
        return "the slope belongs to the negative side: x where x > 0, negative_slope * x where x < 0"
    if np.allclose(y, np.where(x > 0, x, 0.01 * x)):
        return f"use the option (self.negative_slope, {negative_slope} here), not a fixed 0.01"
    return "leaky_relu(x) = x where x > 0 and negative_slope * x where x < 0"


def _backward_error_hint(error, shape):
    text = str(error)
    if isinstance(error, NotImplementedError):
        return ". Hint: define backward(self, grad_output) in your class"
    if "not enough values to unpack" in text:
        return (". Hint: self.saved is empty: in forward, call self.save_for_backward(...) with what "
                "backward needs (x, or the mask x > 0)")
    if "gradient of shape" in text:
        return (f". Hint: one gradient per input, of that input's shape {shape}: G times the local "
                "slope, entry by entry, with no sum")
    if "gradients for" in text:
        return ". Hint: one gradient per input: only x (negative_slope is an option, not an input)"
    if " on Tensor" in text or " on list" in text:
        return (". Hint: backward returns arrays (a tuple with one per input), not Tensors or lists: "
                "grad_output and self.saved are arrays already")
    return ""


def _backward_hint(grad, x, grad_output, negative_slope):
    slope = np.where(x > 0, 1.0, negative_slope)
    if np.allclose(grad, slope):
        return ("multiply by the upstream gradient: dL/dx = G * leaky_relu'(x) (the chain rule); backward "
                "receives G as grad_output")
    if np.allclose(grad, -grad_output * slope):
        return "the sign is flipped: the local slopes are +1 and +negative_slope"
    if np.allclose(grad, grad_output * (x > 0)):
        return "for x < 0 the derivative is negative_slope, not 0 (that is ReLU's backward)"
    if np.allclose(grad, grad_output * np.where(x > 0, negative_slope, 1.0)):
        return "the slopes are swapped: 1 where x > 0, negative_slope where x < 0"
    if np.allclose(grad, grad_output * np.where(x > 0, 1.0, 0.01)):
        return f"use the option (self.negative_slope, {negative_slope} here), not a fixed 0.01"
    if np.allclose(grad, grad_output * x) or np.allclose(grad, grad_output * np.where(x > 0, x, negative_slope * x)):
        return ("multiply G by the derivative (1 or negative_slope), not by the input or the output: "
                "the op is linear on each side of 0")
    return "dL/dx = G where x > 0 and negative_slope * G where x < 0"


def _check_inside_a_graph(function_class):
    """mr.gradcheck on linear -> the reader's op -> tanh, in float64."""
    name = function_class.__name__
    rng = np.random.default_rng(4)       # pre-activations at least 0.1 from the kink, 11 of 21 negative
    x = Tensor(rng.standard_normal((3, 6)), requires_grad=True)               # (N, C_in)
    weight = Tensor(0.5 * rng.standard_normal((7, 6)), requires_grad=True)    # (C_out, C_in)
    bias = Tensor(0.5 * rng.standard_normal(7), requires_grad=True)           # (C_out,)

    def graph(x, weight, bias):
        return F.tanh(function_class.apply(F.linear(x, weight, bias), negative_slope=LEAKY_SLOPES[0]))

    try:
        gradcheck(graph, x, weight, bias, **GRADCHECK_TOLERANCE)
    except GradcheckError as error:
        return Grade(False, f"{name}: mr.gradcheck fails with it inside a graph (linear -> {name} -> tanh):\n"
                     f"{error}", "values")
    return Grade(True, f"{name}: forward and backward match leaky ReLU (negative_slope "
                 f"{' and '.join(str(slope) for slope in LEAKY_SLOPES)}), and mr.gradcheck passes in float64 "
                 f"with it inside a graph (linear -> {name} -> tanh)")


def conv_output_shape(input_shape, out_channels, kernel_size, stride, padding):
    """(N, C_out, OH, OW), with OH = (H + 2 * padding - kernel_size) // stride + 1."""
    N, _, H, W = input_shape
    return (N, out_channels,
            (H + 2 * padding - kernel_size) // stride + 1,
            (W + 2 * padding - kernel_size) // stride + 1)


def check_conv_output_shape(answer, input_shape, out_channels, kernel_size, stride, padding):
    """Checks the output shape of conv2d on an input of ``input_shape`` (N, C_in, H, W).

    Args:
        answer: the reader's shape, a tuple (N, C_out, OH, OW).
        input_shape: (N, C_in, H, W).
        out_channels, kernel_size, stride, padding: the convolution's settings
            (square kernels, the same stride and padding along both axes).
    """
    expected = conv_output_shape(input_shape, out_channels, kernel_size, stride, padding)
    if answer is None:
        return Grade(False, "output shape: no answer yet (the cell still holds None)")
    try:
        answer = tuple(int(size) for size in answer)
    except (TypeError, ValueError):
        return Grade(False, f"output shape: expected a tuple of 4 ints (N, C_out, OH, OW), got {answer!r}")
    if answer == expected:
        return Grade(True, f"output shape {expected}")
    if len(answer) != 4:
        return Grade(False, f"output shape: {answer} has {len(answer)} entries; a conv output is "
                     "(N, C_out, OH, OW)")
    N, C_in, H, _ = input_shape
    hints = []
    if answer[0] != N:
        hints.append("the batch size N passes through unchanged")
    if answer[1] != out_channels:
        hints.append(f"the output has one channel per kernel, C_out = {out_channels} (not C_in = {C_in})")
    height = answer[2]
    if height != expected[2]:
        if height == (H + padding - kernel_size) // stride + 1:
            hints.append("padding is added on both sides: H + 2 * padding")
        elif height == (H + 2 * padding - kernel_size) // stride:
            hints.append("count the first window too: ... // stride + 1")
        elif height == H + 2 * padding - kernel_size + 1:
            hints.append(f"the window moves {stride} pixels at a time: divide by the stride")
        else:
            hints.append("OH = (H + 2 * padding - kernel_size) // stride + 1")
    return Grade(False, f"output shape: you have {answer}, expected {expected}. Hint: " + "; ".join(hints))


def softmax_cross_entropy_gradient(logits, targets):
    """d(mean over n of -log softmax(logits_n)[targets_n]) / d logits: (softmax - one_hot) / N."""
    logits = np.asarray(logits, dtype=np.float64)
    targets = np.asarray(targets, dtype=np.int64)
    N, C = logits.shape
    shifted = logits - logits.max(axis=1, keepdims=True)
    probabilities = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)    # (N, C)
    one_hot = np.arange(C) == targets.reshape(N, 1)                                  # (N, C)
    return (probabilities - one_hot) / N


def check_softmax_cross_entropy_gradient(answer, logits, targets):
    """Checks dL/dlogits for L = the mean over the batch of the softmax cross-entropy.

    Args:
        answer: the reader's gradient, an (N, C) array.
        logits: (N, C) scores; targets: (N,) class indices.
    """
    expected = softmax_cross_entropy_gradient(logits, targets)
    grade = grade_array("dL/dlogits", answer, expected, rtol=1e-6, atol=1e-9)
    if grade.problem != "values":               # right, or nothing to look for a typical mistake in
        return grade
    answer = as_host_array(answer, "answer")
    N = expected.shape[0]
    one_hot = _one_hot(targets, expected.shape)                                      # (N, C)
    if np.allclose(answer, expected * N):
        hint = "L is the mean over the batch: divide by N"
    elif np.allclose(answer, -expected):
        hint = "the sign is flipped: it is softmax minus the one-hot target"
    elif np.allclose(answer, expected + one_hot / N) or np.allclose(answer, expected * N + one_hot):
        hint = "subtract the one-hot target (1 at the true class): d(-logits_n,target)/dlogits"
    else:
        hint = "dL/dlogits_nc = (softmax(logits_n)_c - [c == target_n]) / N"
    return Grade(False, grade.message + ". Hint: " + hint)


def _one_hot(targets, shape):
    return (np.arange(shape[1]) == np.asarray(targets).reshape(-1, 1)).astype(np.float64)


def batch_norm_input_gradient(x, grad_output, gamma, eps=1e-5):
    """dL/dx of training-mode batch norm on an (N, C) input, given dL/dy.

    dx = gamma / (N * sqrt(var + eps)) * (N * dy - sum(dy) - x_hat * sum(dy * x_hat)),
    sums over the batch, per channel.
    """
    x = np.asarray(x, dtype=np.float64)
    grad_output = np.asarray(grad_output, dtype=np.float64)
    gamma = np.asarray(gamma, dtype=np.float64)
    N = x.shape[0]
    mean = x.mean(axis=0)
    inverse_std = 1.0 / np.sqrt(x.var(axis=0) + eps)
    x_hat = (x - mean) * inverse_std
    return gamma * inverse_std / N * (N * grad_output - grad_output.sum(axis=0)
                                      - x_hat * (grad_output * x_hat).sum(axis=0))


def check_batch_norm_input_gradient(answer, x, grad_output, gamma, eps=1e-5):
    """Checks dL/dx of batch norm in training mode (batch statistics) for an (N, C) input.

    Args:
        answer: the reader's dL/dx, an (N, C) array.
        x: the input (N, C); grad_output: dL/dy (N, C); gamma: the scale (C,);
        eps: added to the variance before the square root.
    """
    expected = batch_norm_input_gradient(x, grad_output, gamma, eps)
    grade = grade_array("dL/dx", answer, expected, rtol=1e-5, atol=1e-8)
    if grade.problem != "values":               # right, or nothing to look for a typical mistake in
        return grade
    answer = as_host_array(answer, "answer")
    x = np.asarray(x, dtype=np.float64)
    grad_output = np.asarray(grad_output, dtype=np.float64)
    inverse_std = 1.0 / np.sqrt(x.var(axis=0) + eps)
    x_hat = (x - x.mean(axis=0)) * inverse_std
    if np.allclose(answer, np.asarray(gamma) * grad_output * inverse_std):
        hint = ("you treated the mean and variance as constants; they depend on x too, which "
                "adds the terms -sum(dy) and -x_hat * sum(dy * x_hat)")
    elif np.allclose(answer, np.asarray(gamma) * inverse_std * (grad_output - grad_output.mean(axis=0))):
        hint = "the path through the variance is missing: the term -x_hat * mean(dy * x_hat)"
    elif np.allclose(answer, np.asarray(gamma) * inverse_std * (grad_output - (grad_output * x_hat).mean(axis=0) * x_hat)):
        hint = "the path through the mean is missing: the term -mean(dy)"
    else:
        hint = "dx = gamma / sqrt(var + eps) * (dy - mean(dy) - x_hat * mean(dy * x_hat)), means over the batch"
    return Grade(False, grade.message + ". Hint: " + hint)
