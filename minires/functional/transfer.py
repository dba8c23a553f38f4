"""Moving a tensor to another device or dtype, with the gradient moved back."""

from minires import backend
from minires.autograd import Function


class ToDevice(Function):
    def __init__(self, device):
        self.device = device

    def forward(self, xp, x):
        self.source_device = backend.device_of(x)
        return backend.to_device(x, self.device)

    def backward(self, grad_output):
        return (backend.to_device(grad_output, self.source_device),)


class Cast(Function):
    def __init__(self, dtype):
        self.dtype = backend.as_dtype(dtype)
        if not backend.is_floating(self.dtype):
            raise TypeError(f"cast: only floating dtypes keep a gradient; got {self.dtype}")

    def forward(self, xp, x):
        self.source_dtype = x.dtype
        return x.astype(self.dtype)

    def backward(self, grad_output):
        return (grad_output.astype(self.source_dtype),)


def to_device(x, device):
    """x on ``device`` ("cpu", "cuda"); x itself if it is there already."""
    if x.device == device:
        return x
    return ToDevice.apply(x, device=device)


def cast(x, dtype):
    """x converted to the floating ``dtype``; x itself if it has that dtype already."""
    if x.dtype == backend.as_dtype(dtype):
        return x
    return Cast.apply(x, dtype=dtype)
