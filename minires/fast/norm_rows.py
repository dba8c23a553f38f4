"""Batch norm on channel rows: the fast kernel of :func:`minires.functional.batch_norm`.

It computes what the reference computes, with the same derivation (see
minires/functional/norm.py), and is tested equal to it (forward, every gradient and
the running statistics, on every device). Three things make it faster:

- it works on x as channel rows (layout.channel_rows): one C-contiguous matrix whose
  column k holds channel k % C; for a channels-last image, the one the fast conv2d
  returns, that matrix is the image's own memory, no copy. Per-channel sums are then
  matrix-vector products with a vector of ones, and per-channel scales one row
  repeated along the rows, both with long inner loops;
- it keeps x - mu rather than x̂ for backward, and computes the backward from it with
  per-channel factors, saving one pass over the data;
- in evaluation, y = x gamma / sigma + (beta - mu gamma / sigma) takes one pass over x,
  split across the CPU's threads for large arrays (threads.py).

The output keeps the channels-last layout, like the convolution that feeds it.
"""

from minires.fast.layout import channel_rows, from_channel_rows
from minires.fast.threads import elementwise_parts, one_blas_thread, run_parts
from minires.functional.norm import BatchNorm, check_batch_norm_arguments


class BatchNormRows(BatchNorm):
    """The reference BatchNorm's op, with forward and backward on channel rows.

    Its options and the update of the running statistics are the reference's
    (inherited). The arithmetic runs on x as channel rows (see layout.channel_rows): a
    matrix whose column k holds channel k % C, so that per-channel sums are one
    matrix-vector product and per-channel scales one broadcast along the rows. Images
    come out channels-last, like the convolutions that feed batch norm in a ResNet.
    """

    def forward(self, xp, x, weight, bias):
        with one_blas_thread():          # its matrix-vector sums: see threads.py
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
                # backward needs x - mu (x̂ = (x - mu) / sigma), 1/sigma and gamma (see minires/functional/norm.py)
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

    def backward(self, grad_output):
        """The reference's formula (minires/functional/norm.py), with x̂ = (x - mu) / sigma written out:

            dL/dx = (gamma / sigma) (g - mean(g)) - (gamma / sigma^3) mean(g (x - mu)) (x - mu)
            dL/dgamma = sum(g x̂) = (1 / sigma) sum(g (x - mu)),    dL/dbeta = sum(g)

        with means and sums per channel. In evaluation, dL/dx = (gamma / sigma) g.
        """
        with one_blas_thread():          # its matrix-vector sums: see threads.py
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

    ``ones @ rows`` sums the rows in one BLAS matrix-vector product (faster than
    ``rows.sum(axis=0)``), then a second one adds the K groups of C (faster again
    than ``.sum(axis=0)`` over many short groups).
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
    """Batch normalisation on channel rows, the fast kernel of :func:`minires.functional.batch_norm`.

    The same arguments, shapes, values and running-statistics updates as the reference,
    whose docstring lists them and whose module docstring derives the backward.

    Shape:
        (N, C) -> (N, C), (N, C, H, W) -> (N, C, H, W), channels-last for images
    """
    running = check_batch_norm_arguments("batch_norm", x, running_mean, running_var, weight, bias,
                                         training, momentum)
    return BatchNormRows.apply(x, 1.0 if weight is None else weight, 0.0 if bias is None else bias,
                               running_mean=running.get("running_mean"), running_var=running.get("running_var"),
                               use_batch_stats=training, momentum=momentum, eps=eps)
