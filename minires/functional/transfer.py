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
    """x in another dtype. To an integer or bool dtype the result has no gradient:
    Function.apply records no graph for a non-floating output (as in PyTorch, where
    x.to(torch.int64) does not require grad)."""

    def __init__(self, dtype):
        self.dtype = backend.as_dtype(dtype)

    def forward(self, xp, x):
        self.source_dtype = x.dtype
        return x.astype(self.dtype)

    def backward(self, grad_output):
        return (grad_output.astype(self.source_dtype),)


def to_device(x, device):
    """x on ``device`` ("cpu", "cuda", "cuda:0", a minires.device); x itself if it is there already."""
    device = backend.device_name(device)
    if x.device == device:
        return x
    return ToDevice.apply(x, device=device)


def cast(x, dtype):
    """x converted to ``dtype``; x itself if it has that dtype already. Only a floating
    result stays in the graph."""
    if x.dtype == backend.as_dtype(dtype):
        return x
    return Cast.apply(x, dtype=dtype)
