"""Checks for the exercises of lesson 6, VAN: phasing the skips out.

The toy problem of the lesson's primer, minimise x^2 subject to x = 1, has the
Lagrangian J(x, lambda) = x^2 + lambda (x - 1); gradient descent-ascent takes, at each step,

    x      <- x - eta (2 x + lambda)                           descent on x
    lambda <- lambda + eta' (x - 1)                            ascent on lambda, with the new x

A VAN block computes y = F(x) + (1 - alpha) x (alpha one value per channel), and
training moves alpha and its Lagrange multiplier lambda by the updates (7) and (8) of
"Avoiding degradation in deep feed-forward networks by phasing out skip-connections"

    alpha  <- clip(alpha - eta (dL/dalpha + lambda), 0, 1)     (7)  descent
    lambda <- lambda + eta' (alpha - 1)                        (8)  ascent, with the new alpha
"""

import numpy as np

from minires.lessons.grading import Grade, grade_array, grade_number, readable_array, readable_number


def toy_iterates(x_step, multiplier_step, start_x, start_multiplier, steps, simultaneous=False,
                 multiplier_sign=1.0, x_gradient=lambda x, multiplier: 2.0 * x + multiplier):
    """(steps, 2) array of (x, lambda) after each step of descent-ascent on x^2 + lambda (x - 1).

    The keyword arguments other than the first five build the typical wrong answers:
    lambda's step from the old x (simultaneous), descent on lambda (multiplier_sign -1),
    another derivative of J with respect to x (x_gradient)."""
    x, multiplier = float(start_x), float(start_multiplier)
    iterates = []
    for _ in range(steps):
        new_x = x - x_step * x_gradient(x, multiplier)                             # descent on x
        read_x = x if simultaneous else new_x
        multiplier = multiplier + multiplier_sign * multiplier_step * (read_x - 1.0)   # ascent on lambda
        x = new_x
        iterates.append((x, multiplier))
    return np.array(iterates)                                                      # (steps, 2)


def check_toy_iterates(answer, x_step, multiplier_step, start_x=0.0, start_multiplier=-1.0, steps=2):
    """Expects the (steps, 2) array of (x_t, lambda_t), t = 1 .. steps, of gradient
    descent-ascent on J(x, lambda) = x^2 + lambda (x - 1): x <- x - eta (2 x + lambda),
    then lambda <- lambda + eta' (x - 1) with that new x (eta = x_step, eta' = multiplier_step)."""
    arguments = (x_step, multiplier_step, start_x, start_multiplier, steps)
    expected = toy_iterates(*arguments)
    name = f"(x, lambda) after steps 1 to {steps}"
    values = readable_array(answer)
    if values is not None and values.size == 2 and steps > 1:
        return Grade(False, f"{name}: you gave one pair; give one row (x_t, lambda_t) for each of the "
                            f"{steps} steps, shape ({steps}, 2)", "shape")
    if values is not None and values.shape == expected.shape:
        mistakes = [
            (toy_iterates(*arguments, simultaneous=True),
             "lambda's step reads the old x; take the x this step has just computed, as minires's VAN "
             "update (8) takes the new alpha"),
            (toy_iterates(*arguments, multiplier_sign=-1.0),
             "lambda goes UP the gradient of J: lambda + eta' dJ/dlambda, with dJ/dlambda = x - 1"),
            (toy_iterates(*arguments, x_gradient=lambda x, multiplier: 2.0 * x),
             "dJ/dx has two terms: 2 x from x^2 and lambda from lambda (x - 1)"),
            (toy_iterates(*arguments, x_gradient=lambda x, multiplier: x + multiplier),
             "the derivative of x^2 is 2 x, not x"),
            (toy_iterates(x_step, x_step, start_x, start_multiplier, steps),
             "lambda's step is eta' (multiplier_step), not x's eta"),
        ]
        for wrong, hint in mistakes:
            if np.allclose(values, wrong, rtol=1e-6, atol=1e-9) and not np.allclose(wrong, expected):
                return Grade(False, f"{name}: {hint}", "values")
    if values is not None and values.shape == expected.T.shape and np.allclose(values, expected.T) \
            and not np.allclose(expected, expected.T):
        return Grade(False, f"{name}: the right numbers, transposed: one row per step, (x_t, lambda_t)", "shape")
    return grade_array(name, answer, expected,
                       hint="each step: x - eta (2 x + lambda) first, then lambda + eta' (new x - 1); "
                            "rows are steps, columns (x, lambda)")


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
