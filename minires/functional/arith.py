"""Arithmetic ops: add, sub, mul, div, neg, pow, maximum, where.

The binary ops broadcast their inputs as NumPy does; each backward sums the
gradient back to each input's shape (:func:`sum_to_shape`). An input that needs no
gradient (a Python number, a constant array) gets None.
"""

from minires.autograd import Function
from minires.functional.shape_utils import broadcast_shape, shape_of, sum_to_shape


class Add(Function):
    def forward(self, xp, a, b):
        broadcast_shape("add", shape_of(a), shape_of(b))
        self.input_shapes = (shape_of(a), shape_of(b))
        return a + b

    def backward(self, grad_output):
        shape_a, shape_b = self.input_shapes
        # d(a + b)/da = 1 and d(a + b)/db = 1: the gradient passes through unchanged.
        grad_a = sum_to_shape(grad_output, shape_a) if self.needs_input_grad[0] else None
        grad_b = sum_to_shape(grad_output, shape_b) if self.needs_input_grad[1] else None
        return grad_a, grad_b


class Sub(Function):
    def forward(self, xp, a, b):
        broadcast_shape("sub", shape_of(a), shape_of(b))
        self.input_shapes = (shape_of(a), shape_of(b))
        return a - b

    def backward(self, grad_output):
        shape_a, shape_b = self.input_shapes
        grad_a = sum_to_shape(grad_output, shape_a) if self.needs_input_grad[0] else None
        grad_b = sum_to_shape(-grad_output, shape_b) if self.needs_input_grad[1] else None
        return grad_a, grad_b


class Mul(Function):
    def forward(self, xp, a, b):
        broadcast_shape("mul", shape_of(a), shape_of(b))
        self.save_for_backward(a, b)         # d(a*b)/da = b and d(a*b)/db = a
        return a * b

    def backward(self, grad_output):
        a, b = self.saved
        grad_a = sum_to_shape(grad_output * b, shape_of(a)) if self.needs_input_grad[0] else None
        grad_b = sum_to_shape(grad_output * a, shape_of(b)) if self.needs_input_grad[1] else None
        return grad_a, grad_b


class Div(Function):
    def forward(self, xp, a, b):
        broadcast_shape("div", shape_of(a), shape_of(b))
        self.save_for_backward(a, b)
        return a / b

    def backward(self, grad_output):
        a, b = self.saved
        # d(a/b)/da = 1/b and d(a/b)/db = -a/b^2
        grad_a = sum_to_shape(grad_output / b, shape_of(a)) if self.needs_input_grad[0] else None
        grad_b = (sum_to_shape(-grad_output * a / (b * b), shape_of(b))
                  if self.needs_input_grad[1] else None)
        return grad_a, grad_b


class Neg(Function):
    def forward(self, xp, x):
        return -x

    def backward(self, grad_output):
        return (-grad_output,)


class Pow(Function):
    """x ** exponent for a Python-number exponent: d/dx = exponent * x ** (exponent - 1)."""

    def __init__(self, exponent):
        if isinstance(exponent, bool) or not isinstance(exponent, (int, float)):
            raise TypeError(
                f"pow: the exponent must be a Python number (x ** 2.0); got {type(exponent).__name__}. "
                "For a tensor exponent write exp(exponent * log(x))")
        self.exponent = exponent

    def forward(self, xp, x):
        self.save_for_backward(x)
        return x ** self.exponent

    def backward(self, grad_output):
        (x,) = self.saved
        return (grad_output * self.exponent * x ** (self.exponent - 1),)


class Maximum(Function):
    """Elementwise max(a, b); on ties each input gets half the gradient, as in PyTorch."""

    def forward(self, xp, a, b):
        broadcast_shape("maximum", shape_of(a), shape_of(b))
        self.save_for_backward(a, b)
        return xp.maximum(a, b)

    def backward(self, grad_output):
        a, b = self.saved
        xp = self.xp
        half = grad_output * 0.5
        grad_a = grad_b = None
        if self.needs_input_grad[0]:
            grad_a = xp.where(a > b, grad_output, xp.where(a == b, half, 0.0))
            grad_a = sum_to_shape(grad_a, shape_of(a))
        if self.needs_input_grad[1]:
            grad_b = xp.where(b > a, grad_output, xp.where(a == b, half, 0.0))
            grad_b = sum_to_shape(grad_b, shape_of(b))
        return grad_a, grad_b


class Where(Function):
    """condition ? a : b, elementwise; the gradient goes to the input that was chosen."""

    def forward(self, xp, condition, a, b):
        if not hasattr(condition, "dtype") or condition.dtype != bool:
            kind = getattr(condition, "dtype", type(condition).__name__)
            raise TypeError(f"where: condition must be a boolean tensor or array; got {kind}")
        broadcast_shape("where", shape_of(condition), shape_of(a), shape_of(b))
        self.save_for_backward(condition)
        self.input_shapes = (shape_of(a), shape_of(b))
        return xp.where(condition, a, b)

    def backward(self, grad_output):
        (condition,) = self.saved
        shape_a, shape_b = self.input_shapes
        xp = self.xp
        grad_a = grad_b = None
        if self.needs_input_grad[1]:
            grad_a = sum_to_shape(xp.where(condition, grad_output, 0.0), shape_a)
        if self.needs_input_grad[2]:
            grad_b = sum_to_shape(xp.where(condition, 0.0, grad_output), shape_b)
        return None, grad_a, grad_b


def add(a, b):
    """a + b, broadcasting."""
    return Add.apply(a, b)


def sub(a, b):
    """a - b, broadcasting."""
    return Sub.apply(a, b)


def mul(a, b):
    """a * b, elementwise, broadcasting."""
    return Mul.apply(a, b)


def div(a, b):
    """a / b, elementwise, broadcasting."""
    return Div.apply(a, b)


def neg(x):
    """-x."""
    return Neg.apply(x)


def pow(x, exponent):
    """x ** exponent, with a Python number as exponent."""
    return Pow.apply(x, exponent=exponent)


def maximum(a, b):
    """Elementwise maximum of a and b, broadcasting (torch.maximum)."""
    return Maximum.apply(a, b)


def where(condition, a, b):
    """Elements of a where condition is True, of b elsewhere (torch.where)."""
    return Where.apply(condition, a, b)
