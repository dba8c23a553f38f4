"""Reference ops: the answer key the vectorised minires ops are tested against.

Each function here is written as directly as the maths reads: explicit Python loops
over output positions, one window at a time, on float64 NumPy host arrays. They are
slow, and meant to be: they run on tiny shapes, and a reader should be able to check
each one by eye. test_reference_ops.py checks them against PyTorch, so that a minires
op agreeing with them agrees with PyTorch too.

Notation: N batch, C channels (C_in, C_out for convolution), H and W input height and
width, KH and KW kernel height and width, OH and OW output height and width.
"""

import numpy as np


def _pair(value):
    """An int or a pair as a pair: 2 -> (2, 2), (2, 1) -> (2, 1)."""
    if isinstance(value, int):
        return value, value
    first, second = value
    return first, second


def _output_size(size, kernel, stride, padding):
    """Positions a window of ``kernel`` fits in ``size`` padded on both sides."""
    return (size + 2 * padding - kernel) // stride + 1


def _pad_spatial(x, padding, value):
    """Pad the last two axes of x: (N, C, H, W) -> (N, C, H + 2*ph, W + 2*pw)."""
    ph, pw = padding
    return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=value)


def conv2d_loops(x, weight, bias=None, stride=1, padding=0):
    """2-D convolution (cross-correlation, as PyTorch), one output value at a time.

    Each output value is the sum, over the window it sees, of input times weight:
    y[n, c_out, oh, ow] = bias[c_out]
                          + sum_{c_in, i, j} x_pad[n, c_in, oh*sh + i, ow*sw + j]
                                             * weight[c_out, c_in, i, j]
    where x_pad is x with ``padding`` zeros on each side of H and W.

    Shape:
        x: (N, C_in, H, W), weight: (C_out, C_in, KH, KW), bias: (C_out,) or None
        -> (N, C_out, OH, OW), OH = (H + 2*ph - KH) // sh + 1, OW likewise
    """
    N, C_in, H, W = x.shape
    C_out, _, KH, KW = weight.shape
    sh, sw = _pair(stride)
    ph, pw = _pair(padding)
    OH, OW = _output_size(H, KH, sh, ph), _output_size(W, KW, sw, pw)
    x_padded = _pad_spatial(x, (ph, pw), 0.0)          # (N, C_in, H + 2*ph, W + 2*pw)
    y = np.zeros((N, C_out, OH, OW))
    for n in range(N):
        for c_out in range(C_out):
            for oh in range(OH):
                for ow in range(OW):
                    window = x_padded[n, :, oh * sh:oh * sh + KH, ow * sw:ow * sw + KW]  # (C_in, KH, KW)
                    y[n, c_out, oh, ow] = np.sum(window * weight[c_out])
                    if bias is not None:
                        y[n, c_out, oh, ow] += bias[c_out]
    return y


def conv2d_backward_loops(x, weight, grad_output, stride=1, padding=0):
    """Gradients of conv2d_loops, by walking the same windows as the forward pass.

    Each output value y[n, c_out, oh, ow] touched one window of x_pad and all of
    weight[c_out], so its gradient g flows back as
        grad_x_pad[n, :, window] += g * weight[c_out]
        grad_weight[c_out]       += g * x_pad[n, :, window]
        grad_bias[c_out]         += g
    and grad_x is grad_x_pad with the padding cropped off (padding is not an input).

    Shape:
        x: (N, C_in, H, W), weight: (C_out, C_in, KH, KW), grad_output: (N, C_out, OH, OW)
        -> grad_x: (N, C_in, H, W), grad_weight: (C_out, C_in, KH, KW), grad_bias: (C_out,)
    """
    N, C_in, H, W = x.shape
    C_out, _, KH, KW = weight.shape
    _, _, OH, OW = grad_output.shape
    sh, sw = _pair(stride)
    ph, pw = _pair(padding)
    x_padded = _pad_spatial(x, (ph, pw), 0.0)          # (N, C_in, H + 2*ph, W + 2*pw)
    grad_x_padded = np.zeros_like(x_padded)            # (N, C_in, H + 2*ph, W + 2*pw)
    grad_weight = np.zeros_like(weight)                # (C_out, C_in, KH, KW)
    grad_bias = np.zeros(C_out)                        # (C_out,)
    for n in range(N):
        for c_out in range(C_out):
            for oh in range(OH):
                for ow in range(OW):
                    rows = slice(oh * sh, oh * sh + KH)
                    cols = slice(ow * sw, ow * sw + KW)
                    g = grad_output[n, c_out, oh, ow]
                    grad_x_padded[n, :, rows, cols] += g * weight[c_out]
                    grad_weight[c_out] += g * x_padded[n, :, rows, cols]
                    grad_bias[c_out] += g
    grad_x = grad_x_padded[:, :, ph:ph + H, pw:pw + W]  # (N, C_in, H, W)
    return grad_x, grad_weight, grad_bias


def batch_norm_two_pass(x, weight=None, bias=None, eps=1e-5):
    """Training-mode batch norm, with mean and variance computed in two passes.

    For each channel c, over its M = N*H*W values (M = N for 2-D input):
        pass 1: mean[c]       = sum(x_c) / M
        pass 2: biased_var[c] = sum((x_c - mean[c])**2) / M
    Two passes, rather than E[x^2] - E[x]^2, keep the variance accurate when the
    mean is large next to the spread. Then
        y_c = (x_c - mean[c]) / sqrt(biased_var[c] + eps) * weight[c] + bias[c]
    The unbiased variance, sum(...) / (M - 1), is what running_var tracks.

    Args:
        weight, bias: the affine scale γ and shift β, (C,); None means 1 and 0.

    Shape:
        x: (N, C) or (N, C, H, W) -> y: same shape as x;
        mean, biased_var, unbiased_var: (C,)
    """
    C = x.shape[1]
    M = x.size // C                                    # values per channel
    if M < 2:
        raise ValueError(f"batch_norm_two_pass: needs more than one value per channel "
                         f"to estimate a variance (input {x.shape})")
    mean = np.zeros(C)
    for c in range(C):                                 # pass 1: the mean
        mean[c] = np.sum(x[:, c]) / M
    biased_var = np.zeros(C)
    for c in range(C):                                 # pass 2: the spread about it
        biased_var[c] = np.sum((x[:, c] - mean[c]) ** 2) / M
    unbiased_var = biased_var * M / (M - 1)
    y = np.zeros_like(x)
    for c in range(C):
        scale = 1.0 if weight is None else weight[c]
        shift = 0.0 if bias is None else bias[c]
        y[:, c] = (x[:, c] - mean[c]) / np.sqrt(biased_var[c] + eps) * scale + shift
    return y, mean, biased_var, unbiased_var


def _pool_loops(x, kernel_size, stride, padding, pad_value, reduce_window):
    """One pooled value per window: ``reduce_window`` of the (KH, KW) window it sees."""
    N, C, H, W = x.shape
    KH, KW = _pair(kernel_size)
    sh, sw = _pair(kernel_size if stride is None else stride)
    ph, pw = _pair(padding)
    OH, OW = _output_size(H, KH, sh, ph), _output_size(W, KW, sw, pw)
    x_padded = _pad_spatial(x, (ph, pw), pad_value)    # (N, C, H + 2*ph, W + 2*pw)
    y = np.zeros((N, C, OH, OW))
    for n in range(N):
        for c in range(C):
            for oh in range(OH):
                for ow in range(OW):
                    window = x_padded[n, c, oh * sh:oh * sh + KH, ow * sw:ow * sw + KW]  # (KH, KW)
                    y[n, c, oh, ow] = reduce_window(window)
    return y


def max_pool2d_loops(x, kernel_size, stride=None, padding=0):
    """2-D max pooling, one window at a time; padding counts as -inf (never the max).

    Shape:
        x: (N, C, H, W) -> (N, C, OH, OW),
        OH = (H + 2*ph - KH) // sh + 1, OW likewise; stride defaults to kernel_size
    """
    return _pool_loops(x, kernel_size, stride, padding, -np.inf, np.max)


def max_pool2d_backward_loops(x, grad_output, kernel_size, stride=None, padding=0):
    """Gradient of max_pool2d_loops: each window's gradient goes to its maximum.

    When a window holds the maximum more than once, the first one in row-major order
    (np.argmax of the flattened window) takes it all, as PyTorch does. Windows may
    overlap, so one input can collect gradient from several outputs.

    Shape:
        x: (N, C, H, W), grad_output: (N, C, OH, OW) -> grad_x: (N, C, H, W)
    """
    N, C, H, W = x.shape
    _, _, OH, OW = grad_output.shape
    KH, KW = _pair(kernel_size)
    sh, sw = _pair(kernel_size if stride is None else stride)
    ph, pw = _pair(padding)
    x_padded = _pad_spatial(x, (ph, pw), -np.inf)      # (N, C, H + 2*ph, W + 2*pw)
    grad_x_padded = np.zeros_like(x_padded)            # (N, C, H + 2*ph, W + 2*pw)
    for n in range(N):
        for c in range(C):
            for oh in range(OH):
                for ow in range(OW):
                    window = x_padded[n, c, oh * sh:oh * sh + KH, ow * sw:ow * sw + KW]  # (KH, KW)
                    i, j = np.unravel_index(np.argmax(window), window.shape)
                    grad_x_padded[n, c, oh * sh + i, ow * sw + j] += grad_output[n, c, oh, ow]
    return grad_x_padded[:, :, ph:ph + H, pw:pw + W]  # (N, C, H, W)


def avg_pool2d_loops(x, kernel_size, stride=None, padding=0):
    """2-D average pooling, one window at a time, with zero padding.

    The padding zeros count in the average: every window is divided by KH*KW, as
    PyTorch's default count_include_pad=True.

    Shape:
        x: (N, C, H, W) -> (N, C, OH, OW),
        OH = (H + 2*ph - KH) // sh + 1, OW likewise; stride defaults to kernel_size
    """
    return _pool_loops(x, kernel_size, stride, padding, 0.0, lambda window: np.sum(window) / window.size)


def cross_entropy_loops(logits, target, reduction="mean"):
    """Cross-entropy of softmax(logits) against integer class targets, row by row.

    For each sample, loss = -log softmax(row)[target]
                          = log(sum(exp(row))) - row[target].
    Subtracting the row's maximum first leaves the loss unchanged and keeps every
    exp() at most 1, so large logits cannot overflow.

    Args:
        reduction: "mean" (average over the batch), "sum", or "none" (one per sample).

    Shape:
        logits: (N, C), target: (N,) ints in [0, C) -> () for "mean" and "sum", (N,) for "none"
    """
    N, C = logits.shape
    losses = np.zeros(N)
    for n in range(N):
        shifted = logits[n] - np.max(logits[n])        # (C,), largest entry 0
        log_sum_exp = np.log(np.sum(np.exp(shifted)))
        losses[n] = log_sum_exp - shifted[target[n]]
    if reduction == "mean":
        return np.sum(losses) / N
    if reduction == "sum":
        return np.sum(losses)
    if reduction == "none":
        return losses
    raise ValueError(f'cross_entropy_loops: reduction must be "mean", "sum" or "none", '
                     f"got {reduction!r}")
