"""Activations: tanh, sigmoid, relu, softmax, log_softmax.

relu has a fast kernel (minires/fast/relu_split.py), tested equal to this one.
"""

from minires.autograd import Function
from minires.functional.shape_utils import normalize_dim, shape_of


class Tanh(Function):
    def forward(self, xp, x):
        y = xp.tanh(x)
        self.save_for_backward(y)          # d(tanh x)/dx = 1 - tanh(x)^2: the output suffices
        return y

    def backward(self, grad_output):
        (y,) = self.saved
        return (grad_output * (1.0 - y * y),)


class Logistic(Function):
    """The logistic sigmoid 1 / (1 + exp(-x))."""

    def forward(self, xp, x):
        # sigmoid(x) = 1 / (1 + exp(-x)) overflows exp for x << 0; the identity
        # sigmoid(x) = (tanh(x / 2) + 1) / 2 is exact and never overflows.
        y = 0.5 * (xp.tanh(0.5 * x) + 1.0)
        self.save_for_backward(y)          # d(sigmoid)/dx = y * (1 - y): the output suffices
        return y

    def backward(self, grad_output):
        (y,) = self.saved
        return (grad_output * y * (1.0 - y),)


class ReLUMask(Function):
    """max(x, 0); its derivative is 1 where x > 0 and 0 elsewhere (0 at x = 0, as PyTorch)."""

    def forward(self, xp, x):
        self.save_for_backward(x > 0)      # the mask: all that backward needs
        return xp.maximum(x, 0.0)

    def backward(self, grad_output):
        (mask,) = self.saved
        return (grad_output * mask,)


class Softmax(Function):
    """softmax(x)_i = exp(x_i) / sum_j exp(x_j) along ``dim``.

    Subtracting the max first changes nothing mathematically (it cancels between
    numerator and denominator) and keeps exp from overflowing: the largest term is
    exp(0) = 1.
    """

    def __init__(self, dim):
        self.dim = dim

    def forward(self, xp, x):
        exponentials = xp.exp(x - x.max(axis=self.dim, keepdims=True))
        y = exponentials / exponentials.sum(axis=self.dim, keepdims=True)
        self.save_for_backward(y)          # dy_i/dx_j = y_i (delta_ij - y_j): the output suffices
        return y

    def backward(self, grad_output):
        (y,) = self.saved
        # sum_i g_i y_i (delta_ij - y_j) = y_j (g_j - sum_i g_i y_i)
        return (y * (grad_output - (grad_output * y).sum(axis=self.dim, keepdims=True)),)


class LogSoftmax(Function):
    """log_softmax(x)_i = x_i - log sum_j exp(x_j) along ``dim``.

    Computed as (x_i - m) - log sum_j exp(x_j - m), m the max: every exp is at most
    1 and the sum is at least 1, so nothing overflows and log never sees 0, even for
    logits of 1e4 where softmax itself underflows to exact zeros.
    """

    def __init__(self, dim):
        self.dim = dim

    def forward(self, xp, x):
        y = stable_log_softmax(xp, x, self.dim)
        self.save_for_backward(y)          # dy_i/dx_j = delta_ij - softmax_j, softmax = exp(y)
        return y

    def backward(self, grad_output):
        (y,) = self.saved
        # sum_i g_i (delta_ij - softmax_j) = g_j - softmax_j sum_i g_i
        return (grad_output - self.xp.exp(y) * grad_output.sum(axis=self.dim, keepdims=True),)


def stable_log_softmax(xp, x, axis):
    """log_softmax of the array ``x`` along ``axis``, shifted by the max (see LogSoftmax)."""
    shifted = x - x.max(axis=axis, keepdims=True)                       # the max becomes 0
    return shifted - xp.log(xp.exp(shifted).sum(axis=axis, keepdims=True))


def tanh(x):
    """Hyperbolic tangent, elementwise."""
    return Tanh.apply(x)


def sigmoid(x):
    """Logistic sigmoid 1 / (1 + exp(-x)), computed without overflow for large |x|."""
    return Logistic.apply(x)


def relu(x):
    """max(x, 0), elementwise; its gradient at 0 is 0, as in PyTorch."""
    return ReLUMask.apply(x)


def softmax(x, dim=-1):
    """Softmax along ``dim``: non-negative values that sum to 1 (torch.softmax).

    Shape:
        any shape -> the same shape
    """
    return Softmax.apply(x, dim=normalize_dim("softmax", dim, len(shape_of(x)), shape_of(x)))


def log_softmax(x, dim=-1):
    """log(softmax(x)) along ``dim``, computed stably (torch.log_softmax).

    Shape:
        any shape -> the same shape
    """
    return LogSoftmax.apply(x, dim=normalize_dim("log_softmax", dim, len(shape_of(x)), shape_of(x)))
