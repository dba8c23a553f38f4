"""The DataLoader and ArrayDataset: each epoch covers the data once, order and augmentation
follow from the seed, a restored loader continues the sequence, batches on every device."""

import numpy
import pytest

import minires as mr
from minires.data import ArrayDataset, DataLoader, random_subset, transforms


def numbered_dataset(n=10, transform=None):
    """Image i is filled with the value i (uint8 (n, 4, 4, 3)), label i % 3."""
    data = numpy.broadcast_to(numpy.arange(n, dtype=numpy.uint8)[:, None, None, None], (n, 4, 4, 3)).copy()
    return ArrayDataset(data, numpy.arange(n) % 3, ["a", "b", "c"], transform)


def labels_of_epoch(loader):
    return [labels.numpy().tolist() for _, labels in loader]


def test_each_epoch_covers_the_dataset_once_in_a_new_order():
    loader = DataLoader(numbered_dataset(10), batch_size=4, shuffle=True, seed=3)
    assert len(loader) == 3
    epochs = []
    for _ in range(3):
        seen = numpy.concatenate([images.numpy()[:, 0, 0, 0] * 255 for images, _ in loader])
        assert sorted(numpy.rint(seen).astype(int).tolist()) == list(range(10))
        epochs.append(seen.tolist())
    assert epochs[0] != epochs[1] != epochs[2]
    again = DataLoader(numbered_dataset(10), batch_size=4, shuffle=True, seed=3)
    assert [numpy.concatenate([i.numpy()[:, 0, 0, 0] * 255 for i, _ in again]).tolist()
            for _ in range(3)] == epochs
    other = DataLoader(numbered_dataset(10), batch_size=4, shuffle=True, seed=4)
    assert numpy.concatenate([i.numpy()[:, 0, 0, 0] * 255 for i, _ in other]).tolist() != epochs[0]


def test_no_shuffle_keeps_order_and_drop_last_drops():
    loader = DataLoader(numbered_dataset(10), batch_size=4, drop_last=True)
    assert len(loader) == 2
    assert labels_of_epoch(loader) == [[0, 1, 2, 0], [1, 2, 0, 1]]


def test_a_restored_loader_continues_the_sequence_with_its_augmentation():
    augment = transforms.Compose([transforms.ToFloat(), transforms.RandomCrop(4, padding=2),
                                  transforms.RandomHorizontalFlip()])
    data = numpy.random.default_rng(0).integers(0, 256, (12, 4, 4, 3)).astype(numpy.uint8)
    dataset = ArrayDataset(data, numpy.arange(12) % 3, ["a", "b", "c"], augment)
    straight = DataLoader(dataset, batch_size=5, shuffle=True, seed=11)
    list(straight)
    state = straight.state_dict()
    expected = [images.numpy() for images, _ in straight]
    resumed = DataLoader(dataset, batch_size=5, shuffle=True, seed=99)
    resumed.load_state_dict(state)
    for image, reference in zip([images.numpy() for images, _ in resumed], expected):
        numpy.testing.assert_array_equal(image, reference)


def test_the_seed_comes_from_manual_seed_when_not_given():
    mr.manual_seed(5)
    first = DataLoader(numbered_dataset(), batch_size=3, shuffle=True).seed
    mr.manual_seed(5)
    assert DataLoader(numbered_dataset(), batch_size=3, shuffle=True).seed == first


def test_batches_are_tensors_on_the_device(device):
    loader = DataLoader(numbered_dataset(5), batch_size=2, device=device)
    images, labels = next(iter(loader))
    assert isinstance(images, mr.Tensor) and images.device == device and labels.device == device
    assert images.shape == (2, 3, 4, 4) and images.dtype == mr.float32 and labels.dtype == mr.int64


class SlicingDataset:
    """A dataset of float images whose batch returns views of its own arrays."""

    def __init__(self):
        self.images, self.labels = numpy.zeros((6, 3, 2, 2), numpy.float32), numpy.arange(6)

    def __len__(self):
        return 6

    def batch(self, indices, rng=None):
        return self.images[indices[0]:indices[-1] + 1], self.labels[indices[0]:indices[-1] + 1]


def test_batches_take_the_datasets_new_arrays_and_copy_views():
    dataset = numbered_dataset(8, transforms.Compose([transforms.ToTensor(), transforms.Normalize([0.5] * 3,
                                                                                                   [0.25] * 3)]))
    images, labels = next(iter(DataLoader(dataset, batch_size=4, device="cpu")))
    assert images.array.flags.owndata and labels.array.flags.owndata            # taken without a copy
    slicing = SlicingDataset()
    images, labels = next(iter(DataLoader(slicing, batch_size=3, device="cpu")))
    images.data += 1.0                                                           # the batch, not the dataset
    assert not slicing.images.any() and images.array.flags.owndata and labels.array.flags.owndata


def test_loader_and_dataset_errors():
    with pytest.raises(ValueError, match="batch_size must be a positive int; got 0"):
        DataLoader(numbered_dataset(), batch_size=0)
    with pytest.raises(ValueError, match="10 images but targets of shape"):
        ArrayDataset(numpy.zeros((10, 2, 2, 3), numpy.uint8), numpy.zeros(9), ["a"])
    with pytest.raises(ValueError, match="labels must lie in"):
        ArrayDataset(numpy.zeros((2, 2, 2, 3), numpy.uint8), [0, 5], ["a", "b"])
    with pytest.raises(ValueError, match="size must lie in 1..10"):
        random_subset(numbered_dataset(), 11, seed=0)


def test_random_subset_is_seeded_and_without_repeats():
    subset = random_subset(numbered_dataset(10), 6, seed=2)
    assert len(subset) == 6 and len(set(subset.indices.tolist())) == 6
    assert subset.indices.tolist() == random_subset(numbered_dataset(10), 6, seed=2).indices.tolist()
    image, label = subset[1]
    assert label == subset.indices[1] % 3 and image[0, 0, 0] == numpy.float32(subset.indices[1]) / 255


def test_images_keep_their_labels_through_the_shuffle():
    loader = DataLoader(numbered_dataset(11), batch_size=4, shuffle=True, seed=0)
    for images, labels in loader:
        values = numpy.rint(images.numpy()[:, 0, 0, 0] * 255).astype(int)
        assert (values % 3 == labels.numpy()).all() and labels.dtype == mr.int64


def test_the_epoch_advances_when_a_pass_starts():
    loader = DataLoader(numbered_dataset(10), batch_size=4, shuffle=True, seed=1)
    first_pass = iter(loader)
    assert loader.state_dict() == {"epoch": 1, "seed": 1}
    next(first_pass)                                   # left half-way: it still counted as epoch 0
    second = [labels.numpy().tolist() for _, labels in loader]
    resumed = DataLoader(numbered_dataset(10), batch_size=4, shuffle=True, seed=1)
    resumed.load_state_dict({"epoch": 1, "seed": 1})
    assert [labels.numpy().tolist() for _, labels in resumed] == second
    state = loader.state_dict()
    assert type(state["epoch"]) is int and type(state["seed"]) is int


def test_epoch_e_uses_the_generator_of_seed_and_e():
    """The documented rule itself: the order of epoch e is default_rng([seed, e]).permutation."""
    loader = DataLoader(numbered_dataset(10), batch_size=10, shuffle=True, seed=8)
    for epoch in range(2):
        (images, _), = list(loader)
        order = numpy.random.default_rng([8, epoch]).permutation(10)
        numpy.testing.assert_array_equal(numpy.rint(images.numpy()[:, 0, 0, 0] * 255), order)


def test_loader_state_and_seed_errors():
    with pytest.raises(ValueError, match="the seed must be an int >= 0; got -1"):
        DataLoader(numbered_dataset(), seed=-1)
    with pytest.raises(TypeError, match="expects a minires dataset"):
        DataLoader([1, 2, 3])
    loader = DataLoader(numbered_dataset())
    with pytest.raises(ValueError, match="with 'epoch' and 'seed'"):
        loader.load_state_dict({"epoch": 3})
    with pytest.raises(ValueError, match="indices must be a 1-D list"):
        numbered_dataset().batch([[0, 1]])
