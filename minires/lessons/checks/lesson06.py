"""Checks for the exercises of lesson 6, VAN: phasing the skips out.

A VAN block computes y = F(x) + (1 - alpha) x (alpha one value per channel), and
training moves alpha and its Lagrange multiplier lambda by the VAN paper's updates

    alpha  <- clip(alpha - lr (dL/dalpha + lambda), 0, 1)      (7)  descent
    lambda <- lambda + eta' (alpha - 1)                        (8)  ascent, with the new alpha
"""

import numpy as np

from minires.lessons.grading import Grade, grade_array, grade_number, readable_array, readable_number




def check_van_step(answer, alpha, multiplier, alpha_grad, lr, multiplier_lr_fraction):
    """Expects the pair (new alpha, new lambda) after one step of (7) then (8), where (8)
    uses the new, clipped alpha and eta' = multiplier_lr_fraction * lr."""
    multiplier_lr = multiplier_lr_fraction * lr
    unclipped = alpha - lr * (alpha_grad + multiplier)
    new_alpha = min(max(unclipped, 0.0), 1.0)
    new_multiplier = multiplier + multiplier_lr * (new_alpha - 1.0)
    expected = np.array([new_alpha, new_multiplier])
    if answer is None:
        return Grade(False, "(alpha, lambda): no answer yet (the cell still holds None)")
    values = readable_array(answer)
    if values is None or values.size != 2:
        return Grade(False, "(alpha, lambda): expected a pair of numbers, the new alpha and the new lambda")
    values = values.reshape(-1)                                          # (2,): alpha, lambda

    def close(value, target):
        return abs(value - target) <= 1e-9 + 1e-6 * abs(target)

    alpha_hints = [
        (unclipped, f"you did not clip: alpha = {unclipped:.6g} lies outside [0, 1], and (7) clips it"),
        (min(max(alpha - lr * (alpha_grad - multiplier), 0.0), 1.0),
         "the multiplier enters (7) as + lambda: alpha - lr (dL/dalpha + lambda)"),
    ]
    multiplier_hints = [
        (multiplier + multiplier_lr * (alpha - 1.0), "(8) uses the new alpha, the one (7) just computed, "
                                                     "not the old one"),
        (multiplier + multiplier_lr * (unclipped - 1.0), "(8) uses the new alpha after clipping"),
        (multiplier + lr * (new_alpha - 1.0), "the multiplier's step is eta' = multiplier_lr_fraction * lr, "
                                              "not lr"),
        (multiplier - multiplier_lr * (new_alpha - 1.0), "(8) is gradient ascent: lambda + eta' (alpha - 1)"),
    ]
    for position, hints, name in ((0, alpha_hints, "alpha"), (1, multiplier_hints, "lambda")):
        if close(values[position], expected[position]):
            continue
        for wrong, hint in hints:
            if close(values[position], wrong):
                return Grade(False, f"new {name}: you have {values[position]:.6g}, expected "
                                    f"{expected[position]:.6g}. {hint}")
    return grade_array("(alpha, lambda)", values, expected,
                       hint="apply (7) first, clip to [0, 1], then (8) with that alpha")


def check_multiplier_after_steps(answer, alpha, steps, multiplier_lr, start=-1.0):
    """Expects lambda after ``steps`` steps of (8) with alpha held fixed:
    start + steps * multiplier_lr * (alpha - 1), which is more negative than start."""
    expected = start + steps * multiplier_lr * (alpha - 1.0)
    value = readable_number(answer)                                      # None for None or non-numbers
    if value is not None:
        if abs(value - (start - steps * multiplier_lr * (alpha - 1.0))) <= 1e-9:
            return Grade(False, f"lambda: you have {value:.6g}, expected {expected:.6g}. With "
                                "alpha <= 1 the step eta' (alpha - 1) is never positive: lambda "
                                "can only go down from -1")
        if abs(value - (start + multiplier_lr * (alpha - 1.0))) <= 1e-9:
            return Grade(False, f"lambda: you have {value:.6g}, expected {expected:.6g}. That is "
                                f"one step; the same step repeats {steps} times")
    return grade_number("lambda", answer, expected,
                        hint="each step adds eta' (alpha - 1), the same amount while alpha stays fixed")


def check_alpha_gradient(answer, x, upstream):
    """Expects dL/dalpha (C,) of y = F(x) + (1 - alpha) x, alpha per channel of x (N, C, H, W):
    -sum over n, h, w of upstream * x."""
    x = np.asarray(x, dtype=np.float64)
    upstream = np.asarray(upstream, dtype=np.float64)
    expected = -(upstream * x).sum(axis=(0, 2, 3))                          # (C,)
    values = readable_array(answer)
    if values is not None and values.shape == expected.shape:
        if np.allclose(values, -expected, rtol=1e-6, atol=1e-9) and not np.allclose(expected, 0.0):
            return Grade(False, "dL/dalpha: the sign is wrong. dy/dalpha = -x, since alpha "
                                "removes x: dL/dalpha = -sum(G x)")
    return grade_array("dL/dalpha", answer, expected,
                       hint="alpha_c is used at every image n and pixel (h, w) of channel c: "
                            "sum G * (-x) over axes (0, 2, 3)")
