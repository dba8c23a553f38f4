"""The exercise checks of lesson 5 (highway networks): right answers pass, typical
wrong ones fail with a message that says what is wrong, None fails without raising."""

import math

import numpy as np
import pytest

from minires.lessons.checks import lesson05

UNIT = dict(x=0.5, w_H=2.0, b_H=-0.3, w_T=1.5, b_T=-2.0)


def scalar_unit_parts(x, w_H, b_H, w_T, b_T):
    """(t h', 1 - t, (h - x) t') of the scalar highway unit, computed independently."""
    h = max(w_H * x + b_H, 0.0)
    h_prime = w_H if w_H * x + b_H > 0 else 0.0
    t = 1.0 / (1.0 + math.exp(-(w_T * x + b_T)))
    return t * h_prime, 1.0 - t, (h - x) * t * (1.0 - t) * w_T


def test_scalar_highway_derivative_right_answer_passes():
    expected = sum(scalar_unit_parts(**UNIT))
    grade = lesson05.check_scalar_highway_derivative(expected, **UNIT)
    assert grade
    assert repr(grade).startswith("correct")


def test_scalar_highway_derivative_matches_finite_differences():
    def y(x):
        h = max(UNIT["w_H"] * x + UNIT["b_H"], 0.0)
        t = 1.0 / (1.0 + math.exp(-(UNIT["w_T"] * x + UNIT["b_T"])))
        return h * t + x * (1.0 - t)
    step = 1e-6
    numerical = (y(UNIT["x"] + step) - y(UNIT["x"] - step)) / (2 * step)
    assert lesson05.check_scalar_highway_derivative(numerical, **UNIT)


def test_scalar_highway_derivative_without_the_gate_term_fails_with_a_hint():
    transform_part, carry_part, _ = scalar_unit_parts(**UNIT)
    grade = lesson05.check_scalar_highway_derivative(transform_part + carry_part, **UNIT)
    assert not grade
    assert "(h - x) t'(x)" in grade.message


def test_scalar_highway_derivative_without_the_carry_term_fails_with_a_hint():
    transform_part, _, gate_part = scalar_unit_parts(**UNIT)
    grade = lesson05.check_scalar_highway_derivative(transform_part + gate_part, **UNIT)
    assert not grade
    assert "carry term 1 - t" in grade.message


def test_scalar_highway_derivative_other_wrong_answers_fail():
    grade = lesson05.check_scalar_highway_derivative(42.0, **UNIT)
    assert not grade and "product rule" in grade.message
    grade = lesson05.check_scalar_highway_derivative("a string", **UNIT)
    assert not grade


def test_scalar_highway_derivative_none_fails_without_raising():
    grade = lesson05.check_scalar_highway_derivative(None, **UNIT)
    assert not grade
    assert "no answer yet" in grade.message


def test_identity_gate():
    assert repr(lesson05.check_identity_gate(0.0)).startswith("correct")
    assert lesson05.check_identity_gate(np.float32(0.0))
    grade = lesson05.check_identity_gate(1)
    assert not grade and "plain layer" in grade.message
    grade = lesson05.check_identity_gate(0.5)
    assert not grade and "y = x + T (H - x)" in grade.message
    assert not lesson05.check_identity_gate(None)


def test_gate_bias_for_carry():
    expected = math.log(0.05 / 0.95)
    grade = lesson05.check_gate_bias_for_carry(expected, carry=0.95)
    assert grade and repr(grade).startswith("correct")
    assert 1.0 / (1.0 + math.exp(-expected)) == pytest.approx(0.05)
    grade = lesson05.check_gate_bias_for_carry(-expected, carry=0.95)
    assert not grade and "transform 95%" in grade.message
    grade = lesson05.check_gate_bias_for_carry(-1.0, carry=0.95)
    assert not grade and "log(T / (1 - T))" in grade.message
    grade = lesson05.check_gate_bias_for_carry(None, carry=0.95)
    assert not grade and "no answer yet" in grade.message


def sampled_mean_gate(gate_bias, std=1.0, draws=200_000):
    """The mean of sigmoid(b_T + z), z ~ N(0, std^2), by Monte Carlo: what a learner computes."""
    z = np.random.default_rng(1).standard_normal(draws)
    return float(np.mean(1.0 / (1.0 + np.exp(-(gate_bias + std * z)))))


def test_mean_gate_over_spread_right_answers_pass():
    grade = lesson05.check_mean_gate_over_spread(sampled_mean_gate(-2.0), gate_bias=-2.0)
    assert grade and repr(grade).startswith("correct")
    assert lesson05.check_mean_gate_over_spread(0.5, gate_bias=0.0)                  # symmetric about 0
    assert lesson05.check_mean_gate_over_spread(sampled_mean_gate(-1.0, std=2.0), gate_bias=-1.0, std=2.0)
    assert lesson05.check_mean_gate_over_spread(np.float32(0.1555), gate_bias=-2.0)


def test_mean_gate_over_spread_sigmoid_of_the_mean_fails_with_a_hint():
    grade = lesson05.check_mean_gate_over_spread(1.0 / (1.0 + math.exp(2.0)), gate_bias=-2.0)
    assert not grade
    assert "sigma(b_T), the gate of the mean pre-activation" in grade.message
    assert "mean of sigma is not sigma of the mean" in grade.message


def test_mean_gate_over_spread_the_carry_fails_with_a_hint():
    grade = lesson05.check_mean_gate_over_spread(1.0 - sampled_mean_gate(-2.0), gate_bias=-2.0)
    assert not grade and "mean carry 1 - T" in grade.message
    grade = lesson05.check_mean_gate_over_spread(sampled_mean_gate(2.0), gate_bias=-2.0)   # the sign of b_T
    assert not grade and "opposite bias" in grade.message


def test_mean_gate_over_spread_other_wrong_answers_fail():
    grade = lesson05.check_mean_gate_over_spread(0.17, gate_bias=-2.0)              # too few draws, say
    assert not grade and "average sigma(b_T + z)" in grade.message
    assert not lesson05.check_mean_gate_over_spread([0.15, 0.16], gate_bias=-2.0)
    assert not lesson05.check_mean_gate_over_spread("0.155?", gate_bias=-2.0)


def test_mean_gate_over_spread_none_fails_without_raising():
    grade = lesson05.check_mean_gate_over_spread(None, gate_bias=-2.0)
    assert not grade and "no answer yet" in grade.message
