"""Fully connected blocks: the four families on thin nets, for MNIST-scale studies.

The VAN paper ("Avoiding degradation in deep feed-forward networks by phasing out
skip-connections", Monti et al., 2018) first shows degradation, and its cure, on
deep fully connected nets of a few dozen units per layer. Each block here is one
linear layer of ``width`` units:

    plain     y = ReLU(W x + b)
    residual  y = ReLU(W x + b + x)
    highway   y = H(x) T(x) + x (1 - T(x)),  H = ReLU(W_H x + b_H),  T = sigmoid(W_T x + b_T)
    VAN       y = ReLU(W x + b + (1 - alpha) x)

so that VAN with alpha = 0 is the residual block and with alpha = 1 the plain one.
Weights are He-initialised (kaiming_normal_, ReLU gain), biases start at 0 (the
highway gate's at ``gate_bias``).
"""

from minires import functional as F
from minires.nn import init, kernels
from minires.nn.layers import Linear
from minires.nn.module import Module, Parameter, filled_array
from minires.tensor import Tensor


def dense_layer(in_features, out_features):
    """Linear layer with kaiming_normal_ weights (ReLU gain) and a zero bias."""
    layer = Linear(in_features, out_features)
    init.kaiming_normal_(layer.weight, nonlinearity="relu")
    init.zeros_(layer.bias)
    return layer


class DensePlainBlock(Module):
    """y = ReLU(W x + b): a plain fully connected layer, the baseline that degrades
    with depth in "Avoiding degradation in deep feed-forward networks by phasing out
    skip-connections" (Monti et al., 2018).

    Shape:
        (N, width) -> (N, width)
    """

    def __init__(self, width):
        super().__init__()
        self.linear = dense_layer(width, width)

    def forward(self, x):
        return kernels.relu(self.linear(x), self.fast)


class DenseResidualBlock(Module):
    """y = ReLU(W x + b + x): the fully connected form of the residual block of "Deep
    Residual Learning for Image Recognition" (He et al., 2016).

    Shape:
        (N, width) -> (N, width)
    """

    def __init__(self, width):
        super().__init__()
        self.linear = dense_layer(width, width)

    def forward(self, x):
        return kernels.relu(self.linear(x) + x, self.fast)


class DenseHighwayBlock(Module):
    """y = H(x) T(x) + x (1 - T(x)), the layer of "Highway Networks" (Srivastava et al., 2015).

    The transform gate's bias starts at ``gate_bias`` (-1): T = 0.27, mostly carry.

    Shape:
        (N, width) -> (N, width)
    """

    def __init__(self, width, gate_bias=-1.0):
        super().__init__()
        self.transform = dense_layer(width, width)               # H
        self.transform_gate = dense_layer(width, width)          # T
        init.constant_(self.transform_gate.bias, gate_bias)

    def forward(self, x):
        transform_gate = F.sigmoid(self.transform_gate(x))
        return kernels.relu(self.transform(x), self.fast) * transform_gate + x * (1.0 - transform_gate)


class DenseVANBlock(Module):
    """y = ReLU(W x + b + (1 - alpha) x), alpha per unit starting at 0: the VAN layer of
    "Avoiding degradation in deep feed-forward networks by phasing out skip-connections"
    (Monti et al., 2018).

    alpha (α) and lagrange_multiplier (λ, a buffer starting at -1) play the roles they
    play in minires.nn.VANBlock.

    Shape:
        (N, width) -> (N, width)
    """

    def __init__(self, width):
        super().__init__()
        self.linear = dense_layer(width, width)
        self.alpha = Parameter(filled_array((width,), 0.0))                           # α
        self.register_buffer("lagrange_multiplier", Tensor(filled_array((width,), -1.0)))   # λ

    def forward(self, x):
        return kernels.relu(self.linear(x) + (1.0 - self.alpha) * x, self.fast)
