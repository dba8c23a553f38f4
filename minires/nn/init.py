"""Weight initialisation, as torch.nn.init: functions that overwrite a tensor in place.

Every random draw happens on the host, from the seeded NumPy Generator of
:func:`minires.manual_seed`, in float64; the values are then cast to the tensor's
dtype and copied to its device. So ``manual_seed(0)`` followed by building a model
gives the same weights on "cpu" and "cuda".

Fan-in and fan-out of a weight of shape (OC, IC, KH, KW) are IC*KH*KW and OC*KH*KW;
for a linear weight (out, in) they are in and out.
"""

import math

from minires import backend


def _fans(tensor):
    """(fan_in, fan_out) of a linear (out, in) or convolution (OC, IC, KH, KW) weight."""
    shape = tensor.shape
    if len(shape) < 2:
        raise ValueError(f"init: fan-in and fan-out need a weight with at least 2 dimensions; got shape {shape}")
    receptive_field = math.prod(shape[2:])                 # KH * KW, or 1 for a linear weight
    return shape[1] * receptive_field, shape[0] * receptive_field


def calculate_gain(nonlinearity, param=None):
    """The factor that keeps activations' variance through a nonlinearity, as PyTorch.

    relu: sqrt(2) (half of the inputs are zeroed); leaky_relu with slope a:
    sqrt(2 / (1 + a^2)); tanh: 5/3; linear, conv2d and sigmoid: 1.
    """
    if nonlinearity in ("linear", "conv2d", "sigmoid"):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3.0
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        return math.sqrt(2.0 / (1.0 + slope ** 2))
    raise ValueError(f"calculate_gain: unknown nonlinearity {nonlinearity!r}; "
                     "use linear, conv2d, sigmoid, tanh, relu or leaky_relu")


def _fan(tensor, mode):
    fan_in, fan_out = _fans(tensor)
    if mode == "fan_in":
        return fan_in
    if mode == "fan_out":
        return fan_out
    raise ValueError(f"init: mode must be 'fan_in' or 'fan_out'; got {mode!r}")


def _write(tensor, host_values):
    """Copies float64 host values into ``tensor`` in place, in its dtype and on its device."""
    values = backend.to_device(host_values.astype(tensor.dtype), tensor.device)
    tensor.array[...] = values
    return tensor


def uniform_(tensor, a=0.0, b=1.0):
    """Fills ``tensor`` with values drawn uniformly from [a, b)."""
    return _write(tensor, backend.host_generator().uniform(a, b, size=tensor.shape))


def normal_(tensor, mean=0.0, std=1.0):
    """Fills ``tensor`` with values drawn from the normal distribution N(mean, std^2)."""
    return _write(tensor, backend.host_generator().normal(mean, std, size=tensor.shape))


def constant_(tensor, value):
    """Fills ``tensor`` with ``value``."""
    tensor.array[...] = value
    return tensor


def zeros_(tensor):
    """Fills ``tensor`` with 0."""
    return constant_(tensor, 0.0)


def ones_(tensor):
    """Fills ``tensor`` with 1."""
    return constant_(tensor, 1.0)


def kaiming_normal_(tensor, a=0.0, mode="fan_in", nonlinearity="leaky_relu"):
    """He initialisation, normal: N(0, std^2) with std = gain / sqrt(fan).

    From "Delving Deep into Rectifiers" (He et al., 2015): with std = sqrt(2 / fan_in)
    a stack of conv-ReLU layers keeps the variance of its activations (mode="fan_in")
    or of its gradients (mode="fan_out") from layer to layer. ``a`` is the negative
    slope of a leaky ReLU (0: a plain ReLU, the default gain sqrt(2)).
    """
    std = calculate_gain(nonlinearity, a) / math.sqrt(_fan(tensor, mode))
    return normal_(tensor, 0.0, std)


def kaiming_uniform_(tensor, a=0.0, mode="fan_in", nonlinearity="leaky_relu"):
    """He initialisation, uniform on [-bound, bound] with bound = gain * sqrt(3 / fan).

    The same variance as kaiming_normal_ (a uniform on [-b, b] has variance b^2 / 3).
    PyTorch's default for Conv2d and Linear is this with a = sqrt(5), which works out
    to bound = 1 / sqrt(fan_in).
    """
    bound = calculate_gain(nonlinearity, a) * math.sqrt(3.0 / _fan(tensor, mode))
    return uniform_(tensor, -bound, bound)


def hardt_ma_normal_(tensor):
    """The small initialisation of Hardt and Ma for residual nets without batch norm.

    N(0, std^2) with std = 1 / (k^2 * C_out) = 1 / fan_out, for a (C_out, C_in, k, k)
    kernel, C_out its number of output channels (for a linear weight (out, in),
    std = 1 / out). Source: M. Hardt and T. Ma, "Identity Matters in Deep Learning",
    ICLR 2017, Section 4.1, the all-convolutional residual nets they train on CIFAR-10
    without batch norm, whose blocks are x + C2(ReLU(C1(x))) (two convolutions). The
    Noise Stability paper ("Identity Connections in Residual Nets Improve Noise
    Stability") takes this initialisation for its simplified residual nets, whose blocks
    have one convolution (minires.models.simplified_net). In those blocks C_in = C_out,
    so 1 / fan_out is also 1 / fan_in.

    Why so small: each residual block computes x + F(x). He initialisation
    (std = sqrt(2 / (k^2 C_in))) makes F(x) as large as x in every block, and the signal
    grows with depth; with std = 1 / (k^2 C), about sqrt(2 k^2 C) times smaller
    (17 times for k = 3, C = 16), every block starts close to the identity, and a deep
    residual net starts as a small perturbation of the identity map, the regime their
    analysis covers. A plain net initialised this way starts close to the zero map.
    """
    _, fan_out = _fans(tensor)                             # C_out * k^2
    return normal_(tensor, 0.0, 1.0 / fan_out)
