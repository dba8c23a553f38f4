"""Cross-entropy: the loss of a classifier with integer class targets."""

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
        if self.reduction == "mean":
            return losses.mean()
        if self.reduction == "sum":
            return losses.sum()
        return losses

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
    if reduction not in REDUCTIONS:
        raise ValueError(f"cross_entropy: reduction must be one of {REDUCTIONS}; got {reduction!r}")
    logits_shape = shape_of(logits)
    if len(logits_shape) != 2:
        raise ValueError(f"cross_entropy: expected logits of shape (N, C); got {logits_shape}")
    N, C = logits_shape
    if N == 0 and reduction == "mean":
        raise ValueError("cross_entropy: the mean over an empty batch (logits (0, C)) is undefined")
    device = backend.device_of(array_of(logits))
    target = _checked_target(target, N, C, device)
    return CrossEntropy.apply(logits, target=target, reduction=reduction)


def _checked_target(target, N, C, device):
    """The targets as an integer array on ``device``, after checking shape, dtype and range."""
    target = array_of(target)
    if isinstance(target, list):             # [] would be float32, as in torch.tensor([])
        target = backend.host_array(target, dtype=None if target else backend.int64)
    if not backend.is_array(target):
        raise TypeError(f"cross_entropy: target must be a Tensor, an array or a list of class "
                        f"indices; got {type(target).__name__}")
    if target.dtype.kind not in "iu":
        raise TypeError(f"cross_entropy: target must hold integer class indices (int64, as in PyTorch); "
                        f"got dtype {target.dtype} (class probabilities are not supported)")
    if tuple(target.shape) != (N,):
        raise ValueError(f"cross_entropy: target must have shape ({N},), one class index per row of "
                         f"the logits ({N}, {C}); got {tuple(target.shape)}")
    target_device = backend.device_of(target)
    if target_device != device and target_device != "cpu":
        raise backend.DeviceMismatchError(
            f"cross_entropy: target is on {target_device} but the logits are on {device}")
    if target_device != "cpu":
        return target                            # on the GPU: checked by the op, without a read-back
    out_of_range = (target < 0) | (target >= C)
    if out_of_range.any():                       # on the host: free
        first_bad = int(target[out_of_range][0])
        raise IndexError(f"cross_entropy: target {first_bad} is out of range for {C} classes "
                         f"(targets must be in [0, {C - 1}]; logits ({N}, {C}))")
    return backend.to_device(target, device)     # an explicit copy when the logits are on a GPU
