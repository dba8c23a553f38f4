"""MNIST and Fashion-MNIST: 28x28 grayscale digits and clothes, from their gzip idx files.

An idx file is a 4-byte magic number, the sizes, then the values, row-major:

    0x00 0x00 0x08 D        0x08: unsigned bytes; D: the number of dimensions
    D big-endian uint32     the size of each dimension, e.g. 60000, 28, 28
    the values              uint8, prod(sizes) of them

Each dataset is four such files, gzipped: train-images-idx3-ubyte.gz,
train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz.
Each must be a regular file; decompressed, at most MAX_MEMBER_BYTES (see
:mod:`minires.data.files`). The images file must hold (N, H, W) values, and the labels
file N labels in 0..9; anything else is a DatasetError naming the file.
"""

import gzip
import os
import zlib

import numpy

from minires.data.archive import DatasetError, cache_directory, require_regular_file, verify_md5
from minires.data.archive import download as download_file
from minires.data.dataset import ArrayDataset
from minires.data.files import read_bounded


def read_idx(path):
    """The array in a gzip idx file: magic 0x0000 08 D (uint8, D dimensions), sizes, data."""
    require_regular_file(path)
    try:
        with gzip.open(path, "rb") as file:
            raw = read_bounded(file, f"{path} (decompressed)")   # a small .gz can hold gigabytes
    except (OSError, EOFError, zlib.error) as error:
        raise DatasetError(f"{path} is truncated or not gzip ({error}); "
                           "delete it and download it again") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08 or len(raw) < 4 + 4 * raw[3]:
        raise DatasetError(f"{path} is not an idx file of uint8 values; delete it and download it again")
    dimensions = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(dimensions))
    data = numpy.frombuffer(raw, dtype=numpy.uint8, offset=4 + 4 * dimensions)
    if data.size != numpy.prod(shape):
        raise DatasetError(f"{path} holds {data.size} values, not the {numpy.prod(shape)} of shape {shape}")
    return data.reshape(shape)


class MNIST(ArrayDataset):
    """MNIST (LeCun et al., 1998): 60,000 training and 10,000 test digits.

    Reads the gzip idx files from the ``MNIST/`` folder of ``root`` (default: the
    cache directory), checks each against its published md5, and downloads the
    missing ones when ``download=True``, trying torchvision's mirrors in order.

    Args:
        root: the folder that holds ``MNIST/``; None for the cache directory.
        train: the 60,000 training images (True) or the 10,000 test images.
        download: fetch missing files (about 11 MB for all four).
        transform: applied to each batch (see ArrayDataset.batch); the default
            ToFloat gives float32 (B, 1, 28, 28).
        progress: draw the downloads' progress bars (False: none, as for --no-progress).

    Attributes:
        data: uint8 (N, 28, 28); targets: int64 (N,); classes: the 10 names.

    Raises:
        DatasetError: a file is missing (and download=False), has another md5, or is
            not a gzip idx file, or its images and labels do not match (shape, count,
            labels outside 0..9).
    """

    FOLDER = "MNIST"
    MIRRORS = ["https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"]
    FILES = {
        "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
    }
    CLASSES = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four", "5 - five", "6 - six",
               "7 - seven", "8 - eight", "9 - nine"]

    def __init__(self, root=None, train=True, download=False, transform=None, progress=True):
        folder = os.path.join(os.fspath(root) if root is not None else cache_directory(), self.FOLDER)
        prefix = "train" if train else "t10k"
        arrays, paths = [], []
        for kind in ("images", "labels"):
            name = f"{prefix}-{kind}-idx{3 if kind == 'images' else 1}-ubyte.gz"
            path = os.path.join(folder, name)
            if not os.path.exists(path):             # a FIFO exists, and verify_md5 refuses it
                if not download:
                    raise DatasetError(f"{type(self).__name__}: {path} is missing; pass download=True "
                                       "(--download on the command line) or put the file there")
                download_file([mirror + name for mirror in self.MIRRORS], path, self.FILES[name], progress)
            verify_md5(path, self.FILES[name])
            arrays.append(read_idx(path))
            paths.append(path)
        (images, labels), (images_path, labels_path) = arrays, paths
        if images.ndim != 3:
            raise DatasetError(f"{images_path} holds an array of shape {images.shape}, not images (N, H, W)")
        if labels.shape != (len(images),):
            raise DatasetError(f"{labels_path} holds labels of shape {labels.shape}, but {images_path} "
                               f"holds {len(images)} images: one label per image expected")
        if len(labels) and labels.max() >= len(self.CLASSES):
            raise DatasetError(f"{labels_path} holds the label {labels.max()}, not one of "
                               f"0..{len(self.CLASSES) - 1}")
        # numpy.array copies: arrays read from bytes are read-only, a dataset's data is not.
        super().__init__(numpy.array(images), labels.astype(numpy.int64), self.CLASSES, transform)


class FashionMNIST(MNIST):
    """Fashion-MNIST (Xiao, Rasul and Vollgraf, 2017): MNIST's format, clothes instead of digits."""

    FOLDER = "FashionMNIST"
    MIRRORS = ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"]
    FILES = {
        "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
        "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
        "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
    }
    CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
               "Bag", "Ankle boot"]
