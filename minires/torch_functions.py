"""PyTorch's top-level functions that minires has as Tensor methods or in F:
``minires.max(x, 1)`` is ``x.max(1)``, as ``torch.max(x, 1)`` is ``x.max(1)`` in PyTorch.

    _, predicted = minires.max(outputs, 1)      # (values, indices), as torch.max
"""

import minires.functional as F
from minires.tensor import Tensor


def max(input, dim=None, keepdim=False):
    """The largest value; with ``dim``, the pair (values, indices) along it; with a
    Tensor as second argument, the elementwise maximum (as torch.max)."""
    if isinstance(dim, Tensor):
        return F.maximum(input, dim)
    return input.max() if dim is None else input.max(dim, keepdim=keepdim)


def min(input, dim=None, keepdim=False):
    """The smallest value; with ``dim``, the pair (values, indices) along it (as torch.min)."""
    return input.min() if dim is None else input.min(dim, keepdim=keepdim)


def argmax(input, dim=None, keepdim=False):
    """The index of the largest value (along ``dim``), as torch.argmax."""
    return input.argmax(dim=dim, keepdim=keepdim)


def sum(input, dim=None, keepdim=False):
    """The sum (along ``dim``), as torch.sum."""
    return input.sum(dim=dim, keepdim=keepdim)


def mean(input, dim=None, keepdim=False):
    """The mean (along ``dim``), as torch.mean."""
    return input.mean(dim=dim, keepdim=keepdim)
