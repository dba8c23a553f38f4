"""minires: a deep-learning framework in NumPy and CuPy, written to be read.

    import minires as mr
    import minires.functional as F

    x = mr.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    loss = (x.relu() * x).sum()
    loss.backward()
    x.grad                      # d(loss)/dx

The layers, from the bottom: backend (NumPy or CuPy), tensor and autograd (the
graph and the backward walk), functional (the ops), gradcheck (finite differences),
nn (modules, layers and the plain, residual, highway and VAN blocks), models (whole
networks), optim (optimisers, schedules, the VAN update), data (datasets and the
loader), train (the training loop) and cli (the ``minires`` command).

On import, minires asks the C library to keep freed memory for reuse (see
host_memory.py): it saves a training step tens of thousands of page faults.
"""

from minires import host_memory

host_memory.keep_freed_memory()

# tensor comes first: autograd and the ops import Tensor from it.
from minires.tensor import Tensor, tensor
from minires.autograd import Function, is_grad_enabled, no_grad
from minires import functional
from minires.backend import (
    CudaUnavailableError,
    DeviceMismatchError,
    bool_,
    cuda_available,
    float16,
    float32,
    float64,
    get_device,
    int32,
    int64,
    manual_seed,
    set_device,
)
from minires.gradcheck import GradcheckError, gradcheck, numerical_grad
from minires.threads import get_num_threads, set_num_threads
from minires import nn
from minires import models
from minires import optim
from minires import data

__version__ = "0.1.0"

__all__ = [
    "Tensor", "tensor", "Function", "no_grad", "is_grad_enabled", "functional",
    "set_device", "get_device", "cuda_available", "CudaUnavailableError", "DeviceMismatchError",
    "float16", "float32", "float64", "int32", "int64", "bool_",
    "gradcheck", "numerical_grad", "GradcheckError",
    "manual_seed", "set_num_threads", "get_num_threads", "nn", "models", "optim", "data",
]
