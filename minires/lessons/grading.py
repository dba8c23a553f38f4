"""Grading: how close a derived gradient is to a reference, and the verdict on an answer."""

from dataclasses import dataclass

import numpy as np

from minires import backend
from minires.tensor import Tensor


@dataclass
class Grade:
    """The verdict of an exercise check: ``passed`` and a message saying why.

    It prints as one line, starting with "correct" or "not yet", and is truthy only
    when the answer is right, so ``assert check_something(answer)`` works too.

    ``problem`` says what kind of wrong it is, so that a check can look for the typical
    mistakes only where that makes sense: None (right, or not classified), "missing"
    (still None), "unreadable" (not numbers), "shape" (the wrong shape) or "values"
    (the right shape, other numbers).
    """

    passed: bool
    message: str
    problem: str | None = None

    def __bool__(self):
        return self.passed

    def __repr__(self):
        return ("correct: " if self.passed else "not yet: ") + self.message


def as_host_array(value, name):
    """A float64 NumPy copy of a Tensor, a NumPy/CuPy array, a list or a number."""
    if value is None:
        raise TypeError(f"{name} is None: fill in your answer first")
    if isinstance(value, Tensor):
        value = value.array
    if backend.is_array(value):
        value = backend.to_numpy(value)
    return np.asarray(value, dtype=np.float64)


def readable_array(answer):
    """The answer as a float64 NumPy array, or None when it is None or not numbers.

    Checks use it to look for typical mistakes without ever raising on an odd answer.
    """
    try:
        return as_host_array(answer, "answer")
    except (TypeError, ValueError):
        return None


def readable_number(answer):
    """The answer as a float, or None when it is not exactly one number."""
    values = readable_array(answer)
    if values is None or values.size != 1:
        return None
    return float(values.reshape(-1)[0])


def max_relative_error(derived, reference):
    """max |derived - reference| / max(|reference|), over all elements.

    Dividing by the largest magnitude of the reference (not element by element) keeps
    entries that are zero, or nearly, from turning rounding noise into huge ratios.
    """
    derived = as_host_array(derived, "derived")
    reference = as_host_array(reference, "reference")
    if derived.shape != reference.shape:
        raise ValueError(f"max_relative_error: shapes differ, derived {derived.shape} "
                         f"and reference {reference.shape}")
    scale = max(float(np.max(np.abs(reference), initial=0.0)), 1e-300)
    return float(np.max(np.abs(derived - reference), initial=0.0)) / scale


def compare_gradients(label, derived, reference, tolerance):
    """Prints the largest relative error of ``derived`` against ``reference`` and
    raises AssertionError when it exceeds ``tolerance``.

        compare_gradients("dL/dW by hand vs finite differences", dW, numerical_dW, 1e-7)

    It returns nothing, so that a notebook cell ending with it shows only the printed
    line (max_relative_error gives the number itself).
    """
    error = max_relative_error(derived, reference)
    verdict = "ok" if error <= tolerance else "TOO LARGE"
    print(f"{label}: max relative error {error:.2e} (tolerance {tolerance:.0e}) {verdict}")
    if error > tolerance:
        raise AssertionError(f"{label}: max relative error {error:.3e} exceeds the tolerance "
                             f"{tolerance:.1e}; the derivation or its code has a mistake")


def grade_array(name, answer, expected, rtol=1e-6, atol=1e-9, hint=""):
    """Grades an array answer against the expected one: shape first, then values.

    The message names the worst element on a mismatch, and adds ``hint`` (what the
    usual mistake is) when one is given.
    """
    if answer is None:
        return Grade(False, f"{name}: no answer yet (the cell still holds None)", "missing")
    try:
        answer = as_host_array(answer, name)
    except (TypeError, ValueError) as error:
        return Grade(False, f"{name}: cannot be read as an array of numbers ({error})", "unreadable")
    expected = as_host_array(expected, "expected")
    if answer.shape != expected.shape:
        return Grade(False, f"{name}: shape {answer.shape}, expected {expected.shape}"
                     + (f". {hint}" if hint else ""), "shape")
    difference = np.abs(answer - expected)
    allowed = atol + rtol * np.abs(expected)
    if np.all(difference <= allowed):
        return Grade(True, f"{name} matches (largest difference {difference.max(initial=0.0):.1e})")
    worst = np.unravel_index(np.argmax(difference - allowed), expected.shape)
    return Grade(False, f"{name}: at index {tuple(int(i) for i in worst)} you have "
                 f"{answer[worst]:.6g}, expected {expected[worst]:.6g}" + (f". {hint}" if hint else ""),
                 "values")


def is_close(value, expected, rtol=1e-6, atol=1e-9):
    """Whether ``value``, a number read from an answer (None when it was not one), is
    ``expected`` to within atol + rtol * |expected|: grade_number's test."""
    return value is not None and abs(value - expected) <= atol + rtol * abs(expected)


def known_mistake(name, value, expected, mistakes, rtol=1e-6, atol=1e-9):
    """The failing Grade that names the first typical mistake ``value`` matches, or None.

    mistakes: (the value that mistake gives, the hint that explains it) pairs; value: the
    number read from the answer (readable_number), or None.
    """
    for wrong, hint in mistakes:
        if is_close(value, wrong, rtol, atol):
            return Grade(False, f"{name}: you have {value:.6g}, expected {expected:.6g}. {hint}", "values")
    return None


def grade_number(name, answer, expected, rtol=1e-6, atol=1e-9, hint=""):
    """Grades a single number, as ``grade_array`` grades arrays."""
    if answer is None:
        return Grade(False, f"{name}: no answer yet (the cell still holds None)", "missing")
    try:
        value = float(as_host_array(answer, name))
    except (TypeError, ValueError) as error:
        return Grade(False, f"{name}: expected a single number ({error})", "unreadable")
    if is_close(value, expected, rtol, atol):
        return Grade(True, f"{name} = {value:.6g}")
    return Grade(False, f"{name}: you have {value:.6g}, expected {expected:.6g}"
                 + (f". {hint}" if hint else ""), "values")
