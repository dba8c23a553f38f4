"""Making tensors as PyTorch's top-level functions do: zeros, ones, full, arange, rand,
randn, and joining them: cat, stack, flatten.

    import minires as torch          # a PyTorch script's names, unchanged
    x = torch.randn(8, 3, 32, 32)    # float32 on the default device (minires.set_device)
    torch.cat([x, x], dim=1).shape   # (8, 6, 32, 32)

Random numbers come from minires's host generator (``minires.manual_seed`` seeds it),
so a script gives the same tensors on the CPU and on the GPU; they are drawn on the
host and then moved. The joins are differentiable: ``cat`` is F.cat, ``stack`` is a
reshape of each input to a new axis and then a cat, ``flatten`` is F.flatten.
"""

import minires.functional as F
from minires import backend
from minires.tensor import Tensor


def _shape(size) -> tuple:
    """zeros(2, 3) and zeros((2, 3)) both mean the shape (2, 3), as in PyTorch."""
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    if not all(isinstance(length, int) and not isinstance(length, bool) and length >= 0 for length in size):
        raise TypeError(f"a shape is made of ints >= 0, as zeros(2, 3) or zeros((2, 3)); got {size!r}")
    return tuple(size)


def _made(array, dtype, device, requires_grad) -> Tensor:
    """``array`` (host) as a Tensor of ``dtype`` on ``device`` (None: the default device)."""
    if dtype is not None:
        array = array.astype(backend.as_dtype(dtype))
    array = backend.to_device(array, device if device is not None else backend.get_device())
    return Tensor(array, requires_grad=requires_grad)


def zeros(*size, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A tensor of zeros of shape ``size``, float32 unless ``dtype`` says otherwise."""
    xp = backend.array_module("cpu")
    return _made(xp.zeros(_shape(size), dtype=backend.float32), dtype, device, requires_grad)


def ones(*size, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A tensor of ones of shape ``size``, float32 unless ``dtype`` says otherwise."""
    xp = backend.array_module("cpu")
    return _made(xp.ones(_shape(size), dtype=backend.float32), dtype, device, requires_grad)


def full(size, fill_value, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A tensor of shape ``size`` holding ``fill_value`` (float32 for a float, int64 for an int)."""
    xp = backend.array_module("cpu")
    default = backend.int64 if isinstance(fill_value, int) and not isinstance(fill_value, bool) else backend.float32
    return _made(xp.full(_shape((size,)), fill_value, dtype=default), dtype, device, requires_grad)


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False) -> Tensor:
    """start, start + step, ... below end (arange(5) is 0..4): int64 for ints, float32 otherwise."""
    if end is None:
        start, end = 0, start
    xp = backend.array_module("cpu")
    integers = all(isinstance(value, int) and not isinstance(value, bool) for value in (start, end, step))
    return _made(xp.arange(start, end, step, dtype=backend.int64 if integers else backend.float32),
                 dtype, device, requires_grad)


def rand(*size, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Uniform numbers in [0, 1) of shape ``size``, from minires's host generator."""
    array = backend.host_generator().random(_shape(size), dtype=backend.float64).astype(backend.float32)
    return _made(array, dtype, device, requires_grad)


def randn(*size, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Standard normal numbers of shape ``size``, from minires's host generator."""
    array = backend.host_generator().standard_normal(_shape(size)).astype(backend.float32)
    return _made(array, dtype, device, requires_grad)


def cat(tensors, dim=0) -> Tensor:
    """Joins tensors along an existing axis ``dim`` (F.cat)."""
    return F.cat(list(tensors), dim)


def stack(tensors, dim=0) -> Tensor:
    """Joins tensors of one shape along a new axis ``dim``: (3, 4) x 2 -> (2, 3, 4) for dim 0."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("stack: expected a non-empty list of tensors")
    shape = tuple(tensors[0].shape)
    for index, item in enumerate(tensors):
        if tuple(item.shape) != shape:
            raise ValueError(f"stack: every tensor must have one shape; tensor 0 is {shape}, "
                             f"tensor {index} is {tuple(item.shape)}")
    axis = dim if dim >= 0 else dim + len(shape) + 1
    if not 0 <= axis <= len(shape):
        raise IndexError(f"stack: dim {dim} is out of range for tensors of {len(shape)} dimensions "
                         f"(expected {-len(shape) - 1}..{len(shape)})")
    new_shape = shape[:axis] + (1,) + shape[axis:]
    return F.cat([F.reshape(item, new_shape) for item in tensors], axis)


def flatten(x, start_dim=0, end_dim=-1) -> Tensor:
    """Merges the axes start_dim..end_dim into one (F.flatten)."""
    return F.flatten(x, start_dim, end_dim)
