"""minires: a deep-learning framework in NumPy and CuPy, written to be read.

    import minires as mr
    import minires.functional as F

    x = mr.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    loss = (x.relu() * x).sum()
    loss.backward()
    x.grad                      # d(loss)/dx

The layers, from the bottom; each imports only from the layers below it:

    backend             NumPy or CuPy (xp), devices, dtypes, random generators
    backward, tensor,   the backward walk, Tensor, Function and no_grad
      autograd
    functional          the ops, as the lessons derive them (F); gradcheck
    fast                faster kernels for conv2d, batch_norm and relu, tested equal to F's
    nn                  modules, layers and the plain, residual, highway and VAN blocks
    models, optim,      whole networks; optimisers and schedules; datasets and the
      data, train, cli  loader; the training loop; the ``minires`` command

Importing minires changes nothing in your process: not the C allocator, not BLAS's
thread count, not NumPy's global random generator. minires draws its random numbers
from its own generators (``mr.manual_seed`` seeds them), and limits BLAS's threads
only while its fast kernels run (minires.fast.one_blas_thread), giving them back after.
"""

from minires.backend import (
    CudaUnavailableError,
    DeviceMismatchError,
    bool_,
    cuda_available,
    device,
    float16,
    float32,
    float64,
    get_device,
    int32,
    int64,
    manual_seed,
    set_device,
)
from minires.tensor import Tensor, tensor
from minires.autograd import Function, is_grad_enabled, no_grad
from minires import functional
from minires.gradcheck import GradcheckError, gradcheck, numerical_grad
from minires import fast
from minires.fast import get_num_threads, set_num_threads
from minires import nn
from minires import models
from minires import optim
from minires import data
from minires import backends, cuda, utils
from minires.creation import arange, cat, flatten, full, ones, rand, randn, stack, zeros
from minires.serialization import load, save
from minires.torch_functions import argmax, max, mean, min, sum

__version__ = "0.1.0"

__all__ = [
    "Tensor", "tensor", "Function", "no_grad", "is_grad_enabled", "functional", "fast",
    "set_device", "get_device", "device", "cuda_available", "CudaUnavailableError", "DeviceMismatchError",
    "float16", "float32", "float64", "int32", "int64", "bool_",
    "gradcheck", "numerical_grad", "GradcheckError",
    "manual_seed", "set_num_threads", "get_num_threads", "nn", "models", "optim", "data",
    "backends", "cuda", "arange", "cat", "flatten", "full", "ones", "rand", "randn", "stack", "zeros",
    "load", "save", "utils", "argmax", "max", "mean", "min", "sum",
]
