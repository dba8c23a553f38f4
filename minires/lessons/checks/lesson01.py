"""Exercise checks of lesson 01 (autograd from scratch).

- ``check_topological_order``: an order of a small graph's nodes in which every node
  comes after its inputs.
- ``check_gradient_by_hand``: the two partial derivatives of
  f(a, b) = tanh(a * b + a) * b, worked out with the chain rule.
- ``check_sigmoid_gradient``: d sigmoid(x)/dx at a few points, computed by the
  reader's scalar engine from sigmoid(x) = (1 + exp(-x)) ** -1.
- ``check_gradient_step``: one step of gradient descent for one neuron,
  z = w . x + b, on the mean logistic loss ln(1 + e^z) - t z of a few images.
"""

import math

import numpy as np

from minires.lessons.grading import Grade, as_host_array, grade_array, readable_array


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
    slope = 1.0 - t * t                            # d tanh(z) / dz = 1 - tanh(z)^2
    return np.array([slope * (b + 1.0) * b,        # z = a*b + a: dz/da = b + 1 (a is used twice)
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
        hints.append("df/da: a enters z = a*b + a twice, so dz/da = b + 1, not b")
    if np.isclose(answer[1], slope * a * b):
        hints.append("df/db: b is used twice (inside tanh and as the outer factor); "
                     "the product rule adds tanh(u) itself")
    if np.isclose(answer[0], (1 + t * t) * (b + 1) * b) or np.isclose(answer[1], (1 + t * t) * a * b + t):
        hints.append("d tanh(z)/dz is 1 - tanh(z)^2, with a minus")
    if not hints:
        hints.append("write z = a*b + a and t = tanh(z), then f = t * b, and add the contributions of "
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


def gradient_step(weights, bias, features, targets, learning_rate):
    """(new weights, new bias, dL/dw, dL/db) after one step of gradient descent.

    The neuron scores image n as z_n = w . x_n + b; the loss is the mean over the N
    images of ln(1 + e^z_n) - t_n z_n, whose derivative in z_n is sigmoid(z_n) - t_n.
    """
    weights = np.asarray(weights, dtype=np.float64)                    # (k,): one per input
    features = np.asarray(features, dtype=np.float64)                  # (N, k)
    targets = np.asarray(targets, dtype=np.float64)                    # (N,)
    scores = features @ weights + bias                                 # (N,)
    dL_dscores = (1.0 / (1.0 + np.exp(-scores)) - targets) / len(targets)   # the mean: 1/N
    dL_dweights = features.T @ dL_dscores                              # (k,)
    dL_dbias = float(dL_dscores.sum())
    return weights - learning_rate * dL_dweights, bias - learning_rate * dL_dbias, dL_dweights, dL_dbias


def check_gradient_step(answer, weights, bias, features, targets, learning_rate):
    """Checks the parameters [w_1, ..., w_k, b] of a neuron after one step of gradient descent.

    Args:
        answer: the reader's new parameters, the weights then the bias.
        weights, bias: the parameters before the step.
        features: (N, k) inputs of N images; targets: (N,) 0 or 1.
        learning_rate: the step size.

    The loss is the mean over the images of ln(1 + e^z) - t z, z = w . x + b; the step
    moves every parameter against its gradient: theta <- theta - learning_rate * dL/dtheta.
    """
    new_weights, new_bias, dL_dweights, dL_dbias = gradient_step(weights, bias, features, targets,
                                                                 learning_rate)
    start = np.append(np.asarray(weights, dtype=np.float64), bias)
    expected = np.append(new_weights, new_bias)
    gradient = np.append(dL_dweights, dL_dbias)
    grade = grade_array("[w, b] after one step", answer, expected, rtol=1e-8, atol=1e-12)
    if grade.problem == "shape":
        if readable_array(answer) is not None and readable_array(answer).size == len(weights):
            return Grade(False, grade.message + f". Hint: the bias is a parameter too: give the {len(weights)} "
                         "new weights, then the new bias", "shape")
        return grade
    if grade.problem != "values":               # right, or nothing to look for a typical mistake in
        return grade
    answer = readable_array(answer).reshape(-1)
    mistakes = [
        (start + learning_rate * gradient, "the step went uphill: subtract learning_rate * grad, "
         "theta - learning_rate * dL/dtheta"),
        (start - gradient, "the step is learning_rate * grad, not the whole gradient"),
        (gradient, "these are the gradients dL/dtheta; the answer is the parameters after the step, "
         "theta - learning_rate * dL/dtheta"),
        (-learning_rate * gradient, "this is only the change; add it to the parameters before the step"),
        (start, "these are the parameters before the step: call backward() on the loss, then move "
         "each parameter by - learning_rate * its .grad"),
        (start - learning_rate * len(targets) * gradient, "the loss is the mean over the images, "
         "not their sum: multiply the sum by 1 / N"),
    ]
    for candidate, hint in mistakes:
        if np.allclose(answer, candidate, rtol=1e-8, atol=1e-12):
            return Grade(False, grade.message + ". Hint: " + hint, "values")
    return Grade(False, grade.message + ". Hint: the loss of one image is ln(1 + e^z) - t z with "
                 "z = w . x + b; average it over the images, call backward(), and read each parameter's .grad",
                 "values")
