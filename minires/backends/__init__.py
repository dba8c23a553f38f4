"""``minires.backends``: a home for ``torch.backends`` settings that scripts set.

Not to be confused with ``minires.backend`` (singular), which is where NumPy and CuPy
are chosen. Only ``cudnn`` is here, because CIFAR scripts write
``torch.backends.cudnn.benchmark = True``.
"""

from minires.backends import cudnn

__all__ = ["cudnn"]
