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
"""

import math

from minires import backend
from minires.autograd import Function
from minires.functional.layout import channel_rows, from_channel_rows
from minires.functional.shape_utils import check_float_dtypes, shape_of
from minires.tensor import Tensor
from minires.threads import elementwise_parts, run_parts


class BatchNorm(Function):
    """Batch norm of x (N, C) or (N, C, H, W) over all axes but the channel axis 1.

    ``weight`` and ``bias`` are (C,) arrays, or the numbers 1.0 and 0.0 when the
    caller gave none. ``running_mean`` and ``running_var`` are (C,) arrays updated in
    place during training (None: no running statistics are kept).

    The arithmetic runs on x as channel rows (see layout.channel_rows): a matrix whose
    column k holds channel k % C, so that per-channel sums are one matrix-vector
    product and per-channel scales one broadcast along the rows. Images come out
    channels-last, like the convolutions that feed batch norm in a ResNet.
    """

    def __init__(self, running_mean, running_var, use_batch_stats, momentum, eps):
        self.running_mean, self.running_var = running_mean, running_var
        self.use_batch_stats, self.momentum, self.eps = use_batch_stats, momentum, eps

    def forward(self, xp, x, weight, bias):
        C = x.shape[1]
        rows = channel_rows(xp, x)                               # (N, K * C), column k: channel k % C
        count = rows.size // C                                   # M values per channel
        if self.use_batch_stats:
            mean = channel_sums(xp, rows, C) / count             # (C,)
            centered = rows - repeat_per_channel(xp, mean, rows)
            variance = channel_sums(xp, centered * centered, C) / count   # (C,), biased: divides by M
            if self.running_mean is not None:
                self._update_running_stats(mean, variance, count)
        else:
            mean, variance = self.running_mean, self.running_var
        inverse_std = 1.0 / xp.sqrt(variance + self.eps)         # (C,), 1 / sigma
        scale = weight * inverse_std                             # (C,), gamma / sigma: y = x̂ gamma + beta
        if self.use_batch_stats:
            output = centered * repeat_per_channel(xp, scale, rows)
            output += repeat_per_channel(xp, bias, rows)
            # backward needs x - mu (x̂ = (x - mu) / sigma), 1/sigma and gamma (see the module docstring)
            self.save_for_backward(centered, inverse_std, weight)
        else:
            # mu is a constant here: y = x gamma / sigma + (beta - mu gamma / sigma) takes one
            # pass over x fewer than going through x - mu, which backward recomputes if needed
            scale_row = repeat_per_channel(xp, scale, rows)
            shift_row = repeat_per_channel(xp, bias - mean * scale, rows)
            output = xp.empty_like(rows)

            def normalize(part):                                # rows of a part of the batch (threads.py)
                xp.multiply(rows[part], scale_row, out=output[part])
                output[part] += shift_row

            run_parts(normalize, elementwise_parts(rows))
            self.save_for_backward(rows, mean.copy(), inverse_std, weight)   # a copy: running_mean changes in place
        self.x_shape, self.count = tuple(x.shape), count
        return from_channel_rows(output, x.shape)

    def _update_running_stats(self, mean, variance, count):
        """running = (1 - momentum) * running + momentum * batch, in place, as PyTorch.

        The running variance takes the unbiased batch variance (divided by M - 1),
        the one normalisation uses being biased (divided by M).
        """
        unbiased_variance = variance * (count / (count - 1))
        for running, batch in ((self.running_mean, mean), (self.running_var, unbiased_variance)):
            running[...] = (1.0 - self.momentum) * running + self.momentum * batch.astype(running.dtype)

    def backward(self, grad_output):
        """The module docstring's formula, with x̂ = (x - mu) / sigma written out:

            dL/dx = (gamma / sigma) (g - mean(g)) - (gamma / sigma^3) mean(g (x - mu)) (x - mu)
            dL/dgamma = sum(g x̂) = (1 / sigma) sum(g (x - mu)),    dL/dbeta = sum(g)

        with means and sums per channel. In evaluation, dL/dx = (gamma / sigma) g.
        """
        xp, C, count = self.xp, self.x_shape[1], self.count
        if self.use_batch_stats:
            centered, inverse_std, weight = self.saved
        else:                                                               # evaluation kept x and mu
            rows, mean, inverse_std, weight = self.saved
            centered = rows - repeat_per_channel(xp, mean, rows)           # x - mu
        grad_rows = channel_rows(xp, grad_output)                           # g, as the forward's rows
        grad_sum = channel_sums(xp, grad_rows, C)                           # (C,), sum g
        grad_dot_centered = channel_sums(xp, grad_rows * centered, C)       # (C,), sum g (x - mu)
        grad_x = grad_weight = grad_bias = None
        if self.needs_input_grad[0]:
            scale = weight * inverse_std                                    # (C,), gamma / sigma
            grad_x = grad_rows * repeat_per_channel(xp, scale, grad_rows)
            if self.use_batch_stats:
                slope = scale * inverse_std * inverse_std * grad_dot_centered / count   # (C,)
                grad_x -= centered * repeat_per_channel(xp, slope, grad_rows)
                grad_x -= repeat_per_channel(xp, scale * grad_sum / count, grad_rows)
            grad_x = from_channel_rows(grad_x, self.x_shape)
        if self.needs_input_grad[1]:
            grad_weight = inverse_std * grad_dot_centered                   # (C,), sum g x̂
        if self.needs_input_grad[2]:
            grad_bias = grad_sum                                            # (C,)
        return grad_x, grad_weight, grad_bias


def channel_sums(xp, rows, C):
    """Per-channel sums of channel rows (N, K * C) -> (C,).

    ``ones @ rows`` sums the rows in one BLAS matrix-vector product (several times
    faster than ``rows.sum(axis=0)``), then a second one adds the K groups of C
    (3 us against 28 us for ``.sum(axis=0)`` on 1,024 groups of 16).
    """
    column_sums = xp.ones(rows.shape[0], dtype=rows.dtype) @ rows         # (K * C,)
    groups = column_sums.reshape(-1, C)                                     # (K, C)
    return xp.ones(groups.shape[0], dtype=rows.dtype) @ groups              # (C,)


def repeat_per_channel(xp, values, rows):
    """A (C,) array repeated to broadcast along channel rows (N, K * C); a number as is."""
    if not hasattr(values, "shape"):
        return values
    return xp.tile(values, rows.shape[1] // values.shape[0])                # (K * C,)


def batch_norm(x, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    """Batch normalisation, as torch.nn.functional.batch_norm.

    In training (``training=True``) x is normalised with the mean and biased variance
    of the batch, per channel, and ``running_mean`` / ``running_var`` are updated in
    place: running = (1 - momentum) * running + momentum * batch, with the unbiased
    batch variance, PyTorch's convention. In evaluation they are used instead of the
    batch statistics, which must then be given. Running statistics of None in
    training mean none are kept. The backward goes through the mean and the
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
    x_shape = shape_of(x)
    if len(x_shape) not in (2, 4):
        raise ValueError(f"batch_norm: expected an input of shape (N, C) or (N, C, H, W); got {x_shape}")
    channels = x_shape[1]
    if isinstance(momentum, bool) or not isinstance(momentum, (int, float)) or not 0.0 <= momentum <= 1.0:
        raise ValueError(f"batch_norm: momentum must be a number in [0, 1]; got {momentum!r} "
                         "(PyTorch's momentum=None, a cumulative average, is not supported)")
    if (running_mean is None) != (running_var is None):
        raise ValueError("batch_norm: give both running_mean and running_var, or neither")
    if not training and running_mean is None:
        raise ValueError("batch_norm: evaluation (training=False) needs running_mean and running_var")
    device = x.device if isinstance(x, Tensor) else backend.device_of(x)
    arrays = {}
    for name, value in (("running_mean", running_mean), ("running_var", running_var),
                        ("weight", weight), ("bias", bias)):
        if value is None:
            continue
        if shape_of(value) != (channels,):
            raise ValueError(f"batch_norm: {name} must have shape ({channels},), one value per channel "
                             f"of the input {x_shape}; got {shape_of(value)}")
        array = value.data if isinstance(value, Tensor) else value
        if backend.device_of(array) != device:
            raise backend.DeviceMismatchError(
                f"batch_norm: {name} is on {backend.device_of(array)} but the input is on {device}")
        arrays[name] = array
    check_float_dtypes("batch_norm", x=x, weight=weight, bias=bias,
                       running_mean=running_mean, running_var=running_var)
    values_per_channel = math.prod(x_shape) // channels if channels else 0    # M
    if training and values_per_channel <= 1:
        raise ValueError(f"batch_norm: training needs more than one value per channel; got input {x_shape}")
    return BatchNorm.apply(x, 1.0 if weight is None else weight, 0.0 if bias is None else bias,
                           running_mean=arrays.get("running_mean"), running_var=arrays.get("running_var"),
                           use_batch_stats=training, momentum=momentum, eps=eps)
