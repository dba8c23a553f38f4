"""Checks for the exercises of lesson 5, highway networks.

A highway unit computes y = h(x) t(x) + x (1 - t(x)), with the transform
h(x) = relu(w_H x + b_H) and the transform gate t(x) = sigmoid(w_T x + b_T).
"""

import math

import numpy as np

from minires.lessons.grading import Grade, grade_number, is_close, known_mistake, readable_number


def _sigmoid(z):
    return 1.0 / (1.0 + math.exp(-z))


def _mean_sigmoid_of_normal(mean, std):
    """The mean of sigmoid(mean + std z) over z ~ N(0, 1), by Gauss-Hermite quadrature (80 nodes)."""
    nodes, weights = np.polynomial.hermite_e.hermegauss(80)         # weight exp(-z^2 / 2)
    values = 1.0 / (1.0 + np.exp(-(mean + std * nodes)))
    return float(np.sum(weights * values) / np.sum(weights))


def check_scalar_highway_derivative(answer, x, w_H, b_H, w_T, b_T):
    """Expects dy/dx of the scalar highway unit at x:

        dy/dx = t h'(x) + (1 - t) + (h - x) t'(x),
        h'(x) = w_H 1[w_H x + b_H > 0],   t'(x) = t (1 - t) w_T.
    """
    transform_pre = w_H * x + b_H
    transform = max(transform_pre, 0.0)                                  # h
    transform_derivative = w_H if transform_pre > 0 else 0.0             # h'
    gate = _sigmoid(w_T * x + b_T)                                       # t
    gate_derivative = gate * (1.0 - gate) * w_T                          # t'
    transform_part = gate * transform_derivative
    carry_part = 1.0 - gate
    gate_part = (transform - x) * gate_derivative
    expected = transform_part + carry_part + gate_part
    value = readable_number(answer)
    if not is_close(value, expected):
        mistakes = [
            (transform_part + carry_part, "you left out the gate's term (h - x) t'(x): "
                                          "moving x moves the gate too"),
            (transform_part + carry_part - gate_part, "the gate's term has the wrong sign: "
                                                      "it is (h - x) t'(x), not (x - h) t'(x)"),
            (transform_part + gate_part, "you left out the carry term 1 - t, the derivative of "
                                         "x (1 - t) with respect to its first factor"),
            (gate * w_H + carry_part + gate_part, "h'(x) is w_H only where w_H x + b_H > 0 "
                                                  "(the ReLU's derivative)"),
            (transform_part + carry_part + (transform - x) * gate * w_T,
             "the sigmoid's derivative is t (1 - t), so t'(x) = t (1 - t) w_T"),
        ]
        mistake = known_mistake("dy/dx", value, expected, mistakes)
        if mistake is not None:
            return mistake
    return grade_number("dy/dx", answer, expected,
                        hint="differentiate h t + x (1 - t) by the product rule: three terms")


def check_identity_gate(answer):
    """Expects 0: y = H T + x (1 - T) = x + T (H - x) equals x for every H only when T = 0."""
    value = readable_number(answer)
    if is_close(value, 1.0):
        return Grade(False, "T: you have 1, expected 0. T = 1 gives y = H(x), the plain layer; "
                            "the carry gate 1 - T is what lets x through")
    return grade_number("T", answer, 0.0, hint="write y = x + T (H - x): when is that x for every H?")


def check_gate_bias_for_carry(answer, carry):
    """Expects the bias b with sigmoid(b) = 1 - carry, that is b = log(T / (1 - T)), T = 1 - carry."""
    gate = 1.0 - carry
    expected = math.log(gate / (1.0 - gate))
    value = readable_number(answer)
    if is_close(value, -expected):
        return Grade(False, f"b_T: you have {value:.6g}, expected {expected:.6g}. With your bias "
                            f"T = {_sigmoid(value):.2f}: the layer would transform {carry:.0%} of its input "
                            f"instead of carrying it; the carry gate is 1 - T")
    return grade_number("b_T", answer, expected,
                        hint="the inverse of the sigmoid is log(T / (1 - T)), and T = 1 - carry")


def check_mean_gate_over_spread(answer, gate_bias, std=1.0):
    """Expects the mean gate E[sigmoid(b_T + z)] over a normal pre-activation spread z ~ N(0, std^2).

    The tolerance is 0.002: a Monte Carlo mean over 10^5 draws is well within it.
    """
    expected = _mean_sigmoid_of_normal(gate_bias, std)
    value = readable_number(answer)
    if value is not None and not is_close(value, expected, rtol=0.0, atol=2e-3):
        gate_at_mean = _sigmoid(gate_bias)
        if is_close(value, gate_at_mean, rtol=0.0, atol=1e-3):
            return Grade(False, f"mean T: you have {value:.4g}, expected {expected:.4g}. That is sigma(b_T), the "
                                "gate of the mean pre-activation; average sigma(b_T + z) over many z instead: "
                                "the sigmoid is curved, so the mean of sigma is not sigma of the mean", "values")
        if is_close(value, 1.0 - expected, rtol=0.0, atol=2e-3):
            return Grade(False, f"mean T: you have {value:.4g}, expected {expected:.4g}. That is the mean "
                                "carry 1 - T (or the gate for the opposite bias); the question asks for the "
                                "gate T = sigma(b_T + z)", "values")
    return grade_number("mean T", answer, expected, rtol=0.0, atol=2e-3,
                        hint=f"draw many z ~ N(0, {std:g}^2) (10^5 or more) and average sigma(b_T + z), "
                             "or integrate it against the normal density")
