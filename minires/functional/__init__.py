"""Every differentiable op of minires, imported as ``F`` (``import minires.functional as F``).

These are the reference ops: each forward and backward written as the lessons derive
them, and nothing else (no threads, no memory-layout tricks). Three of them have a fast
kernel beside them in :mod:`minires.fast` (conv2d, batch_norm, relu), tested equal to
them; ``F.*`` always means the reference. One topic per file, each op a Function with
forward and backward side by side and a lower-case wrapper below it:

- arith: add, sub, mul, div, neg, pow, maximum, where
- elementwise: exp, log, sqrt
- activation: tanh, sigmoid, relu, softmax, log_softmax
- matmul: matmul
- reduce: sum, mean, amax, amin, argmax, argmin
- selection: max, min (with dim: a (values, indices) pair, as torch.max), topk
- shape: reshape, flatten, transpose, permute, broadcast_to
- indexing: getitem, concatenate (cat), pad
- transfer: to_device, cast
- conv: conv2d (im2col and one matrix product, col2im for its backward)
- norm: batch_norm
- pool: max_pool2d, avg_pool2d, adaptive_avg_pool2d, global_avg_pool2d
- linear: linear
- dropout: dropout
- loss: cross_entropy, nll_loss, mse_loss
"""

from minires.functional import inplace  # noqa: F401 (Tensor.mul_ ... reach it as F.inplace)
from minires.functional.activation import log_softmax, relu, sigmoid, softmax, tanh
from minires.functional.arith import add, div, maximum, mul, neg, pow, sub, where
from minires.functional.conv import conv2d
from minires.functional.dropout import dropout
from minires.functional.elementwise import exp, log, sqrt
from minires.functional.indexing import cat, concatenate, getitem, pad
from minires.functional.linear import linear
from minires.functional.loss import cross_entropy, mse_loss, nll_loss
from minires.functional.matmul import matmul
from minires.functional.norm import batch_norm
from minires.functional.pool import adaptive_avg_pool2d, avg_pool2d, global_avg_pool2d, max_pool2d
from minires.functional.reduce import amax, amin, argmax, argmin, mean, sum
from minires.functional.selection import ValuesIndices, max, min, topk
from minires.functional.shape import broadcast_to, flatten, permute, reshape, transpose
from minires.functional.transfer import cast, to_device

__all__ = [
    "add", "sub", "mul", "div", "neg", "pow", "maximum", "where",
    "exp", "log", "sqrt",
    "tanh", "sigmoid", "relu", "softmax", "log_softmax",
    "matmul",
    "sum", "mean", "amax", "amin", "argmax", "argmin", "max", "min", "topk", "ValuesIndices",
    "reshape", "flatten", "transpose", "permute", "broadcast_to",
    "getitem", "concatenate", "cat", "pad",
    "to_device", "cast",
    "conv2d", "batch_norm", "max_pool2d", "avg_pool2d", "adaptive_avg_pool2d", "global_avg_pool2d",
    "linear", "dropout", "cross_entropy", "nll_loss", "mse_loss",
]
