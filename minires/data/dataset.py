"""Datasets held as arrays in memory: images (uint8) and their class labels.

Every dataset of minires.data (CIFAR10, ImageFolder, MNIST, the bundled sample) is an
:class:`ArrayDataset`: the decoded images sit in ``.data`` and the labels in
``.targets``, and :meth:`ArrayDataset.batch` turns a set of indices into a batch,
applying the transform to the whole batch at once.
"""

import numpy

from minires import backend
from minires.data.transforms import ToTensor, Transform


class ArrayDataset:
    """Images and labels as host arrays.

    Args:
        data: uint8 images, (N, H, W, C) or (N, H, W) for grayscale.
        targets: (N,) integer class labels in [0, len(classes)): a list of ints or an
            integer array. Floats (even 3.0) and bools are refused rather than cast,
            since a cast would turn 1.7 into 1 without a word.
        classes: the class names, index = label.
        transform: called on each batch as ``transform(images, rng)``, images uint8
            (B, H, W, C) (grayscale with C = 1); it must return float (B, C, H, W), as
            ToTensor does (see minires.data.transforms). None means ToTensor only.
    """

    def __init__(self, data, targets, classes, transform=None):
        data, targets = numpy.asarray(data), numpy.asarray(targets)
        if data.dtype != numpy.uint8 or data.ndim not in (3, 4):
            raise ValueError(f"{type(self).__name__}: images must be uint8 (N, H, W, C) or "
                             f"(N, H, W); got {data.dtype} of shape {data.shape}")
        if targets.shape != (data.shape[0],):
            raise ValueError(f"{type(self).__name__}: {data.shape[0]} images but targets of shape "
                             f"{targets.shape}")
        if targets.dtype.kind not in "iu" and targets.size:          # "i", "u": signed, unsigned ints
            raise ValueError(f"{type(self).__name__}: labels must be integers; got {targets.dtype} "
                             f"(first label {targets.flat[0].item()!r}); give class indices as ints")
        if len(targets) and (targets.min() < 0 or targets.max() >= len(classes)):
            raise ValueError(f"{type(self).__name__}: labels must lie in [0, {len(classes)}); "
                             f"got {targets.min()}..{targets.max()}")
        targets = targets.astype(numpy.int64)                          # checked first: a cast can wrap
        self.data, self.targets, self.classes = data, targets, list(classes)
        self.transform = transform

    def __len__(self):
        return len(self.targets)

    def batch(self, indices, rng=None):
        """The images and labels at ``indices``, the images transformed as one batch.

        Args:
            indices: B ints (a list or a 1-D array).
            rng: the NumPy Generator random transforms draw from; None means
                minires's host generator (see minires.manual_seed).

        Returns:
            images: float32 (B, C, H, W) host array; labels: int64 (B,).
        """
        indices = self._checked_indices(indices)
        rng = backend.host_generator() if rng is None else rng
        images = self._transform()(self._images(indices), rng)     # (B, H, W, C) uint8 -> (B, C, H, W)
        return self._checked_output(images), self.targets[indices]

    def draw(self, indices, rng):
        """The transform's random choices for the batch at ``indices``, drawn from ``rng``
        exactly as :meth:`batch` would draw them (DataLoader workers: choices first,
        in order, in the main thread; pixels later, in any thread)."""
        indices = self._checked_indices(indices)
        transform = self._transform()
        if not isinstance(transform, Transform):
            raise TypeError(f"{type(self).__name__}: the transform {transform!r} cannot draw its random "
                            f"choices ahead (it is not one of minires.data.transforms), which DataLoader "
                            f"workers need; use num_workers=0")
        return transform.draw(rng, len(indices), self.data.shape[1], self.data.shape[2])

    def batch_from_choices(self, indices, choices):
        """:meth:`batch` with the random choices already drawn by :meth:`draw`."""
        indices = self._checked_indices(indices)
        images = self._transform().apply(self._images(indices), choices)
        return self._checked_output(images), self.targets[indices]

    def _checked_indices(self, indices):
        indices = numpy.asarray(indices, dtype=numpy.int64)
        if indices.ndim != 1:
            raise ValueError(f"{type(self).__name__}.batch: indices must be a 1-D list of ints; "
                             f"got shape {indices.shape}")
        return indices

    def _transform(self):
        return self.transform if self.transform is not None else ToTensor()

    def _images(self, indices):
        """uint8 (B, H, W, C): grayscale images get their channel axis here, so that every
        transform sees one layout (ToFloat and ToTensor give (B, 1, H, W) from it)."""
        images = self.data[indices]                                 # (B, H, W, C) or (B, H, W)
        return images[:, :, :, None] if images.ndim == 3 else images

    def _checked_output(self, images):
        if images.ndim != 4 or images.dtype == numpy.uint8:
            raise ValueError(f"{type(self).__name__}: the transform {self._transform()!r} returned "
                             f"{images.dtype} of shape {images.shape}, not float images (B, C, H, W); "
                             f"give it a ToTensor()")
        return images.astype(numpy.float32, copy=False)

    def __getitem__(self, index):
        """One (image (C, H, W), label) pair."""
        images, labels = self.batch([index])
        return images[0], int(labels[0])

    def __repr__(self):
        return (f"{type(self).__name__}({len(self)} images of shape {self.data.shape[1:]}, "
                f"{len(self.classes)} classes, transform={self.transform!r})")


class Subset:
    """The images of ``dataset`` at ``indices``, in that order (torch.utils.data.Subset)."""

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = numpy.asarray(indices, dtype=numpy.int64)
        self.classes = dataset.classes

    def __len__(self):
        return len(self.indices)

    def _in_dataset(self, indices):
        """Positions in this subset -> positions in the dataset it picks from."""
        return self.indices[numpy.asarray(indices, dtype=numpy.int64)]

    def batch(self, indices, rng=None):
        return self.dataset.batch(self._in_dataset(indices), rng)

    def draw(self, indices, rng):
        return self.dataset.draw(self._in_dataset(indices), rng)

    def batch_from_choices(self, indices, choices):
        return self.dataset.batch_from_choices(self._in_dataset(indices), choices)

    def __getitem__(self, index):
        images, labels = self.batch([index])
        return images[0], int(labels[0])


def random_subset(dataset, size, seed):
    """``size`` images of ``dataset`` chosen at random (without repeats) from ``seed``."""
    if not 0 < size <= len(dataset):
        raise ValueError(f"random_subset: size must lie in 1..{len(dataset)}; got {size}")
    return Subset(dataset, numpy.random.default_rng(seed).permutation(len(dataset))[:size])
