"""The exercise checks of lesson 01: right answers pass, typical mistakes get a hint."""

import math

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
    assert not missing_path and "du/da = b + 1" in missing_path.message
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
