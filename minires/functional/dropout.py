"""Dropout: zero each value with probability p while training, and rescale the rest."""

from minires import backend
from minires.autograd import Function, array_of


class DropoutMask(Function):
    """y = x * mask / (1 - p), mask[i] = 1 with probability 1 - p, else 0.

    "Inverted" dropout: dividing the kept values by 1 - p keeps the expected value
    of y equal to x, so evaluation needs no rescaling and simply skips the op.
    The backward multiplies by the same mask and scale.
    """

    def __init__(self, p, generator):
        self.p, self.generator = p, generator

    def forward(self, xp, x):
        # drawn by x's device's own generator (backend.device_generator): the mask is made
        # where x lives and never crosses between devices
        kept = self.generator.random(x.shape, dtype=xp.float32) >= self.p
        scaled_mask = kept.astype(x.dtype) * (1.0 / (1.0 - self.p))
        self.save_for_backward(scaled_mask)               # d y / d x = mask / (1 - p)
        return x * scaled_mask

    def backward(self, grad_output):
        (scaled_mask,) = self.saved
        return (grad_output * scaled_mask,)


def dropout(x, p=0.5, training=True):
    """Inverted dropout, as torch.nn.functional.dropout.

    Each value is zeroed with probability ``p`` and the others are multiplied by
    1 / (1 - p). With ``training=False`` or ``p=0`` the input is returned unchanged.
    The mask is drawn from minires's generator for the input's device, which
    ``minires.manual_seed`` seeds (never from NumPy's global generator). Unlike
    PyTorch, p = 1 is refused: it would zero everything and divide by zero.

    Shape:
        any shape -> the same shape
    """
    p = backend.scalar_value(p)                  # a NumPy number becomes a Python one
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p < 1.0:
        raise ValueError(f"dropout: p is the probability of zeroing a value and must be in [0, 1); got {p!r}")
    if not training or p == 0:
        return x
    generator = backend.device_generator(backend.device_of(array_of(x)))
    return DropoutMask.apply(x, p=float(p), generator=generator)
