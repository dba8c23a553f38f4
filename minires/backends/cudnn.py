"""``minires.backends.cudnn``: torch.backends.cudnn's flags, accepted and without effect.

minires calls no cuDNN autotuner, so ``benchmark = True`` (and ``deterministic``,
``enabled``) may be set as a PyTorch script does and change nothing: minires's results
are the same either way.
"""

benchmark = False
deterministic = False
enabled = True
