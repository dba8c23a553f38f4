"""Optimisers and learning-rate schedules, as torch.optim.

- optimizer: Optimizer, the base class (parameter groups, state, state_dict)
- sgd: SGD (momentum, dampening, Nesterov, weight decay)
- adam: Adam and AdamW
- lr_scheduler: StepLR, MultiStepLR, CosineAnnealingLR, LinearLR, SequentialLR
- van: VANConstraint, the alpha and Lagrange-multiplier updates of VAN nets

Gradient clipping lives with PyTorch's, in minires.nn.utils.clip_grad_norm_.

    from minires import optim
    optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    scheduler = optim.lr_scheduler.MultiStepLR(optimizer, milestones=[100, 150])
"""

from minires.optim import lr_scheduler
from minires.optim.adam import Adam, AdamW
from minires.optim.optimizer import Optimizer
from minires.optim.sgd import SGD
from minires.optim.van import VANConstraint

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "lr_scheduler", "VANConstraint"]
