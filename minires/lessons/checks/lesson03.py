"""Exercise checks of lesson 03 (going deep without shortcuts).

- ``check_gradient_norm_through_chain``: the size of the backward signal after it
  has passed a chain of layers, each of which scales it by a known gain.
- ``check_he_standard_deviation``: the weight standard deviation that keeps the
  backward signal's size through a ReLU layer (He et al., 2015).
- ``check_plain_stack_input_gradient``: dL/dx_0 of a tiny plain stack of
  linear + ReLU layers, given dL/dx_L.
"""

import math

import numpy as np

from minires.lessons.grading import Grade, as_host_array, grade_array, grade_number


def gradient_norm_through_chain(output_gradient_norm, layer_gains):
    """||dL/dx_0|| = ||dL/dx_L|| * g_0 * g_1 * ... * g_{L-1}: one gain per layer passed."""
    return float(output_gradient_norm) * math.prod(float(gain) for gain in layer_gains)


def check_gradient_norm_through_chain(answer, output_gradient_norm, layer_gains):
    """Checks ||dL/dx_0|| for a chain of layers, each scaling the backward signal.

    Args:
        answer: the reader's number, ||dL/dx_0||.
        output_gradient_norm: ||dL/dx_L||, the size of the signal at the top.
        layer_gains: one number per layer, g_l = ||dL/dx_l|| / ||dL/dx_{l+1}||.

    The expected answer is output_gradient_norm times the product of all the gains.
    """
    gains = [float(gain) for gain in layer_gains]
    expected = gradient_norm_through_chain(output_gradient_norm, gains)
    grade = grade_number("||dL/dx_0||", answer, expected, rtol=1e-6, atol=1e-12)
    if grade.problem != "values":               # right, or nothing to look for a typical mistake in
        return grade
    value = float(as_host_array(answer, "answer"))
    top = float(output_gradient_norm)
    if math.isclose(value, top * sum(gains), rel_tol=1e-6):
        hint = "the gains multiply, they do not add: each layer rescales what the layer above passed down"
    elif gains and (math.isclose(value, top * math.prod(gains[1:]), rel_tol=1e-6)
                    or math.isclose(value, top * math.prod(gains[:-1]), rel_tol=1e-6)):
        hint = f"one gain is missing: the signal passes all {len(gains)} layers on its way to x_0"
    elif math.isclose(value, math.prod(gains), rel_tol=1e-6):
        hint = f"start from the size of the signal at the top, ||dL/dx_L|| = {top:g}"
    else:
        hint = "||dL/dx_0|| = ||dL/dx_L|| * g_0 * g_1 * ... * g_{L-1}"
    return Grade(False, grade.message + ". Hint: " + hint)


def he_standard_deviation(fan_in):
    """sqrt(2 / fan_in): the ReLU halves the mean square, the 2 restores it."""
    return math.sqrt(2.0 / fan_in)


def check_he_standard_deviation(answer, fan_in):
    """Checks the standard deviation of W (zero-mean Gaussian weights) for which a
    linear + ReLU layer with ``fan_in`` inputs keeps the mean square of the signal.

    The expected answer is sqrt(2 / fan_in) ("Delving Deep into Rectifiers", He et al., 2015).
    """
    expected = he_standard_deviation(fan_in)
    grade = grade_number("std of W", answer, expected, rtol=1e-6, atol=0.0)
    if grade.problem != "values":               # right, or nothing to look for a typical mistake in
        return grade
    value = float(as_host_array(answer, "answer"))
    if math.isclose(value, math.sqrt(1.0 / fan_in), rel_tol=1e-6):
        hint = ("sqrt(1 / fan_in) keeps the signal of a linear layer, but the ReLU zeroes half "
                "of it on average: the mean square halves, so the variance must double")
    elif math.isclose(value, 2.0 / fan_in, rel_tol=1e-6):
        hint = "2 / fan_in is the variance; the question asks for the standard deviation, its square root"
    elif math.isclose(value, math.sqrt(2.0) / fan_in, rel_tol=1e-6):
        hint = "the variance, not the standard deviation, is inversely proportional to fan_in"
    else:
        hint = "the mean square after the layer is fan_in * Var(W) * (1/2) * mean square before it"
    return Grade(False, grade.message + ". Hint: " + hint)


def plain_stack_input_gradient(weights, biases, x, output_gradient, use_relu_mask=True):
    """dL/dx_0 for x_{l+1} = ReLU(x_l W_l^T + b_l), given dL/dx_L: the backward pass.

    x is (N, D_0), weights[l] is (D_{l+1}, D_l), output_gradient is (N, D_L).
    """
    activations, pre_activations = [np.asarray(x, dtype=np.float64)], []
    for weight, bias in zip(weights, biases):
        pre_activation = activations[-1] @ np.asarray(weight, dtype=np.float64).T + bias    # (N, D_{l+1})
        pre_activations.append(pre_activation)
        activations.append(np.maximum(pre_activation, 0.0))
    gradient = np.asarray(output_gradient, dtype=np.float64)                               # (N, D_L)
    for weight, pre_activation in zip(reversed(weights), reversed(pre_activations)):
        if use_relu_mask:
            gradient = gradient * (pre_activation > 0)
        gradient = gradient @ np.asarray(weight, dtype=np.float64)                         # (N, D_l)
    return gradient


def check_plain_stack_input_gradient(answer, weights, biases, x, output_gradient):
    """Checks dL/dx_0 of the plain stack x_{l+1} = ReLU(x_l W_l^T + b_l), l = 0..L-1.

    Args:
        answer: the reader's (N, D_0) array.
        weights: the L matrices W_l, each (D_{l+1}, D_l); biases: the L vectors b_l.
        x: the input x_0, (N, D_0).
        output_gradient: dL/dx_L, (N, D_L).

    The expected answer runs the backward pass: at each layer, from the top, multiply
    by the ReLU mask [z_l > 0] element by element, then by W_l from the right.
    """
    try:
        weights = [as_host_array(weight, "weight") for weight in weights]
        biases = [as_host_array(bias, "bias") for bias in biases]
    except (TypeError, ValueError) as error:
        return Grade(False, f"the exercise's inputs are not arrays ({error}); re-run its cells")
    expected = plain_stack_input_gradient(weights, biases, x, output_gradient)
    grade = grade_array("dL/dx_0", answer, expected, rtol=1e-6, atol=1e-9)
    if grade.problem == "shape":
        return Grade(False, grade.message + ". Hint: dL/dx_0 has the shape of x_0, (N, D_0); "
                     "multiply by W_l (D_{l+1}, D_l) from the right")
    if grade.problem != "values":               # right, or nothing to look for a typical mistake in
        return grade
    answer = as_host_array(answer, "answer")
    without_mask = plain_stack_input_gradient(weights, biases, x, output_gradient, use_relu_mask=False)
    if np.allclose(answer, without_mask):
        hint = "you left out the ReLU: multiply by the mask [z_l > 0] at every layer before W_l"
    else:
        hint = "go from the top down: g = g * (z_l > 0), then g = g @ W_l, for l = L-1, ..., 0"
    return Grade(False, grade.message + ". Hint: " + hint)
