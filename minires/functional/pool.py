"""Pooling: max_pool2d, avg_pool2d, adaptive_avg_pool2d, global_avg_pool2d.

A pool slides a KH x KW window over each channel of an (N, C, H, W) input, with
stride (SH, SW), and keeps one number per window: the largest (max pooling) or the
mean (average pooling).

    OH = (H + 2 * PH - KH) // SH + 1, OW = (W + 2 * PW - KW) // SW + 1

The windows are a view of the padded input, (N, C, OH, OW, KH, KW), made without
copying anything (backend.sliding_windows): window (oh, ow) is
x_padded[:, :, oh * SH : oh * SH + KH, ow * SW : ow * SW + KW]. The forward pass is one
reduction over the last two axes. The backward pass visits the KH * KW kernel taps:
tap (i, j) of every window is one strided (N, C, OH, OW) slice of the padded input
(conv.tap_slice), so each tap's share of the gradient is added into one slice. Windows
overlap when the stride is smaller than the kernel: a pixel seen by several windows
collects the gradient of each.

``ceil_mode`` and ``dilation`` are not supported (PyTorch's defaults, off, hold).

Adaptive average pooling is given the output size instead of the window: output
row oh averages input rows floor(oh * H / OH) to ceil((oh + 1) * H / OH) - 1 (and
likewise for columns), PyTorch's rule. The windows may differ in size by one and
may overlap, so they are visited one by one (OH * OW slices) instead of as a view.
"""

import math

from minires import backend
from minires.autograd import Function
from minires.functional.conv import output_size, pad_border, tap_slice
from minires.functional.reduce import mean
from minires.functional.shape_utils import pair, shape_of


class MaxPool2dWindows(Function):
    """Largest value per window; the padding counts as -inf, so it is never picked.

    Backward sends each window's gradient to the one input it picked. When several
    values tie, the first in row-major order is picked, as in PyTorch; a NaN is
    always picked (it propagates, as in PyTorch).
    """

    def __init__(self, kernel_size, stride, padding):
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding

    def forward(self, xp, x):
        N, C = x.shape[:2]
        KH, KW = self.kernel_size
        OH, OW = output_size("max_pool2d", x.shape, self.kernel_size, self.stride, self.padding)
        x_padded = pad_border(xp, x, self.padding, value=-xp.inf)
        windows = backend.sliding_windows(x_padded, self.kernel_size, self.stride)   # (N, C, OH, OW, KH, KW)
        windows = windows.reshape(N, C, OH, OW, KH * KW)                # a copy: one row per window
        # the tap that wins each window: its first maximum (argmax counts a NaN as the maximum)
        self.save_for_backward(windows.argmax(axis=4))                  # (N, C, OH, OW)
        self.input_shape = tuple(x.shape)
        return windows.max(axis=4)                                      # (N, C, OH, OW)

    def backward(self, grad_output):
        (picked_tap,) = self.saved
        xp = self.xp
        N, C, H, W = self.input_shape
        (KH, KW), (PH, PW) = self.kernel_size, self.padding
        grad_padded = xp.zeros((N, C, H + 2 * PH, W + 2 * PW), dtype=grad_output.dtype)
        for tap in range(KH * KW):
            index = tap_slice(tap // KW, tap % KW, self.stride, grad_output.shape[2:])
            grad_padded[index] += xp.where(picked_tap == tap, grad_output, 0.0)
        return (grad_padded[:, :, PH:PH + H, PW:PW + W],)


class AvgPool2dWindows(Function):
    """Mean per window; zero padding counts in the divisor KH * KW (PyTorch's default
    count_include_pad=True). Backward spreads each window's gradient evenly over it."""

    def __init__(self, kernel_size, stride, padding):
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding

    def forward(self, xp, x):
        output_size("avg_pool2d", x.shape, self.kernel_size, self.stride, self.padding)
        x_padded = pad_border(xp, x, self.padding)
        windows = backend.sliding_windows(x_padded, self.kernel_size, self.stride)   # (N, C, OH, OW, KH, KW)
        self.input_shape = tuple(x.shape)
        return windows.mean(axis=(4, 5))                                # (N, C, OH, OW)

    def backward(self, grad_output):
        xp = self.xp
        N, C, H, W = self.input_shape
        (KH, KW), (PH, PW) = self.kernel_size, self.padding
        share = grad_output / (KH * KW)                                 # (N, C, OH, OW)
        grad_padded = xp.zeros((N, C, H + 2 * PH, W + 2 * PW), dtype=grad_output.dtype)
        for tap in range(KH * KW):
            grad_padded[tap_slice(tap // KW, tap % KW, self.stride, grad_output.shape[2:])] += share
        return (grad_padded[:, :, PH:PH + H, PW:PW + W],)


def adaptive_bins(size, output_size):
    """[(start, end)] of the output_size windows that cover ``size`` inputs, PyTorch's rule:
    window i is [floor(i * size / output_size), ceil((i + 1) * size / output_size)).

    adaptive_bins(5, 3) == [(0, 2), (1, 4), (3, 5)]: sizes 2, 3, 2, overlapping.
    """
    return [(i * size // output_size, math.ceil((i + 1) * size / output_size)) for i in range(output_size)]


class AdaptiveAvgPool2dBins(Function):
    """The mean of each adaptive window (see adaptive_bins), one window at a time.

    Backward spreads each window's gradient evenly over its inputs; an input in two
    overlapping windows collects from both.
    """

    def __init__(self, output_size):
        self.output_size = output_size

    def forward(self, xp, x):
        N, C, H, W = x.shape
        OH, OW = self.output_size
        self.row_bins, self.column_bins = adaptive_bins(H, OH), adaptive_bins(W, OW)
        self.input_shape = tuple(x.shape)
        output = xp.empty((N, C, OH, OW), dtype=x.dtype)
        for oh, (top, bottom) in enumerate(self.row_bins):
            for ow, (left, right) in enumerate(self.column_bins):
                output[:, :, oh, ow] = x[:, :, top:bottom, left:right].mean(axis=(2, 3))   # (N, C)
        return output

    def backward(self, grad_output):
        grad = self.xp.zeros(self.input_shape, dtype=grad_output.dtype)           # (N, C, H, W)
        for oh, (top, bottom) in enumerate(self.row_bins):
            for ow, (left, right) in enumerate(self.column_bins):
                share = grad_output[:, :, oh, ow] / ((bottom - top) * (right - left))   # (N, C)
                grad[:, :, top:bottom, left:right] += share[:, :, None, None]
        return (grad,)


def _pool_arguments(op_name, x, kernel_size, stride, padding):
    """Checks a pool's input and arguments; returns (kernel_size, stride, padding) as pairs."""
    x_shape = shape_of(x)
    if len(x_shape) != 4:
        raise ValueError(f"{op_name}: expected a 4-D input (N, C, H, W); got shape {x_shape}")
    kernel_size = pair(op_name, "kernel_size", kernel_size, minimum=1)
    stride = kernel_size if stride is None else pair(op_name, "stride", stride, minimum=1)
    padding = pair(op_name, "padding", padding, minimum=0)
    if padding[0] > kernel_size[0] // 2 or padding[1] > kernel_size[1] // 2:
        raise ValueError(f"{op_name}: padding {padding} must be at most half the kernel size "
                         f"{kernel_size}, as in PyTorch (else a window could hold padding only)")
    output_size(op_name, x_shape, kernel_size, stride, padding)
    return kernel_size, stride, padding


def max_pool2d(x, kernel_size, stride=None, padding=0):
    """Max pooling, as torch.nn.functional.max_pool2d (``return_indices`` not supported).

    Args:
        x: (N, C, H, W).
        kernel_size: int or (KH, KW).
        stride: int or (SH, SW); None means kernel_size (windows side by side).
        padding: int or (PH, PW), at most half the kernel; padded values never win.

    Shape:
        (N, C, H, W) -> (N, C, OH, OW), OH = (H + 2 * PH - KH) // SH + 1
    """
    kernel_size, stride, padding = _pool_arguments("max_pool2d", x, kernel_size, stride, padding)
    return MaxPool2dWindows.apply(x, kernel_size=kernel_size, stride=stride, padding=padding)


def avg_pool2d(x, kernel_size, stride=None, padding=0):
    """Average pooling, as torch.nn.functional.avg_pool2d with count_include_pad=True.

    Args:
        x: (N, C, H, W).
        kernel_size: int or (KH, KW).
        stride: int or (SH, SW); None means kernel_size.
        padding: int or (PH, PW) of zeros, at most half the kernel; they count in the mean.

    Shape:
        (N, C, H, W) -> (N, C, OH, OW), OH = (H + 2 * PH - KH) // SH + 1
    """
    kernel_size, stride, padding = _pool_arguments("avg_pool2d", x, kernel_size, stride, padding)
    return AvgPool2dWindows.apply(x, kernel_size=kernel_size, stride=stride, padding=padding)


def global_avg_pool2d(x):
    """Mean over each whole channel: the pooling before a ResNet's final linear layer.

    x.mean(dim=(2, 3)), whose backward spreads each gradient evenly over its channel's
    H * W inputs. PyTorch spells it adaptive_avg_pool2d(x, 1).flatten(1).

    Shape:
        (N, C, H, W) -> (N, C)
    """
    if len(shape_of(x)) != 4:
        raise ValueError(f"global_avg_pool2d: expected a 4-D input (N, C, H, W); got shape {shape_of(x)}")
    return mean(x, dim=(2, 3))


def adaptive_avg_pool2d(x, output_size):
    """Average pooling to a given output size, as torch.nn.functional.adaptive_avg_pool2d.

    Output pixel (oh, ow) is the mean of the input rows floor(oh * H / OH) up to
    ceil((oh + 1) * H / OH) and the columns found the same way. output_size 1 is the
    mean of each channel: global_avg_pool2d, keeping the (1, 1) image dimensions.

    Args:
        x: (N, C, H, W).
        output_size: int or (OH, OW); an entry None keeps that input size, as in PyTorch.

    Shape:
        (N, C, H, W) -> (N, C, OH, OW)
    """
    x_shape = shape_of(x)
    if len(x_shape) != 4:
        raise ValueError(f"adaptive_avg_pool2d: expected a 4-D input (N, C, H, W); got shape {x_shape}")
    if not isinstance(output_size, (tuple, list)):
        output_size = (output_size, output_size)
    if len(output_size) != 2:
        raise ValueError(f"adaptive_avg_pool2d: output_size must be an int or a pair (OH, OW); got {output_size!r}")
    output_size = tuple(size if entry is None else entry for entry, size in zip(output_size, x_shape[2:]))
    output_size = pair("adaptive_avg_pool2d", "output_size", output_size, minimum=1)
    if x_shape[2] == 0 or x_shape[3] == 0:
        raise ValueError(f"adaptive_avg_pool2d: the input image is empty (shape {x_shape})")
    return AdaptiveAvgPool2dBins.apply(x, output_size=output_size)
