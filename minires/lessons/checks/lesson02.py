"""Exercise checks of lesson 02 (the layers by hand).

- ``check_conv_output_shape``: the output shape of a 2-D convolution.
- ``check_softmax_cross_entropy_gradient``: d(mean cross-entropy)/d(logits).
- ``check_batch_norm_input_gradient``: dL/dx of batch norm in training mode, for a
  tiny (N, C) input.
"""

import numpy as np

from minires.lessons.grading import Grade, as_host_array, grade_array


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
