"""Batch normalisation, with its full backward derived below.

For each channel c, batch norm looks at the M values of that channel in the batch
(M = N for (N, C) inputs, M = N * H * W for (N, C, H, W) ones) and computes

    mu    = (1/M) sum_i x_i                          batch mean
    var   = (1/M) sum_i (x_i - mu)^2                 batch variance (biased)
    sigma = sqrt(var + eps)
    x̂_i   = (x_i - mu) / sigma                       normalised: mean 0, variance ~1
    y_i   = gamma * x̂_i + beta                       gamma = weight, beta = bias

Backward. Write g_i = dL/dy_i. Then dL/dbeta = sum_i g_i, dL/dgamma = sum_i g_i x̂_i,
and dL/dx̂_i = gamma g_i =: ĝ_i. Every x̂_i depends on every x_j of its channel,
directly and through mu and sigma:

    d mu / d x_j    = 1/M
    d var / d x_j   = (2/M) sum_i (x_i - mu) (delta_ij - 1/M) = (2/M) (x_j - mu)
                      (the sum of (x_i - mu) over i is 0)
    d sigma / d x_j = (1 / (2 sigma)) d var / d x_j = (x_j - mu) / (M sigma) = x̂_j / M
    d x̂_i / d x_j   = (delta_ij - 1/M) / sigma - (x_i - mu) / sigma^2 * d sigma / d x_j
                    = (1/sigma) (delta_ij - 1/M - x̂_i x̂_j / M)

so, summing over i,

    dL/dx_j = sum_i ĝ_i d x̂_i / d x_j
            = (1/sigma) (ĝ_j - (1/M) sum_i ĝ_i - x̂_j (1/M) sum_i ĝ_i x̂_i).

The two sums are per-channel reductions, computed once: the backward costs a few
elementwise passes, like the forward. The first sum removes the part of the
gradient that only shifts the channel (mu absorbs it); the second removes the part
that only scales it (sigma absorbs it).

In evaluation mode mu and var are the running statistics, constants, and the
backward is simply dL/dx_j = ĝ_j / sigma.

This is ``F.batch_norm``, the batch norm lesson 2 derives. A fast kernel computes the
same on channel rows (minires/fast/norm_rows.py); it is tested equal to this one, and
``nn.BatchNorm2d`` uses it unless built with ``fast=False``.
"""

import math

from minires import backend
from minires.autograd import Function, array_of
from minires.functional.shape_utils import check_float_dtypes, shape_of


class BatchNorm(Function):
    """Batch norm of x (N, C) or (N, C, H, W) over all axes but the channel axis 1.

    ``weight`` and ``bias`` are (C,) arrays, or the numbers 1.0 and 0.0 when the
    caller gave none. ``running_mean`` and ``running_var`` are (C,) arrays updated in
    place during training (None: no running statistics are kept).
    """

    def __init__(self, running_mean, running_var, use_batch_stats, momentum, eps):
        self.running_mean, self.running_var = running_mean, running_var
        self.use_batch_stats, self.momentum, self.eps = use_batch_stats, momentum, eps

    def forward(self, xp, x, weight, bias):
        C = x.shape[1]
        axes = (0,) if x.ndim == 2 else (0, 2, 3)           # every axis but the channels
        per_channel = (1, C) if x.ndim == 2 else (1, C, 1, 1)  # (C,) -> broadcastable to x
        if self.use_batch_stats:
            mean = x.mean(axis=axes)                          # (C,)
            centered = x - mean.reshape(per_channel)
            variance = (centered * centered).mean(axis=axes)  # (C,), biased: divides by M
            if self.running_mean is not None:
                self._update_running_stats(mean, variance, count=x.size // C)
        else:
            mean, variance = self.running_mean, self.running_var
            centered = x - mean.reshape(per_channel)
        inverse_std = 1.0 / xp.sqrt(variance + self.eps)     # (C,), 1 / sigma
        x_hat = centered * inverse_std.reshape(per_channel)
        output = x_hat * _per_channel(weight, per_channel) + _per_channel(bias, per_channel)
        # backward needs x̂, 1/sigma and gamma (see the module docstring)
        self.save_for_backward(x_hat, inverse_std, weight)
        self.axes, self.per_channel = axes, per_channel
        return output

    def _update_running_stats(self, mean, variance, count):
        """running = (1 - momentum) * running + momentum * batch, in place, as PyTorch.

        The running variance takes the unbiased batch variance (divided by M - 1),
        the one normalisation uses being biased (divided by M).
        """
        unbiased_variance = variance * (count / (count - 1))
        for running, batch in ((self.running_mean, mean), (self.running_var, unbiased_variance)):
            running[...] = (1.0 - self.momentum) * running + self.momentum * batch.astype(running.dtype)

    def backward(self, grad_output):
        x_hat, inverse_std, weight = self.saved
        axes, per_channel = self.axes, self.per_channel
        grad_x_hat = grad_output * _per_channel(weight, per_channel)             # ĝ
        grad_x = grad_weight = grad_bias = None
        if self.needs_input_grad[0]:
            if self.use_batch_stats:
                count = x_hat.size // x_hat.shape[1]                               # M
                mean_grad = grad_x_hat.mean(axis=axes).reshape(per_channel)        # (1/M) sum ĝ
                mean_grad_x_hat = (grad_x_hat * x_hat).sum(axis=axes) / count      # (1/M) sum ĝ x̂
                grad_x_hat = grad_x_hat - mean_grad - x_hat * mean_grad_x_hat.reshape(per_channel)
            grad_x = grad_x_hat * inverse_std.reshape(per_channel)
        if self.needs_input_grad[1]:
            grad_weight = (grad_output * x_hat).sum(axis=axes)                     # (C,)
        if self.needs_input_grad[2]:
            grad_bias = grad_output.sum(axis=axes)                                 # (C,)
        return grad_x, grad_weight, grad_bias


def _per_channel(value, per_channel):
    """A (C,) array reshaped to broadcast against x; a number (no weight or bias) as is."""
    return value.reshape(per_channel) if hasattr(value, "reshape") else value


def check_batch_norm_arguments(op_name, x, running_mean, running_var, weight, bias, training, momentum) -> dict:
    """Checks batch norm's shapes, devices, dtypes and options; returns the running
    statistics as arrays, {"running_mean": ..., "running_var": ...} (empty when None)."""
    x_shape = shape_of(x)
    if len(x_shape) not in (2, 4):
        raise ValueError(f"{op_name}: expected an input of shape (N, C) or (N, C, H, W); got {x_shape}")
    channels = x_shape[1]
    if isinstance(momentum, bool) or not isinstance(momentum, (int, float)) or not 0.0 <= momentum <= 1.0:
        raise ValueError(f"{op_name}: momentum must be a number in [0, 1]; got {momentum!r} "
                         "(PyTorch's momentum=None, a cumulative average, is not supported)")
    if (running_mean is None) != (running_var is None):
        raise ValueError(f"{op_name}: give both running_mean and running_var, or neither")
    if not training and running_mean is None:
        raise ValueError(f"{op_name}: evaluation (training=False) needs running_mean and running_var")
    device = backend.device_of(array_of(x))
    arrays = {}
    for name, value in (("running_mean", running_mean), ("running_var", running_var),
                        ("weight", weight), ("bias", bias)):
        if value is None:
            continue
        if shape_of(value) != (channels,):
            raise ValueError(f"{op_name}: {name} must have shape ({channels},), one value per channel "
                             f"of the input {x_shape}; got {shape_of(value)}")
        array = array_of(value)
        if backend.device_of(array) != device:
            raise backend.DeviceMismatchError(
                f"{op_name}: {name} is on {backend.device_of(array)} but the input is on {device}")
        arrays[name] = array
    check_float_dtypes(op_name, x=x, weight=weight, bias=bias,
                       running_mean=running_mean, running_var=running_var)
    values_per_channel = math.prod(x_shape) // channels if channels else 0    # M
    if training and values_per_channel <= 1:
        raise ValueError(f"{op_name}: training needs more than one value per channel; got input {x_shape}")
    return {name: array for name, array in arrays.items() if name.startswith("running")}


def batch_norm(x, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    """Batch normalisation, as torch.nn.functional.batch_norm.

    In training (``training=True``) x is normalised with the mean and biased variance
    of the batch, per channel, and ``running_mean`` / ``running_var`` are updated in
    place: running = (1 - momentum) * running + momentum * batch, with the unbiased
    batch variance, PyTorch's convention. In evaluation they are used instead of the
    batch statistics, which must then be given. In training they may be None: then
    no running statistics are kept. The backward goes through the mean and the
    variance: see the module docstring for its derivation.

    Args:
        x: (N, C) or (N, C, H, W).
        running_mean, running_var: (C,) Tensors or arrays on x's device, or None.
        weight, bias: (C,) gamma and beta, or None for 1 and 0.
        training: use and update batch statistics (True) or use the running ones.
        momentum: weight of the new batch in the running statistics, in [0, 1].
        eps: added to the variance before the square root.

    Shape:
        (N, C) -> (N, C), (N, C, H, W) -> (N, C, H, W)
    """
    running = check_batch_norm_arguments("batch_norm", x, running_mean, running_var, weight, bias,
                                         training, momentum)
    return BatchNorm.apply(x, 1.0 if weight is None else weight, 0.0 if bias is None else bias,
                           running_mean=running.get("running_mean"), running_var=running.get("running_var"),
                           use_batch_stats=training, momentum=momentum, eps=eps)
