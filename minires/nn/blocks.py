"""The four families of convolutional blocks this project compares.

Every block maps (N, C_in, H, W) to (N, C_out, H / stride, W / stride) and computes
the same residual branch F, two 3x3 convolutions with batch norm,

    F(x) = BN(conv(ReLU(BN(conv(x)))))

and differs only in what it does with x:

    plain       y = ReLU(F(x))                                   no shortcut
    residual    y = ReLU(F(x) + x)                               ResNet v1
    highway     y = H(x) T(x) + x (1 - T(x))                     gated carry
    VAN         y = ReLU(F(x) + (1 - alpha) x)                   fading carry

The residual block also takes the five activation placements of "Identity Mappings
in Deep Residual Networks" (He, Zhang, Ren and Sun, 2016, Fig. 4 and Table 2):
ResidualBlock's ``placement``. When the shape changes, x is replaced by its shortcut,
option A or B (see minires.nn.shortcuts). Blocks are made only of minires.functional calls and layers
(ReLU through kernels.relu: F.relu, or its fast kernel when the block's ``fast`` is
True): autograd derives every backward, including the one through the identity path.
"""

from minires import functional as F
from minires.nn import init, kernels
from minires.nn.layers import BatchNorm2d, Conv2d
from minires.nn.module import Module, Parameter, filled_array
from minires.nn.shortcuts import conv3x3, make_shortcut
from minires.tensor import Tensor


def per_channel(values):
    """A (C,) tensor as (1, C, 1, 1), to scale each channel of an (N, C, H, W) tensor."""
    return F.reshape(values, (1, -1, 1, 1))


class ResidualBranch(Module):
    """F(x) = BN(conv3x3(ReLU(BN(conv3x3(x))))): the branch every block below shares.

    The first convolution carries the stride and the change of width; ``hidden_channels``
    (default out_channels) is the width between the two convolutions. With
    ``last_bn=False`` the branch ends at the second convolution, conv3x3(ReLU(BN(conv3x3(x)))),
    for a block that normalizes after the addition (ResidualBlock's "bn_after_addition").

    Shape:
        (N, C_in, H, W) -> (N, C_out, ceil(H / stride), ceil(W / stride))
    """

    def __init__(self, in_channels, out_channels, stride=1, hidden_channels=None, last_bn=True):
        super().__init__()
        hidden_channels = out_channels if hidden_channels is None else hidden_channels
        self.last_bn = last_bn
        self.conv1 = conv3x3(in_channels, hidden_channels, stride)
        self.bn1 = BatchNorm2d(hidden_channels)
        self.conv2 = conv3x3(hidden_channels, out_channels)
        if last_bn:
            self.bn2 = BatchNorm2d(out_channels)

    def forward(self, x):
        y = self.conv2(kernels.relu(self.bn1(self.conv1(x)), self.fast))
        return self.bn2(y) if self.last_bn else y


class PlainBlock(Module):
    """Two conv-BN-ReLU layers and no shortcut: y = ReLU(F(x)).

    The baseline whose training error grows with depth ("Deep Residual Learning for
    Image Recognition", He et al., 2016, Fig. 1: the degradation problem).

    Shape:
        (N, C_in, H, W) -> (N, C_out, ceil(H / stride), ceil(W / stride))
    """

    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__()
        self.branch = ResidualBranch(in_channels, out_channels, stride)

    def forward(self, x):
        return kernels.relu(self.branch(x), self.fast)


def _checked_placement(preact, placement):
    """The placement ResidualBlock builds: ``placement``, or what ``preact`` says when it is None."""
    if placement is None:
        return "full_preactivation" if preact else "original"
    if placement not in ResidualBlock.PLACEMENTS:
        raise ValueError(f"ResidualBlock: placement must be one of {ResidualBlock.PLACEMENTS}; got {placement!r}")
    if preact and placement != "full_preactivation":
        raise ValueError(f"ResidualBlock: preact=True is placement='full_preactivation'; it cannot also be "
                         f"placement={placement!r} (give one of the two)")
    return placement


class ResidualBlock(Module):
    """The ResNet basic block, v1 (post-activation), v2 (pre-activation), or between.

    v1, "Deep Residual Learning for Image Recognition" (He et al., 2016):
        y = ReLU(F(x) + shortcut(x)),   F = BN(conv(ReLU(BN(conv(x)))))
    v2, "Identity Mappings in Deep Residual Networks" (He et al., 2016), ``preact=True``:
        y = G(x) + shortcut(x),         G = conv(ReLU(BN(conv(ReLU(BN(x))))))
    In v2 nothing follows the add, so x reaches the next block unchanged: through
    many blocks, dL/dx_l = dL/dx_L (1 + d/dx_l sum of the branches), and the 1 carries
    the gradient back without passing any weight. When the shape changes, v2's
    shortcut takes the pre-activated ReLU(BN(x)), as in the paper's code.

    ``placement`` builds any of the five units that paper compares (Fig. 4, Table 2:
    ResNet-110 on CIFAR-10), W1 and W2 the two 3x3 convolutions, x the shortcut:

        "original"                  y = ReLU(BN(W2 ReLU(BN(W1 x))) + x)     v1, the default
        "bn_after_addition"         y = ReLU(BN(W2 ReLU(BN(W1 x)) + x))
        "relu_before_addition"      y = x + ReLU(BN(W2 ReLU(BN(W1 x))))
        "relu_only_preactivation"   y = x + BN(W2 ReLU(BN(W1 ReLU(x))))
        "full_preactivation"        y = x + W2 ReLU(BN(W1 ReLU(BN(x))))     v2, as preact=True

    "full_preactivation" is preact=True: the same modules, names and function. The
    three between keep the first two's ``branch`` (a ResidualBranch; without its last
    BN in "bn_after_addition", whose BN after the sum is ``bn_after_addition``). As in
    v2, the ReLU-only pre-activation feeds the shortcut ReLU(x) when the shape changes;
    the post-activation placements feed it x.

    Args:
        shortcut: "A" or "B", used only when the shape changes (minires.nn.shortcuts).
        placement: one of ResidualBlock.PLACEMENTS; None (the default) is "original", or
            "full_preactivation" when preact=True.
        zero_init_last_bn: start the branch at 0, so that the block starts as its
            shortcut ("zeroBN", Goyal et al., 2017). v1 starts the last BN's weight
            (gamma) at 0 and then computes ReLU(x). v2 computes exactly x, but there the
            last BN is followed by ReLU and a convolution: with gamma = 0 the ReLU would
            sit at 0, where its derivative is 0, and no weight of the branch would ever
            get a gradient. So v2 starts the last convolution's weight at 0 instead,
            which still gets a gradient. "relu_only_preactivation" zeroes its last BN's
            gamma and computes exactly x. "bn_after_addition" and "relu_before_addition"
            refuse it: the first normalizes after the addition, so it can never start as
            x; the second ends its branch with ReLU(BN(...)), which a zero gamma or a
            zero convolution would leave at 0, with no gradient for any weight.

    Shape:
        (N, C_in, H, W) -> (N, C_out, ceil(H / stride), ceil(W / stride))
    """

    PLACEMENTS = ("original", "bn_after_addition", "relu_before_addition", "relu_only_preactivation",
                  "full_preactivation")

    def __init__(self, in_channels, out_channels, stride=1, preact=False, shortcut="A",
                 zero_init_last_bn=False, placement=None):
        super().__init__()
        self.placement = _checked_placement(preact, placement)
        self.preact = self.placement == "full_preactivation"
        if zero_init_last_bn and self.placement in ("bn_after_addition", "relu_before_addition"):
            raise ValueError(f"ResidualBlock: zero_init_last_bn cannot start a {self.placement!r} block as "
                             "its shortcut (see the docstring); leave it out, or use placement 'original', "
                             "'relu_only_preactivation' or 'full_preactivation'")
        if self.preact:
            self.bn1 = BatchNorm2d(in_channels)
            self.conv1 = conv3x3(in_channels, out_channels, stride)
            self.bn2 = BatchNorm2d(out_channels)
            self.conv2 = conv3x3(out_channels, out_channels)
            last_weight = self.conv2.weight      # see zero_init_last_bn above
        else:
            self.branch = ResidualBranch(in_channels, out_channels, stride,
                                         last_bn=self.placement != "bn_after_addition")
            last_weight = self.branch.bn2.weight if self.branch.last_bn else None
        self.shortcut = make_shortcut(shortcut, in_channels, out_channels, stride)
        if self.placement == "bn_after_addition":
            self.bn_after_addition = BatchNorm2d(out_channels)
        self.changes_shape = in_channels != out_channels or stride != 1
        if zero_init_last_bn:
            init.zeros_(last_weight)

    def forward(self, x):
        if self.placement == "original":                     # ReLU(F(x) + x)
            return kernels.relu(self.branch(x) + self.shortcut(x), self.fast)
        if self.placement == "bn_after_addition":            # ReLU(BN(F(x) + x)), F without its last BN
            return kernels.relu(self.bn_after_addition(self.branch(x) + self.shortcut(x)), self.fast)
        if self.placement == "relu_before_addition":         # ReLU(F(x)) + x
            return kernels.relu(self.branch(x), self.fast) + self.shortcut(x)
        if self.placement == "relu_only_preactivation":      # F(ReLU(x)) + x
            activated = kernels.relu(x, self.fast)
            return self.branch(activated) + self.shortcut(activated if self.changes_shape else x)
        activated = kernels.relu(self.bn1(x), self.fast)     # full_preactivation: G(x) + x
        branch = self.conv2(kernels.relu(self.bn2(self.conv1(activated)), self.fast))
        return branch + self.shortcut(activated if self.changes_shape else x)

    def extra_repr(self):
        if self.preact:
            return "preact=True"
        return "" if self.placement == "original" else f"placement={self.placement!r}"


class HighwayBlock(Module):
    """y = H(x) T(x) + x (1 - T(x)): a learned gate T mixes the branch and the carry.

    From "Highway Networks" / "Training Very Deep Networks" (Srivastava, Greff and
    Schmidhuber, 2015). H is the residual branch F; the transform gate
    T = sigmoid(gate path) is computed per value, in (0, 1): T near 0 carries x,
    T near 1 replaces it by H(x).

    Args:
        gate: "full" (default), a gate path like H: conv3x3-BN-ReLU-conv3x3-BN, the same
            receptive field and width; or "1x1", one 1x1 convolution with bias, the
            exclusive gating of "Identity Mappings in Deep Residual Networks" (with
            post_activation=True, the formula of ScaledResidualBlock's
            "exclusive_gating", whose gate_bias starts at -6 rather than -1).
        gate_bias: the gate path's initial bias (the last BN's beta, or the 1x1
            convolution's bias). Negative biases start the block close to carrying x:
            sigmoid(-1) = 0.27 with the default. With the full gate, whose last BN
            spreads the pre-activation around that bias with std 1, the mean gate
            is higher than sigmoid(bias) (lesson 5 measures 0.29 at -1, 0.15 at -2).
        post_activation: apply ReLU after the combination (the "Identity Mappings" variant).
        zero_init_last_bn: start H's last BN at gamma = 0, so that H(x) = 0 and the block
            starts as y = x (1 - T(x)) (then ReLU, with post_activation): the "zeroBN"
            of "Weighted Skip Connections are Not Harmful for Deep Nets", which makes a
            post-activation highway net with full gates trainable.
        width_factor: the width of H and T between their two convolutions, as a fraction
            of out_channels (rounded, at least 1). Highway nets in the literature use
            about 0.875 to keep the parameter count near a residual net's.
        shortcut: "A" or "B", the carry when the shape changes.

    Shape:
        (N, C_in, H, W) -> (N, C_out, ceil(H / stride), ceil(W / stride))
    """

    GATES = ("full", "1x1")

    def __init__(self, in_channels, out_channels, stride=1, gate="full", gate_bias=-1.0,
                 post_activation=False, width_factor=1.0, shortcut="A", zero_init_last_bn=False):
        super().__init__()
        if gate not in self.GATES:
            raise ValueError(f"HighwayBlock: gate must be one of {self.GATES}; got {gate!r}")
        if not width_factor > 0:
            raise ValueError(f"HighwayBlock: width_factor must be positive; got {width_factor!r}")
        hidden_channels = max(1, round(out_channels * width_factor))
        self.gate, self.post_activation = gate, post_activation
        self.transform = ResidualBranch(in_channels, out_channels, stride, hidden_channels)   # H
        if zero_init_last_bn:
            init.zeros_(self.transform.bn2.weight)                         # H(x) = 0 at the start
        if gate == "full":
            self.transform_gate = ResidualBranch(in_channels, out_channels, stride, hidden_channels)
            init.constant_(self.transform_gate.bn2.bias, gate_bias)
        else:
            self.transform_gate = Conv2d(in_channels, out_channels, kernel_size=1, stride=stride)
            init.constant_(self.transform_gate.bias, gate_bias)
        self.carry = make_shortcut(shortcut, in_channels, out_channels, stride)

    def forward(self, x):
        transform_gate = F.sigmoid(self.transform_gate(x))                 # T(x), in (0, 1)
        carried = self.carry(x)
        y = self.transform(x) * transform_gate + carried * (1.0 - transform_gate)
        return kernels.relu(y, self.fast) if self.post_activation else y

    def extra_repr(self):
        return f"gate={self.gate!r}, post_activation={self.post_activation}"


class VANBlock(Module):
    """y = ReLU(F(x) + (1 - alpha) x): a residual block whose skip can be phased out.

    From "Avoiding degradation in deep feed-forward networks by phasing out
    skip-connections" (Monti, Tootoonian and Cao, 2018). alpha (α in the paper), one
    value per channel, starts at 0: the block is a residual block (ResNet v1). As
    alpha reaches 1, the skip disappears and the block is a PlainBlock. Training
    solves "minimise L subject to alpha = 1" with a Lagrange multiplier lambda (λ),
    one per channel, starting at -1; minires.optim.VANConstraint does, at each step,

        alpha  <- clip(alpha - lr * (dL/dalpha + lambda), 0, 1)     descent
        lambda <- lambda + eta' * (alpha - 1)                       ascent

    with eta' a fraction of lr (1/2 on MNIST, 1/10 on CIFAR in the paper).

    Attributes:
        alpha: (C_out,) Parameter, initially 0.
        lagrange_multiplier: (C_out,) buffer (not learned by gradient), initially -1.

    Shape:
        (N, C_in, H, W) -> (N, C_out, ceil(H / stride), ceil(W / stride))
    """

    def __init__(self, in_channels, out_channels, stride=1, shortcut="A"):
        super().__init__()
        self.branch = ResidualBranch(in_channels, out_channels, stride)
        self.shortcut = make_shortcut(shortcut, in_channels, out_channels, stride)
        self.alpha = Parameter(filled_array((out_channels,), 0.0))                    # α
        self.register_buffer("lagrange_multiplier",                                   # λ
                             Tensor(filled_array((out_channels,), -1.0)))

    def forward(self, x):
        skip_weight = per_channel(1.0 - self.alpha)                          # (1, C, 1, 1)
        return kernels.relu(self.branch(x) + skip_weight * self.shortcut(x), self.fast)
