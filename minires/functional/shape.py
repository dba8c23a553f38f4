"""Shape ops: reshape, flatten, transpose, permute, broadcast_to.

They move no arithmetic, only layout, so each backward undoes its forward's layout
change on the gradient (broadcast_to's backward sums, since a value used many times
collects the gradient of every use).
"""

import math

from minires.autograd import Function
from minires.functional.shape_utils import broadcast_shape, normalize_dim, sum_to_shape


def _resolved_shape(input_shape, shape):
    """``shape`` with its one allowed -1 filled in, checked against the input's size."""
    size = math.prod(input_shape)
    shape = tuple(int(n) for n in shape)
    unknown = [axis for axis, n in enumerate(shape) if n == -1]
    known = math.prod(n for n in shape if n != -1)
    fits = len(unknown) <= 1 and all(n >= 0 or n == -1 for n in shape)
    if fits and unknown:
        fits = known > 0 and size % known == 0
        shape = tuple(size // known if n == -1 else n for n in shape)
    if not fits or math.prod(shape) != size:
        raise ValueError(
            f"reshape: cannot reshape a tensor of shape {tuple(input_shape)} ({size} elements) "
            f"into {shape}: the sizes must have the same product (one -1 may stand for the rest)")
    return shape


class Reshape(Function):
    def __init__(self, shape):
        self.shape = shape

    def forward(self, xp, x):
        self.input_shape = tuple(x.shape)
        return x.reshape(_resolved_shape(x.shape, self.shape))

    def backward(self, grad_output):
        return (grad_output.reshape(self.input_shape),)


class Transpose(Function):
    """Swaps two dimensions (torch.transpose), not NumPy's full axis reversal."""

    def __init__(self, dim0, dim1):
        self.dim0, self.dim1 = dim0, dim1

    def forward(self, xp, x):
        self.axes = (normalize_dim("transpose", self.dim0, x.ndim, x.shape),
                     normalize_dim("transpose", self.dim1, x.ndim, x.shape))
        return xp.swapaxes(x, *self.axes)

    def backward(self, grad_output):
        return (self.xp.swapaxes(grad_output, *self.axes),)   # a swap is its own inverse


class Permute(Function):
    """Reorders dimensions: output dimension i is input dimension dims[i]."""

    def __init__(self, dims):
        self.dims = dims

    def forward(self, xp, x):
        axes = tuple(normalize_dim("permute", d, x.ndim, x.shape) for d in self.dims)
        if sorted(axes) != list(range(x.ndim)):
            raise ValueError(
                f"permute: dims {tuple(self.dims)} are not a permutation of the {x.ndim} "
                f"dimensions of a tensor of shape {tuple(x.shape)}")
        inverse = [0] * x.ndim               # inverse[d] = where input dimension d went
        for position, axis in enumerate(axes):
            inverse[axis] = position
        self.inverse = tuple(inverse)
        return x.transpose(axes)

    def backward(self, grad_output):
        return (grad_output.transpose(self.inverse),)


class BroadcastTo(Function):
    def __init__(self, shape):
        self.shape = tuple(shape)

    def forward(self, xp, x):
        if broadcast_shape("broadcast_to", tuple(x.shape), self.shape) != self.shape:
            raise ValueError(f"broadcast_to: a tensor of shape {tuple(x.shape)} cannot be "
                             f"broadcast to {self.shape}")
        self.input_shape = tuple(x.shape)
        return xp.broadcast_to(x, self.shape)

    def backward(self, grad_output):
        return (sum_to_shape(grad_output, self.input_shape),)


def reshape(x, shape):
    """The same elements in a new shape; one entry may be -1 (inferred)."""
    return Reshape.apply(x, shape=tuple(shape))


def flatten(x, start_dim=0, end_dim=-1):
    """Merges dimensions start_dim..end_dim into one, as torch.flatten.

    Shape:
        (N, C, H, W) with start_dim=1 -> (N, C*H*W)
    """
    shape = tuple(x.shape)
    if len(shape) == 0:
        return reshape(x, (1,))
    start = normalize_dim("flatten", start_dim, len(shape), shape)
    end = normalize_dim("flatten", end_dim, len(shape), shape)
    if start > end:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    merged = math.prod(shape[start:end + 1])
    return reshape(x, shape[:start] + (merged,) + shape[end + 1:])


def transpose(x, dim0, dim1):
    """Swaps dimensions dim0 and dim1 (torch.transpose)."""
    return Transpose.apply(x, dim0=dim0, dim1=dim1)


def permute(x, dims):
    """Reorders the dimensions (torch.permute): permute(x, (0, 2, 3, 1)) makes NCHW NHWC."""
    return Permute.apply(x, dims=tuple(dims))


def broadcast_to(x, shape):
    """x broadcast to ``shape`` (torch.broadcast_to); backward sums over the copies."""
    return BroadcastTo.apply(x, shape=shape)
