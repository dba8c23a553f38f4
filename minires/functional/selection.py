"""Selecting elements by value, with their indices: max, min (along a dim) and topk.

PyTorch's ``max(x, dim)`` answers two questions at once: the largest value of each
row, and where it is. It returns a named pair ``(values, indices)``; so do ``min``
and ``topk`` here::

    values, indices = F.max(logits, dim=1)      # (N, C) -> (N,), (N,)
    _, predicted = logits.max(1)                # the usual accuracy idiom

All three are built from the same two steps: find the indices (integers, outside
the graph), then take the values at those indices with :class:`TakeAlongDim`, whose
backward puts each gradient back at the index it came from. So the gradient of
``max(x, dim).values`` goes to the one element chosen, the first of equal ones, as
in PyTorch; ``amax`` (in reduce.py) shares it equally among ties instead.
"""

from typing import NamedTuple

from minires.autograd import Function
from minires.functional.reduce import _check_no_empty_dim, amax, amin, argmax, argmin
from minires.functional.shape import reshape
from minires.functional.shape_utils import normalize_dim
from minires.tensor import Tensor


class ValuesIndices(NamedTuple):
    """What max(x, dim), min(x, dim) and topk return, as torch.return_types.max etc."""
    values: Tensor        # differentiable
    indices: Tensor       # int64, outside the graph


class TakeAlongDim(Function):
    """``x``'s elements at ``indices`` along ``axis``, as torch.take_along_dim.

    ``indices`` has x's shape except along ``axis``, where it may have any size k.
    The indices must be distinct along ``axis`` (max and topk give such): backward
    writes each gradient at its index, and a repeated index would keep only one.
    """

    def __init__(self, axis):
        self.axis = axis

    def forward(self, xp, x, indices):        # x: (..., n, ...), indices: (..., k, ...)
        self.input_shape = tuple(x.shape)
        self.save_for_backward(indices)       # backward needs only where the values came from
        return xp.take_along_axis(x, indices, axis=self.axis)        # (..., k, ...)

    def backward(self, grad_output):
        (indices,) = self.saved
        grad = self.xp.zeros(self.input_shape, dtype=grad_output.dtype)
        self.xp.put_along_axis(grad, indices, grad_output, axis=self.axis)
        return grad, None


class TopKIndices(Function):
    """Indices of the ``k`` largest (or smallest) elements along ``axis``, in order.

    Integer indices have no gradient (Function.apply records no graph for them).
    The order among equal values is not specified, as in PyTorch.
    """

    def __init__(self, axis, k, largest):
        self.axis, self.k, self.largest = axis, k, largest

    def forward(self, xp, x):
        if x.dtype.kind in "bu":
            x = x.astype(xp.int64)            # so that -x below cannot wrap around
        keys = -x if self.largest else x      # ascending order of keys = the order wanted
        order = xp.argsort(keys, axis=self.axis)                       # (..., n, ...)
        first_k = (slice(None),) * self.axis + (slice(0, self.k),)
        return order[first_k]                                          # (..., k, ...)


def _extreme_along(op_name, find_indices, x, dim, keepdim):
    """(values, indices) of max or min along one ``dim``; ``find_indices`` is argmax or argmin."""
    if not isinstance(dim, int) or isinstance(dim, bool):
        raise TypeError(f"{op_name}: dim must be one int to get (values, indices); got {dim!r}. "
                        f"For the values over several dims use a{op_name}(x, dim)")
    axis = normalize_dim(op_name, dim, x.ndim, x.shape)
    if x.ndim == 0:                            # a 0-d tensor is its own max, at index 0
        values, indices = _extreme_along(op_name, find_indices, reshape(x, (1,)), 0, False)
        return ValuesIndices(reshape(values, ()), reshape(indices, ()))
    _check_no_empty_dim(op_name, x, (axis,))
    indices = find_indices(x, axis, keepdim=True)                      # (..., 1, ...)
    values = TakeAlongDim.apply(x, indices, axis=axis)                 # (..., 1, ...)
    if not keepdim:
        shape = values.shape[:axis] + values.shape[axis + 1:]          # drop the axis of size 1
        values, indices = reshape(values, shape), reshape(indices, shape)
    return ValuesIndices(values, indices)


def max(x, dim=None, keepdim=False, *, axis=None):
    """The largest value, as torch.max.

    - ``max(x)``: the largest of all elements, a 0-d tensor (the gradient is shared
      equally among ties, as in PyTorch).
    - ``max(x, dim)``: a named pair ``(values, indices)`` along the int ``dim``; among
      equal values the first index; the gradient goes to that element only.

    For values only, over one or several dims, use :func:`amax`. ``axis`` is NumPy's
    name for ``dim``.

    Shape:
        x: (d_0, ..., d_dim, ..., d_last) -> values, indices: the same without d_dim
        (with it as 1 when keepdim=True).
    """
    dim = axis if axis is not None else dim
    if dim is None:
        return amax(x)
    return _extreme_along("max", argmax, x, dim, keepdim)


def min(x, dim=None, keepdim=False, *, axis=None):
    """The smallest value, as torch.min: see :func:`max`; :func:`amin` gives values only."""
    dim = axis if axis is not None else dim
    if dim is None:
        return amin(x)
    return _extreme_along("min", argmin, x, dim, keepdim)


def topk(x, k, dim=-1, largest=True, sorted=True):
    """The ``k`` largest elements along ``dim`` (smallest with largest=False), as torch.topk.

    Returns a named pair ``(values, indices)``, largest first. ``values`` is
    differentiable: each gradient goes back to the element it came from. The results
    are always sorted; with sorted=False PyTorch leaves the order unspecified, so a
    sorted answer is one it allows.

    Shape:
        x: (..., n, ...) with n at ``dim`` -> values, indices: (..., k, ...), 0 <= k <= n.
    """
    if not isinstance(k, int) or isinstance(k, bool):
        raise TypeError(f"topk: k must be an int; got {k!r}")
    if x.ndim == 0:
        raise ValueError("topk: the input is 0-d; give it a dimension first (x.reshape(1))")
    axis = normalize_dim("topk", dim, x.ndim, x.shape)
    size = x.shape[axis]
    if not 0 <= k <= size:
        raise RuntimeError(f"topk: k={k} is out of range for dim {dim} of size {size} "
                           f"(input shape {x.shape}); expected 0 <= k <= {size}")
    indices = TopKIndices.apply(x, axis=axis, k=k, largest=largest)      # (..., k, ...)
    return ValuesIndices(TakeAlongDim.apply(x, indices, axis=axis), indices)
