"""The exercise checks of lesson 01: right answers pass, typical mistakes get a hint."""

import math

import numpy as np

from minires.lessons.checks import lesson01

GRAPH = {"x": [], "w": [], "u": ["x", "w"], "v": ["u", "x"], "y": ["u", "v"]}


def test_topological_order_accepts_any_valid_order():
    for order in (["x", "w", "u", "v", "y"], ["w", "x", "u", "v", "y"]):
        grade = lesson01.check_topological_order(order, GRAPH)
        assert grade and repr(grade).startswith("correct")


def test_topological_order_names_the_broken_edge():
    grade = lesson01.check_topological_order(["x", "w", "v", "u", "y"], GRAPH)
    assert not grade and "'v' comes before its input 'u'" in grade.message


def test_topological_order_recognises_the_backward_order():
    grade = lesson01.check_topological_order(["y", "v", "u", "w", "x"], GRAPH)
    assert not grade and "the topological order is its reverse" in grade.message


def test_topological_order_missing_repeated_or_none():
    assert "['w'] missing" in lesson01.check_topological_order(["x", "u", "v", "y"], GRAPH).message
    assert "more than once" in lesson01.check_topological_order(["x", "w", "u", "x", "v", "y"], GRAPH).message
    grade = lesson01.check_topological_order(None, GRAPH)
    assert not grade and "no answer yet" in grade.message
    assert "list of node names" in lesson01.check_topological_order(3, GRAPH).message


def test_gradient_by_hand_right_answer():
    a, b = 0.3, -0.7
    t = math.tanh(a * b + a)
    grade = lesson01.check_gradient_by_hand([(1 - t * t) * (b + 1) * b, (1 - t * t) * a * b + t], a, b)
    assert grade and repr(grade).startswith("correct")


def test_gradient_by_hand_typical_mistakes():
    a, b = 0.3, -0.7
    t = math.tanh(a * b + a)
    missing_path = lesson01.check_gradient_by_hand([(1 - t * t) * b * b, (1 - t * t) * a * b + t], a, b)
    assert not missing_path and "dz/da = b + 1" in missing_path.message
    missing_product_rule = lesson01.check_gradient_by_hand([(1 - t * t) * (b + 1) * b, (1 - t * t) * a * b], a, b)
    assert not missing_product_rule and "product rule" in missing_product_rule.message
    assert "shape (3,), expected (2,)" in lesson01.check_gradient_by_hand([1.0, 2.0, 3.0], a, b).message
    none = lesson01.check_gradient_by_hand(None, a, b)
    assert not none and "no answer yet" in none.message


def test_sigmoid_gradient():
    points = [-2.0, 0.0, 3.0]
    sigmoid = [1 / (1 + math.exp(-x)) for x in points]
    right = lesson01.check_sigmoid_gradient([s * (1 - s) for s in sigmoid], points)
    assert right and repr(right).startswith("correct")
    values = lesson01.check_sigmoid_gradient(sigmoid, points)
    assert not values and "these are the values sigmoid(x)" in values.message
    flipped = lesson01.check_sigmoid_gradient([-s * (1 - s) for s in sigmoid], points)
    assert not flipped and "sign is flipped" in flipped.message
    none = lesson01.check_sigmoid_gradient(None, points)
    assert not none and "no answer yet" in none.message
    assert "cannot be read" in lesson01.check_sigmoid_gradient("abc", points).message


# One neuron, four images with three features each, targets 0 or 1.
STEP_FEATURES = np.array([[0.3, -1.2, 0.5], [1.1, 0.4, -0.7], [-0.6, 0.2, 1.3], [0.0, -0.9, -0.4]])
STEP_TARGETS = np.array([1.0, 0.0, 1.0, 0.0])
STEP_WEIGHTS, STEP_BIAS, STEP_RATE = [0.5, -0.3, 0.8], 0.1, 0.1


def step_gradient():
    """dL/d[w, b] of the mean logistic loss, by the chain rule written out image by image."""
    gradient = np.zeros(4)
    for x, t in zip(STEP_FEATURES, STEP_TARGETS):
        z = float(np.dot(STEP_WEIGHTS, x)) + STEP_BIAS
        dL_dz = (1 / (1 + math.exp(-z)) - t) / len(STEP_TARGETS)     # d/dz of (ln(1 + e^z) - t z) / N
        gradient += dL_dz * np.append(x, 1.0)
    return gradient


def check_step(answer):
    return lesson01.check_gradient_step(answer, STEP_WEIGHTS, STEP_BIAS, STEP_FEATURES, STEP_TARGETS, STEP_RATE)


def test_gradient_step_right_answer():
    start = np.append(STEP_WEIGHTS, STEP_BIAS)
    grade = check_step(list(start - STEP_RATE * step_gradient()))
    assert grade and repr(grade).startswith("correct")


def test_gradient_step_matches_central_differences():
    def loss(parameters):
        scores = STEP_FEATURES @ parameters[:3] + parameters[3]
        return np.mean(np.log1p(np.exp(scores)) - STEP_TARGETS * scores)
    start = np.append(STEP_WEIGHTS, STEP_BIAS)
    numerical = np.array([(loss(start + 1e-6 * e) - loss(start - 1e-6 * e)) / 2e-6 for e in np.eye(4)])
    new_weights, new_bias, _, _ = lesson01.gradient_step(STEP_WEIGHTS, STEP_BIAS, STEP_FEATURES, STEP_TARGETS,
                                                         STEP_RATE)
    np.testing.assert_allclose(np.append(new_weights, new_bias), start - STEP_RATE * numerical, rtol=1e-8)


def test_gradient_step_typical_mistakes():
    start = np.append(STEP_WEIGHTS, STEP_BIAS)
    gradient = step_gradient()
    expected_hints = [
        (start + STEP_RATE * gradient, "went uphill"),
        (start - gradient, "not the whole gradient"),
        (gradient, "these are the gradients"),
        (-STEP_RATE * gradient, "only the change"),
        (start, "before the step"),
        (start - STEP_RATE * len(STEP_TARGETS) * gradient, "the mean over the images"),
        (start - STEP_RATE * gradient + 0.5, "average it over the images"),
    ]
    for answer, hint in expected_hints:
        grade = check_step(list(answer))
        assert not grade and hint in grade.message, (hint, grade.message)


def test_gradient_step_shape_and_none():
    start = np.append(STEP_WEIGHTS, STEP_BIAS)
    without_bias = check_step(list((start - STEP_RATE * step_gradient())[:3]))
    assert not without_bias and "the bias is a parameter too" in without_bias.message
    assert "shape (2,), expected (4,)" in check_step([1.0, 2.0]).message
    none = check_step(None)
    assert not none and "no answer yet" in none.message
    assert "cannot be read" in check_step("abc").message
