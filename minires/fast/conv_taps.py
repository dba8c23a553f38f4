"""2-D convolution, channels-last and one kernel tap at a time: the fast kernel.

It computes what :func:`minires.functional.conv2d` computes, and is tested equal to
it (forward and every gradient, on every device). Notation as in
minires/functional/conv.py: N batch, C_in / C_out channels, H, W input size, KH, KW
kernel size, SH, SW strides, PH, PW padding, OH, OW output size.

The reference computes a convolution as im2col and one matrix product. That is easy to
read, but ``cols`` is KH * KW times the size of the input (72 MiB for a batch of 128
at 16 x 32 x 32), and building it, then adding it back in col2im, costs more than the
matrix products themselves. This kernel computes the same sums without ``cols``.

Lay the images out channels-last, (N, H, W, C): each pixel's C_in values side by side
(see layout.py). Kernel tap (i, j) sees, at every output position, one pixel of the
padded input: together they form the strided window ``x_padded[:, i::SH, j::SW, :]``
of shape (N, OH, OW, C_in), and that tap's contribution to the output is one matrix
product with the tap's (C_in, C_out) slice of the weight. So

    output = sum over taps (i, j) of  x_padded[window(i, j)] @ weight[:, :, i, j].T

a sum of KH * KW matrix products, each (N * OH * OW, C_in) @ (C_in, C_out). Backward
reads it term by term, as for any sum of products:

    grad_weight[:, :, i, j] = (x_padded[window(i, j)].reshape(-1, C_in).T @ grad_matrix).T
    grad_x_padded[window(i, j)] += grad_matrix @ weight[:, :, i, j]

where grad_matrix is the output gradient as an (N * OH * OW, C_out) matrix. The
windows of different taps overlap, so the input gradient is added tap after tap;
within one tap a window has no repeated pixel, so ``+=`` on it is exact. For stride 1
the input gradient is computed another way, as a convolution in its own right: the
output gradient, padded, convolved with the kernel flipped (Conv2dTaps._input_gradient);
it then runs through the same code as the forward, with no strided ``+=`` at all.

Four more choices, each measured (the figures are in benchmarks/RESULTS.md):
- the window is never copied for the forward: a window's image rows are a stack of
  (OW, C_in) matrices that BLAS reads in place;
- the work is split by images across the CPU threads (threads.py), in parts small
  enough to stay in cache (``MAX_VALUES_PER_PART``); each image's output and input
  gradient are its own, and the weight gradients of the parts are added;
- forward saves only the input, not a padded copy: backward pads it again, which is
  cheaper than keeping a second copy of every activation alive;
- an input with few channels (the RGB image: 3) is the exception. Each tap's product
  would be (N * OH * OW, 3) @ (3, C_out), too thin for BLAS to run fast, while im2col's
  ``cols`` is small there (27 rows): the forward then builds it (the reference's
  im2col) and takes one product.
"""

from minires.autograd import Function
from minires.fast.layout import channels_first_view, channels_last
from minires.fast.threads import batch_parts, one_blas_thread, run_parts
from minires.functional.conv import by_groups, check_conv2d_arguments, im2col, output_size


def padded_channels_last(xp, x, padding):
    """(N, C, H, W) in any layout -> C-contiguous (N, H + 2 * PH, W + 2 * PW, C), zeros around."""
    PH, PW = padding
    if PH == 0 and PW == 0:
        return channels_last(xp, x)                                   # (N, H, W, C)
    N, C, H, W = x.shape
    x_padded = xp.zeros((N, H + 2 * PH, W + 2 * PW, C), dtype=x.dtype)
    x_padded[:, PH:PH + H, PW:PW + W] = x.transpose(0, 2, 3, 1)       # (N, H, W, C) into the middle
    return x_padded


def tap_window(i, j, stride, out_size) -> tuple:
    """The index that picks, from a padded (N, H_padded, W_padded, C) array, the pixel that
    kernel tap (i, j) sees at every output position: a strided (N, OH, OW, C) window."""
    (SH, SW), (OH, OW) = stride, out_size
    return (slice(None), slice(i, i + SH * OH, SH), slice(j, j + SW * OW, SW))


def accumulate_tap_products(xp, x_padded, taps, stride, output):
    """output = sum over taps (i, j) of x_padded[window(i, j)] @ taps[i, j]: the convolution itself.

    x_padded (N, H_padded, W_padded, C_in), taps (KH, KW, C_in, C_out), written into
    output (N, OH, OW, C_out). Each product multiplies a stack of N * OH matrices
    (OW, C_in), the window's image rows, by one (C_in, C_out) matrix: NumPy and CuPy
    hand them to BLAS without copying the strided window first.
    """
    KH, KW = taps.shape[:2]
    out_size = output.shape[1:3]
    xp.matmul(x_padded[tap_window(0, 0, stride, out_size)], taps[0, 0], out=output)
    for i in range(KH):
        for j in range(KW):
            if (i, j) != (0, 0):
                output += x_padded[tap_window(i, j, stride, out_size)] @ taps[i, j]


def tap_weight_gradients(xp, x_padded, grad_nhwc, stride, kernel_size):
    """The weight gradient tap by tap: (KH, KW, C_in, C_out).

    For tap (i, j) it is window(i, j).T @ grad, summed over every output position.
    With output rows of at least ``STACKED_ROW_MIN`` pixels, the products are taken
    per image row, (C_in, OW) @ (OW, C_out), and the stack summed; shorter rows make
    those products too small for BLAS, and one copy of the window into an
    (N * OH * OW, C_in) matrix pays off instead.
    """
    (KH, KW), (_, OH, OW, C_out) = kernel_size, grad_nhwc.shape
    C_in = x_padded.shape[3]
    grad_taps = xp.empty((KH, KW, C_in, C_out), dtype=x_padded.dtype)
    for i in range(KH):
        for j in range(KW):
            seen = x_padded[tap_window(i, j, stride, (OH, OW))]                       # (N, OH, OW, C_in)
            if OW >= STACKED_ROW_MIN:
                per_row = seen.transpose(0, 1, 3, 2) @ grad_nhwc                      # (N, OH, C_in, C_out)
                # summed over the N * OH rows as ones @ (N * OH, C_in * C_out): a matrix-vector
                # product, faster than per_row.sum(axis=(0, 1))
                ones = xp.ones(per_row.shape[0] * per_row.shape[1], dtype=per_row.dtype)
                grad_taps[i, j] = (ones @ per_row.reshape(ones.shape[0], -1)).reshape(C_in, C_out)
            else:
                grad_taps[i, j] = seen.reshape(-1, C_in).T @ grad_nhwc.reshape(-1, C_out)  # copy, then one product
    return grad_taps


STACKED_ROW_MIN = 16    # measured on 2 CPU cores: per-row products win from 16 pixels a row

FEW_INPUT_CHANNELS = 4  # measured on 2 CPU cores: im2col's one product wins up to 4 channels, not at 6

# A part of the batch holds at most this many input values (2 MiB of float32): the tap
# products of one part then run on an input, a product and an output that stay in cache.
MAX_VALUES_PER_PART = 2**19


class Conv2dTaps(Function):
    """2-D convolution of (N, C_in, H, W) with (C_out, C_in, KH, KW), bias optional.

    The output is a channels-last view of shape (N, C_out, OH, OW) (see layout.py).
    Forward and backward work on parts of the batch, one per CPU thread (threads.py):
    every image's output and input gradient depend on that image alone, and the weight
    gradient is the sum of the parts' weight gradients.
    """

    def __init__(self, stride, padding):
        self.stride, self.padding = stride, padding

    def forward(self, xp, x, weight, bias=None):
        with one_blas_thread():          # its tap products: see threads.py
            C_out, C_in, KH, KW = weight.shape
            OH, OW = output_size("conv2d", x.shape, (KH, KW), self.stride, self.padding)
            # (KH, KW, C_in, C_out), copied: BLAS needs each tap's (C_in, C_out) matrix to have
            # contiguous rows or columns, and weight[:, :, i, j] has neither
            taps = xp.ascontiguousarray(weight.transpose(2, 3, 1, 0))
            weight_matrix = weight.reshape(C_out, -1).T                        # (C_in*KH*KW, C_out), for im2col
            output = xp.empty((x.shape[0], OH, OW, C_out), dtype=x.dtype)      # (N, OH, OW, C_out)

            def convolve(part):                                                 # one part of the batch
                if C_in <= FEW_INPUT_CHANNELS:                                  # see the module docstring
                    cols = im2col(xp, x[part], (KH, KW), self.stride, self.padding)     # (C_in*KH*KW, n*OH*OW)
                    xp.matmul(cols.T, weight_matrix, out=output[part].reshape(-1, C_out))   # (n*OH*OW, C_out)
                else:
                    x_padded = padded_channels_last(xp, x[part], self.padding)  # (n, H+2PH, W+2PW, C_in)
                    accumulate_tap_products(xp, x_padded, taps, self.stride, output[part])
                if bias is not None:
                    output[part] += bias                                        # broadcasts over C_out, the last axis

            run_parts(convolve, batch_parts(x, max_values_per_part=MAX_VALUES_PER_PART))
            # backward needs the input (padded again there) and the weight
            self.save_for_backward(x, weight)
            self.has_bias = bias is not None
            return channels_first_view(output)                                  # (N, C_out, OH, OW)

    def backward(self, grad_output):
        with one_blas_thread():          # its tap products: see threads.py
            x, weight = self.saved
            xp = self.xp
            C_out, C_in, KH, KW = weight.shape
            N, _, H, W = x.shape
            needs_x, needs_weight = self.needs_input_grad[0], self.needs_input_grad[1]
            grad_x_nhwc = xp.empty((N, H, W, C_in), dtype=x.dtype) if needs_x else None

            def differentiate(part):                                            # one part of the batch
                grad_nhwc = channels_last(xp, grad_output[part])               # (n, OH, OW, C_out)
                if needs_x:
                    self._input_gradient(xp, grad_nhwc, weight, grad_x_nhwc[part])
                if needs_weight:
                    x_padded = padded_channels_last(xp, x[part], self.padding)  # (n, H+2PH, W+2PW, C_in)
                    return tap_weight_gradients(xp, x_padded, grad_nhwc, self.stride, (KH, KW))
                return None

            grad_taps_of_parts = run_parts(differentiate, batch_parts(x, max_values_per_part=MAX_VALUES_PER_PART))
            grad_x = channels_first_view(grad_x_nhwc) if needs_x else None     # (N, C_in, H, W)
            grad_weight = grad_bias = None
            if needs_weight:
                grad_taps = sum(grad_taps_of_parts[1:], grad_taps_of_parts[0])  # (KH, KW, C_in, C_out)
                grad_weight = xp.ascontiguousarray(grad_taps.transpose(3, 2, 0, 1))   # (C_out, C_in, KH, KW)
            if self.has_bias:
                if self.needs_input_grad[2]:
                    grad_bias = grad_output.sum(axis=(0, 2, 3))                 # (C_out,)
                return grad_x, grad_weight, grad_bias
            return grad_x, grad_weight

    def _input_gradient(self, xp, grad_nhwc, weight, grad_x_nhwc):
        """dL/dx for one part of the batch, written into grad_x_nhwc (n, H, W, C_in).

        Stride 1: the input gradient is itself a convolution, of the output gradient
        padded by (KH - 1 - PH, KW - 1 - PW), with the kernel flipped and its C_in and
        C_out swapped: x[h, w] reached output [h + PH - i, w + PW - j] through tap (i, j).
        Other strides (or padding larger than the kernel): each tap's product is added
        into the strided window it came from.
        """
        C_out, C_in, KH, KW = weight.shape
        n, H, W, _ = grad_x_nhwc.shape
        (PH, PW), out_size = self.padding, tuple(grad_nhwc.shape[1:3])
        if self.stride == (1, 1) and PH <= KH - 1 and PW <= KW - 1:
            grad_padded = padded_channels_last(xp, grad_nhwc.transpose(0, 3, 1, 2), (KH - 1 - PH, KW - 1 - PW))
            flipped = xp.ascontiguousarray(weight[:, :, ::-1, ::-1].transpose(2, 3, 0, 1))  # (KH, KW, C_out, C_in)
            accumulate_tap_products(xp, grad_padded, flipped, (1, 1), grad_x_nhwc)
            return
        taps = xp.ascontiguousarray(weight.transpose(2, 3, 1, 0))          # (KH, KW, C_in, C_out)
        grad_matrix = grad_nhwc.reshape(-1, C_out)                          # (n*OH*OW, C_out)
        grad_padded = xp.zeros((n, H + 2 * PH, W + 2 * PW, C_in), dtype=weight.dtype)
        for i in range(KH):
            for j in range(KW):
                grad_seen = grad_matrix @ taps[i, j].T                      # (n*OH*OW, C_in)
                grad_padded[tap_window(i, j, self.stride, out_size)] += grad_seen.reshape(
                    (n,) + out_size + (C_in,))                              # (n, OH, OW, C_in)
        grad_x_nhwc[...] = grad_padded[:, PH:PH + H, PW:PW + W]


def conv2d(x, weight, bias=None, stride=1, padding=0, groups=1):
    """2-D convolution (cross-correlation), the fast kernel of :func:`minires.functional.conv2d`.

    The same arguments, shapes and values as the reference, whose docstring lists them;
    computed channels-last, one kernel tap at a time (see the module docstring). The
    output is a channels-last view, like PyTorch's ``torch.channels_last`` memory
    format: its shape is (N, C_out, OH, OW) as usual, only the strides differ. Groups
    are convolved one after the other (minires.functional.conv.by_groups).

    Shape:
        x (N, C_in, H, W), weight (C_out, C_in // groups, KH, KW) -> (N, C_out, OH, OW)
    """
    stride, padding = check_conv2d_arguments("conv2d", x, weight, bias, stride, padding, groups)
    return by_groups(lambda *inputs: Conv2dTaps.apply(*inputs, stride=stride, padding=padding),
                     x, weight, bias, groups)