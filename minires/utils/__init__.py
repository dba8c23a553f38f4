"""``minires.utils``: where PyTorch scripts look for ``torch.utils.data.DataLoader``."""

from minires.utils import data

__all__ = ["data"]
