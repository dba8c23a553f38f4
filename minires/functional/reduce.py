"""Reductions: sum, mean, amax, amin (differentiable) and argmax, argmin (not).

Each takes PyTorch's ``dim`` and ``keepdim``; NumPy's ``axis`` and ``keepdims`` are
accepted as aliases, since many learners come from NumPy. ``dim=None`` reduces
over every dimension. Backward spreads the gradient back over the reduced axes:
it is reshaped to keep those axes with size 1, then broadcast to the input's shape.

``amax``/``amin`` give the values only, as torch.amax. PyTorch's ``max(x, dim)``, which
also gives the indices, is in :mod:`minires.functional.selection`.
"""

import math

from minires.autograd import Function
from minires.functional.shape_utils import normalize_dim, resolve_reduction_dims


def _kept_shape(shape, dims):
    """``shape`` with the reduced ``dims`` set to 1: the result's shape with keepdim=True."""
    return tuple(1 if axis in dims else size for axis, size in enumerate(shape))


def _check_no_empty_dim(op_name, x, dims):
    """A max or min over an empty dimension has no value (a sum's would be 0)."""
    if any(x.shape[axis] == 0 for axis in dims):
        raise ValueError(f"{op_name}: cannot reduce over an empty dimension (input shape {tuple(x.shape)})")


class Sum(Function):
    def __init__(self, dims, keepdim):
        self.dims, self.keepdim = dims, keepdim

    def forward(self, xp, x):
        self.input_shape = tuple(x.shape)
        return x.sum(axis=self.dims, keepdims=self.keepdim)

    def backward(self, grad_output):
        # Every input element contributes once to its sum: its gradient is the output's.
        grad = grad_output.reshape(_kept_shape(self.input_shape, self.dims))
        return (self.xp.broadcast_to(grad, self.input_shape),)


class Mean(Function):
    def __init__(self, dims, keepdim):
        self.dims, self.keepdim = dims, keepdim

    def forward(self, xp, x):
        self.input_shape = tuple(x.shape)
        return x.mean(axis=self.dims, keepdims=self.keepdim)

    def backward(self, grad_output):
        count = math.prod(self.input_shape[axis] for axis in self.dims)
        grad = grad_output.reshape(_kept_shape(self.input_shape, self.dims)) / count
        return (self.xp.broadcast_to(grad, self.input_shape),)


class Max(Function):
    """Largest value over ``dims``. When several elements tie for the max, the
    gradient is shared equally among them, as torch.amax does."""

    def __init__(self, dims, keepdim):
        self.dims, self.keepdim = dims, keepdim

    def forward(self, xp, x):
        _check_no_empty_dim("amax", x, self.dims)
        return self.keep_extreme(x, x.max(axis=self.dims, keepdims=True))

    def keep_extreme(self, x, extreme):
        """Saves x and its extreme (reduced axes kept, size 1); returns the output."""
        self.save_for_backward(x, extreme)                          # both are what backward compares
        if self.keepdim:
            return extreme
        return extreme.reshape(tuple(size for axis, size in enumerate(x.shape) if axis not in self.dims))

    def backward(self, grad_output):
        x, extreme = self.saved
        is_extreme = x == extreme                                   # (input shape), True at the max
        ties = is_extreme.sum(axis=self.dims, keepdims=True, dtype=grad_output.dtype)
        share = grad_output.reshape(extreme.shape) / ties           # split equally among ties
        return (self.xp.where(is_extreme, share, 0.0),)


class Min(Max):
    """Smallest value over ``dims``; the backward is Max's: the gradient goes to the
    elements equal to the result, shared equally among ties (as torch.amin)."""

    def forward(self, xp, x):
        _check_no_empty_dim("amin", x, self.dims)
        return self.keep_extreme(x, x.min(axis=self.dims, keepdims=True))


class ArgMax(Function):
    """Indices of the largest values along ``axis`` (None: of the flattened input).

    Integer indices have no gradient: Function.apply records no graph for a
    non-floating output, so this op needs no backward.
    """

    def __init__(self, axis, keepdim):
        self.axis, self.keepdim = axis, keepdim

    def forward(self, xp, x):
        if self.axis is None:
            return x.argmax()
        indices = x.argmax(axis=self.axis)
        if self.keepdim:
            indices = indices.reshape(_kept_shape(x.shape, (self.axis,)))
        return indices


class ArgMin(ArgMax):
    """Indices of the smallest values along ``axis`` (None: of the flattened input)."""

    def forward(self, xp, x):
        if self.axis is None:
            return x.argmin()
        indices = x.argmin(axis=self.axis)
        if self.keepdim:
            indices = indices.reshape(_kept_shape(x.shape, (self.axis,)))
        return indices


def sum(x, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """Sum over ``dim`` (an int, a tuple of ints, or None for all)."""
    dims, keepdim = resolve_reduction_dims("sum", x.ndim, x.shape, dim, keepdim, axis, keepdims)
    return Sum.apply(x, dims=dims, keepdim=keepdim)


def mean(x, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """Mean over ``dim`` (an int, a tuple of ints, or None for all)."""
    dims, keepdim = resolve_reduction_dims("mean", x.ndim, x.shape, dim, keepdim, axis, keepdims)
    return Mean.apply(x, dims=dims, keepdim=keepdim)


def amax(x, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """Maximum over ``dim`` (an int, a tuple of ints, or None for all), as torch.amax:
    the values only. For the indices as well, use :func:`max` with an int ``dim``."""
    dims, keepdim = resolve_reduction_dims("amax", x.ndim, x.shape, dim, keepdim, axis, keepdims)
    return Max.apply(x, dims=dims, keepdim=keepdim)


def amin(x, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """Minimum over ``dim`` (an int, a tuple of ints, or None for all), as torch.amin."""
    dims, keepdim = resolve_reduction_dims("amin", x.ndim, x.shape, dim, keepdim, axis, keepdims)
    return Min.apply(x, dims=dims, keepdim=keepdim)


def argmax(x, dim=None, keepdim=False):
    """Indices of the maximum along ``dim`` (of the flattened tensor when None); int64,
    outside the graph. Among equal values, the first index."""
    axis = None if dim is None else normalize_dim("argmax", dim, x.ndim, x.shape)
    return ArgMax.apply(x, axis=axis, keepdim=keepdim)


def argmin(x, dim=None, keepdim=False):
    """Indices of the minimum along ``dim`` (of the flattened tensor when None); int64,
    outside the graph. Among equal values, the first index."""
    axis = None if dim is None else normalize_dim("argmin", dim, x.ndim, x.shape)
    return ArgMin.apply(x, axis=axis, keepdim=keepdim)
