"""Datasets, transforms and the DataLoader.

- dataset: ArrayDataset (images and labels in memory), Subset, random_subset
- cifar: CIFAR10, the official python archive
- image_folder: ImageFolder, ``root/<class>/<image>`` from a folder or a .tar.gz
- mnist: MNIST and FashionMNIST from gzip idx files
- sample: cifar10_sample, the 6,000 real CIFAR-10 images bundled with minires
- transforms: Compose, ToTensor (ToFloat), RandomCrop, RandomHorizontalFlip, Normalize, in
  torchvision's order or with ToFloat first
- loader: DataLoader, batches as tensors in an order reproducible from a seed, made by
  worker threads with num_workers > 0 (the same batches)
- archive: the cache directory, checksums, downloads, the restricted unpickler
- files: what is read from folders and archives: regular files, each within a size limit
- paths: datasets_from_path, what the command line's --data names

Data lives on the host as NumPy arrays until the DataLoader moves each batch::

    from minires import data

    train_set = data.cifar10_sample(train=True, transform=data.cifar10_train_transform())
    loader = data.DataLoader(train_set, batch_size=128, shuffle=True, seed=0)
    for images, labels in loader:        # Tensors (128, 3, 32, 32) float32 and (128,) int64
        ...
"""

from minires.data import transforms
from minires.data.archive import DatasetError, RestrictedUnpickler, cache_directory
from minires.data.cifar import CIFAR10
from minires.data.dataset import ArrayDataset, Subset, random_subset
from minires.data.image_folder import ImageFolder
from minires.data.loader import DataLoader
from minires.data.mnist import MNIST, FashionMNIST
from minires.data.paths import datasets_from_path
from minires.data.sample import cifar10_sample
from minires.data.transforms import (CIFAR10_MEAN, CIFAR10_STD, Compose, Normalize, RandomCrop,
                                     RandomHorizontalFlip, ToFloat, ToTensor, Transform,
                                     cifar10_test_transform, cifar10_train_transform)

__all__ = ["transforms", "DatasetError", "RestrictedUnpickler", "cache_directory", "CIFAR10",
           "ArrayDataset", "Subset", "random_subset", "ImageFolder", "DataLoader", "MNIST",
           "FashionMNIST", "datasets_from_path", "cifar10_sample",
           "Compose", "ToFloat", "ToTensor", "Transform", "RandomCrop", "RandomHorizontalFlip", "Normalize",
           "CIFAR10_MEAN", "CIFAR10_STD", "cifar10_train_transform", "cifar10_test_transform"]
