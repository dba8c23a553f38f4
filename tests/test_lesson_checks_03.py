"""The exercise checks of lesson 03: right answers pass, typical mistakes get a hint."""

import math

import numpy as np

import minires as mr
from minires import analysis
from minires.lessons.checks import lesson03


def measured_norms():
    """||G_0||, ..., ||G_D|| of a made-up stack of D = 10 layers, each shrinking by about 0.7."""
    rng = np.random.default_rng(0)
    factors = 0.7 * rng.uniform(0.9, 1.1, size=10)
    return np.cumprod(np.concatenate([[1.0], factors]))[::-1] * 1e-3     # entry l: ||G_l|| = factor ||G_{l+1}||


def test_factor_per_layer():
    norms = measured_norms()
    factor = (norms[1] / norms[9]) ** (1 / 8)
    right = lesson03.check_factor_per_layer(factor, norms)
    assert right and repr(right).startswith("correct")
    assert math.isclose(lesson03.factor_per_layer(norms), factor) and 0.6 < factor < 0.8
    upside_down = lesson03.check_factor_per_layer(1 / factor, norms)
    assert not upside_down and "upside down" in upside_down.message
    no_root = lesson03.check_factor_per_layer(norms[1] / norms[9], norms)
    assert not no_root and "take its 8-th root" in no_root.message
    steps = lesson03.check_factor_per_layer((norms[1] / norms[9]) ** (1 / 9), norms)
    assert not steps and "count the steps" in steps.message
    ends = lesson03.check_factor_per_layer((norms[0] / norms[10]) ** (1 / 10), norms)
    assert not ends and "leave out layer 0 and the last layer" in ends.message
    arithmetic = np.mean([norms[layer] / norms[layer + 1] for layer in range(1, 9)])
    mean = lesson03.check_factor_per_layer(arithmetic, norms)
    assert not mean and "geometric mean" in mean.message
    none = lesson03.check_factor_per_layer(None, norms)
    assert not none and "no answer yet" in none.message
    assert not lesson03.check_factor_per_layer("abc", norms)
    assert not lesson03.check_factor_per_layer(factor, [1.0, 2.0])
    assert not lesson03.check_factor_per_layer(factor, None)


def test_factor_per_layer_of_a_stack_measured_by_minires():
    rng = np.random.default_rng(0)
    width, depth = 64, 12
    layers = [mr.nn.Identity()]
    for _ in range(depth):
        linear = mr.nn.Linear(width, width, bias=False, dtype=mr.float64)
        linear.weight.data = mr.tensor(rng.standard_normal((width, width)) * np.sqrt(1 / width), dtype=mr.float64)
        layers += [linear, mr.nn.ReLU()]
    stack = mr.nn.Sequential(*layers)
    inputs = mr.tensor(rng.standard_normal((256, width)), dtype=mr.float64)
    targets = mr.tensor(rng.standard_normal((256, width)), dtype=mr.float64)
    measured = [("x_0", stack[0])] + [(f"x_{layer + 1}", stack[2 * layer + 2]) for layer in range(depth)]
    norms = analysis.block_norms(stack, inputs, targets, modules=measured,
                                 loss=lambda output, target: ((output - target) ** 2).sum() / 2)["activation_grad"]
    assert len(norms) == depth + 1
    assert lesson03.check_factor_per_layer(lesson03.factor_per_layer(norms), norms)
    assert abs(lesson03.factor_per_layer(norms) - math.sqrt(1 / 2)) < 0.05     # std^2 = 1/C halves ||G||^2


def test_gradient_norm_through_chain():
    gains = [0.9, 1.2, 0.5, 0.8]
    right = lesson03.check_gradient_norm_through_chain(2.0 * 0.9 * 1.2 * 0.5 * 0.8, 2.0, gains)
    assert right and repr(right).startswith("correct")
    summed = lesson03.check_gradient_norm_through_chain(2.0 * sum(gains), 2.0, gains)
    assert not summed and "multiply, they do not add" in summed.message
    one_short = lesson03.check_gradient_norm_through_chain(2.0 * 1.2 * 0.5 * 0.8, 2.0, gains)
    assert not one_short and "one gain is missing" in one_short.message
    no_top = lesson03.check_gradient_norm_through_chain(math.prod(gains), 2.0, gains)
    assert not no_top and "start from the size of the signal at the top" in no_top.message
    none = lesson03.check_gradient_norm_through_chain(None, 2.0, gains)
    assert not none and "no answer yet" in none.message
    assert not lesson03.check_gradient_norm_through_chain("abc", 2.0, gains)
    assert not lesson03.check_gradient_norm_through_chain([1.0, 2.0], 2.0, gains)


def test_he_standard_deviation():
    right = lesson03.check_he_standard_deviation(math.sqrt(2 / 144), 144)
    assert right and repr(right).startswith("correct")
    lecun = lesson03.check_he_standard_deviation(math.sqrt(1 / 144), 144)
    assert not lecun and "the variance must double" in lecun.message
    variance = lesson03.check_he_standard_deviation(2 / 144, 144)
    assert not variance and "its square root" in variance.message
    none = lesson03.check_he_standard_deviation(None, 144)
    assert not none and "no answer yet" in none.message


def test_he_standard_deviation_keeps_the_mean_square():
    rng = np.random.default_rng(0)
    fan_in = 400
    x = rng.standard_normal((2000, fan_in))
    weight = rng.standard_normal((fan_in, fan_in)) * lesson03.he_standard_deviation(fan_in)
    y = np.maximum(x @ weight.T, 0.0)
    assert abs(np.mean(y ** 2) / np.mean(x ** 2) - 1.0) < 0.05


def plain_stack():
    rng = np.random.default_rng(0)
    sizes = [4, 5, 5, 3]
    weights = [rng.standard_normal((sizes[i + 1], sizes[i])) for i in range(3)]
    biases = [rng.standard_normal(sizes[i + 1]) * 0.1 for i in range(3)]
    return weights, biases, rng.standard_normal((2, 4)), rng.standard_normal((2, 3))


def test_plain_stack_input_gradient_against_minires():
    weights, biases, x, output_gradient = plain_stack()
    x_tensor = mr.tensor(x, dtype=mr.float64, requires_grad=True)
    h = x_tensor
    for weight, bias in zip(weights, biases):
        h = (h @ mr.tensor(weight.T, dtype=mr.float64) + mr.tensor(bias, dtype=mr.float64)).relu()
    h.backward(mr.tensor(output_gradient, dtype=mr.float64))
    right = lesson03.check_plain_stack_input_gradient(x_tensor.grad, weights, biases, x, output_gradient)
    assert right and repr(right).startswith("correct")


def test_plain_stack_input_gradient_typical_mistakes():
    weights, biases, x, output_gradient = plain_stack()
    no_mask = lesson03.plain_stack_input_gradient(weights, biases, x, output_gradient, use_relu_mask=False)
    wrong = lesson03.check_plain_stack_input_gradient(no_mask, weights, biases, x, output_gradient)
    assert not wrong and "you left out the ReLU" in wrong.message
    shape = lesson03.check_plain_stack_input_gradient(np.zeros((2, 3)), weights, biases, x, output_gradient)
    assert not shape and "the shape of x_0" in shape.message and "(N, C_0)" in shape.message
    none = lesson03.check_plain_stack_input_gradient(None, weights, biases, x, output_gradient)
    assert not none and "no answer yet" in none.message
