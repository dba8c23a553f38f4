"""Memory layout of image arrays: channels-first (NCHW) and channels-last (NHWC).

Every image tensor in minires has the shape (N, C, H, W), as in PyTorch. How its
values lie in memory is a separate matter, PyTorch's "memory format":

- channels-first (contiguous NCHW): one channel's H x W plane after the other;
- channels-last (NHWC in memory, ``torch.channels_last``): the C values of one pixel
  side by side. The array is then a transposed view: ``y_nhwc.transpose(0, 3, 1, 2)``
  has the shape (N, C, H, W) and strides that step over pixels, not planes.

Channels-last suits the CPU ops of a convolutional net: with pixels as rows and
channels as columns, a convolution is a few matrix products of shape
(N * H * W, C_in) @ (C_in, C_out), and batch norm's per-channel sums are column sums
of one (N * H * W, C) matrix. The fast conv2d returns channels-last views, batch norm
keeps the layout it is given, and element-wise ops keep it too (NumPy and CuPy
allocate their outputs in the layout of their inputs), so a ResNet stays channels-last
from its first convolution to its pooling, with no copies between the ops.

The values, shapes and gradients are the same in either layout; only speed differs.
"""


def channels_last(xp, x):
    """(N, C, H, W) array -> a C-contiguous (N, H, W, C) array of the same values.

    Free (a view, no copy) when x is already a channels-last view; a copy otherwise.
    """
    return xp.ascontiguousarray(x.transpose(0, 2, 3, 1))            # (N, H, W, C)


def channels_first_view(x_nhwc):
    """(N, H, W, C) array -> the (N, C, H, W) view of the same memory (a channels-last view)."""
    return x_nhwc.transpose(0, 3, 1, 2)                                # (N, C, H, W)


def channel_rows(xp, x):
    """x (N, C) or (N, C, H, W) -> a C-contiguous matrix whose column k holds channel k % C.

    (N, C) stays (N, C). Images become channels-last rows (N, H * W * C): row n holds
    image n, its H * W pixels one after the other, each pixel's C values side by side.
    Per-channel work (batch norm) then means: sum the columns, and repeat a (C,)
    vector H * W times along a row. Whole images as rows, rather than an
    (N * H * W, C) matrix, keep NumPy's inner loops long (16,384 values in a CIFAR
    ResNet, not 16): on 2**21 values, a multiplication by a repeated row took 0.083 ms
    with rows of 16,384 values and 0.119 ms with rows of 512. Free for channels-last
    images; a copy for channels-first ones.
    """
    if x.ndim == 2:
        return xp.ascontiguousarray(x)                                   # (N, C)
    N, C, H, W = x.shape
    return channels_last(xp, x).reshape(N, H * W * C)                    # (N, H*W*C)


def from_channel_rows(rows, shape):
    """The reverse of :func:`channel_rows`: rows -> ``shape``, (N, C) or a channels-last (N, C, H, W) view."""
    if len(shape) == 2:
        return rows
    N, C, H, W = shape
    return channels_first_view(rows.reshape(N, H, W, C))                # (N, C, H, W)


def memory_order(x) -> tuple:
    """x's axes from the largest stride to the smallest, the order its values lie in memory.

    (0, 1, 2, 3) for a C-contiguous (N, C, H, W) array, (0, 2, 3, 1) for a channels-last one.
    """
    return tuple(sorted(range(x.ndim), key=lambda axis: -abs(x.strides[axis])))


def zeros_in_memory_order(xp, shape, order, dtype):
    """Zeros of ``shape`` laid out in memory in ``order`` (see :func:`memory_order`).

    Backward passes use it to give a gradient its input's layout: element-wise ops on
    two arrays of different layouts are several times slower than on one layout.
    """
    stored = xp.zeros(tuple(shape[axis] for axis in order), dtype=dtype)   # axes in memory order
    return stored.transpose(tuple(order.index(axis) for axis in range(len(order))))
