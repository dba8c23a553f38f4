"""The pieces every convolutional block shares: its 3x3 convolution and its shortcut.

When a block changes the shape (stride 2, twice the channels), x cannot be added to
F(x) as it is. "Deep Residual Learning for Image Recognition" (He et al., 2016,
Section 3.3) gives two options, both here:

- option A: the identity, strided, with the new channels zero. No parameters; the
  CIFAR-10 ResNets of the paper use it;
- option B: a projection, a 1x1 convolution with stride followed by batch norm.
"""

from minires import functional as F
from minires.nn import init
from minires.nn.container import Sequential
from minires.nn.layers import BatchNorm2d, Conv2d
from minires.nn.module import Module
from minires.nn.stateless import Identity

SHORTCUT_OPTIONS = ("A", "B")


def conv3x3(in_channels, out_channels, stride=1):
    """A 3x3 convolution with padding 1 and no bias (batch norm follows it), He-initialised.

    kaiming_normal_ with the ReLU gain, std = sqrt(2 / (9 * in_channels)), the
    initialisation the ResNet paper uses ("Delving Deep into Rectifiers").

    Shape:
        (N, in_channels, H, W) -> (N, out_channels, ceil(H / stride), ceil(W / stride))
    """
    conv = Conv2d(in_channels, out_channels, kernel_size=3, stride=stride, padding=1, bias=False)
    init.kaiming_normal_(conv.weight, nonlinearity="relu")
    return conv


class ShortcutA(Module):
    """Option A: keep every stride-th pixel and append zero channels.

    The first C_in output channels are x itself, subsampled; the other
    C_out - C_in are zero, so they carry nothing until the residual branch writes them.

    Shape:
        (N, C_in, H, W) -> (N, C_out, ceil(H / stride), ceil(W / stride))
    """

    def __init__(self, in_channels, out_channels, stride):
        super().__init__()
        if out_channels < in_channels:
            raise ValueError(f"ShortcutA: option A can only add channels; got {in_channels} -> "
                             f"{out_channels} (use shortcut='B', a 1x1 convolution)")
        self.in_channels, self.out_channels, self.stride = in_channels, out_channels, stride

    def forward(self, x):
        if self.stride != 1:
            x = x[:, :, ::self.stride, ::self.stride]           # (N, C_in, ceil(H/s), ceil(W/s))
        extra_channels = self.out_channels - self.in_channels
        if extra_channels:
            # pad's pairs run from the last dimension: W, then H, then C (after the old ones).
            x = F.pad(x, (0, 0, 0, 0, 0, extra_channels))      # (N, C_out, ceil(H/s), ceil(W/s))
        return x

    def extra_repr(self):
        return f"{self.in_channels}, {self.out_channels}, stride={self.stride}"


def make_shortcut(option, in_channels, out_channels, stride):
    """The shortcut of a block: Identity when the shape is kept, else option A or B.

    Args:
        option: "A" (zero-padded identity) or "B" (1x1 convolution and batch norm).

    Shape:
        (N, in_channels, H, W) -> (N, out_channels, ceil(H / stride), ceil(W / stride))
    """
    if option not in SHORTCUT_OPTIONS:
        raise ValueError(f"shortcut must be one of {SHORTCUT_OPTIONS}; got {option!r}")
    if in_channels == out_channels and stride == 1:
        return Identity()
    if option == "A":
        return ShortcutA(in_channels, out_channels, stride)
    projection = Conv2d(in_channels, out_channels, kernel_size=1, stride=stride, bias=False)
    init.kaiming_normal_(projection.weight, nonlinearity="relu")
    return Sequential(projection, BatchNorm2d(out_channels))
