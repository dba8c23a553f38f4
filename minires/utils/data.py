"""``minires.utils.data``: the names of ``torch.utils.data`` that minires has.

They are minires.data's: ``DataLoader`` batches any minires dataset (an ArrayDataset:
CIFAR10, ImageFolder, MNIST, the bundled sample, or your own arrays); ``Subset`` picks
some of its images. A PyTorch ``Dataset`` subclass with ``__getitem__`` is not taken:
minires's datasets hold their images as one array and transform whole batches.
"""

from minires.data import ArrayDataset, DataLoader, Subset

__all__ = ["ArrayDataset", "DataLoader", "Subset"]
