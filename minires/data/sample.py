"""The CIFAR-10 sample that ships with minires.

``cifar10_sample/cifar10-sample.tar.gz`` (1.9 MB) holds 6,000 real CIFAR-10 images as
JPEG files in ImageFolder layout, ``train/<class>/NNNN.jpg`` (500 per class) and
``test/<class>/NNNN.jpg`` (100 per class), so that examples and tests run with no
download. ``cifar10_sample/README.md`` says where they come from, and
``tools/make_cifar10_sample.py`` in the repository rebuilds the archive.
"""

import os

from minires.data.image_folder import ImageFolder

SAMPLE_ARCHIVE = os.path.join(os.path.dirname(__file__), "cifar10_sample", "cifar10-sample.tar.gz")


def cifar10_sample(train=True, transform=None, progress=True):
    """5,000 training or 1,000 test images of real CIFAR-10 (500 or 100 per class).

    An ImageFolder over the bundled archive: decoded once (a second or two), then
    cached in the cache directory like any ImageFolder.

    Args:
        train: the training part (True) or the test part.
        transform: applied to each batch (see ArrayDataset.batch).
        progress: draw the decoding progress bar (False: none, as for --no-progress).
    """
    return ImageFolder(SAMPLE_ARCHIVE, transform=transform, subdir="train" if train else "test",
                       progress=progress)
