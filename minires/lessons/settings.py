"""The two settings of every lesson experiment, and the data the experiments use."""

import hashlib
import os

from minires import data

QUICK_ENVIRONMENT_VARIABLE = "MINIRES_QUICK"


def quick_mode():
    """True when ``MINIRES_QUICK`` is set to 1 (or true/yes): experiments shrink.

    The tests set it so that all eight notebooks run in minutes; the committed
    outputs come from the full setting (the variable unset, or 0).
    """
    value = os.environ.get(QUICK_ENVIRONMENT_VARIABLE, "").strip().lower()
    if value in ("", "0", "false", "no"):
        return False
    if value in ("1", "true", "yes"):
        return True
    raise ValueError(f"{QUICK_ENVIRONMENT_VARIABLE}={value!r}: expected 1 (quick) or 0 (full)")


def pick(full, quick):
    """``quick`` under ``MINIRES_QUICK=1``, ``full`` otherwise.

        depths = pick(full=[8, 20, 56], quick=[8, 14])
    """
    return quick if quick_mode() else full


def notebook_code_hash(notebook) -> str:
    """sha256 of a notebook's code cells, joined: what a record of its quick-mode time is a
    record of (tools/run_lessons.py --record-quick-times writes it, tests/test_lessons.py
    compares it). ``notebook`` is the parsed .ipynb (an nbformat notebook or its JSON dict)."""
    sources = ["".join(cell["source"]) for cell in notebook["cells"] if cell["cell_type"] == "code"]
    return hashlib.sha256("\n\f\n".join(sources).encode()).hexdigest()


def lesson_data(train_size, test_size, source="sample", augment=False, seed=0):
    """A (train_set, test_set) pair of real CIFAR-10 images for a lesson's experiment.

    Args:
        train_size, test_size: how many images to draw (at random, without
            replacement, reproducibly from ``seed``); None keeps the whole split in
            its stored order, which for the sample is sorted by class: shuffle it
            (``DataLoader(..., shuffle=True)``) before taking a few images from it.
        source: "sample" for the 5,000 + 1,000 images bundled with minires (no
            download), or "cifar10" for the official archive read by
            ``minires.data.CIFAR10`` from the cache directory (50,000 + 10,000 images;
            it must already be there: ``minires.data.CIFAR10(download=True)`` fetches it).
        augment: random crop with 4-pixel padding and horizontal flips on the
            training images (the ResNet paper's augmentation); False leaves them as they are.
        seed: draws the subsets.

    Both sets are normalised per channel; images come out as float32 (N, 3, 32, 32).
    """
    train_transform = data.cifar10_train_transform() if augment else data.cifar10_test_transform()
    test_transform = data.cifar10_test_transform()
    if source == "sample":
        train_set = data.cifar10_sample(train=True, transform=train_transform)
        test_set = data.cifar10_sample(train=False, transform=test_transform)
    elif source == "cifar10":
        train_set = data.CIFAR10(train=True, transform=train_transform)
        test_set = data.CIFAR10(train=False, transform=test_transform)
    else:
        raise ValueError(f"lesson_data: source must be 'sample' or 'cifar10', got {source!r}")
    for name, dataset, size in (("train_size", train_set, train_size), ("test_size", test_set, test_size)):
        if size is not None and not 0 < size <= len(dataset):
            raise ValueError(f"lesson_data: {name}={size}, but the {source} split has "
                             f"{len(dataset)} images; ask for 1 to {len(dataset)} or None")
    if train_size is not None and train_size < len(train_set):
        train_set = data.random_subset(train_set, train_size, seed=seed)
    if test_size is not None and test_size < len(test_set):
        test_set = data.random_subset(test_set, test_size, seed=seed + 1)
    return train_set, test_set
