"""Selecting and assembling: getitem (x[index]), concatenate, pad."""

from minires import backend
from minires.autograd import Function, array_of
from minires.functional.shape_utils import normalize_dim


def _device_index(xp, index, shape, device):
    """``index`` with every index array on ``device``, checked against ``shape``.

    Returns (index as a tuple, whether it holds arrays). Lists and host (NumPy)
    index arrays are copied to the device explicitly, as PyTorch does for CPU
    indices of a CUDA tensor. Integer arrays are bounds-checked here because CuPy
    does not check: it wraps out-of-range indices around silently. That check costs
    one device-to-host synchronisation per getitem with index arrays.
    """
    items = list(index) if isinstance(index, tuple) else [index]
    has_arrays = False
    for position, item in enumerate(items):
        item = array_of(item)
        if isinstance(item, list):
            item = xp.asarray(item)
        if backend.is_array(item):
            if backend.device_of(item) == "cpu" and device != "cpu":
                item = xp.asarray(item)                       # an explicit host-to-device copy
            elif backend.device_of(item) != device:
                raise backend.DeviceMismatchError(
                    f"getitem: index array on {backend.device_of(item)} for a tensor on {device}")
            if item.dtype != bool and item.dtype.kind not in "iu":
                raise IndexError(f"getitem: index arrays must hold integers or booleans; got {item.dtype}")
            has_arrays = True
        items[position] = item

    # Which axis of x each item indexes: None adds an axis, Ellipsis stands for the
    # axes that no other item takes, a boolean array takes as many axes as it has.
    def axes_taken(item):
        if item is None or item is Ellipsis:
            return 0
        return item.ndim if backend.is_array(item) and item.dtype == bool else 1

    named = sum(axes_taken(item) for item in items)
    axis = 0
    for item in items:
        if item is Ellipsis:
            axis += len(shape) - named
            continue
        if backend.is_array(item) and item.dtype != bool and axis < len(shape):
            size = shape[axis]
            out_of_range = (item < -size) | (item >= size)
            if bool(out_of_range.any()):                      # a synchronisation on a GPU
                first_bad = int(item[out_of_range].ravel()[0])
                raise IndexError(
                    f"getitem: index {first_bad} is out of range for dimension {axis} of size {size} "
                    f"(tensor shape {tuple(shape)})")
        axis += axes_taken(item)
    return tuple(items), has_arrays


class GetItem(Function):
    """x[index] with basic (ints, slices, None, ...) and integer-array indexing.

    Backward scatters the gradient into zeros of the input's shape. With index
    arrays one element may be picked several times (x[[0, 0]]); its gradient is then
    the sum over the picks, which ``xp.add.at`` computes (``g[index] += v`` would
    keep only the last pick).
    """

    def __init__(self, index):
        self.index = index

    def forward(self, xp, x):
        self.index, self.has_arrays = _device_index(xp, self.index, x.shape, backend.device_of(x))
        self.input_shape = tuple(x.shape)
        try:
            return x[self.index]
        except IndexError as error:
            raise IndexError(f"getitem: invalid index for a tensor of shape {tuple(x.shape)}: {error}") from None

    def backward(self, grad_output):
        # zeros of x's shape, laid out in memory like the incoming gradient when they have
        # as many dimensions (zeros_like's order "K"), so that a channels-last gradient stays so
        grad = self.xp.zeros_like(grad_output, shape=self.input_shape)
        if self.has_arrays:
            self.xp.add.at(grad, self.index, grad_output)   # repeated indices add up
        else:
            grad[self.index] = grad_output                  # basic indexing picks each element once
        return (grad,)


class Concatenate(Function):
    def __init__(self, dim):
        self.dim = dim

    def forward(self, xp, *arrays):
        if not arrays:
            raise ValueError("concatenate: needs at least one tensor")
        first = arrays[0]
        for number, array in enumerate(arrays):
            if not backend.is_array(array) or array.ndim == 0:
                raise ValueError(f"concatenate: input {number} must be a tensor with at least one dimension")
        self.axis = normalize_dim("concatenate", self.dim, first.ndim, first.shape)
        for number, array in enumerate(arrays):
            others = [s for axis, s in enumerate(array.shape) if axis != self.axis]
            expected = [s for axis, s in enumerate(first.shape) if axis != self.axis]
            if array.ndim != first.ndim or others != expected:
                raise ValueError(
                    f"concatenate: tensor {number} has shape {tuple(array.shape)} but tensor 0 has "
                    f"{tuple(first.shape)}: all dimensions except dim {self.dim} must match")
        self.sizes = [array.shape[self.axis] for array in arrays]
        return xp.concatenate(arrays, axis=self.axis)

    def backward(self, grad_output):
        grads, start = [], 0
        for size, needed in zip(self.sizes, self.needs_input_grad):
            piece = [slice(None)] * grad_output.ndim
            piece[self.axis] = slice(start, start + size)
            grads.append(grad_output[tuple(piece)] if needed else None)
            start += size
        return tuple(grads)


class Pad(Function):
    """Constant padding, with PyTorch's order: (left, right) for the last dimension,
    then (top, bottom) for the one before, and so on."""

    def __init__(self, pad, value):
        if not isinstance(pad, (tuple, list)):
            raise TypeError(f"pad: pad must be a tuple such as (left, right, top, bottom); got {pad!r}")
        self.pad, self.value = tuple(pad), float(value)

    def forward(self, xp, x):
        pad = self.pad
        if (len(pad) % 2 or len(pad) // 2 > x.ndim
                or not all(isinstance(p, int) and p >= 0 for p in pad)):
            raise ValueError(
                f"pad: pad must list non-negative int pairs, last dimension first, at most "
                f"{x.ndim} pairs for shape {tuple(x.shape)}; got {pad}")
        self.widths = [(0, 0)] * x.ndim
        for pair in range(len(pad) // 2):
            self.widths[x.ndim - 1 - pair] = (pad[2 * pair], pad[2 * pair + 1])
        self.input_shape = tuple(x.shape)
        padded_shape = tuple(before + size + after for (before, after), size in zip(self.widths, x.shape))
        # a new array in x's memory layout (a channels-last x gives a channels-last result),
        # filled with the value, then x copied into the middle
        output = xp.full_like(x, self.value, shape=padded_shape)
        output[self._middle()] = x
        return output

    def backward(self, grad_output):
        # The padding is constant: only the middle, where x went, has a gradient.
        return (grad_output[self._middle()],)

    def _middle(self):
        """The index of the part of the padded array where x lies."""
        return tuple(slice(before, before + size) for (before, _), size in zip(self.widths, self.input_shape))


def getitem(x, index):
    """x[index]: ints, slices, None, Ellipsis, and integer or boolean index arrays."""
    return GetItem.apply(x, index=index)


def concatenate(tensors, dim=0):
    """Joins tensors along an existing dimension (torch.cat)."""
    if not isinstance(tensors, (list, tuple)):
        raise TypeError(f"concatenate: expects a list or tuple of tensors; got {type(tensors).__name__}")
    return Concatenate.apply(*tensors, dim=dim)


cat = concatenate


def pad(x, pad, mode="constant", value=None):
    """Pads x with a constant, as torch.nn.functional.pad with mode="constant".

    Args:
        x: a Tensor of any shape.
        pad: (left, right) for the last dimension, then (top, bottom) for the one
            before, and so on: (left, right, top, bottom, front, back) pads three.
        mode: "constant" only; PyTorch's "reflect", "replicate" and "circular" are
            not implemented (a ValueError says so).
        value: the constant; None means 0, as in PyTorch.

    Shape:
        (N, C, H, W) with pad (1, 1, 2, 2) -> (N, C, H + 4, W + 2)
    """
    if mode != "constant":
        raise ValueError(f"pad: mode {mode!r} is not supported; minires pads with a constant only "
                         "(mode='constant', value=...)")
    return Pad.apply(x, pad=pad, value=0.0 if value is None else value)
