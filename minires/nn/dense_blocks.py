"""Fully connected blocks: the four families on thin nets, for MNIST-scale studies.

The VAN paper ("Avoiding degradation in deep feed-forward networks by phasing out
skip-connections", Monti et al., 2018, Section 4.1) first shows degradation, and its
cure, on deep fully connected nets of a few dozen units per layer, with batch norm in
every family, and for ResNets and VAN a residual function of batch norm, then ReLU, then
a linear layer. Each block here is that one linear layer of ``width`` units, with the
batch norm and the ReLU in front of it (pre-activation, a = ReLU(BN(x))):

    plain     y = W a + b
    residual  y = W a + b + x
    highway   y = H T + x (1 - T),  H = W_H a + b_H,  T = sigmoid(W_T a + b_T)
    VAN       y = W a + b + (1 - alpha) x

so that VAN with alpha = 0 is the residual block and with alpha = 1 the plain one, and a
stack of plain blocks is an ordinary MLP with batch norm (Linear, BN, ReLU, Linear, ...).
The paper does not spell out its highway layer; here H is the residual function and the
gate T reads the same a, so that the families differ only in how x is carried.
Weights are He-initialised (kaiming_normal_, ReLU gain), biases start at 0 (the
highway gate's at ``gate_bias``), batch norm at weight 1 and bias 0.
"""

from minires import functional as F
from minires.nn import init, kernels
from minires.nn.layers import BatchNorm1d, Linear
from minires.nn.module import Module, Parameter, filled_array
from minires.tensor import Tensor


def dense_layer(in_features, out_features):
    """Linear layer with kaiming_normal_ weights (ReLU gain) and a zero bias."""
    layer = Linear(in_features, out_features)
    init.kaiming_normal_(layer.weight, nonlinearity="relu")
    init.zeros_(layer.bias)
    return layer


class DensePlainBlock(Module):
    """y = W ReLU(BN(x)) + b: a plain fully connected layer with batch norm, the baseline
    that degrades with depth in "Avoiding degradation in deep feed-forward networks by
    phasing out skip-connections" (Monti et al., 2018, Section 4.1).

    Shape:
        (N, width) -> (N, width)
    """

    def __init__(self, width):
        super().__init__()
        self.bn = BatchNorm1d(width)
        self.linear = dense_layer(width, width)

    def forward(self, x):
        return self.linear(kernels.relu(self.bn(x), self.fast))


class DenseResidualBlock(Module):
    """y = x + W ReLU(BN(x)) + b: the residual block of "Avoiding degradation in deep
    feed-forward networks by phasing out skip-connections" (Monti et al., 2018, Section
    4.1), whose residual function is batch norm, ReLU and a linear layer (the
    pre-activation order of "Identity Mappings in Deep Residual Networks", He et al., 2016).

    Shape:
        (N, width) -> (N, width)
    """

    def __init__(self, width):
        super().__init__()
        self.bn = BatchNorm1d(width)
        self.linear = dense_layer(width, width)

    def forward(self, x):
        return self.linear(kernels.relu(self.bn(x), self.fast)) + x


class DenseHighwayBlock(Module):
    """y = H T + x (1 - T), H = W_H a + b_H, T = sigmoid(W_T a + b_T), a = ReLU(BN(x)): the
    layer of "Highway Networks" (Srivastava et al., 2015) with the residual block's
    transform, and a gate that reads the same a.

    The transform gate's bias starts at ``gate_bias`` (-1): sigmoid(-1) = 0.27, mostly
    carry, for an input whose W_T a is near 0 (a spread of W_T a around 0 moves the
    mean gate toward 0.5).

    Shape:
        (N, width) -> (N, width)
    """

    def __init__(self, width, gate_bias=-1.0):
        super().__init__()
        self.bn = BatchNorm1d(width)
        self.transform = dense_layer(width, width)               # H
        self.transform_gate = dense_layer(width, width)          # T
        init.constant_(self.transform_gate.bias, gate_bias)

    def forward(self, x):
        activation = kernels.relu(self.bn(x), self.fast)               # a = ReLU(BN(x)), (N, width)
        transform_gate = F.sigmoid(self.transform_gate(activation))
        return self.transform(activation) * transform_gate + x * (1.0 - transform_gate)


class DenseVANBlock(Module):
    """y = (1 - alpha) x + W ReLU(BN(x)) + b, alpha per unit starting at 0: the VAN layer of
    "Avoiding degradation in deep feed-forward networks by phasing out skip-connections"
    (Monti et al., 2018, eq. 4 with the residual function of its Section 4.1).

    alpha (α) and lagrange_multiplier (λ, a buffer starting at -1) play the roles they
    play in minires.nn.VANBlock.

    Shape:
        (N, width) -> (N, width)
    """

    def __init__(self, width):
        super().__init__()
        self.bn = BatchNorm1d(width)
        self.linear = dense_layer(width, width)
        self.alpha = Parameter(filled_array((width,), 0.0))                           # α
        self.register_buffer("lagrange_multiplier", Tensor(filled_array((width,), -1.0)))   # λ

    def forward(self, x):
        return self.linear(kernels.relu(self.bn(x), self.fast)) + (1.0 - self.alpha) * x
