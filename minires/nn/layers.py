"""Layers with weights: Conv2d, Linear, BatchNorm1d and BatchNorm2d, as in torch.nn.

Each holds its Parameters (and batch norm its running statistics, as buffers) and
calls one op of minires.functional in forward. Every layer takes ``device`` and
``dtype`` like PyTorch's: by default the weights are float32 on minires.get_device().
Initial values are PyTorch's defaults, drawn on the host (see minires.nn.init).
"""

import math

from minires import backend
from minires import functional as F
from minires.functional.shape_utils import pair
from minires.nn import init, kernels
from minires.nn.module import Module, Parameter, filled_array
from minires.tensor import Tensor


def _check_size(layer, name, value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{layer}: {name} must be a positive int; got {value!r}")


class Conv2d(Module):
    """2-D convolution layer, as torch.nn.Conv2d, with its arguments in its order.

    Args:
        in_channels, out_channels: C_in and C_out.
        kernel_size, stride, padding: an int or an (H, W) pair.
        dilation: 1 only (minires has no dilated convolution; another value is an error).
        groups: split the channels into this many groups, each with its own kernels
            (groups = C_in: depthwise); both divide C_in and C_out.
        bias: learn a (C_out,) bias. Leave it out before batch norm, whose beta does its job.
        padding_mode: "zeros" only.
        fast: compute with minires.fast's conv2d (True) or F.conv2d, the im2col
            reference (False): the same values (see minires/nn/kernels.py).

    Attributes:
        weight: (C_out, C_in // groups, KH, KW), initialised as PyTorch does:
            kaiming_uniform_(a=sqrt(5)), that is uniform on +-1/sqrt(fan_in).
        bias: (C_out,) uniform on +-1/sqrt(fan_in), or None.

    Shape:
        (N, C_in, H, W) -> (N, C_out, OH, OW), OH = (H + 2 * padding - KH) // stride + 1
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", device=None, dtype=None, fast=True):
        super().__init__()
        self.fast = fast
        _check_size("Conv2d", "in_channels", in_channels)
        _check_size("Conv2d", "out_channels", out_channels)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = pair("Conv2d", "kernel_size", kernel_size, minimum=1)
        self.stride = pair("Conv2d", "stride", stride, minimum=1)
        self.padding = pair("Conv2d", "padding", padding, minimum=0)
        if pair("Conv2d", "dilation", dilation, minimum=1) != (1, 1):
            raise ValueError(f"Conv2d: dilation must be 1; minires has no dilated convolution (got {dilation!r})")
        if padding_mode != "zeros":
            raise ValueError(f"Conv2d: padding_mode must be 'zeros'; minires pads with zeros only "
                             f"(got {padding_mode!r})")
        _check_size("Conv2d", "groups", groups)
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"Conv2d: groups={groups} must divide in_channels ({in_channels}) and "
                             f"out_channels ({out_channels})")
        self.groups = groups
        shape = (out_channels, in_channels // groups) + self.kernel_size
        self.weight = Parameter(filled_array(shape, 0.0, device, dtype))
        self.bias = Parameter(filled_array((out_channels,), 0.0, device, dtype)) if bias else None
        self.reset_parameters()

    def reset_parameters(self):
        """PyTorch's default initialisation (see the class docstring)."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5.0))
        if self.bias is not None:
            bound = 1.0 / math.sqrt(self.in_channels // self.groups * math.prod(self.kernel_size))
            init.uniform_(self.bias, -bound, bound)

    def forward(self, x):
        return kernels.conv2d(x, self.weight, self.bias, self.stride, self.padding, fast=self.fast,
                              groups=self.groups)

    def extra_repr(self):
        text = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0, 0):
            text += f", padding={self.padding}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        return text + ("" if self.bias is not None else ", bias=False")


class Linear(Module):
    """Fully connected layer y = x W^T + b, as torch.nn.Linear.

    Attributes:
        weight: (out_features, in_features), uniform on +-1/sqrt(in_features).
        bias: (out_features,), uniform on +-1/sqrt(in_features), or None.

    Shape:
        (*, in_features) -> (*, out_features)
    """

    def __init__(self, in_features, out_features, bias=True, device=None, dtype=None):
        super().__init__()
        _check_size("Linear", "in_features", in_features)
        _check_size("Linear", "out_features", out_features)
        self.in_features, self.out_features = in_features, out_features
        self.weight = Parameter(filled_array((out_features, in_features), 0.0, device, dtype))
        self.bias = Parameter(filled_array((out_features,), 0.0, device, dtype)) if bias else None
        self.reset_parameters()

    def reset_parameters(self):
        """PyTorch's default initialisation (see the class docstring)."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5.0))
        if self.bias is not None:
            bound = 1.0 / math.sqrt(self.in_features)
            init.uniform_(self.bias, -bound, bound)

    def forward(self, x):
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}"
                + ("" if self.bias is not None else ", bias=False"))


class _BatchNorm(Module):
    """What BatchNorm1d and BatchNorm2d share; they differ only in the input they accept.

    Attributes:
        weight, bias: (C,) gamma (initialised to 1) and beta (to 0), or None when
            ``affine=False``.
        running_mean, running_var: (C,) buffers (0 and 1 at first), updated in place
            during training with ``momentum``; None when ``track_running_stats=False``.
        fast: compute with minires.fast's batch norm (True) or F.batch_norm (False).
        num_batches_tracked: a 0-d int64 buffer counting training batches, kept for
            state dicts with PyTorch's names (PyTorch uses it only for momentum=None,
            which minires does not support). A state dict without it loads, even with
            strict=True, as in PyTorch: the count keeps its value.
    """

    expected_dims = None      # 2 for BatchNorm1d, 4 for BatchNorm2d
    expected_shape = ""
    # PyTorch before 0.4.1 saved no num_batches_tracked, and PyTorch still loads such
    # checkpoints with strict=True, keeping the count it has: so does minires.
    optional_state = ("num_batches_tracked",)

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True,
                 device=None, dtype=None, fast=True):
        super().__init__()
        self.fast = fast
        _check_size(type(self).__name__, "num_features", num_features)
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        self.weight = Parameter(filled_array((num_features,), 1.0, device, dtype)) if affine else None
        self.bias = Parameter(filled_array((num_features,), 0.0, device, dtype)) if affine else None
        running_mean = running_var = num_batches_tracked = None
        if track_running_stats:
            running_mean = Tensor(filled_array((num_features,), 0.0, device, dtype))
            running_var = Tensor(filled_array((num_features,), 1.0, device, dtype))
            num_batches_tracked = Tensor(filled_array((), 0, device, backend.int64))
        self.register_buffer("running_mean", running_mean)
        self.register_buffer("running_var", running_var)
        self.register_buffer("num_batches_tracked", num_batches_tracked)

    def forward(self, x):
        shape = tuple(x.shape)
        if len(shape) != self.expected_dims:
            raise ValueError(f"{type(self).__name__}: expected an input of shape {self.expected_shape}; "
                             f"got {shape}")
        if shape[1] != self.num_features:
            raise ValueError(f"{type(self).__name__}: the input has {shape[1]} channels but the layer "
                             f"was built for {self.num_features} (input shape {shape})")
        if self.training and self.track_running_stats:
            self.num_batches_tracked.array += 1
        # Batch statistics in training, and always when no running statistics are kept.
        use_batch_stats = self.training or not self.track_running_stats
        return kernels.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                                  use_batch_stats, self.momentum, self.eps, fast=self.fast)

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch norm over the batch, per feature, as torch.nn.BatchNorm1d for (N, C) inputs.

    PyTorch's (N, C, L) inputs are not supported. See _BatchNorm for the attributes and
    minires.functional.batch_norm for the computation.

    Shape:
        (N, C) -> (N, C)
    """

    expected_dims = 2
    expected_shape = "(N, C)"


class BatchNorm2d(_BatchNorm):
    """Batch norm over the batch and the image, per channel, as torch.nn.BatchNorm2d.

    See _BatchNorm for the attributes and minires.functional.batch_norm for the
    computation and its backward.

    Shape:
        (N, C, H, W) -> (N, C, H, W)
    """

    expected_dims = 4
    expected_shape = "(N, C, H, W)"
