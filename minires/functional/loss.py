"""Losses: cross_entropy and nll_loss for classifiers with integer class targets,
mse_loss for regression.

Each reduces the per-sample losses as ``reduction`` says: "mean" (the default),
"sum", or "none" (the losses themselves), as PyTorch's losses do.
"""

import math

from minires import backend
from minires.autograd import Function, array_of
from minires.functional.activation import stable_log_softmax
from minires.functional.shape_utils import shape_of

REDUCTIONS = ("mean", "sum", "none")


class CrossEntropy(Function):
    """loss_n = -log softmax(logits_n)[target_n] = log sum_c exp(logits_nc) - logits_n,target_n.

    Forward computes log softmax stably (stable_log_softmax) and picks each row's target
    entry with a one-hot mask (``arange(C) == target``), not by indexing: indexing with
    an array of indices would have to check their range on the device first.

    Backward: d loss_n / d logits_nc = softmax(logits_n)_c - [c == target_n], the
    predicted probabilities minus the one-hot target, times the loss's gradient
    (divided by N for the mean).
    """

    def __init__(self, target, reduction):
        self.target, self.reduction = target, reduction

    def forward(self, xp, logits):
        N, C = logits.shape
        log_probs = stable_log_softmax(xp, logits, axis=1)                        # (N, C)
        is_target = xp.arange(C) == self.target.reshape(N, 1)                     # (N, C) one-hot
        losses = -xp.where(is_target, log_probs, 0.0).sum(axis=1)                 # (N,)
        # A target outside [0, C) matches no column. Host targets were refused before this
        # point; device targets are not read back (a synchronisation), so their row's loss
        # becomes NaN instead of a silent 0.
        losses = xp.where(is_target.any(axis=1), losses, xp.nan)
        self.save_for_backward(log_probs, is_target)   # softmax = exp(log_probs), and the one-hot
        return _reduced(losses, self.reduction)

    def backward(self, grad_output):
        log_probs, is_target = self.saved
        N = log_probs.shape[0]
        grad_per_sample = grad_output.reshape(-1, 1) if self.reduction == "none" else grad_output
        if self.reduction == "mean":
            grad_per_sample = grad_per_sample / N
        return ((self.xp.exp(log_probs) - is_target) * grad_per_sample,)        # (N, C)


def cross_entropy(logits, target, reduction="mean"):
    """Softmax cross-entropy with integer class targets, as torch.nn.functional.cross_entropy.

    Stable for logits of any magnitude (1e4 and beyond): the log-sum-exp is taken
    after subtracting each row's max. Class weights, ``ignore_index`` and label
    smoothing are not supported; targets must be class indices, not probabilities.

    Args:
        logits: (N, C) unnormalised scores.
        target: (N,) integer class indices in [0, C): a Tensor, an array or a list.
            Host targets are range-checked on the host (IndexError), then copied to
            the logits' device. Targets already on a GPU are not read back, which
            would make Python wait for the GPU: a target out of range there gives its
            row a NaN loss (PyTorch raises a device-side assertion instead).
        reduction: "mean" (default), "sum" or "none" (one loss per sample).

    Shape:
        logits (N, C), target (N,) -> () for "mean" and "sum", (N,) for "none"
    """
    target = _checked_class_loss_inputs("cross_entropy", "logits", logits, target, reduction)
    return CrossEntropy.apply(logits, target=target, reduction=reduction)


def _checked_class_loss_inputs(op_name, what, scores, target, reduction):
    """The checks cross_entropy and nll_loss share: scores (N, C), a reduction it knows,
    no mean over an empty batch, and class targets (see _checked_target); returns the
    target as an array on the scores' device."""
    _check_reduction(op_name, reduction)
    scores_shape = shape_of(scores)
    if len(scores_shape) != 2:
        raise ValueError(f"{op_name}: expected {what} of shape (N, C); got {scores_shape}")
    N, C = scores_shape
    if N == 0 and reduction == "mean":
        raise ValueError(f"{op_name}: the mean over an empty batch ({what} (0, C)) is undefined")
    return _checked_target(op_name, target, N, C, backend.device_of(array_of(scores)))


class NLL(Function):
    """loss_n = -log_probs[n, target_n]: the negative log-likelihood of each target, given
    log-probabilities (what log_softmax returns). nll_loss(log_softmax(x, 1), t) equals
    cross_entropy(x, t).

    Forward picks each row's target entry with a one-hot mask, as CrossEntropy does.

    Backward: d loss_n / d log_probs_nc = -[c == target_n], the negated one-hot target,
    times the loss's gradient (divided by N for the mean).
    """

    def __init__(self, target, reduction):
        self.target, self.reduction = target, reduction

    def forward(self, xp, log_probs):
        N, C = log_probs.shape
        is_target = xp.arange(C) == self.target.reshape(N, 1)                     # (N, C) one-hot
        losses = -xp.where(is_target, log_probs, 0.0).sum(axis=1)                 # (N,)
        losses = xp.where(is_target.any(axis=1), losses, xp.nan)  # a device target out of range
        self.save_for_backward(is_target)          # the gradient is the one-hot, negated
        return _reduced(losses, self.reduction)

    def backward(self, grad_output):
        (is_target,) = self.saved
        grad_per_sample = _per_sample(grad_output, self.reduction, is_target.shape[0])
        if self.reduction == "none":
            grad_per_sample = grad_per_sample.reshape(-1, 1)                     # (N, 1)
        return (-(is_target * grad_per_sample),)                                 # (N, C)


class MSE(Function):
    """loss_i = (input_i - target_i)^2 for every element i.

    Backward: d loss_i / d input_i = 2 (input_i - target_i) and d loss_i / d target_i is
    its negative, times the loss's gradient (divided by the element count for the mean).
    """

    def __init__(self, reduction):
        self.reduction = reduction

    def forward(self, xp, input, target):
        difference = input - target
        self.save_for_backward(difference)         # both gradients are +-2 * difference
        return _reduced(difference * difference, self.reduction)

    def backward(self, grad_output):
        (difference,) = self.saved
        grad = 2.0 * difference * _per_sample(grad_output, self.reduction, difference.size)
        needs_input, needs_target = self.needs_input_grad
        return (grad if needs_input else None, -grad if needs_target else None)


def _reduced(losses, reduction):
    """The losses averaged ("mean"), added up ("sum") or as they are ("none")."""
    if reduction == "mean":
        return losses.mean()
    if reduction == "sum":
        return losses.sum()
    return losses


def _per_sample(grad_output, reduction, count):
    """The gradient reaching each of ``count`` losses: the mean's gradient shared by all
    of them, the sum's copied to each, or ("none") each loss's own."""
    return grad_output / count if reduction == "mean" else grad_output


def nll_loss(input, target, reduction="mean"):
    """Negative log-likelihood of integer class targets, as torch.nn.functional.nll_loss.

    ``input`` holds log-probabilities, usually ``log_softmax(logits, dim=1)``; the loss
    of row n is -input[n, target[n]]. Class weights and ``ignore_index`` are not
    supported. Targets are checked as cross_entropy checks them (host targets out of
    range raise IndexError; GPU targets out of range give their row a NaN loss).

    Args:
        input: (N, C) log-probabilities.
        target: (N,) integer class indices in [0, C): a Tensor, an array or a list.
        reduction: "mean" (default), "sum" or "none" (one loss per sample).

    Shape:
        input (N, C), target (N,) -> () for "mean" and "sum", (N,) for "none"
    """
    target = _checked_class_loss_inputs("nll_loss", "an input", input, target, reduction)
    return NLL.apply(input, target=target, reduction=reduction)


def mse_loss(input, target, reduction="mean"):
    """Mean squared error, as torch.nn.functional.mse_loss: (input - target)^2 reduced.

    Unlike PyTorch, which broadcasts an input and a target of different shapes (with a
    warning), the shapes must be equal: (N, 1) against (N,) would broadcast to (N, N)
    and silently compute the wrong loss.

    Args:
        input: a floating Tensor of any shape.
        target: a floating Tensor or array of the same shape; it may require a gradient.
        reduction: "mean" (default: over every element), "sum" or "none" (elementwise).

    Shape:
        input (*), target (*) -> () for "mean" and "sum", (*) for "none"
    """
    _check_reduction("mse_loss", reduction)
    for name, value in (("input", input), ("target", target)):
        array = array_of(value)
        if not backend.is_array(array) or not backend.is_floating(array.dtype):
            found = f"dtype {array.dtype}" if backend.is_array(array) else type(value).__name__
            raise TypeError(f"mse_loss: {name} must be a floating Tensor or array (float32 or "
                            f"float64); got {found}")
    input_shape, target_shape = shape_of(input), shape_of(target)
    if input_shape != target_shape:
        raise ValueError(f"mse_loss: input has shape {input_shape} but target has shape {target_shape}; "
                         "they must be equal (minires does not broadcast them, PyTorch warns)")
    if reduction == "mean" and math.prod(input_shape) == 0:
        raise ValueError(f"mse_loss: the mean over an empty input (shape {input_shape}) is undefined")
    return MSE.apply(input, target, reduction=reduction)


def _check_reduction(op_name, reduction):
    if reduction not in REDUCTIONS:
        raise ValueError(f"{op_name}: reduction must be one of {REDUCTIONS}; got {reduction!r}")


def _checked_target(op_name, target, N, C, device):
    """The targets as an integer array on ``device``, after checking shape, dtype and range."""
    target = array_of(target)
    if isinstance(target, list):             # [] would be float32, as in torch.tensor([])
        target = backend.host_array(target, dtype=None if target else backend.int64)
    if not backend.is_array(target):
        raise TypeError(f"{op_name}: target must be a Tensor, an array or a list of class "
                        f"indices; got {type(target).__name__}")
    if target.dtype.kind not in "iu":
        raise TypeError(f"{op_name}: target must hold integer class indices (int64, as in PyTorch); "
                        f"got dtype {target.dtype} (class probabilities are not supported)")
    if tuple(target.shape) != (N,):
        raise ValueError(f"{op_name}: target must have shape ({N},), one class index per row of "
                         f"the logits ({N}, {C}); got {tuple(target.shape)}")
    target_device = backend.device_of(target)
    if target_device != device and target_device != "cpu":
        raise backend.DeviceMismatchError(
            f"{op_name}: target is on {target_device} but the logits are on {device}")
    if target_device != "cpu":
        return target                            # on the GPU: checked by the op, without a read-back
    out_of_range = (target < 0) | (target >= C)
    if out_of_range.any():                       # on the host: free
        first_bad = int(target[out_of_range][0])
        raise IndexError(f"{op_name}: target {first_bad} is out of range for {C} classes "
                         f"(targets must be in [0, {C - 1}]; logits ({N}, {C}))")
    return backend.to_device(target, device)     # an explicit copy when the logits are on a GPU
