"""Image transforms for training and testing, composed like torchvision's ``Compose``.

minires's datasets transform a whole batch at once (the first axis is the batch),
and random transforms draw from a NumPy Generator passed in, so that a DataLoader
makes every epoch's augmentation reproducible from its seed. torchvision's order
works, as does minires's older one (ToFloat first); for the same Generator both
give the same numbers:

    transform = Compose([RandomCrop(32, padding=4), RandomHorizontalFlip(), ToTensor(),
                         Normalize(CIFAR10_MEAN, CIFAR10_STD)])
    images = transform(uint8_images, rng)       # (N, 32, 32, 3) uint8 -> (N, 3, 32, 32) float32
    image = transform(pil_image)                # one image -> (3, 32, 32); rng: minires's own

The layout follows the dtype, as in torchvision: uint8 images are channels last, as
decoded ((N, H, W, C) a batch, (H, W, C) or (H, W) one image, or a PIL image); float
images are channels first, as ToTensor makes them ((N, C, H, W) or (C, H, W)).
Crops and flips take either; Normalize takes float only.

Every transform here does its work in two steps, ``draw`` (the random choices for a
batch: which window, which images to flip) and ``apply`` (the pixels). Calling it
does both. The DataLoader with num_workers > 0 calls them apart: it draws every
batch's choices in the main thread, in the order a single thread would, and leaves
the pixels to worker threads, so the batches do not depend on thread timing.

They work on host arrays (NumPy), before the batch is moved to its device.
"""

import numpy
from numpy.lib.stride_tricks import sliding_window_view

from minires import backend

# Per-channel mean and standard deviation of the CIFAR-10 training images, in [0, 1].
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)


def _as_batch(name, images):
    """``images`` as a 4-D batch (uint8 (N, H, W, C) or float (N, C, H, W)), and
    whether it was one image, whose axes :func:`_as_given` takes off again."""
    if not isinstance(images, numpy.ndarray):
        from PIL import Image          # imported on first use: import minires loads no Pillow
        if not isinstance(images, Image.Image):
            raise TypeError(f"{name}: expects a NumPy array or a PIL image; got {type(images).__name__}")
        images = numpy.asarray(images)                                 # (H, W, C) or (H, W)
    if images.dtype == numpy.uint8 and images.ndim == 2:               # (H, W) one grayscale image
        return images[None, :, :, None], True                          # (1, H, W, 1)
    if images.dtype == numpy.uint8 and images.ndim in (3, 4) and images.shape[-1] in (1, 3, 4):
        return (images[None], True) if images.ndim == 3 else (images, False)      # (N, H, W, C)
    if images.dtype.kind == "f" and images.ndim in (3, 4):
        return (images[None], True) if images.ndim == 3 else (images, False)      # (N, C, H, W)
    raise ValueError(f"{name}: expects uint8 images with channels last ((N, H, W, C), (H, W, C) "
                     f"or (H, W), C = 1, 3 or 4) or float images with channels first ((N, C, H, W) "
                     f"or (C, H, W)); got {images.dtype} of shape {images.shape}")


def _as_given(batch, one_image):
    """The result of a transform, without the axes :func:`_as_batch` added."""
    if not one_image:
        return batch
    if batch.dtype == numpy.uint8 and batch.shape[3] == 1:             # (1, H, W, 1) -> (H, W)
        return batch[0, :, :, 0]
    return batch[0]


def _image_size(batch):
    """(N, H, W) of a batch in either layout."""
    if batch.dtype == numpy.uint8:                                     # (N, H, W, C)
        return batch.shape[0], batch.shape[1], batch.shape[2]
    return batch.shape[0], batch.shape[2], batch.shape[3]              # (N, C, H, W)


class Transform:
    """What every transform here has.

    - ``draw(rng, count, height, width)``: the random choices for ``count`` images of
      that size, drawn from the Generator ``rng``; None for a transform without chance.
    - ``apply(batch, choices)``: the transformed batch, uint8 (N, H, W, C) or float
      (N, C, H, W).
    - ``size_after(height, width)``: the images' size after the transform.
    - ``transform(images, rng=None)``: both steps, on a batch, one image or a PIL image;
      rng None draws from minires's host generator (see minires.manual_seed).
    """

    def draw(self, rng, count, height, width):
        return None

    def size_after(self, height, width):
        return height, width

    def __call__(self, images, rng=None):
        name = type(self).__name__
        batch, one_image = _as_batch(name, images)
        rng = backend.host_generator() if rng is None else rng
        return _as_given(self.apply(batch, self.draw(rng, *_image_size(batch))), one_image)


class Compose(Transform):
    """Applies transforms one after the other, handing each the same Generator.

    Each transform is called ``transform(images, rng)``, so the same Generator state
    gives the same output; your own callables of that form are welcome. ``draw`` and
    ``apply`` (for DataLoader workers) need every transform to be one of this module's.
    """

    def __init__(self, transforms):
        self.transforms = list(transforms)

    def __call__(self, images, rng=None):
        for transform in self.transforms:
            images = transform(images, rng)
        return images

    def draw(self, rng, count, height, width):
        """Each transform's choices, in order: the Generator is used as by calling it."""
        choices = []
        for transform in self.transforms:
            if not isinstance(transform, Transform):
                raise TypeError(f"Compose: {transform!r} cannot draw its random choices ahead "
                                f"(it is not one of minires.data.transforms), which DataLoader "
                                f"workers need; use num_workers=0")
            choices.append(transform.draw(rng, count, height, width))
            height, width = transform.size_after(height, width)
        return choices

    def apply(self, batch, choices):
        for transform, chosen in zip(self.transforms, choices):
            batch = transform.apply(batch, chosen)
        return batch

    def size_after(self, height, width):
        for transform in self.transforms:
            height, width = transform.size_after(height, width)
        return height, width

    def __repr__(self):
        inner = "".join(f"\n    {transform!r}" for transform in self.transforms)
        return f"Compose({inner}\n)"


def _to_float(name, batch):
    """uint8 (N, H, W, C) -> float32 (N, C, H, W) in [0, 1]."""
    if batch.dtype != numpy.uint8:
        raise TypeError(f"{name}: expects uint8 images; got {batch.dtype} (float images need no {name})")
    floats = numpy.ascontiguousarray(batch.transpose(0, 3, 1, 2), dtype=numpy.float32)   # (N, C, H, W)
    floats /= 255.0
    return floats


class ToTensor(Transform):
    """uint8 images, channels last -> float32, channels first, in [0, 1] (torchvision's ToTensor).

    The result is a NumPy array, not a Tensor: the DataLoader makes the Tensor.

    Shape:
        (N, H, W, C) -> (N, C, H, W); one image (H, W, C) or a PIL image -> (C, H, W);
        (H, W) -> (1, H, W)
    """

    def apply(self, batch, choices=None):
        return _to_float("ToTensor", batch)

    def __repr__(self):
        return "ToTensor()"


class ToFloat(Transform):
    """uint8 (N, H, W, C) or (N, H, W) -> float32 (N, C, H, W) in [0, 1]: ToTensor for
    batches only, where a 3-D array is a batch of grayscale images (minires's first name).

    Shape:
        images: (N, H, W, C) -> (N, C, H, W), or grayscale (N, H, W) -> (N, 1, H, W)
    """

    def __call__(self, images, rng=None):
        if images.dtype != numpy.uint8:
            raise TypeError(f"ToFloat: expects uint8 images; got {images.dtype}")
        if images.ndim == 3:                                   # (N, H, W) grayscale
            images = images[:, :, :, None]                     # (N, H, W, 1)
        if images.ndim != 4 or images.shape[3] not in (1, 3, 4):
            raise ValueError(f"ToFloat: expects images (N, H, W, C) with 1, 3 or 4 channels last, or "
                             f"(N, H, W); got shape {images.shape}")
        return self.apply(images)

    def apply(self, batch, choices=None):
        return _to_float("ToFloat", batch)

    def __repr__(self):
        return "ToFloat()"


class RandomCrop(Transform):
    """Pads each image with ``padding`` zeros on every side, then crops a random
    window of ``size``, independently per image (the ResNet paper's augmentation).

    Each image's window starts at (top, left), drawn uniformly from
    0..H + 2 * padding - size_h (and likewise for left); for a crop of the image's own
    size, its content shifts by up to ``padding`` pixels and zeros fill the gap.

    Args:
        size: the crop's height and width, an int for a square or (height, width).
        padding: zeros added on each side before cropping (None, as torchvision: 0).

    Shape:
        (N, C, H, W) -> (N, C, size_h, size_w), or uint8 (N, H, W, C) -> (N, size_h, size_w, C)
    """

    def __init__(self, size, padding=None):
        self.size = (int(size), int(size)) if numpy.ndim(size) == 0 else tuple(int(s) for s in size)
        self.padding = 0 if padding is None else int(padding)
        if len(self.size) != 2 or min(self.size) < 1 or self.padding < 0:
            raise ValueError(f"RandomCrop: size must be positive (an int or (height, width)) and "
                             f"padding >= 0; got size={size!r}, padding={padding!r}")

    def draw(self, rng, count, height, width):
        """(tops, lefts): each image's window corner in the padded image, (N,) each."""
        (crop_h, crop_w), pad = self.size, self.padding
        if crop_h > height + 2 * pad or crop_w > width + 2 * pad:
            raise ValueError(f"RandomCrop: a {crop_h}x{crop_w} crop does not fit images "
                             f"{height}x{width} padded by {pad}")
        tops = rng.integers(0, height + 2 * pad - crop_h + 1, size=count)               # (N,)
        lefts = rng.integers(0, width + 2 * pad - crop_w + 1, size=count)               # (N,)
        return tops, lefts

    def size_after(self, height, width):
        return self.size

    def apply(self, batch, choices):
        tops, lefts = choices
        channels_last = batch.dtype == numpy.uint8
        images = batch.transpose(0, 3, 1, 2) if channels_last else batch        # (N, C, H, W), a view
        N, C, H, W = images.shape
        (crop_h, crop_w), pad = self.size, self.padding
        padded = numpy.zeros((N, C, H + 2 * pad, W + 2 * pad), dtype=images.dtype)    # (N, C, H+2p, W+2p)
        padded[:, :, pad:pad + H, pad:pad + W] = images
        # Every window of every padded image, as a view (no copy): every_window[n, c, top, left]
        # is the (crop_h, crop_w) window whose corner is (top, left). Each image takes its own.
        every_window = sliding_window_view(padded, (crop_h, crop_w), axis=(2, 3))  # (N, C, H', W', crop_h, crop_w)
        windows = every_window[numpy.arange(N), :, tops, lefts]                    # (N, C, crop_h, crop_w)
        return windows.transpose(0, 2, 3, 1) if channels_last else windows       # back to (N, h, w, C)

    def __repr__(self):
        return f"RandomCrop(size={self.size}, padding={self.padding})"


class RandomHorizontalFlip(Transform):
    """Mirrors each image left-right with probability ``p``, independently.

    Shape:
        any layout of this module -> the same
    """

    def __init__(self, p=0.5):
        if not 0 <= p <= 1:
            raise ValueError(f"RandomHorizontalFlip: p is a probability in [0, 1]; got {p!r}")
        self.p = float(p)

    def draw(self, rng, count, height, width):
        """flip: (N,) bools, True for the images to mirror."""
        return rng.random(count) < self.p

    def apply(self, batch, flip):
        width_axis = 2 if batch.dtype == numpy.uint8 else 3                   # (N, H, W, C) or (N, C, H, W)
        images = batch.copy()
        images[flip] = numpy.flip(batch[flip], axis=width_axis)              # the chosen ones, W reversed
        return images

    def __repr__(self):
        return f"RandomHorizontalFlip(p={self.p})"


class Normalize(Transform):
    """(image - mean) / std, per channel, on float images (put ToTensor before it).

    Args:
        mean: one value per channel, e.g. CIFAR10_MEAN.
        std: one positive value per channel, e.g. CIFAR10_STD.

    Shape:
        (N, C, H, W) -> (N, C, H, W), or one image (C, H, W) -> (C, H, W); C = len(mean)
    """

    def __init__(self, mean, std):
        self.mean, self.std = tuple(float(m) for m in mean), tuple(float(s) for s in std)
        if len(self.mean) != len(self.std) or min(self.std) <= 0:
            raise ValueError(f"Normalize: needs one mean and one positive std per channel; "
                             f"got mean={mean}, std={std}")

    def apply(self, batch, choices=None):
        if batch.dtype.kind != "f":
            raise TypeError(f"Normalize: expects float images (N, C, H, W) in [0, 1]; got {batch.dtype} "
                            f"of shape {batch.shape}: put ToTensor (or ToFloat) before Normalize")
        if batch.shape[1] != len(self.mean):
            raise ValueError(f"Normalize: {len(self.mean)} channel means for images with "
                             f"{batch.shape[1]} channels (shape {batch.shape})")
        mean = numpy.asarray(self.mean, dtype=batch.dtype).reshape(1, -1, 1, 1)     # (1, C, 1, 1)
        std = numpy.asarray(self.std, dtype=batch.dtype).reshape(1, -1, 1, 1)       # (1, C, 1, 1)
        normalised = batch - mean                                                   # a new array...
        normalised /= std                                                           # ...divided in place
        return normalised

    def __repr__(self):
        return f"Normalize(mean={self.mean}, std={self.std})"


def cifar10_train_transform():
    """ToFloat, random crop 32 with padding 4, random flip, normalise: the ResNet recipe."""
    return Compose([ToFloat(), RandomCrop(32, padding=4), RandomHorizontalFlip(),
                    Normalize(CIFAR10_MEAN, CIFAR10_STD)])


def cifar10_test_transform():
    """ToFloat and normalise, no randomness."""
    return Compose([ToFloat(), Normalize(CIFAR10_MEAN, CIFAR10_STD)])
