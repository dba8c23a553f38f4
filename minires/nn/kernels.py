"""The one place where minires.nn chooses between the reference ops and the fast kernels.

The rule: a module whose ``fast`` attribute is True computes conv2d, batch_norm and
relu with the kernels of :mod:`minires.fast`; a module whose ``fast`` is False, with the
reference ops of :mod:`minires.functional`. Every other op is ``F.*`` either way.

``fast`` is True after construction, like ``training``; ``nn.Conv2d(..., fast=False)``
builds one layer with the references, and ``model.use_fast_kernels(False)`` switches a
whole model, as ``model.eval()`` switches its mode. Both give the same values (the
tests hold each kernel to its reference within 1e-10 in float64); the fast kernels
are several times faster on the CPU (benchmarks/RESULTS.md), the references are what
the lessons derive.
"""

from minires import fast as fast_kernels
from minires import functional as F


def conv2d(x, weight, bias, stride, padding, fast, groups=1):
    """F.conv2d (im2col), or minires.fast's tap-by-tap conv2d when ``fast``."""
    convolution = fast_kernels.conv2d if fast else F.conv2d
    return convolution(x, weight, bias, stride=stride, padding=padding, groups=groups)


def batch_norm(x, running_mean, running_var, weight, bias, training, momentum, eps, fast):
    """F.batch_norm, or minires.fast's batch norm on channel rows when ``fast``."""
    normalization = fast_kernels.batch_norm if fast else F.batch_norm
    return normalization(x, running_mean, running_var, weight, bias, training=training,
                         momentum=momentum, eps=eps)


def relu(x, fast):
    """F.relu (with a mask), or minires.fast's relu split across threads when ``fast``."""
    rectifier = fast_kernels.relu if fast else F.relu
    return rectifier(x)
