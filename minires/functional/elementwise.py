"""Elementwise math: exp, log, sqrt. Each backward is the derivative times grad_output."""

from minires.autograd import Function


class Exp(Function):
    def forward(self, xp, x):
        y = xp.exp(x)
        self.save_for_backward(y)          # d(exp x)/dx = exp x: the output suffices
        return y

    def backward(self, grad_output):
        (y,) = self.saved
        return (grad_output * y,)


class Log(Function):
    def forward(self, xp, x):
        self.save_for_backward(x)          # d(log x)/dx = 1/x
        return xp.log(x)

    def backward(self, grad_output):
        (x,) = self.saved
        return (grad_output / x,)


class Sqrt(Function):
    def forward(self, xp, x):
        y = xp.sqrt(x)
        self.save_for_backward(y)          # d(sqrt x)/dx = 1 / (2 sqrt x): the output suffices
        return y

    def backward(self, grad_output):
        (y,) = self.saved
        return (grad_output / (2.0 * y),)


def exp(x):
    """e ** x, elementwise."""
    return Exp.apply(x)


def log(x):
    """Natural logarithm, elementwise (nan below 0, -inf at 0, as NumPy and PyTorch)."""
    return Log.apply(x)


def sqrt(x):
    """Square root, elementwise."""
    return Sqrt.apply(x)
