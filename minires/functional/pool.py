"""Pooling: max_pool2d, avg_pool2d, global_avg_pool2d.

A pool slides a KH x KW window over each channel of an (N, C, H, W) input, with
stride (SH, SW), and keeps one number per window: the largest (max pooling) or the
mean (average pooling). As in conv.py, the windows are visited one kernel tap (i, j)
at a time: tap (i, j) sees a strided (N, C, OH, OW) slice of the padded input, so
the only Python loops run over the KH * KW taps.

    OH = (H + 2 * PH - KH) // SH + 1, OW = (W + 2 * PW - KW) // SW + 1

``ceil_mode`` and ``dilation`` are not supported (PyTorch's defaults, off, hold).
"""

from minires.autograd import Function
from minires.functional.conv import output_size, pad_border, tap_slice
from minires.functional.layout import memory_order, zeros_in_memory_order
from minires.functional.shape_utils import pair, shape_of


class MaxPool2d(Function):
    """Largest value per window; the padding counts as -inf, so it is never picked.

    Backward sends each window's gradient to the one input it picked. When several
    values tie, the first in row-major order is picked, as in PyTorch.
    """

    def __init__(self, kernel_size, stride, padding):
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding

    def forward(self, xp, x):
        KH, KW = self.kernel_size
        out_size = output_size("max_pool2d", x.shape, self.kernel_size, self.stride, self.padding)
        x_padded = pad_border(xp, x, self.padding, value=-xp.inf)
        largest, picked_tap = None, None                  # (N, C, OH, OW) each
        for tap in range(KH * KW):
            seen_by_tap = x_padded[tap_slice(tap // KW, tap % KW, self.stride, out_size)]
            if largest is None:
                largest = seen_by_tap.copy(order="K")                 # "K": x's memory layout
                picked_tap = xp.zeros_like(largest, dtype=xp.int32)
                continue
            # strictly larger keeps the first maximum; NaN wins, as in PyTorch
            better = (seen_by_tap > largest) | xp.isnan(seen_by_tap)
            largest = xp.where(better, seen_by_tap, largest)
            picked_tap = xp.where(better, tap, picked_tap)
        self.save_for_backward(picked_tap)                # which tap won each window
        self.input_shape, self.input_order = tuple(x.shape), memory_order(x)
        return largest

    def backward(self, grad_output):
        (picked_tap,) = self.saved
        xp = self.xp
        N, C, H, W = self.input_shape
        (KH, KW), (PH, PW) = self.kernel_size, self.padding
        grad_padded = zeros_in_memory_order(xp, (N, C, H + 2 * PH, W + 2 * PW), self.input_order,
                                            grad_output.dtype)              # laid out like x
        for tap in range(KH * KW):
            index = tap_slice(tap // KW, tap % KW, self.stride, grad_output.shape[2:])
            grad_padded[index] += xp.where(picked_tap == tap, grad_output, 0.0)
        return (grad_padded[:, :, PH:PH + H, PW:PW + W],)


class AvgPool2d(Function):
    """Mean per window; zero padding counts in the divisor KH * KW (PyTorch's default
    count_include_pad=True). Backward spreads each window's gradient evenly over it."""

    def __init__(self, kernel_size, stride, padding):
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding

    def forward(self, xp, x):
        KH, KW = self.kernel_size
        out_size = output_size("avg_pool2d", x.shape, self.kernel_size, self.stride, self.padding)
        x_padded = pad_border(xp, x, self.padding)
        self.input_shape, self.input_order = tuple(x.shape), memory_order(x)
        total = zeros_in_memory_order(xp, x.shape[:2] + out_size, self.input_order, x.dtype)   # (N, C, OH, OW)
        for tap in range(KH * KW):
            total += x_padded[tap_slice(tap // KW, tap % KW, self.stride, out_size)]
        return total / (KH * KW)

    def backward(self, grad_output):
        xp = self.xp
        N, C, H, W = self.input_shape
        (KH, KW), (PH, PW) = self.kernel_size, self.padding
        share = grad_output / (KH * KW)                               # (N, C, OH, OW)
        grad_padded = zeros_in_memory_order(xp, (N, C, H + 2 * PH, W + 2 * PW), self.input_order,
                                            grad_output.dtype)              # laid out like x
        for tap in range(KH * KW):
            grad_padded[tap_slice(tap // KW, tap % KW, self.stride, grad_output.shape[2:])] += share
        return (grad_padded[:, :, PH:PH + H, PW:PW + W],)


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
    return MaxPool2d.apply(x, kernel_size=kernel_size, stride=stride, padding=padding)


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
    return AvgPool2d.apply(x, kernel_size=kernel_size, stride=stride, padding=padding)


class GlobalAvgPool2d(Function):
    """Mean over each whole channel: (N, C, H, W) -> (N, C).

    Backward spreads each gradient evenly over its channel's H * W inputs, into an
    array laid out like the input (see layout.py): a channels-last gradient meeting
    channels-last arrays downstream keeps NumPy's element-wise loops fast.
    """

    def forward(self, xp, x):
        self.input_shape, self.input_order = tuple(x.shape), memory_order(x)
        return x.mean(axis=(2, 3))                                    # (N, C)

    def backward(self, grad_output):
        H, W = self.input_shape[2:]
        grad_x = zeros_in_memory_order(self.xp, self.input_shape, self.input_order, grad_output.dtype)
        grad_x[...] = (grad_output / (H * W)).reshape(grad_output.shape + (1, 1))   # (N, C, 1, 1) spread
        return (grad_x,)


def global_avg_pool2d(x):
    """Mean over each whole channel: the pooling before a ResNet's final linear layer.

    The same values as x.mean(dim=(2, 3)); a Function of its own so that its gradient
    keeps the input's memory layout. PyTorch spells it adaptive_avg_pool2d(x, 1).flatten(1).

    Shape:
        (N, C, H, W) -> (N, C)
    """
    if len(shape_of(x)) != 4:
        raise ValueError(f"global_avg_pool2d: expected a 4-D input (N, C, H, W); got shape {shape_of(x)}")
    return GlobalAvgPool2d.apply(x)
