"""2-D convolution as im2col followed by one matrix product.

This is the convolution lesson 2 derives, and ``F.conv2d``. A fast kernel computes
the same sums in another order (minires/fast/conv_taps.py: channels-last, one
matrix product per kernel tap, split across the CPU's cores); it is tested equal to
this one, and ``nn.Conv2d`` uses it unless built with ``fast=False``.

Notation (as in PyTorch and the lessons):
    N batch size, C_in / C_out input / output channels, H, W input height and width,
    KH, KW kernel height and width, SH, SW strides, PH, PW zero padding,
    OH = (H + 2 * PH - KH) // SH + 1 and OW = (W + 2 * PW - KW) // SW + 1.

A convolution (a cross-correlation, strictly, as in every framework) slides the
kernel over the padded input: output[n, o, oh, ow] is the sum over c, i, j of
weight[o, c, i, j] * x_padded[n, c, oh * SH + i, ow * SW + j].

im2col rewrites it as one matrix product. For each kernel tap (i, j), the input
pixels that the tap sees, one per output position, form a strided slice of the
padded input. Stacking those slices for every tap gives the "columns" matrix
``cols`` of shape (C_in * KH * KW, N * OH * OW), and then

    output = weight.reshape(C_out, C_in * KH * KW) @ cols      # (C_out, N * OH * OW)

Backward reads the same picture in reverse: the weight gradient is a matrix product
with ``cols``, and the input gradient is a matrix product giving column gradients
that col2im adds back, tap by tap, into the strided slice each tap came from. The
only Python loops run over the KH * KW kernel taps, never over images or pixels.
"""

from minires.autograd import Function
from minires.functional.indexing import concatenate, getitem
from minires.functional.shape_utils import check_float_dtypes, pair, shape_of


def output_size(op_name, input_shape, kernel_size, stride, padding) -> tuple:
    """(OH, OW) of a sliding window over an (N, C, H, W) input, checked to be at least 1."""
    height, width = input_shape[2], input_shape[3]
    (KH, KW), (SH, SW), (PH, PW) = kernel_size, stride, padding
    if KH > height + 2 * PH or KW > width + 2 * PW:
        raise ValueError(
            f"{op_name}: the kernel ({KH}x{KW}) is larger than the padded input "
            f"({height + 2 * PH}x{width + 2 * PW}: input shape {tuple(input_shape)}, padding {padding})")
    return (height + 2 * PH - KH) // SH + 1, (width + 2 * PW - KW) // SW + 1


def tap_slice(i, j, stride, out_size) -> tuple:
    """The index that picks, from an (N, C, H_padded, W_padded) array, the pixel that
    kernel tap (i, j) sees at every output position: a strided (N, C, OH, OW) slice."""
    (SH, SW), (OH, OW) = stride, out_size
    return (slice(None), slice(None), slice(i, i + SH * OH, SH), slice(j, j + SW * OW, SW))


def pad_border(xp, x, padding, value=0.0):
    """(N, C, H, W) -> (N, C, H + 2 * PH, W + 2 * PW), ``value`` around the border."""
    PH, PW = padding
    if PH == 0 and PW == 0:
        return x
    N, C, H, W = x.shape
    x_padded = xp.full((N, C, H + 2 * PH, W + 2 * PW), value, dtype=x.dtype)
    x_padded[:, :, PH:PH + H, PW:PW + W] = x
    return x_padded


def im2col(xp, x, kernel_size, stride, padding):
    """(N, C, H, W) -> columns (C * KH * KW, N * OH * OW), one row per (channel, tap).

    Column ``n * OH * OW + oh * OW + ow`` holds the C * KH * KW input values that the
    kernel covers at output position (oh, ow) of image n.
    """
    N, C = x.shape[0], x.shape[1]
    KH, KW = kernel_size
    OH, OW = output_size("im2col", x.shape, kernel_size, stride, padding)
    x_padded = pad_border(xp, x, padding)                                 # (N, C, H + 2PH, W + 2PW)
    cols = xp.empty((C, KH, KW, N, OH, OW), dtype=x.dtype)
    for i in range(KH):
        for j in range(KW):
            seen_by_tap = x_padded[tap_slice(i, j, stride, (OH, OW))]    # (N, C, OH, OW)
            cols[:, i, j] = seen_by_tap.transpose(1, 0, 2, 3)            # (C, N, OH, OW)
    return cols.reshape(C * KH * KW, N * OH * OW)


def col2im(xp, cols, input_shape, kernel_size, stride, padding):
    """The reverse of im2col for gradients: (C * KH * KW, N * OH * OW) -> (N, C, H, W).

    Every value of ``cols`` is added to the input pixel it was copied from. A pixel
    seen by several taps (overlapping windows) receives the sum. Within one tap the
    strided slice has no repeated pixels, so ``+=`` on the slice is exact; the taps
    are added one after another.
    """
    N, C, H, W = input_shape
    KH, KW = kernel_size
    (PH, PW) = padding
    OH, OW = output_size("col2im", input_shape, kernel_size, stride, padding)
    cols = cols.reshape(C, KH, KW, N, OH, OW)
    grad_padded = xp.zeros((N, C, H + 2 * PH, W + 2 * PW), dtype=cols.dtype)
    for i in range(KH):
        for j in range(KW):
            grad_padded[tap_slice(i, j, stride, (OH, OW))] += cols[:, i, j].transpose(1, 0, 2, 3)
    return grad_padded[:, :, PH:PH + H, PW:PW + W]                       # (N, C, H, W)


class Conv2dIm2col(Function):
    """2-D convolution of (N, C_in, H, W) with (C_out, C_in, KH, KW), bias optional."""

    def __init__(self, stride, padding):
        self.stride, self.padding = stride, padding

    def forward(self, xp, x, weight, bias=None):
        C_out = weight.shape[0]
        kernel_size = tuple(weight.shape[2:])
        N = x.shape[0]
        OH, OW = output_size("conv2d", x.shape, kernel_size, self.stride, self.padding)
        cols = im2col(xp, x, kernel_size, self.stride, self.padding)        # (C_in*KH*KW, N*OH*OW)
        weight_matrix = weight.reshape(C_out, -1)                           # (C_out, C_in*KH*KW)
        output = weight_matrix @ cols                                       # (C_out, N*OH*OW)
        output = output.reshape(C_out, N, OH, OW).transpose(1, 0, 2, 3)     # (N, C_out, OH, OW)
        output = xp.ascontiguousarray(output)
        if bias is not None:
            output += bias.reshape(1, C_out, 1, 1)
        # backward needs cols for the weight gradient and the weight for the input one
        self.save_for_backward(cols, weight_matrix)
        self.input_shape, self.kernel_size = tuple(x.shape), kernel_size
        self.has_bias = bias is not None
        return output

    def backward(self, grad_output):
        cols, weight_matrix = self.saved
        xp = self.xp
        C_out = weight_matrix.shape[0]
        grad_matrix = grad_output.transpose(1, 0, 2, 3).reshape(C_out, -1)  # (C_out, N*OH*OW)
        grad_x = grad_weight = grad_bias = None
        if self.needs_input_grad[0]:
            grad_cols = weight_matrix.T @ grad_matrix                       # (C_in*KH*KW, N*OH*OW)
            grad_x = col2im(xp, grad_cols, self.input_shape, self.kernel_size, self.stride, self.padding)
        if self.needs_input_grad[1]:
            grad_weight = grad_matrix @ cols.T                              # (C_out, C_in*KH*KW)
            grad_weight = grad_weight.reshape((C_out, self.input_shape[1]) + self.kernel_size)
        if self.has_bias:
            if self.needs_input_grad[2]:
                grad_bias = grad_output.sum(axis=(0, 2, 3))                 # (C_out,)
            return grad_x, grad_weight, grad_bias
        return grad_x, grad_weight


def conv2d(x, weight, bias=None, stride=1, padding=0, groups=1):
    """2-D convolution (cross-correlation), as torch.nn.functional.conv2d.

    Computed as im2col followed by one matrix product (see the module docstring). It
    keeps the (C_in * KH * KW, N * OH * OW) ``cols`` matrix for backward: 9 times the
    input's size for a 3x3 kernel. Padding is with zeros; ``dilation`` is not supported.

    Args:
        x: input, (N, C_in, H, W), in any memory layout.
        weight: kernels, (C_out, C_in // groups, KH, KW).
        bias: (C_out,) or None.
        stride: int or (SH, SW), at least 1.
        padding: int or (PH, PW), zeros added on each side, at least 0.
        groups: the channels split into this many groups, each convolved with its own
            C_out // groups kernels (groups = C_in: a depthwise convolution); see
            :func:`by_groups`.

    Shape:
        x (N, C_in, H, W), weight (C_out, C_in // groups, KH, KW) -> (N, C_out, OH, OW),
        OH = (H + 2 * PH - KH) // SH + 1, OW = (W + 2 * PW - KW) // SW + 1
    """
    stride, padding = check_conv2d_arguments("conv2d", x, weight, bias, stride, padding, groups)
    return by_groups(lambda *inputs: Conv2dIm2col.apply(*inputs, stride=stride, padding=padding),
                     x, weight, bias, groups)


def by_groups(convolve, x, weight, bias, groups):
    """A grouped convolution as ``groups`` ordinary ones, joined along the channels.

    Group g convolves input channels [g * C_in/groups, (g + 1) * C_in/groups) with output
    kernels [g * C_out/groups, (g + 1) * C_out/groups); the outputs are concatenated.
    Slicing and concatenating are differentiable ops, so the gradient needs no code of
    its own. ``convolve(x, weight[, bias])`` is the one-group kernel (the reference's or
    minires.fast's). One product per group: a depthwise convolution (groups = C_in) is
    correct but slow here.
    """
    inputs = (x, weight) if bias is None else (x, weight, bias)
    if groups == 1:
        return convolve(*inputs)
    in_per_group, out_per_group = shape_of(x)[1] // groups, shape_of(weight)[0] // groups
    outputs = []
    for group in range(groups):
        channels = slice(group * in_per_group, (group + 1) * in_per_group)
        kernels = slice(group * out_per_group, (group + 1) * out_per_group)
        group_inputs = [getitem(x, (slice(None), channels)), getitem(weight, kernels)]
        if bias is not None:
            group_inputs.append(getitem(bias, kernels))
        outputs.append(convolve(*group_inputs))
    return concatenate(outputs, dim=1)


def check_conv2d_arguments(op_name, x, weight, bias, stride, padding, groups=1) -> tuple:
    """Checks a convolution's shapes, dtypes and sizes; returns (stride, padding) as pairs.

    Padding is with zeros; ``dilation`` is not supported.
    """
    stride = pair(op_name, "stride", stride, minimum=1)
    padding = pair(op_name, "padding", padding, minimum=0)
    x_shape, weight_shape = shape_of(x), shape_of(weight)
    if not isinstance(groups, int) or isinstance(groups, bool) or groups < 1:
        raise ValueError(f"{op_name}: groups must be an int >= 1; got {groups!r}")
    if groups > 1 and len(x_shape) == 4 and len(weight_shape) == 4:
        if x_shape[1] % groups or weight_shape[0] % groups:
            raise ValueError(f"{op_name}: groups={groups} must divide the input channels ({x_shape[1]}) "
                             f"and the output channels ({weight_shape[0]})")
        if weight_shape[1] * groups != x_shape[1]:
            raise ValueError(f"{op_name}: with groups={groups}, the weight must be (C_out, C_in // groups, "
                             f"KH, KW) = ({weight_shape[0]}, {x_shape[1] // groups}, ...); got {weight_shape}")
        x_shape = (x_shape[0], weight_shape[1], *x_shape[2:])       # one group's input, for the checks below
    if len(x_shape) != 4:
        raise ValueError(f"{op_name}: expected a 4-D input (N, C_in, H, W); got shape {x_shape} "
                         "(for a single image, add the batch dimension: x.reshape(1, C, H, W))")
    if len(weight_shape) != 4:
        raise ValueError(f"{op_name}: expected a 4-D weight (C_out, C_in, KH, KW); got shape {weight_shape}")
    if x_shape[1] != weight_shape[1]:
        raise ValueError(
            f"{op_name}: input has {x_shape[1]} channels but weight expects {weight_shape[1]} "
            f"(input {x_shape}, weight {weight_shape}: weight is (C_out, C_in, KH, KW))")
    if bias is not None and shape_of(bias) != weight_shape[:1]:
        raise ValueError(f"{op_name}: bias must have shape ({weight_shape[0]},), one value per output "
                         f"channel; got {shape_of(bias)} (weight {weight_shape})")
    check_float_dtypes(op_name, x=x, weight=weight, bias=bias)
    output_size(op_name, x_shape, weight_shape[2:], stride, padding)
    return stride, padding
