"""Variants of the residual block, for studies of what the shortcut must be.

- ScaledResidualBlock: the shortcuts of "Identity Mappings in Deep Residual
  Networks" (He et al., 2016, Section 3, Fig. 2 and Table 1), which all do worse than
  the plain identity, and a version with both scales learned.
- SimplifiedBlock: one convolution and a ReLU, no batch norm, plain or residual, the
  nets of "Identity Connections in Residual Nets Improve Noise Stability" (Yu and
  Tomasi), whose residual and plain versions can compute exactly the same function.
"""

from minires import functional as F
from minires.nn import init, kernels
from minires.nn.blocks import ResidualBranch
from minires.nn.layers import Conv2d
from minires.nn.module import Module, Parameter, filled_array
from minires.nn.shortcuts import make_shortcut


# The names minires 0.1 gave the variants, kept as synonyms: a run's config.json may hold them.
OLD_VARIANT_NAMES = {"constant": "constant_scaling", "shortcut_gating": "shortcut_only_gating",
                     "conv1x1": "conv1x1_shortcut", "dropout": "dropout_shortcut"}


class ScaledResidualBlock(Module):
    """The original residual unit with its shortcut h(x) modified: y = ReLU(F(x) + h(x)).

    F(x) = BN(W2 ReLU(BN(W1 x))) is the residual branch (ResidualBranch) and the ReLU
    comes after the addition, as in the unit every row of "Identity Mappings in Deep
    Residual Networks" (He, Zhang, Ren and Sun, 2016, Fig. 2 and Table 1) modifies.
    ``variant`` takes the paper's names for the rows (the old names in parentheses
    still work, see OLD_VARIANT_NAMES); g(x) = sigmoid(conv1x1(x) + b_g) is a gate per
    value, b_g its bias, ``gate_bias``, initially (-6 by default, the paper's best):

        "learned"               y = ReLU(residual_scale F(x) + shortcut_scale x), both
                                scales learned scalars, initially 0.5 each (not a row of
                                the paper: the "lambda residual" of "History of Residuals
                                and a Word of Caution")
        "constant_scaling"      y = ReLU(residual_scale F(x) + shortcut_scale x), fixed
        ("constant")            scales: shortcut_scale 0.5 and residual_scale 1 by default
                                (the paper's "0.5 on the shortcut only"; residual_scale
                                0.5 is its "0.5 on both")
        "exclusive_gating"      y = ReLU(g(x) F(x) + (1 - g(x)) x): the formula of
                                HighwayBlock(gate="1x1", post_activation=True)
        "shortcut_only_gating"  y = ReLU(F(x) + (1 - g(x)) x)
        ("shortcut_gating")
        "conv1x1_shortcut"      y = ReLU(F(x) + conv1x1(x)), a learned 1x1 convolution
        ("conv1x1")             (no bias, He-initialised) on every block
        "dropout_shortcut"      y = ReLU(F(x) + m x) in training, m = 1 with probability
        ("dropout")             1 - p and 0 otherwise, drawn per value (p = dropout_p, 0.5
                                by default); y = ReLU(F(x) + (1 - p) x) in evaluation.
                                Not rescaled by 1/(1 - p) as F.dropout is: the paper reads
                                this shortcut as a scale whose expectation is 0.5, like
                                constant scaling by 0.5, which is what hampers it

    The scales apply in "learned" and "constant_scaling" only, gate_bias in the two
    gatings, dropout_p in "dropout_shortcut"; the gate's 1x1 convolution reads x and
    has the block's stride and out_channels. When the shape changes, x is first
    replaced by its option-A or option-B shortcut (except in "conv1x1_shortcut", whose
    convolution has the stride and the new width).

    Shape:
        (N, C_in, H, W) -> (N, C_out, ceil(H / stride), ceil(W / stride))
    """

    VARIANTS = ("learned", "constant_scaling", "exclusive_gating", "shortcut_only_gating",
                "conv1x1_shortcut", "dropout_shortcut")
    SCALED_VARIANTS = ("learned", "constant_scaling")
    GATED_VARIANTS = ("exclusive_gating", "shortcut_only_gating")

    def __init__(self, in_channels, out_channels, stride=1, variant="learned", residual_scale=None,
                 shortcut_scale=None, gate_bias=-6.0, dropout_p=0.5, shortcut="A"):
        super().__init__()
        variant = OLD_VARIANT_NAMES.get(variant, variant)
        if variant not in self.VARIANTS:
            raise ValueError(f"ScaledResidualBlock: variant must be one of {self.VARIANTS} (or an old name: "
                             f"{', '.join(OLD_VARIANT_NAMES)}); got {variant!r}")
        if (residual_scale is not None or shortcut_scale is not None) and variant not in self.SCALED_VARIANTS:
            raise ValueError(f"ScaledResidualBlock: residual_scale and shortcut_scale apply to the "
                             f"'learned' and 'constant_scaling' variants, not {variant!r}")
        self.variant = variant
        self.branch = ResidualBranch(in_channels, out_channels, stride)             # F
        if variant == "conv1x1_shortcut":
            self.shortcut = Conv2d(in_channels, out_channels, kernel_size=1, stride=stride, bias=False)
            init.kaiming_normal_(self.shortcut.weight, nonlinearity="relu")
        else:
            self.shortcut = make_shortcut(shortcut, in_channels, out_channels, stride)
        if variant == "learned":
            self.residual_scale = Parameter(filled_array((), 0.5 if residual_scale is None else residual_scale))
            self.shortcut_scale = Parameter(filled_array((), 0.5 if shortcut_scale is None else shortcut_scale))
        elif variant == "constant_scaling":
            self.residual_scale = 1.0 if residual_scale is None else float(residual_scale)
            self.shortcut_scale = 0.5 if shortcut_scale is None else float(shortcut_scale)
        elif variant in self.GATED_VARIANTS:
            self.gate = Conv2d(in_channels, out_channels, kernel_size=1, stride=stride)    # g before the sigmoid
            init.constant_(self.gate.bias, gate_bias)                                      # b_g
        elif variant == "dropout_shortcut":
            if not 0.0 <= dropout_p < 1.0:
                raise ValueError(f"ScaledResidualBlock: dropout_p must be in [0, 1); got {dropout_p!r}")
            self.dropout_p = float(dropout_p)

    def forward(self, x):
        branch = self.branch(x)                        # F(x)
        carried = self.shortcut(x)                     # x, or its option-A/B/1x1 shortcut
        if self.variant in self.SCALED_VARIANTS:
            return kernels.relu(self.residual_scale * branch + self.shortcut_scale * carried, self.fast)
        if self.variant == "exclusive_gating":
            gate = F.sigmoid(self.gate(x))             # g(x), in (0, 1)
            return kernels.relu(gate * branch + (1.0 - gate) * carried, self.fast)
        if self.variant == "shortcut_only_gating":
            gate = F.sigmoid(self.gate(x))             # g(x), in (0, 1)
            return kernels.relu(branch + (1.0 - gate) * carried, self.fast)
        if self.variant == "dropout_shortcut":
            kept_share = 1.0 - self.dropout_p                          # E[m] = 1 - p
            if self.training:                                          # F.dropout gives m x / (1 - p)
                carried = F.dropout(carried, self.dropout_p, training=True) * kept_share     # m x
            else:
                carried = carried * kept_share                         # (1 - p) x, m's expectation
            return kernels.relu(branch + carried, self.fast)
        return kernels.relu(branch + carried, self.fast)                # conv1x1_shortcut

    def extra_repr(self):
        return f"variant={self.variant!r}"


class SimplifiedBlock(Module):
    """One 3x3 convolution (with bias) and a ReLU, no batch norm; plain or residual.

    The simplified block of "Identity Connections in Residual Nets Improve Noise
    Stability" (Yu and Tomasi). It is not the block of "Identity Matters in Deep
    Learning" (Hardt and Ma, 2017), x + C2(ReLU(C1(x))) with two convolutions; the
    Noise Stability paper takes only Hardt and Ma's initialisation from there, for its
    residual nets (minires.nn.init.hardt_ma_normal_):

        plain     y = ReLU(conv(x))
        residual  y = ReLU(conv(x) + x)

    Since x = conv_I(x) for the identity kernel I (1 at the centre tap of channel c's
    own kernel, [c, c, 1, 1], 0 elsewhere), ReLU(conv_W(x) + x) = ReLU(conv_{W+I}(x)):
    a residual block with weight W is a plain block with weight W + I. The "ID
    entries" [c, c, 1, 1] are all that differ; minires.models.to_plain and
    to_residual move a whole net between the two forms.

    Shape:
        (N, C, H, W) -> (N, C, H, W)
    """

    def __init__(self, channels, residual):
        super().__init__()
        self.residual = bool(residual)
        self.conv = Conv2d(channels, channels, kernel_size=3, padding=1)

    def forward(self, x):
        y = self.conv(x)
        return kernels.relu(y + x if self.residual else y, self.fast)

    def extra_repr(self):
        return f"residual={self.residual}"
