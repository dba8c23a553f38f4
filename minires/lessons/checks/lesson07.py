"""Checks for the exercises of lesson 7, "A residual net is a plain net with a different start".

The simplified residual block is y = ReLU(z), z = conv_W(x) + b + x; G = dL/dy is the
upstream gradient. Each function takes the reader's answer and the exercise's inputs,
computes the expected answer itself, and returns a Grade; none raises on a wrong or
missing answer.
"""

import math

import numpy as np

from minires.lessons.grading import (Grade, as_host_array, grade_array, grade_number, is_close, known_mistake,
                                     readable_array, readable_number)


def _identity_kernel(channels, kernel_size):
    """(C, C, k, k): 1 at [c, c, k // 2, k // 2], 0 elsewhere."""
    kernel = np.zeros((channels, channels, kernel_size, kernel_size))
    centre = kernel_size // 2
    kernel[np.arange(channels), np.arange(channels), centre, centre] = 1.0
    return kernel


def check_hardt_ma_std(answer, in_channels, out_channels, kernel_size):
    """Expects Hardt and Ma's standard deviation for a kernel (C_out, C_in, k, k):
    std = 1 / (k^2 C_out), C_out the number of OUTPUT channels ("Identity Matters in
    Deep Learning", Section 4.1); no square root.
    """
    taps = kernel_size ** 2
    expected = 1.0 / (taps * out_channels)
    name = f"Hardt-Ma std for a ({out_channels}, {in_channels}, {kernel_size}, {kernel_size}) kernel"
    value = readable_number(answer)
    if not is_close(value, expected, atol=0.0):
        mistakes = [
            (1.0 / (taps * in_channels),
             f"that is 1 / (k^2 C_in) = 1 / fan_in; Hardt and Ma divide by the OUTPUT channels, "
             f"C_out = {out_channels} (the two agree only when C_in = C_out)"),
            (math.sqrt(2.0 / (taps * in_channels)),
             "that is Kaiming's std, sqrt(2 / (k^2 C_in)), the start of the plain nets"),
            (1.0 / math.sqrt(taps * out_channels),
             "that is 1 / sqrt(k^2 C_out); Hardt and Ma's std is 1 / (k^2 C_out) itself, no square root "
             "(which is why it is so small)"),
            (1.0 / math.sqrt(taps * in_channels),
             "that is 1 / sqrt(k^2 C_in); Hardt and Ma's std is 1 / (k^2 C_out), no square root, "
             "and divided by the output channels"),
            (expected ** 2, "that is the variance, std squared; give the standard deviation"),
            (1.0 / (kernel_size * out_channels),
             f"a k x k kernel has k^2 = {taps} taps per input channel, not k"),
        ]
        mistake = known_mistake(name, value, expected, mistakes, atol=0.0)
        if mistake is not None:
            return mistake
    return grade_number(name, answer, expected, rtol=1e-6, atol=0.0, hint="std = 1 / (k^2 C_out)")


def check_identity_kernel(answer, channels, kernel_size):
    """Expects the identity kernel, shape (channels, channels, k, k): 1 at the ID entries
    [c, c, k // 2, k // 2] (the centre tap of channel c on its own input channel), 0 elsewhere.
    """
    expected = _identity_kernel(channels, kernel_size)
    name = "identity kernel"
    values = readable_array(answer)
    if values is not None and values.shape == expected.shape:
        centre = kernel_size // 2
        if channels > 1 and np.allclose(values[:, :, centre, centre], np.ones((channels, channels))):
            return Grade(False, f"{name}: every input channel has a 1 at the centre, so output "
                         f"channel o is the sum of all input channels; only [c, c, {centre}, {centre}] "
                         f"(channel c's own input) should be 1")
        diagonal = values[np.arange(channels), np.arange(channels)]            # (C, k, k)
        if np.allclose(diagonal.sum(axis=(1, 2)), 1.0) and not np.allclose(diagonal[:, centre, centre], 1.0):
            return Grade(False, f"{name}: the 1 is on channel c's own kernel but not at the centre "
                         f"tap [{centre}, {centre}]; off-centre it shifts the image by a pixel")
    return grade_array(name, answer, expected,
                       hint=f"1 at [c, c, {kernel_size // 2}, {kernel_size // 2}] for every channel c, 0 elsewhere")


def check_plain_kernel(answer, residual_kernel):
    """Expects W + I: the residual block's kernel ``residual_kernel`` (C, C, 3, 3) plus the
    identity kernel (1 added at the ID entries [c, c, 1, 1]).
    """
    weight = as_host_array(residual_kernel, "residual_kernel")
    identity = _identity_kernel(weight.shape[0], weight.shape[2])
    expected = weight + identity
    values = readable_array(answer)
    name = "plain kernel"
    if values is not None and values.shape == expected.shape:
        if np.allclose(values, weight):
            return Grade(False, f"{name}: this is the residual kernel W itself; the plain block has "
                         "no shortcut, so its kernel must also copy x: add 1 at the ID entries [c, c, 1, 1]")
        if np.allclose(values, weight - identity):
            return Grade(False, f"{name}: you subtracted the identity kernel (that is to_residual, "
                         "the other direction); conv_W(x) + x = conv_(W + I)(x)")
        if np.allclose(values, weight + 1.0):
            return Grade(False, f"{name}: you added 1 to every weight; add it only at the ID "
                         "entries [c, c, 1, 1]")
    return grade_array(name, answer, expected, hint="W + I, with I = 1 at [c, c, 1, 1]")


def check_zero_block_input_gradient(answer, block_input, upstream_gradient):
    """Expects dL/dx = G * 1[x > 0] for a residual block with W = 0, b = 0: then z = x,
    dL/dz = G * 1[z > 0], and dL/dx = conv_W^T(dL/dz) + dL/dz = dL/dz.
    """
    x = as_host_array(block_input, "block_input")
    upstream = as_host_array(upstream_gradient, "upstream_gradient")              # G = dL/dy
    expected = upstream * (x > 0)
    values = readable_array(answer)
    name = "dL/dx"
    if values is not None and values.shape == expected.shape:
        if np.allclose(values, upstream) and not np.allclose(upstream, expected):
            return Grade(False, f"{name}: this is G itself; the ReLU still blocks the gradient "
                         "where its input z = x is 0 (dL/dz = G * 1[z > 0])")
        if np.allclose(values, 2 * expected) and np.any(expected):
            return Grade(False, f"{name}: twice the answer; with W = 0 the convolution term "
                         "conv_W^T(dL/dz) is 0, only the shortcut's dL/dz remains")
        if np.allclose(values, 0.0) and np.any(expected):
            return Grade(False, f"{name}: all zeros; the convolution term vanishes with W = 0, "
                         "but the shortcut still passes dL/dz = G * 1[x > 0]")
    return grade_array(name, answer, expected, hint="dL/dz = G * 1[z > 0], with z = x here")
