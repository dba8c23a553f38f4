"""Whole networks: the CIFAR-10 nets of the ResNet paper in every family, the simplified
nets without batch norm, and thin fully connected nets.

    import minires as mr
    net = mr.models.cifar_net("residual", depth=20)      # ResNet-20, 0.27M parameters
    plain = mr.models.cifar_net("plain", depth=56)       # the same shape, no shortcuts
    relu_first = mr.models.cifar_net("residual", depth=110, placement="relu_before_addition")
"""

import copy

from minires import backend
from minires import nn
from minires.nn import init, kernels
from minires.nn.dense_blocks import dense_layer

CIFAR_FAMILIES = ("plain", "residual", "residual_v2", "highway", "van", "scaled_residual")
MLP_FAMILIES = ("plain", "residual", "highway", "van")


def _cifar_block(family, in_channels, out_channels, stride, block_options):
    if family == "plain":
        return nn.PlainBlock(in_channels, out_channels, stride, **block_options)
    if family == "residual":
        return nn.ResidualBlock(in_channels, out_channels, stride, **block_options)
    if family == "residual_v2":
        return nn.ResidualBlock(in_channels, out_channels, stride, preact=True, **block_options)
    if family == "highway":
        return nn.HighwayBlock(in_channels, out_channels, stride, **block_options)
    if family == "van":
        return nn.VANBlock(in_channels, out_channels, stride, **block_options)
    return nn.ScaledResidualBlock(in_channels, out_channels, stride, **block_options)


def blocks_per_stage(depth, stages=3) -> int:
    """n for a CIFAR net of depth 2 * stages * n + 2 (6n + 2 for the ResNet paper's three
    stages, 8n + 2 for the VAN paper's four); a clear error for any other depth."""
    if isinstance(depth, bool) or not isinstance(depth, int):
        raise TypeError(f"cifar_net: depth must be an int; got {depth!r}")
    if stages not in (3, 4):
        raise ValueError(f"cifar_net: stages must be 3 (the ResNet paper's nets) or 4 (the VAN paper's); "
                         f"got {stages!r}")
    step = 2 * stages                                     # layers added by one more block per stage
    smallest = step + 2
    if depth >= smallest and (depth - 2) % step == 0:
        return (depth - 2) // step
    below = (depth - 2) // step * step + 2
    nearest = [d for d in (below, below + step) if d >= smallest] if depth > smallest else [smallest]
    examples = ", ".join(str(step * n + 2) for n in (1, 2, 3, 5, 7, 9))
    raise ValueError(
        f"cifar_net: with {stages} stages, depth must be {step}n + 2 with n >= 1 ({examples}, ...): "
        f"2 layers (the first convolution and the final linear layer) and {stages} stages of n blocks "
        f"of 2 convolutions; {depth} is not. The nearest valid "
        f"depth{'s are' if len(nearest) > 1 else ' is'} " + " and ".join(str(d) for d in nearest))


class CifarNet(nn.Module):
    """The CIFAR-10 network of "Deep Residual Learning for Image Recognition", Section 4.2.

        stem     conv3x3(3 -> width), BN, ReLU                      (N, width, 32, 32)
        stage1   n blocks of width channels                         (N, width, 32, 32)
        stage2   n blocks of 2 * width, the first with stride 2     (N, 2 * width, 16, 16)
        stage3   n blocks of 4 * width, the first with stride 2     (N, 4 * width, 8, 8)
        (stage4  n blocks of 8 * width, the first with stride 2     (N, 8 * width, 4, 4))
        pool     the mean of each channel                           (N, C_last)
        fc       linear layer to the classes                        (N, num_classes)

    depth = 6n + 2 counts the weighted layers: the stem, 2 per block, the fc. With
    ``stages=4``, the nets of the VAN paper (Section 4.2: four stages of n blocks,
    downsampling at the start of stages 2, 3 and 4, depth 8n + 2); the paper does not
    give their widths, so the widths keep doubling as in the ResNet paper it follows.
    residual_v2 (pre-activation blocks) adds BN and ReLU before the pool, since its
    blocks end with a convolution; so does residual with placement="full_preactivation",
    the same net. With placement="relu_only_preactivation" the blocks end with BN, and
    the net adds a ReLU before the pool: the extra activation that "Identity Mappings in
    Deep Residual Networks" puts after the last pre-activation unit's addition. See cifar_net.
    """

    def __init__(self, family, depth, width=16, num_classes=10, stages=3, **block_options):
        super().__init__()
        if family not in CIFAR_FAMILIES:
            raise ValueError(f"cifar_net: family must be one of {CIFAR_FAMILIES}; got {family!r}")
        blocks = blocks_per_stage(depth, stages)
        self.family, self.depth, self.width, self.stages = family, depth, width, stages
        self.placement = block_options.get("placement") if family == "residual" else None
        self.stem = nn.Sequential(nn.conv3x3(3, width), nn.BatchNorm2d(width), nn.ReLU())
        in_channels = width
        stage_shapes = [(width * 2 ** index, 1 if index == 0 else 2) for index in range(stages)]   # (C, stride)
        for stage, (channels, stride) in enumerate(stage_shapes, start=1):
            stage_blocks = []
            for index in range(blocks):
                stage_blocks.append(_cifar_block(family, in_channels, channels,
                                                 stride if index == 0 else 1, block_options))
                in_channels = channels
            self.add_module(f"stage{stage}", nn.Sequential(*stage_blocks))
        if family == "residual_v2" or self.placement == "full_preactivation":
            self.final_activation = nn.Sequential(nn.BatchNorm2d(in_channels), nn.ReLU())
        elif self.placement == "relu_only_preactivation":
            self.final_activation = nn.ReLU()
        else:
            self.final_activation = nn.Identity()
        self.pool = nn.GlobalAvgPool2d()
        self.fc = nn.Linear(in_channels, num_classes)

    def forward(self, x):
        x = self.stem(x)                                      # (N, width, H, W)
        for stage in range(1, self.stages + 1):               # stage s: (N, width * 2^(s-1), H / 2^(s-1), ...)
            x = getattr(self, f"stage{stage}")(x)
        x = self.pool(self.final_activation(x))               # (N, C_last)
        return self.fc(x)                                     # (N, num_classes)

    def extra_repr(self):
        stages = f", stages={self.stages}" if self.stages != 3 else ""
        placement = f", placement={self.placement!r}" if self.placement not in (None, "original") else ""
        return f"family={self.family!r}, depth={self.depth}, width={self.width}{stages}{placement}"


def cifar_net(family, depth, width=16, num_classes=10, fast=True, stages=3, **block_options):
    """A CIFAR-10 net of ``depth`` layers in one family, as in the ResNet paper.

    Args:
        family: "plain", "residual" (ResNet v1), "residual_v2" (pre-activation),
            "highway", "van" or "scaled_residual".
        depth: 6n + 2 (20, 32, 44, 56, 110, ...); with stages=4, 8n + 2 (10, 18, 26, ...).
        width: channels of the first stage (16 in the paper); then 2x and 4x (and 8x).
        fast: compute conv2d, batch norm and ReLU with minires.fast's kernels (the
            default) or with the references of minires.functional (False): the same
            values, several times slower. See minires/nn/kernels.py.
        stages: 3, the ResNet paper's net, or 4, the VAN paper's (Section 4.2).
        **block_options: passed to every block, e.g. shortcut="B",
            zero_init_last_bn=True (residual), gate="1x1" (highway),
            variant="constant_scaling" (scaled_residual). See minires.nn's blocks.
            placement (residual) is one of the five units of "Identity Mappings in
            Deep Residual Networks", Table 2 (nn.ResidualBlock): "original" (the
            default), "bn_after_addition", "relu_before_addition",
            "relu_only_preactivation", or "full_preactivation", which builds the net
            residual_v2 builds (the same modules, names and function).

    Convolutions are He-initialised; with shortcut "A", ResNet-20, 56 and 110 have
    0.27M, 0.85M and 1.7M parameters, as in the paper's Table 6.

    Shape:
        (N, 3, H, W) -> (N, num_classes)
    """
    return CifarNet(family, depth, width, num_classes, stages, **block_options).use_fast_kernels(fast)


class SimplifiedNet(nn.Module):
    """A CIFAR net without batch norm: conv3x3-ReLU, depth - 2 SimplifiedBlocks, pool, fc.

    All blocks have ``width`` channels and keep the image size, so every block's
    shortcut is the identity. The paper's nets differ here: three groups of 16, 32 and
    64 channels, the first convolution of the second and third halving the image (see
    simplified_net).
    """

    def __init__(self, kind, depth, width=16, num_classes=10, initialization=None):
        super().__init__()
        if kind not in ("plain", "residual"):
            raise ValueError(f"simplified_net: kind must be 'plain' or 'residual'; got {kind!r}")
        if isinstance(depth, bool) or not isinstance(depth, int) or depth < 3:
            raise ValueError(f"simplified_net: depth must be an int >= 3 (the first convolution, "
                             f"at least one block, the linear layer); got {depth!r}")
        initialization = initialization or ("hardt_ma" if kind == "residual" else "kaiming")
        if initialization not in ("hardt_ma", "kaiming"):
            raise ValueError(f"simplified_net: initialization must be 'hardt_ma' or 'kaiming'; "
                             f"got {initialization!r}")
        self.kind, self.depth, self.width = kind, depth, width
        self.stem = nn.Sequential(nn.Conv2d(3, width, kernel_size=3, padding=1), nn.ReLU())
        init.kaiming_normal_(self.stem[0].weight, nonlinearity="relu")
        blocks = [nn.SimplifiedBlock(width, residual=(kind == "residual")) for _ in range(depth - 2)]
        for block in blocks:
            if initialization == "hardt_ma":
                init.hardt_ma_normal_(block.conv.weight)
            else:
                init.kaiming_normal_(block.conv.weight, nonlinearity="relu")
            init.zeros_(block.conv.bias)
        self.blocks = nn.Sequential(*blocks)
        self.pool = nn.GlobalAvgPool2d()
        self.fc = nn.Linear(width, num_classes)

    def forward(self, x):
        x = self.blocks(self.stem(x))                         # (N, width, H, W)
        return self.fc(self.pool(x))                          # (N, num_classes)

    def extra_repr(self):
        return f"kind={self.kind!r}, depth={self.depth}, width={self.width}"


def simplified_net(kind, depth, width=16, num_classes=10, initialization=None, fast=True):
    """A CIFAR net of one 3x3 convolution and a ReLU per block, no batch norm.

    The blocks of "Identity Connections in Residual Nets Improve Noise Stability":
    plain blocks y = ReLU(conv(x)), residual blocks y = ReLU(conv(x) + x). Its nets
    (Supplementary Section A of its text) arrange them in three groups of 16, 32 and 64
    channels, the first convolution of the second and third group doubling the
    channels and halving the image (how a residual block that changes the shape adds
    its input is in equations lost from the text at hand). minires's net is simpler:
    every block keeps ``width`` channels at the input's size, so every ID entry is
    [c, c, 1, 1] (the lesson's mapping), at the cost of not being the paper's net. The
    README's Results (claim 6, results/noise_stability) say what that may change.

    Args:
        kind: "plain" or "residual".
        depth: weighted layers: the first convolution, depth - 2 blocks, the linear layer.
        initialization: of the blocks' weights (biases start at 0). "hardt_ma"
            (minires.nn.init.hardt_ma_normal_, small weights) is the default for
            residual nets, "kaiming" (He) for plain ones.
        fast: minires.fast's kernels (True) or the references of minires.functional.

    Shape:
        (N, 3, H, W) -> (N, num_classes)
    """
    return SimplifiedNet(kind, depth, width, num_classes, initialization).use_fast_kernels(fast)


def _move_identity(net, op_name, from_kind, to_kind, shift):
    """A copy of a simplified net of ``from_kind`` as ``to_kind``, computing the same function."""
    if not isinstance(net, SimplifiedNet):
        raise TypeError(
            f"{op_name}: expects a net from minires.models.simplified_net; got {type(net).__name__}. "
            "Nets with batch norm cannot be converted: batch norm sits between the convolution "
            "and the addition of x, so the identity cannot be folded into the kernel")
    if net.kind != from_kind:
        raise ValueError(f"{op_name}: expects a {from_kind} net; this one is {net.kind}")
    converted = copy.deepcopy(net)
    converted.kind = to_kind
    converted.zero_grad()
    for block in converted.blocks:
        block.residual = to_kind == "residual"
        weight = block.conv.weight.array                               # (C, C, KH, KW)
        xp = backend.get_array_module(weight)
        centre_h, centre_w = weight.shape[2] // 2, weight.shape[3] // 2
        # The ID entries: the centre tap of channel c's kernel on its own input channel c.
        weight[:, :, centre_h, centre_w] += shift * xp.eye(weight.shape[0], dtype=weight.dtype)
    return converted


def to_plain(residual_net):
    """The plain net that computes what ``residual_net`` computes (a new net).

    Each block ReLU(conv_W(x) + x) becomes ReLU(conv_{W+I}(x)): 1 is added at the ID
    entries [c, c, 1, 1] of every block's kernel (see minires.nn.SimplifiedBlock).
    Only nets from simplified_net can be converted.
    """
    return _move_identity(residual_net, "to_plain", "residual", "plain", 1.0)


def to_residual(plain_net):
    """The residual net that computes what ``plain_net`` computes: the inverse of to_plain.

    1 is subtracted at the ID entries of every block's kernel.
    """
    return _move_identity(plain_net, "to_residual", "plain", "residual", -1.0)


class MLPNet(nn.Module):
    """A thin fully connected net: Flatten, Linear, depth - 2 blocks, BN-ReLU, Linear.

    See mlp_net.
    """

    def __init__(self, family, depth, width=50, in_features=784, num_classes=10, **block_options):
        super().__init__()
        if family not in MLP_FAMILIES:
            raise ValueError(f"mlp_net: family must be one of {MLP_FAMILIES}; got {family!r}")
        if isinstance(depth, bool) or not isinstance(depth, int) or depth < 3:
            raise ValueError(f"mlp_net: depth must be an int >= 3 (the input layer, at least one "
                             f"block, the output layer); got {depth!r}")
        block_class = {"plain": nn.DensePlainBlock, "residual": nn.DenseResidualBlock,
                       "highway": nn.DenseHighwayBlock, "van": nn.DenseVANBlock}[family]
        self.family, self.depth, self.width = family, depth, width
        self.flatten = nn.Flatten()
        self.input_layer = dense_layer(in_features, width)
        self.blocks = nn.Sequential(*[block_class(width, **block_options) for _ in range(depth - 2)])
        self.bn = nn.BatchNorm1d(width)
        self.fc = nn.Linear(width, num_classes)

    def forward(self, x):
        x = self.input_layer(self.flatten(x))                          # (N, width)
        x = self.blocks(x)                                             # (N, width)
        return self.fc(kernels.relu(self.bn(x), self.fast))           # (N, num_classes)

    def extra_repr(self):
        return f"family={self.family!r}, depth={self.depth}, width={self.width}"


def mlp_net(family, depth, width=50, in_features=784, num_classes=10, fast=True, **block_options):
    """A thin fully connected net, as in the MNIST experiments of the VAN paper (Section 4.1).

    The blocks (minires.nn.dense_blocks) each start with batch norm and ReLU, so every
    linear layer but the last is followed by batch norm and ReLU: the input layer by the
    first block's, the last block by the net's own, in front of the output layer.

    Args:
        family: "plain", "residual", "highway" or "van" (see minires.nn.dense_blocks).
        depth: linear layers: the input layer, depth - 2 blocks, the output layer.
        width: units per hidden layer.
        in_features: 784 for 28x28 images (the input is flattened).
        fast: minires.fast's relu (True) or the reference F.relu.
        **block_options: e.g. gate_bias=-2.0 for highway blocks.

    Shape:
        (N, *) with in_features values per example -> (N, num_classes)
    """
    return MLPNet(family, depth, width, in_features, num_classes, **block_options).use_fast_kernels(fast)
