"""Exercise checks of lesson 01 (autograd from scratch).

- ``check_topological_order``: an order of a small graph's nodes in which every node
  comes after its inputs.
- ``check_gradient_by_hand``: the two partial derivatives of
  f(a, b) = tanh(a * b + a) * b, worked out with the chain rule.
- ``check_sigmoid_gradient``: d sigmoid(x)/dx at a few points, computed by the
  reader's scalar engine from sigmoid(x) = (1 + exp(-x)) ** -1.
"""

import math

import numpy as np

from minires.lessons.grading import Grade, as_host_array, grade_array


def check_topological_order(order, inputs_of):
    """Checks a topological order of the graph ``inputs_of``.

    Args:
        order: the reader's answer, a list of node names, every node once, each
            after all of its inputs (so that reversed(order) is a valid backward order).
        inputs_of: the graph, a dict {node name: list of the names of its inputs};
            leaves have an empty list.

    Any order that respects the edges is right; there are usually several.
    """
    if order is None:
        return Grade(False, "order: no answer yet (the cell still holds None)")
    if isinstance(order, str) or not hasattr(order, "__iter__"):
        return Grade(False, f"order: expected a list of node names, got {type(order).__name__}")
    order = list(order)
    if not all(isinstance(name, str) for name in order):
        return Grade(False, f"order: expected node names (strings) such as 'x', got {order!r}")
    nodes = set(inputs_of)
    for inputs in inputs_of.values():
        nodes.update(inputs)
    missing = sorted(nodes - set(order), key=str)
    unknown = sorted(set(order) - nodes, key=str)
    repeated = sorted({name for name in order if order.count(name) > 1}, key=str)
    if missing:
        return Grade(False, f"order: {missing} missing; every node of the graph appears once, leaves too")
    if unknown:
        return Grade(False, f"order: {unknown} are not nodes of the graph (its nodes: {sorted(nodes, key=str)})")
    if repeated:
        return Grade(False, f"order: {repeated} appear more than once; each node is listed exactly once, "
                     "even when it is used twice")
    position = {name: index for index, name in enumerate(order)}
    for name in order:
        for input_name in inputs_of.get(name, []):
            if position[input_name] > position[name]:
                hint = ""
                if _respects_edges(list(reversed(order)), inputs_of):
                    hint = (" Your list is the order backward visits the nodes; the topological "
                            "order is its reverse (inputs first).")
                return Grade(False, f"order: {name!r} comes before its input {input_name!r}; a node can "
                             "only be computed after all of its inputs." + hint)
    return Grade(True, "order: every node comes after its inputs, so reversed(order) is a valid "
                 "order for backward")


def _respects_edges(order, inputs_of):
    position = {name: index for index, name in enumerate(order)}
    return all(position[i] < position[name] for name in order for i in inputs_of.get(name, []))


def gradient_by_hand(a, b):
    """(df/da, df/db) of f(a, b) = tanh(a * b + a) * b, by the chain rule."""
    t = math.tanh(a * b + a)
    slope = 1.0 - t * t                            # d tanh(u) / du = 1 - tanh(u)^2
    return np.array([slope * (b + 1.0) * b,        # u = a*b + a: du/da = b + 1 (a is used twice)
                     slope * a * b + t])           # b is used twice: inside tanh and as a factor


def check_gradient_by_hand(answer, a, b):
    """Checks (df/da, df/db) of f(a, b) = tanh(a * b + a) * b at the point (a, b).

    Args:
        answer: the reader's two numbers, [df/da, df/db].
        a, b: the point.
    """
    expected = gradient_by_hand(a, b)
    grade = grade_array("(df/da, df/db)", answer, expected, rtol=1e-6, atol=1e-9)
    if grade.problem != "values":               # right, or nothing to look for a typical mistake in
        return grade
    answer = as_host_array(answer, "answer")
    t = math.tanh(a * b + a)
    slope = 1.0 - t * t
    hints = []
    if np.isclose(answer[0], slope * b * b) or np.isclose(answer[0], slope * b):
        hints.append("df/da: a enters u = a*b + a twice, so du/da = b + 1, not b")
    if np.isclose(answer[1], slope * a * b):
        hints.append("df/db: b is used twice (inside tanh and as the outer factor); "
                     "the product rule adds tanh(u) itself")
    if np.isclose(answer[0], (1 + t * t) * (b + 1) * b) or np.isclose(answer[1], (1 + t * t) * a * b + t):
        hints.append("d tanh(u)/du is 1 - tanh(u)^2, with a minus")
    if not hints:
        hints.append("write u = a*b + a and t = tanh(u), then f = t * b, and add the contributions of "
                     "every path from a (and from b) to f")
    return Grade(False, grade.message + ". Hint: " + "; ".join(hints))


def check_sigmoid_gradient(answer, points):
    """Checks d sigmoid(x)/dx at each of ``points``, sigmoid(x) = 1 / (1 + exp(-x)).

    Args:
        answer: the reader's gradients, one per point (from the engine's backward).
        points: the x values.

    The expected values are sigmoid(x) * (1 - sigmoid(x)).
    """
    points = np.asarray(points, dtype=np.float64)
    sigmoid = 1.0 / (1.0 + np.exp(-points))
    expected = sigmoid * (1.0 - sigmoid)
    grade = grade_array("d sigmoid/dx", answer, expected, rtol=1e-8, atol=1e-12)
    if grade.problem != "values":               # right, or nothing to look for a typical mistake in
        return grade
    answer = as_host_array(answer, "answer")
    if np.allclose(answer, sigmoid):
        hint = "these are the values sigmoid(x); the gradient is x.grad after calling backward on the output"
    elif np.allclose(answer, -expected):
        hint = "the sign is flipped: d exp(-x)/dx = -exp(-x), and d(u ** -1)/du = -u ** -2; two minus signs"
    elif np.allclose(answer, np.exp(-points)):
        hint = "that is only the exp(-x) part; backward must go through the sum and the power ** -1 too"
    else:
        hint = ("build s = (1 + (-x).exp()) ** -1 from a fresh Value x for each point, call s.backward() "
                "and read x.grad")
    return Grade(False, grade.message + ". Hint: " + hint)
