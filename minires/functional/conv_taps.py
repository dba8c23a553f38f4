"""2-D convolution, channels-last and one kernel tap at a time: the fast default.

Notation as in conv.py: N batch, C_in / C_out channels, H, W input size, KH, KW kernel
size, SH, SW strides, PH, PW padding, OH, OW output size.

conv.py computes a convolution as im2col and one matrix product. That is easy to
read, but ``cols`` is KH * KW times the size of the input (72 MiB for a batch of 128
at 16 x 32 x 32), and building it, then adding it back in col2im, costs more than the
matrix products themselves. This version computes the same sums without ``cols``.

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
within one tap a window has no repeated pixel, so ``+=`` on it is exact.

Forward saves only the input, not a padded copy: backward pads it again, which is
cheaper than keeping a second copy of every activation alive.
"""

from minires.autograd import Function
from minires.functional.conv import check_conv2d_arguments, output_size
from minires.functional.layout import channels_first_view, channels_last


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


class Conv2d(Function):
    """2-D convolution of (N, C_in, H, W) with (C_out, C_in, KH, KW), bias optional.

    The output is a channels-last view of shape (N, C_out, OH, OW) (see layout.py).
    """

    def __init__(self, stride, padding):
        self.stride, self.padding = stride, padding

    def forward(self, xp, x, weight, bias=None):
        C_out, C_in, KH, KW = weight.shape
        out_size = output_size("conv2d", x.shape, (KH, KW), self.stride, self.padding)
        x_padded = padded_channels_last(xp, x, self.padding)               # (N, H+2PH, W+2PW, C_in)
        taps = weight.transpose(2, 3, 1, 0)                                 # (KH, KW, C_in, C_out), a view
        output = x_padded[tap_window(0, 0, self.stride, out_size)] @ taps[0, 0]   # (N, OH, OW, C_out)
        for i in range(KH):
            for j in range(KW):
                if (i, j) != (0, 0):
                    output += x_padded[tap_window(i, j, self.stride, out_size)] @ taps[i, j]
        if bias is not None:
            output += bias                                                  # broadcasts over the last axis, C_out
        # backward needs the input (padded again there) and the weight
        self.save_for_backward(x, weight)
        self.has_bias = bias is not None
        return channels_first_view(output)                                  # (N, C_out, OH, OW)

    def backward(self, grad_output):
        x, weight = self.saved
        xp = self.xp
        C_out, C_in, KH, KW = weight.shape
        N, _, H, W = x.shape
        out_size = tuple(grad_output.shape[2:])
        (PH, PW) = self.padding
        grad_matrix = channels_last(xp, grad_output).reshape(-1, C_out)    # (N*OH*OW, C_out)
        x_padded = padded_channels_last(xp, x, self.padding)               # (N, H+2PH, W+2PW, C_in)
        taps = weight.transpose(2, 3, 1, 0)                                 # (KH, KW, C_in, C_out)
        grad_x = grad_weight = grad_bias = None
        if self.needs_input_grad[0]:
            grad_padded = xp.zeros_like(x_padded)                           # (N, H+2PH, W+2PW, C_in)
            for i in range(KH):
                for j in range(KW):
                    grad_seen = grad_matrix @ taps[i, j].T                  # (N*OH*OW, C_in)
                    grad_padded[tap_window(i, j, self.stride, out_size)] += grad_seen.reshape(
                        (N,) + out_size + (C_in,))                          # (N, OH, OW, C_in)
            grad_x = channels_first_view(grad_padded[:, PH:PH + H, PW:PW + W])   # (N, C_in, H, W)
        if self.needs_input_grad[1]:
            grad_taps = xp.empty((KH, KW, C_in, C_out), dtype=weight.dtype)
            for i in range(KH):
                for j in range(KW):
                    seen = x_padded[tap_window(i, j, self.stride, out_size)].reshape(-1, C_in)  # (N*OH*OW, C_in), a copy
                    grad_taps[i, j] = seen.T @ grad_matrix                  # (C_in, C_out)
            grad_weight = xp.ascontiguousarray(grad_taps.transpose(3, 2, 0, 1))   # (C_out, C_in, KH, KW)
        if self.has_bias:
            if self.needs_input_grad[2]:
                grad_bias = grad_matrix.sum(axis=0)                         # (C_out,)
            return grad_x, grad_weight, grad_bias
        return grad_x, grad_weight


def conv2d(x, weight, bias=None, stride=1, padding=0):
    """2-D convolution (cross-correlation), as torch.nn.functional.conv2d.

    Computed channels-last, one kernel tap at a time (see the module docstring); the
    output is a channels-last view, like PyTorch's ``torch.channels_last`` memory
    format: its shape is (N, C_out, OH, OW) as usual, only the strides differ.
    ``conv2d_im2col`` computes the same by im2col, the reference this one is tested
    against. Padding is with zeros; ``dilation`` and ``groups`` are not supported.

    Args:
        x: input, (N, C_in, H, W), in any memory layout.
        weight: kernels, (C_out, C_in, KH, KW).
        bias: (C_out,) or None.
        stride: int or (SH, SW), at least 1.
        padding: int or (PH, PW), zeros added on each side, at least 0.

    Shape:
        x (N, C_in, H, W), weight (C_out, C_in, KH, KW) -> (N, C_out, OH, OW),
        OH = (H + 2 * PH - KH) // SH + 1, OW = (W + 2 * PW - KW) // SW + 1
    """
    stride, padding = check_conv2d_arguments("conv2d", x, weight, bias, stride, padding)
    inputs = (x, weight) if bias is None else (x, weight, bias)
    return Conv2d.apply(*inputs, stride=stride, padding=padding)
