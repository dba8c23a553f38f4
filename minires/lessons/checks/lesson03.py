"""Exercise checks of lesson 03 (going deep without shortcuts).

Notation of lessons/notation.md: D layers l = 0, ..., D-1, layer l takes x_l and gives
x_{l+1}; G_l = dL/dx_l is the gradient at layer l's input, G_D the one at the top.

- ``check_factor_per_layer``: the factor by which each layer scales the gradient,
  estimated from measured norms ||G_l|| (the lesson's "your turn").
- ``check_gradient_norm_through_chain``: the size of the backward signal after it
  has passed a chain of layers, each of which scales it by a known gain.
- ``check_he_standard_deviation``: the weight standard deviation that keeps the
  backward signal's size through a ReLU layer (He et al., 2015).
- ``check_plain_stack_input_gradient``: G_0 = dL/dx_0 of a tiny plain stack of
  linear + ReLU layers, given G_D = dL/dx_D.
"""

import math

import numpy as np

from minires.lessons.grading import Grade, as_host_array, grade_array, grade_number


def factor_per_layer(gradient_norms):
    """(||G_1|| / ||G_{D-1}||) ** (1 / (D - 2)): the geometric mean of ||G_l|| / ||G_{l+1}||
    over the layers l = 1, ..., D-2, from gradient_norms = [||G_0||, ||G_1||, ..., ||G_D||].

    The ratios of neighbours multiply along the chain, so their product telescopes to
    ||G_1|| / ||G_{D-1}||, and its (D-2)-th root is the factor of one layer. Layer 0 and
    the last layer are left out: their widths differ from the others'.
    """
    norms = [float(norm) for norm in gradient_norms]
    depth = len(norms) - 1
    return (norms[1] / norms[depth - 1]) ** (1.0 / (depth - 2))


def check_factor_per_layer(answer, gradient_norms):
    """Checks the factor per layer estimated from measured gradient norms.

    Args:
        answer: the reader's number.
        gradient_norms: ||G_l|| for l = 0, ..., D (D + 1 numbers), as
            ``analysis.block_norms(...)["activation_grad"]`` returned them.

    The expected answer is the geometric mean of ||G_l|| / ||G_{l+1}|| over layers 1 to
    D - 2, that is (||G_1|| / ||G_{D-1}||) ** (1 / (D - 2)); see ``factor_per_layer``.
    """
    try:
        norms = [float(norm) for norm in as_host_array(gradient_norms, "gradient_norms").reshape(-1)]
    except (TypeError, ValueError) as error:
        return Grade(False, f"gradient_norms is not an array of numbers ({error}); re-run the cells above")
    if len(norms) < 5 or min(norms) <= 0:
        return Grade(False, "gradient_norms must hold ||G_0||, ..., ||G_D||, positive, for D >= 4; "
                     "re-run the cells above")
    expected = factor_per_layer(norms)
    grade = grade_number("factor per layer", answer, expected, rtol=1e-6, atol=0.0)
    if grade.problem != "values":               # right, or nothing to look for a typical mistake in
        return grade
    value = float(as_host_array(answer, "answer"))
    depth = len(norms) - 1
    ratio = norms[1] / norms[depth - 1]
    neighbours = [norms[layer] / norms[layer + 1] for layer in range(1, depth - 1)]
    if math.isclose(value, 1.0 / expected, rel_tol=1e-6):
        hint = ("upside down: the factor is ||G_l|| / ||G_{l+1}||, the layer below over the layer above, "
                "which is below 1 where the gradient shrinks on its way down")
    elif math.isclose(value, ratio, rel_tol=1e-6):
        hint = (f"||G_1|| / ||G_{{D-1}}|| is the product of all {depth - 2} factors; take its "
                f"{depth - 2}-th root")
    elif any(math.isclose(value, ratio ** (1.0 / steps), rel_tol=1e-6) for steps in (depth - 1, depth, depth - 3)):
        hint = f"count the steps: from layer D-1 down to layer 1 the gradient passes D - 2 = {depth - 2} layers"
    elif math.isclose(value, (norms[0] / norms[depth]) ** (1.0 / depth), rel_tol=1e-6):
        hint = ("leave out layer 0 and the last layer, whose widths differ from the others': "
                "use ||G_1|| and ||G_{D-1}||")
    elif math.isclose(value, sum(neighbours) / len(neighbours), rel_tol=1e-6):
        hint = ("that is the arithmetic mean of the ratios; the factors multiply along the chain, so "
                "take their geometric mean (the root of their product)")
    else:
        hint = "(||G_1|| / ||G_{D-1}||) ** (1 / (D - 2)), with gradient_norms[l] = ||G_l||"
    return Grade(False, grade.message + ". Hint: " + hint)


def gradient_norm_through_chain(output_gradient_norm, layer_gains):
    """||G_0|| = ||G_D|| * gain_0 * gain_1 * ... * gain_{D-1}: one gain per layer passed."""
    return float(output_gradient_norm) * math.prod(float(gain) for gain in layer_gains)


def check_gradient_norm_through_chain(answer, output_gradient_norm, layer_gains):
    """Checks ||G_0|| = ||dL/dx_0|| for a chain of layers, each scaling the backward signal.

    Args:
        answer: the reader's number, ||G_0||.
        output_gradient_norm: ||G_D||, the size of the signal at the top.
        layer_gains: one number per layer, gain_l = ||G_l|| / ||G_{l+1}||.

    The expected answer is output_gradient_norm times the product of all the gains.
    """
    gains = [float(gain) for gain in layer_gains]
    expected = gradient_norm_through_chain(output_gradient_norm, gains)
    grade = grade_number("||G_0||", answer, expected, rtol=1e-6, atol=1e-12)
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
        hint = f"start from the size of the signal at the top, ||G_D|| = {top:g}"
    else:
        hint = "||G_0|| = ||G_D|| * gain_0 * gain_1 * ... * gain_{D-1}"
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
    """G_0 = dL/dx_0 for x_{l+1} = ReLU(x_l W_l^T + b_l), given G_D = dL/dx_D: the backward pass.

    x is (N, C_0), weights[l] is (C_{l+1}, C_l), output_gradient is (N, C_D).
    """
    activations, pre_activations = [np.asarray(x, dtype=np.float64)], []
    for weight, bias in zip(weights, biases):
        pre_activation = activations[-1] @ np.asarray(weight, dtype=np.float64).T + bias    # (N, C_{l+1})
        pre_activations.append(pre_activation)
        activations.append(np.maximum(pre_activation, 0.0))
    gradient = np.asarray(output_gradient, dtype=np.float64)                               # (N, C_D)
    for weight, pre_activation in zip(reversed(weights), reversed(pre_activations)):
        if use_relu_mask:
            gradient = gradient * (pre_activation > 0)
        gradient = gradient @ np.asarray(weight, dtype=np.float64)                         # (N, C_l)
    return gradient


def check_plain_stack_input_gradient(answer, weights, biases, x, output_gradient):
    """Checks G_0 = dL/dx_0 of the plain stack x_{l+1} = ReLU(x_l W_l^T + b_l), l = 0..D-1.

    Args:
        answer: the reader's (N, C_0) array.
        weights: the D matrices W_l, each (C_{l+1}, C_l); biases: the D vectors b_l.
        x: the input x_0, (N, C_0).
        output_gradient: G_D = dL/dx_D, (N, C_D).

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
        return Grade(False, grade.message + ". Hint: dL/dx_0 has the shape of x_0, (N, C_0); "
                     "multiply by W_l (C_{l+1}, C_l) from the right")
    if grade.problem != "values":               # right, or nothing to look for a typical mistake in
        return grade
    answer = as_host_array(answer, "answer")
    without_mask = plain_stack_input_gradient(weights, biases, x, output_gradient, use_relu_mask=False)
    if np.allclose(answer, without_mask):
        hint = "you left out the ReLU: multiply by the mask [z_l > 0] at every layer before W_l"
    else:
        hint = "go from the top down: G = G * (z_l > 0), then G = G @ W_l, for l = D-1, ..., 0"
    return Grade(False, grade.message + ". Hint: " + hint)
