"""Shape arithmetic shared by the ops: broadcasting, its reverse, dim and argument checks.

Broadcasting lines shapes up from the right; two sizes fit when they are equal or
one of them is 1. ``(8, 1, 5) + (3, 1)`` gives ``(8, 3, 5)``. In backward the
gradient has the broadcast shape and must be summed back to each input's shape:
over the leading axes that broadcasting added, and over the axes where the input
had size 1. That is :func:`sum_to_shape`.
"""

from minires import backend


def shape_of(value) -> tuple:
    """The shape of an array; () for a Python number."""
    return tuple(value.shape) if hasattr(value, "shape") else ()


def broadcast_shape(op_name: str, *shapes) -> tuple:
    """The shape that ``shapes`` broadcast to, or a ValueError naming the op and shapes."""
    ndim = max(len(shape) for shape in shapes)
    result = []
    for axis in range(-ndim, 0):
        sizes = {shape[axis] for shape in shapes if len(shape) >= -axis}
        sizes.discard(1)
        if len(sizes) > 1:
            listed = " and ".join(str(tuple(shape)) for shape in shapes)
            raise ValueError(
                f"{op_name}: shapes {listed} cannot be broadcast together: at dimension {axis} "
                f"the sizes are {sorted(sizes)} (sizes must be equal, or one of them 1)")
        result.append(sizes.pop() if sizes else 1)
    return tuple(result)


def sum_to_shape(grad, shape):
    """Sums ``grad`` (of a broadcast shape) back to ``shape``, undoing broadcasting.

    Example: grad (8, 3, 5), shape (3, 1) -> sum over axis 0 (added) and axis 2
    (stretched from 1), giving (3, 1).
    """
    shape = tuple(shape)
    if tuple(grad.shape) == shape:
        return grad
    added = grad.ndim - len(shape)
    stretched = tuple(added + axis for axis, size in enumerate(shape)
                      if size == 1 and grad.shape[added + axis] != 1)
    grad = grad.sum(axis=tuple(range(added)) + stretched, keepdims=True)
    return grad.reshape(shape)


def normalize_dim(op_name: str, dim: int, ndim: int, shape=None) -> int:
    """``dim`` as a non-negative axis, accepting negative ones as PyTorch does."""
    if not isinstance(dim, int) or isinstance(dim, bool):
        raise TypeError(f"{op_name}: dim must be an int; got {dim!r}")
    if not -ndim <= dim < max(ndim, 1):
        where = f" (shape {tuple(shape)})" if shape is not None else ""
        raise IndexError(
            f"{op_name}: dim {dim} is out of range for a tensor with {ndim} dimensions{where}; "
            f"expected a dim in [{-ndim}, {ndim - 1}]")
    return dim % ndim if ndim else 0


def normalize_dims(op_name: str, dim, ndim: int, shape=None) -> tuple:
    """``dim`` (None, an int or a tuple of ints) as a sorted tuple of axes; None means all."""
    if dim is None:
        return tuple(range(ndim))
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    axes = tuple(sorted(normalize_dim(op_name, d, ndim, shape) for d in dims))
    if len(set(axes)) != len(axes):
        raise ValueError(f"{op_name}: dim {dim!r} names the same axis twice")
    return axes


def resolve_reduction_dims(op_name, ndim, shape, dim, keepdim, axis, keepdims):
    """Accepts PyTorch's ``dim``/``keepdim`` and NumPy's ``axis``/``keepdims`` alike."""
    if axis is not None:
        if dim is not None:
            raise TypeError(f"{op_name}: give dim or axis (its NumPy name), not both")
        dim = axis
    if keepdims is not None:
        keepdim = keepdims
    return normalize_dims(op_name, dim, ndim, shape), bool(keepdim)


def pair(op_name: str, name: str, value, minimum: int) -> tuple:
    """An int or a pair of ints as ``(height, width)``, each at least ``minimum``.

    Convolutions and pools take ``stride=2`` or ``stride=(2, 1)``, as in PyTorch.
    """
    if isinstance(value, int):
        values = (value, value)
    elif isinstance(value, (tuple, list)):
        values = tuple(value)
    else:
        values = ()
    if len(values) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        raise TypeError(f"{op_name}: {name} must be an int or a pair of ints; got {value!r}")
    if min(values) < minimum:
        raise ValueError(f"{op_name}: {name} must be at least {minimum}; got {value!r}")
    return values


def check_float_dtypes(op_name, **arrays):
    """All given arrays share one floating dtype (as PyTorch requires for conv and norms)."""
    dtypes = {name: array.dtype for name, array in arrays.items() if array is not None}
    if not all(backend.is_floating(dtype) for dtype in dtypes.values()) or len(set(dtypes.values())) > 1:
        listed = ", ".join(f"{name} {dtype}" for name, dtype in dtypes.items())
        raise TypeError(f"{op_name}: expected inputs of one floating dtype; got {listed} "
                        "(convert with .float() or .double())")
