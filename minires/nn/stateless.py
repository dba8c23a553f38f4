"""Layers without weights: activations, dropout, pooling, Flatten and Identity.

Each is a Module only so that it can sit in a Sequential and print in a model's
repr; its forward is one call to minires.functional. Signatures follow torch.nn.
"""

from minires import backend
from minires import functional as F
from minires.nn import kernels
from minires.nn.module import Module


class ReLU(Module):
    """max(x, 0), elementwise, as torch.nn.ReLU.

    Args:
        inplace: accepted for PyTorch's scripts (``nn.ReLU(inplace=True)``), but minires
            always computes a new tensor: it has no in-place ops on tensors in the graph.
            The values and gradients are the same; only memory use differs.
        fast: compute with minires.fast's relu (True) or F.relu (False): the same values.

    Shape:
        any shape -> the same shape
    """

    def __init__(self, inplace=False, fast=True):
        super().__init__()
        if not isinstance(inplace, bool):
            raise TypeError(f"ReLU: inplace must be True or False; got {inplace!r}")
        self.inplace = inplace
        self.fast = fast

    def forward(self, x):
        return kernels.relu(x, self.fast)

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""


class Sigmoid(Module):
    """1 / (1 + exp(-x)), elementwise, as torch.nn.Sigmoid.

    Shape:
        any shape -> the same shape
    """

    def forward(self, x):
        return F.sigmoid(x)


class Dropout(Module):
    """Zeroes each value with probability p in training and scales the rest by 1/(1 - p).

    As torch.nn.Dropout; in evaluation mode (``model.eval()``) it returns x unchanged.
    The mask comes from the device's generator, seeded by minires.manual_seed.

    Shape:
        any shape -> the same shape
    """

    def __init__(self, p=0.5):
        super().__init__()
        p = backend.scalar_value(p)                 # a NumPy number as a Python one
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p < 1.0:
            raise ValueError(f"Dropout: p must be a probability in [0, 1); got {p!r}")
        self.p = float(p)

    def forward(self, x):
        return F.dropout(x, self.p, training=self.training)

    def extra_repr(self):
        return f"p={self.p}"


class _Pool2d(Module):
    """What MaxPool2d and AvgPool2d share: the window's size, stride and padding."""

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        # stride=None means stride=kernel_size (non-overlapping windows), as in PyTorch.
        self.kernel_size, self.padding = kernel_size, padding
        self.stride = kernel_size if stride is None else stride

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxPool2d(_Pool2d):
    """Max pooling, as torch.nn.MaxPool2d (no dilation, return_indices or ceil_mode).

    Shape:
        (N, C, H, W) -> (N, C, OH, OW), OH = (H + 2 * padding - kernel_size) // stride + 1
    """

    def forward(self, x):
        return F.max_pool2d(x, self.kernel_size, self.stride, self.padding)


class AvgPool2d(_Pool2d):
    """Average pooling, as torch.nn.AvgPool2d with count_include_pad=True.

    Shape:
        (N, C, H, W) -> (N, C, OH, OW), OH = (H + 2 * padding - kernel_size) // stride + 1
    """

    def forward(self, x):
        return F.avg_pool2d(x, self.kernel_size, self.stride, self.padding)


class AdaptiveAvgPool2d(Module):
    """Average pooling to a given output size, as torch.nn.AdaptiveAvgPool2d.

    ``AdaptiveAvgPool2d(1)`` (or ``(1, 1)``) is the mean of each channel, the pooling
    before a CIFAR ResNet's last layer; other sizes average PyTorch's windows (see
    minires.functional.adaptive_avg_pool2d).

    Args:
        output_size: int or (OH, OW); an entry None keeps that input size.

    Shape:
        (N, C, H, W) -> (N, C, OH, OW)
    """

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, x):
        return F.adaptive_avg_pool2d(x, self.output_size)

    def extra_repr(self):
        return f"output_size={self.output_size}"


class GlobalAvgPool2d(Module):
    """The mean of each channel over the whole image; PyTorch writes
    ``nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())``.

    Shape:
        (N, C, H, W) -> (N, C)
    """

    def forward(self, x):
        return F.global_avg_pool2d(x)


class Flatten(Module):
    """Joins dimensions start_dim..end_dim into one, as torch.nn.Flatten (start_dim=1).

    Shape:
        (N, C, H, W) -> (N, C*H*W) with the defaults
    """

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x):
        return F.flatten(x, self.start_dim, self.end_dim)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Identity(Module):
    """Returns its input: a placeholder, e.g. the shortcut of a block whose shape is kept.

    Shape:
        any shape -> the same shape
    """

    def forward(self, x):
        return x
