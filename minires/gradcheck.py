"""Checking gradients against finite differences.

The derivative of f at x is the limit of (f(x + eps) - f(x - eps)) / (2 eps) as eps
goes to 0. This central difference has an error of order eps^2 (a one-sided
difference, order eps), so in float64 with eps = 1e-6 it agrees with the exact
derivative to about 1e-9 for smooth functions. In float32 it would not: rounding
alone (1e-7 relative) divided by eps swamps the answer, which is why everything
here runs in float64.

For a function with many outputs, comparing whole Jacobians costs one backward per
output. Instead, both sides are projected on one random direction w (fixed seed):
backward is given ``grad=w``, and the finite differences are taken of
sum(f(x) * w). A wrong gradient survives a random projection only by accident.
"""

import math
import warnings

from minires import backend
from minires.autograd import no_grad
from minires.tensor import Tensor


class GradcheckError(AssertionError):
    """Autograd's gradient and the finite-difference gradient disagree."""


def _float64_copy(value):
    """A float64 copy of a floating Tensor, array or Python float (a new leaf); other
    values (ints, bools, anything else) as they are.

    The copy is C-contiguous (``order="C"``): the central differences perturb it through
    ``reshape(-1)``, which is a view only for a contiguous array (for a transposed one it
    would be a copy, and the perturbations would never reach the input).
    """
    if isinstance(value, Tensor):
        if not backend.is_floating(value.dtype):
            return value
        return Tensor(value.array.astype(backend.float64, order="C"), requires_grad=value.requires_grad)
    if backend.is_array(value) and backend.is_floating(value.dtype):
        return value.astype(backend.float64, order="C")
    if isinstance(value, float):              # a Python float: a 0-d array that can be perturbed
        return backend.host_array(value, backend.float64)
    return value


def _array_of(value):
    return value.array if isinstance(value, Tensor) else value


def _objective(fn, args, weights):
    """sum(fn(*args) * weights) as a Python float (sum(fn(*args)) when weights is None)."""
    with no_grad():
        output = _array_of(fn(*args))
    if weights is not None:
        output = output * weights
    return float(output.sum()) if hasattr(output, "sum") else float(output)


def _central_differences(fn, args, position, weights, eps):
    """d objective / d args[position], element by element, perturbing it in place.

    Returns (gradient array on the input's device, f(x), [f(x + eps e_k)], [f(x - eps e_k)]);
    the one-sided values let gradcheck notice a kink.
    """
    data = _array_of(args[position])
    flat = data.reshape(-1)                 # a view: writing to it perturbs the input
    center = _objective(fn, args, weights)
    plus, minus = [], []
    for k in range(flat.size):
        original = float(flat[k])
        flat[k] = original + eps
        plus.append(_objective(fn, args, weights))
        flat[k] = original - eps
        minus.append(_objective(fn, args, weights))
        flat[k] = original
    slopes = [(p - m) / (2.0 * eps) for p, m in zip(plus, minus)]
    grad = backend.host_array(slopes, backend.float64).reshape(data.shape)
    return backend.to_device(grad, backend.device_of(data)), center, plus, minus


def numerical_grad(fn, *inputs, eps=1e-6, grad_output=None):
    """The gradient of ``fn`` w.r.t. each input by central differences, in float64.

    Args:
        fn: a function of the inputs returning a Tensor, an array or a number.
        inputs: Tensors, arrays or numbers, passed to ``fn`` as float64 copies.
        eps: the step of the central difference.
        grad_output: weights w: the gradient is that of sum(fn(*inputs) * w).
            None means w = 1 (the gradient of fn(...).sum(), or of a scalar fn).

    Returns:
        A list with one float64 array per input (on that input's device), or None
        for inputs that are not floating-point.
    """
    args = [_float64_copy(value) for value in inputs]
    weights = _array_of(grad_output) if grad_output is not None else None
    grads = []
    for position, value in enumerate(args):
        data = _array_of(value)
        if backend.is_array(data) and backend.is_floating(data.dtype):
            grads.append(_central_differences(fn, args, position, weights, eps)[0])
        else:
            grads.append(None)
    return grads


def _unravel(flat_index, shape):
    index = []
    for size in reversed(shape):
        flat_index, rest = divmod(flat_index, size)
        index.append(rest)
    return tuple(reversed(index))


def gradcheck(fn, *inputs, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True, seed=0):
    """Compares autograd's gradients with central differences; True when they agree.

    Every floating input is cast to a float64 copy first (a warning says so when an
    input was not float64). Inputs checked: the Tensors with requires_grad=True. An
    element passes when |analytic - numeric| <= atol + rtol * |numeric|.

    On failure it raises GradcheckError (or warns and returns False with
    ``raise_exception=False``), naming the input, the worst element's index, both
    values and the relative error, with a hint when the function has a kink (a ReLU
    at 0, a max with a tie) within eps of that element. A non-finite gradient (NaN or
    infinity, analytic or numeric) or a non-finite output fails, and the report says so.
    """
    casts = [f"input {i} ({value.dtype})" for i, value in enumerate(inputs)
             if (isinstance(value, Tensor) or backend.is_array(value))
             and backend.is_floating(value.dtype) and value.dtype != backend.float64]
    if casts:
        warnings.warn(f"gradcheck: casting {', '.join(casts)} to float64: finite differences "
                      "need double precision", stacklevel=2)
    args = [_float64_copy(value) for value in inputs]
    checked = [i for i, value in enumerate(args) if isinstance(value, Tensor) and value.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input is a floating Tensor with requires_grad=True")

    output = fn(*args)
    if not isinstance(output, Tensor) or not output.requires_grad:
        raise ValueError("gradcheck: fn must return a Tensor computed from the inputs that require grad")
    weights = backend.to_device(backend.host_random_normal(output.shape, seed), output.device)
    output.backward(weights)

    for position in checked:
        value = args[position]
        xp = backend.get_array_module(value.array)
        analytic = value.grad.array if value.grad is not None else xp.zeros(value.shape, dtype=value.dtype)
        numeric, center, plus, minus = _central_differences(fn, args, position, weights, eps)
        excess = xp.abs(analytic - numeric) - (atol + rtol * xp.abs(numeric))
        # NaN compares false with everything: a non-finite gradient, analytic or numeric,
        # or a non-finite output, is a failure of its own (marked inf), not a pass
        finite = xp.isfinite(analytic) & xp.isfinite(numeric) & math.isfinite(center)
        excess = xp.where(finite, excess, xp.inf)
        worst = int(excess.argmax()) if excess.size else 0
        if excess.size == 0 or float(excess.reshape(-1)[worst]) <= 0:
            continue
        message = _failure_message(position, value.shape, worst, analytic, numeric, excess,
                                   center, plus[worst], minus[worst], eps, atol, rtol)
        if raise_exception:
            raise GradcheckError(message)
        warnings.warn(message, stacklevel=2)
        return False
    return True


def _failure_message(position, shape, worst, analytic, numeric, excess,
                     center, plus, minus, eps, atol, rtol):
    a = float(analytic.reshape(-1)[worst])
    n = float(numeric.reshape(-1)[worst])
    failing = int((excess > 0).sum())
    relative = abs(a - n) / max(abs(a), abs(n), 1e-300)
    lines = [
        f"gradcheck: the gradient of input {position} (shape {shape}) is wrong at index "
        f"{_unravel(worst, shape)} ({failing} of {excess.size} elements fail):",
        f"    analytic (backward):            {a!r}",
        f"    numeric (central, eps={eps:g}):   {n!r}",
        f"    |analytic - numeric| = {abs(a - n):.3e}, allowed atol + rtol*|numeric| = "
        f"{atol + rtol * abs(n):.3e}, relative error {relative:.3e}",
    ]
    xp = backend.get_array_module(excess)
    non_finite = int((~(xp.isfinite(analytic) & xp.isfinite(numeric))).sum())
    if not math.isfinite(center):
        lines.append(f"    the output is not finite at this point (sum(f(x) * w) = {center!r}), so no "
                     "gradient can be checked there: every element fails")
    if non_finite:
        lines.append(
            f"    {non_finite} of {excess.size} elements have a non-finite gradient (NaN or infinity, "
            "analytic or numeric): the function is not finite, or not differentiable, at this point; "
            "check another point")
    right, left = (plus - center) / eps, (center - minus) / eps
    if abs(right - left) > 10 * (atol + rtol * max(abs(left), abs(right))):
        lines.append(
            f"    hint: the one-sided slopes differ here (left {left:.6g}, right {right:.6g}): the "
            "function has a kink within eps of this point, such as a ReLU at 0 or a max with a "
            "tie, where no derivative exists. Move the input away from it (e.g. x + 0.1 * sign(x)) "
            "or check another point.")
    return "\n".join(lines)
