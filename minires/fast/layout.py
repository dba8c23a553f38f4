"""Memory layout of image arrays: channels-first (NCHW) and channels-last (NHWC).

Every image tensor in minires has the shape (N, C, H, W), as in PyTorch. How its
values lie in memory is a separate matter, PyTorch's "memory format":

- channels-first (contiguous NCHW): one channel's H x W plane after the other;
- channels-last (NHWC in memory, ``torch.channels_last``): the C values of one pixel
  side by side. The array is then a transposed view: ``y_nhwc.transpose(0, 3, 1, 2)``
  has the shape (N, C, H, W) and strides that step over pixels, not planes.

Channels-last suits the CPU kernels of a convolutional net: with pixels as rows and
channels as columns, a convolution is a few matrix products of shape
(N * H * W, C_in) @ (C_in, C_out), and batch norm's per-channel sums are column sums
of one (N * H * W, C) matrix. The fast conv2d returns channels-last views, the fast
batch norm keeps the layout it is given, and element-wise ops keep it too (NumPy and
CuPy allocate their outputs in the layout of their inputs), so a ResNet built with
the fast kernels stays channels-last from its first convolution to its pooling.

The values, shapes and gradients are the same in either layout; only speed differs.
The reference ops of minires.functional work on either layout.
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
    ResNet, not 16), which is faster. Free for channels-last images; a copy for
    channels-first ones.
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
