"""In-place updates: add_, sub_, mul_, div_, zero_, fill_, clamp_, copy_ (not differentiable).

Each changes ``x.array`` where it is and returns ``x``, as PyTorch's methods of the same
names. They are for tensors outside the autograd graph: data, running statistics, an
accuracy counter, and parameters inside ``no_grad()`` (an optimiser's step)::

    with minires.no_grad():
        weight.sub_(learning_rate * weight.grad)    # weight requires grad: fine here

minires has no in-place ops on tensors in the graph. Backward reads the values that
forward saved, and changing them in place would make it compute a wrong gradient;
PyTorch detects that with a version counter on each tensor, minires has none, so it
refuses instead: on a tensor computed by an op (``x.grad_fn`` is set), and on a leaf
that requires grad outside ``no_grad()``. One case neither can see: a tensor that needs
no grad but was saved by an op (the ``x`` of ``w * x``). Changing it before backward
makes ``w``'s gradient wrong; PyTorch would raise, minires cannot tell.

The augmented assignments (``x += y``, ``-=``, ``*=``, ``/=``) use these ops where
PyTorch works in place and minires can: see :func:`makes_new_tensor`.
"""

from minires import backend
from minires.autograd import array_of, is_grad_enabled
from minires.functional.shape_utils import broadcast_shape, shape_of


def _check_can_change(op_name, x):
    """Refuses, with the reason and the fix, to change a tensor of the graph in place."""
    if x.grad_fn is not None:
        raise RuntimeError(
            f"{op_name}: minires has no in-place ops on tensors in the autograd graph; this one was "
            f"computed by {x.grad_fn!r}, whose backward may need its values. To change a copy, "
            f"use the out-of-place op (y = x * 2, not x.mul_(2))")
    if x.requires_grad and is_grad_enabled():
        raise RuntimeError(
            f"{op_name}: minires has no in-place ops on tensors that require grad, outside no_grad() "
            f"(this one is a leaf with requires_grad=True, shape {x.shape}); use the out-of-place op "
            f"instead (y = x * 2, not x.mul_(2)), or, to update a parameter, call {op_name} inside "
            f"`with minires.no_grad():` as optimisers do")


def makes_new_tensor(x, other) -> bool:
    """Whether ``x += other`` (and -=, *=, /=) computes a new tensor instead of changing x.

    As in PyTorch, ``x += y`` changes x in place when x is outside the graph (data, an
    accuracy counter, ``p.data -= lr * p.grad``) and on a parameter inside no_grad();
    on a leaf that requires grad outside no_grad() the in-place op refuses. Where
    PyTorch works in place on a tensor of the graph (one computed by an op, or any x
    when ``other`` needs a gradient), minires has no in-place op and computes
    ``x = x + other`` instead: the ``out += shortcut`` of a residual block gets the same
    values and gradients, though another name for the old x keeps its old values.
    """
    other_needs_grad = getattr(other, "requires_grad", False) and is_grad_enabled()
    return x.grad_fn is not None or other_needs_grad


def _check_operand_outside_graph(op_name, other):
    """Refuses an operand that requires grad (outside no_grad()): PyTorch would put the
    result in the graph, and minires's in-place ops are outside it."""
    if getattr(other, "requires_grad", False) and is_grad_enabled():
        raise RuntimeError(
            f"{op_name}: the operand requires grad, so the result would need a place in the autograd "
            f"graph, and minires's in-place ops are outside it; use the out-of-place op "
            f"(x = x + y), or update inside `with minires.no_grad():`")


def _operand(op_name, x, other):
    """The array or Python number that updates ``x``: on x's device, and of a shape that
    broadcasts to x's shape without enlarging it (the result must fit in x)."""
    _check_operand_outside_graph(op_name, other)
    other = backend.scalar_value(array_of(other))
    if backend.is_array(other):
        if backend.device_of(other) != x.device:
            raise backend.DeviceMismatchError(
                f"{op_name}: tensor on {x.device}, operand on {backend.device_of(other)}; "
                "move one with .to(device)")
    elif not isinstance(other, (bool, int, float)):
        raise TypeError(f"{op_name}: expected a Tensor or a Python number; got {type(other).__name__}")
    if broadcast_shape(op_name, x.shape, shape_of(other)) != x.shape:
        raise ValueError(f"{op_name}: an operand of shape {shape_of(other)} does not fit in place in "
                         f"a tensor of shape {x.shape} (broadcasting would enlarge it)")
    return other


def _apply_ufunc(op_name, ufunc_name, x, other):
    """x.array = ufunc(x.array, other), written into x.array itself."""
    _check_can_change(op_name, x)
    other = _operand(op_name, x, other)
    ufunc = getattr(backend.get_array_module(x.array), ufunc_name)   # xp.add, xp.multiply ...
    try:
        ufunc(x.array, other, out=x.array, casting="same_kind")
    except TypeError as error:          # NumPy's and CuPy's casting errors are TypeErrors
        raise TypeError(f"{op_name}: the result cannot be stored in this {x.dtype} tensor without "
                        f"changing its kind (as PyTorch, minires does not cast floats into integers "
                        f"in place); convert first, e.g. x = x.float()") from error
    return x


def add_(x, other, *, alpha=1):
    """x += alpha * other, in place."""
    return _apply_ufunc("add_", "add", x, other if alpha == 1 else array_of(other) * alpha)


def sub_(x, other, *, alpha=1):
    """x -= alpha * other, in place."""
    return _apply_ufunc("sub_", "subtract", x, other if alpha == 1 else array_of(other) * alpha)


def mul_(x, other):
    """x *= other, in place."""
    return _apply_ufunc("mul_", "multiply", x, other)


def div_(x, other):
    """x /= other (true division), in place; an integer tensor refuses, as in PyTorch."""
    return _apply_ufunc("div_", "true_divide", x, other)


def clamp_(x, min=None, max=None):
    """Limits x to [min, max] in place (either bound may be None, not both)."""
    if min is None and max is None:
        raise ValueError("clamp_: give min, max or both")
    if min is not None:
        _apply_ufunc("clamp_", "maximum", x, min)
    if max is not None:
        _apply_ufunc("clamp_", "minimum", x, max)
    return x


def setitem(x, index, value):
    """x[index] = value, in place (Tensor.__setitem__): ``x[mask] = 0``, ``p.data[...] = w``.

    ``index`` is what NumPy takes (ints, slices, arrays), or a Tensor of ints or bools on
    x's device; ``value`` a number, or a Tensor or array on x's device that broadcasts
    to the selected part.
    """
    _check_can_change("__setitem__", x)
    _check_operand_outside_graph("__setitem__", value)
    index = array_of(index)
    value = backend.scalar_value(array_of(value))
    for name, part in (("index", index), ("value", value)):
        if backend.is_array(part) and backend.device_of(part) != x.device:
            raise backend.DeviceMismatchError(
                f"__setitem__: tensor on {x.device}, {name} on {backend.device_of(part)}; "
                "move it with .to(device)")
    try:
        x.array[index] = value
    except (IndexError, ValueError, TypeError) as error:
        raise type(error)(f"__setitem__: cannot set {x.dtype} tensor of shape {x.shape} at "
                          f"{index!r:.60}: {error}") from error


def fill_(x, value):
    """Sets every element of x to ``value`` (a number or a one-element tensor)."""
    _check_can_change("fill_", x)
    value = backend.scalar_value(array_of(value))
    if backend.is_array(value):
        if value.size != 1:
            raise ValueError(f"fill_: the value must have one element; got shape {tuple(value.shape)}")
        value = value.reshape(())                   # 0-d, on its device: no copy to the host
        if backend.device_of(value) != x.device:
            raise backend.DeviceMismatchError(
                f"fill_: tensor on {x.device}, value on {backend.device_of(value)}")
    x.array[...] = value
    return x


def zero_(x):
    """Sets every element of x to 0."""
    return fill_(x, 0)


def copy_(x, source):
    """Copies ``source``'s values into x, in place: broadcast to x's shape, converted to
    x's dtype, and moved to x's device if it is elsewhere (as PyTorch's copy_)."""
    _check_can_change("copy_", x)
    _check_operand_outside_graph("copy_", source)
    source = backend.scalar_value(array_of(source))
    if backend.is_array(source):
        source = backend.to_device(source, x.device)        # an explicit copy, as torch's copy_
    if broadcast_shape("copy_", x.shape, shape_of(source)) != x.shape:
        raise ValueError(f"copy_: a source of shape {shape_of(source)} does not fit in a tensor of "
                         f"shape {x.shape}")
    x.array[...] = source
    return x
