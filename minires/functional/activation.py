"""Activations: tanh, sigmoid, relu."""

from minires.autograd import Function


class Tanh(Function):
    def forward(self, xp, x):
        y = xp.tanh(x)
        self.save_for_backward(y)          # d(tanh x)/dx = 1 - tanh(x)^2: the output suffices
        return y

    def backward(self, grad_output):
        (y,) = self.saved
        return (grad_output * (1.0 - y * y),)


class Sigmoid(Function):
    def forward(self, xp, x):
        # sigmoid(x) = 1 / (1 + exp(-x)) overflows exp for x << 0; the identity
        # sigmoid(x) = (tanh(x / 2) + 1) / 2 is exact and never overflows.
        y = 0.5 * (xp.tanh(0.5 * x) + 1.0)
        self.save_for_backward(y)          # d(sigmoid)/dx = y * (1 - y): the output suffices
        return y

    def backward(self, grad_output):
        (y,) = self.saved
        return (grad_output * y * (1.0 - y),)


class ReLU(Function):
    def forward(self, xp, x):
        self.save_for_backward(x > 0)      # the derivative is 1 where x > 0, else 0 (0 at x = 0)
        return xp.maximum(x, 0.0)

    def backward(self, grad_output):
        (mask,) = self.saved
        return (grad_output * mask,)


def tanh(x):
    """Hyperbolic tangent, elementwise."""
    return Tanh.apply(x)


def sigmoid(x):
    """Logistic sigmoid 1 / (1 + exp(-x)), computed without overflow for large |x|."""
    return Sigmoid.apply(x)


def relu(x):
    """max(x, 0), elementwise; its gradient at 0 is 0, as in PyTorch."""
    return ReLU.apply(x)
