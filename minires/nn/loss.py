"""Loss modules: CrossEntropyLoss, NLLLoss and MSELoss, as in torch.nn.

Each is a Module only so that a training script can build its criterion once
(``criterion = nn.CrossEntropyLoss()``) and call it (``loss = criterion(outputs,
targets)``), as PyTorch scripts do; its forward is one call to minires.functional,
where the loss and its gradient are written.

The constructors take PyTorch's arguments. Those minires does not implement (class
weights, an ``ignore_index`` other than the default, label smoothing, the deprecated
``size_average`` and ``reduce``) raise a ValueError that names them, instead of being
silently ignored: a loss that quietly differs would train a different model.
"""

from minires import functional as F
from minires.functional.loss import REDUCTIONS
from minires.nn.module import Module


class _Loss(Module):
    """What the loss modules share: ``reduction`` and the check of unsupported arguments."""

    def __init__(self, reduction, size_average=None, reduce=None):
        super().__init__()
        name = type(self).__name__
        if size_average is not None or reduce is not None:
            raise ValueError(f"{name}: size_average and reduce are deprecated in PyTorch and not supported; "
                             "use reduction='mean', 'sum' or 'none'")
        if reduction not in REDUCTIONS:
            raise ValueError(f"{name}: reduction must be one of {REDUCTIONS}; got {reduction!r}")
        self.reduction = reduction


def _check_class_options(name, weight, ignore_index):
    """Refuses class weights and a non-default ignore_index, which minires does not implement."""
    if weight is not None:
        raise ValueError(f"{name}: class weights (weight=...) are not supported; leave weight=None")
    if ignore_index != -100:
        raise ValueError(f"{name}: ignore_index={ignore_index!r} is not supported; minires counts every "
                         "target (leave the default, -100)")


class CrossEntropyLoss(_Loss):
    """Softmax cross-entropy with integer class targets, as torch.nn.CrossEntropyLoss.

    ``criterion(logits, target)`` is ``F.cross_entropy(logits, target, reduction)``.

    Args:
        weight, ignore_index, label_smoothing: accepted at PyTorch's defaults (None,
            -100, 0.0) only; other values raise ValueError. A target of -100 is
            therefore out of range (IndexError), not skipped as in PyTorch.
        size_average, reduce: deprecated in PyTorch; must be None.
        reduction: "mean" (default), "sum" or "none".

    Shape:
        logits (N, C), target (N,) -> () for "mean" and "sum", (N,) for "none"
    """

    def __init__(self, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean",
                 label_smoothing=0.0):
        super().__init__(reduction, size_average, reduce)
        _check_class_options("CrossEntropyLoss", weight, ignore_index)
        if label_smoothing != 0.0:
            raise ValueError(f"CrossEntropyLoss: label_smoothing={label_smoothing!r} is not supported; "
                             "leave the default, 0.0")
        self.ignore_index, self.label_smoothing = ignore_index, label_smoothing

    def forward(self, input, target):
        return F.cross_entropy(input, target, self.reduction)


class NLLLoss(_Loss):
    """Negative log-likelihood of integer class targets, as torch.nn.NLLLoss.

    ``criterion(log_probs, target)`` is ``F.nll_loss(log_probs, target, reduction)``:
    give it log-probabilities, e.g. the output of ``F.log_softmax(logits, dim=1)``.

    Args:
        weight, ignore_index: accepted at PyTorch's defaults (None, -100) only.
        size_average, reduce: deprecated in PyTorch; must be None.
        reduction: "mean" (default), "sum" or "none".

    Shape:
        log_probs (N, C), target (N,) -> () for "mean" and "sum", (N,) for "none"
    """

    def __init__(self, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean"):
        super().__init__(reduction, size_average, reduce)
        _check_class_options("NLLLoss", weight, ignore_index)
        self.ignore_index = ignore_index

    def forward(self, input, target):
        return F.nll_loss(input, target, self.reduction)


class MSELoss(_Loss):
    """Mean squared error, as torch.nn.MSELoss: ``F.mse_loss(input, target, reduction)``.

    The input and target must have the same shape (PyTorch broadcasts them, with a
    warning).

    Args:
        size_average, reduce: deprecated in PyTorch; must be None.
        reduction: "mean" (default, over every element), "sum" or "none".

    Shape:
        input (*), target (*) -> () for "mean" and "sum", (*) for "none"
    """

    def __init__(self, size_average=None, reduce=None, reduction="mean"):
        super().__init__(reduction, size_average, reduce)

    def forward(self, input, target):
        return F.mse_loss(input, target, self.reduction)
