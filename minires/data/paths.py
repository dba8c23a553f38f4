"""From a command line's ``--data`` value to a training set and a test set.

The two sets must name the same classes in the same order: label i of the test set
has to mean what label i meant in training. ImageFolder numbers the class folders of
train/ and test/ separately, in sorted order, so a test/ that lacks a class or holds
another one would shift every label after it without a word; datasets_from_path
checks the two lists and raises DatasetError when they differ.
"""

import os

from minires.data.archive import DatasetError, is_tar_archive, tar_names
from minires.data.cifar import CIFAR10, CIFAR10_ARCHIVE, CIFAR10_FOLDER
from minires.data.image_folder import ImageFolder, folder_classes
from minires.data.sample import cifar10_sample

USAGE = ("use --data sample, --data cifar10, or the path of the official cifar-10-python.tar.gz, "
         "of a folder holding it, or of a folder or .tar.gz with train/ and test/ class folders")


def _cifar10_pair(root, train_transform, test_transform, download=False, progress=True):
    return (CIFAR10(root, train=True, download=download, transform=train_transform, progress=progress),
            CIFAR10(root, train=False, transform=test_transform))


def _image_folder_pair(path, top_folders, train_transform, test_transform, progress=True):
    if not {"train", "test"} <= set(top_folders):
        found = ", ".join(sorted(top_folders)[:5]) or "nothing"
        raise DatasetError(f"--data {path}: expected train/ and test/ folders of <class>/<image> files "
                           f"or the CIFAR-10 python archive (found {found}); {USAGE}")
    if os.path.isdir(path):         # a folder's classes are known before any image is decoded
        _check_class_lists(path, folder_classes(os.path.join(path, "train"), path),
                           folder_classes(os.path.join(path, "test"), path))
    return (ImageFolder(path, train_transform, subdir="train", progress=progress),
            ImageFolder(path, test_transform, subdir="test", progress=progress))


def _class_list(classes, most=10) -> str:
    """"cat, dog", or the first ``most`` names and how many there are in all."""
    shown = ", ".join(classes[:most])
    return shown if len(classes) <= most else f"{shown}, ... ({len(classes)} in all)"


def check_same_classes(spec, train_set, test_set):
    """Raises DatasetError unless both sets have the same class names in the same order."""
    _check_class_lists(spec, list(train_set.classes), list(test_set.classes))


def _check_class_lists(spec, train_classes, test_classes):
    if train_classes != test_classes:
        raise DatasetError(f"--data {spec}: the train classes ({_class_list(train_classes)}) and test "
                           f"classes ({_class_list(test_classes)}) differ; both must hold the same "
                           "class folders")


def datasets_from_path(spec, train_transform=None, test_transform=None, download=False, progress=True):
    """(train set, test set) for a command line's ``--data`` value.

    ``spec`` is one of:

    - "sample": the bundled CIFAR-10 sample (5,000 + 1,000 images);
    - "cifar10": the official CIFAR-10 archive in the cache directory (downloaded
      first only when ``download=True``);
    - the official ``cifar-10-python.tar.gz`` (under any name), a folder holding it or
      ``cifar-10-batches-py/``, or that extracted folder itself: CIFAR-10 from there;
    - a folder or ``.tar.gz`` with ``train/<class>/<image>`` and ``test/<class>/<image>``:
      two ImageFolders (the CIFAR-10 JPEG archive is one).

    ``progress=False`` draws no progress bar (downloading, decoding images), as for
    the command line's --no-progress.

    Raises:
        DatasetError: the path does not exist, or its layout is not one of the above, or
            the data found there cannot be read, or the train and test classes differ;
            the message is one line, for users.
    """
    train_set, test_set = _datasets(spec, train_transform, test_transform, download, progress)
    check_same_classes(spec, train_set, test_set)
    return train_set, test_set


def _datasets(spec, train_transform, test_transform, download, progress):
    """The (train, test) pair datasets_from_path returns, before the class lists are compared."""
    if spec == "sample":
        return (cifar10_sample(True, train_transform, progress),
                cifar10_sample(False, test_transform, progress))
    if spec == "cifar10":
        return _cifar10_pair(None, train_transform, test_transform, download, progress)
    path = os.fspath(spec)
    if not os.path.exists(path):
        raise DatasetError(f"--data {path}: no such file or folder; {USAGE}")
    if os.path.isdir(path):
        if os.path.basename(os.path.normpath(path)) == CIFAR10_FOLDER:          # the extracted folder itself
            return _cifar10_pair(os.path.dirname(os.path.normpath(path)), train_transform, test_transform)
        has_archive = os.path.isfile(os.path.join(path, CIFAR10_ARCHIVE))
        if has_archive or os.path.isdir(os.path.join(path, CIFAR10_FOLDER)):
            return _cifar10_pair(path, train_transform, test_transform)
        return _image_folder_pair(path, os.listdir(path), train_transform, test_transform, progress)
    if not is_tar_archive(path):
        raise DatasetError(f"--data {path}: not a folder nor a .tar.gz archive; {USAGE}")
    top_folders = _top_folders(path)
    if CIFAR10_FOLDER in top_folders:
        return _cifar10_pair(path, train_transform, test_transform)
    return _image_folder_pair(path, top_folders, train_transform, test_transform, progress)


def _top_folders(path) -> set:
    """The first-level folder names in a tar archive, reading only as far as needed:
    the official CIFAR-10 archive names its folder first, and reading stops once
    train/ and test/ have both appeared."""
    seen = set()
    for name in tar_names(path):
        seen.add(name.split("/")[0])
        if CIFAR10_FOLDER in seen or {"train", "test"} <= seen:
            break
    return seen
