"""PyTorch's data vocabulary (issue 18): ToTensor and torchvision's order of transforms
(crop and flip on uint8 images, then ToTensor, then Normalize), one image or PIL image
at a time as torchvision takes them, and DataLoader(num_workers=, pin_memory=), whose
worker threads give the very batches of num_workers=0."""

import numpy
import pytest

import minires as mr
from minires.data import ArrayDataset, DataLoader, Subset, cifar10_sample, transforms

MEAN, STD = (0.5, 0.25, 0.75), (0.5, 0.2, 0.3)


def torchvision_order(size=8, padding=2):
    return transforms.Compose([transforms.RandomCrop(size, padding=padding), transforms.RandomHorizontalFlip(),
                               transforms.ToTensor(), transforms.Normalize(MEAN, STD)])


def minires_order(size=8, padding=2):
    return transforms.Compose([transforms.ToFloat(), transforms.RandomCrop(size, padding=padding),
                               transforms.RandomHorizontalFlip(), transforms.Normalize(MEAN, STD)])


def uint8_images(shape, seed=0):
    return numpy.random.default_rng(seed).integers(0, 256, shape).astype(numpy.uint8)


def one_image_reference(image, top, left, flip, size, padding):
    """torchvision's steps for one uint8 (H, W, C) image, written out: pad, crop, flip,
    ToTensor, Normalize (the answer key)."""
    padded = numpy.pad(image, ((padding, padding), (padding, padding), (0, 0)))     # (H+2p, W+2p, C)
    window = padded[top:top + size, left:left + size]                                # (size, size, C)
    if flip:
        window = window[:, ::-1]
    floats = window.transpose(2, 0, 1).astype(numpy.float32) / numpy.float32(255)    # (C, size, size)
    mean = numpy.asarray(MEAN, numpy.float32)[:, None, None]
    std = numpy.asarray(STD, numpy.float32)[:, None, None]
    return (floats - mean) / std


def test_torchvision_order_matches_a_per_image_reference():
    images = uint8_images((12, 8, 8, 3))
    out = torchvision_order()(images, numpy.random.default_rng(4))
    rng = numpy.random.default_rng(4)                # the draws, in the order the transforms make them
    tops, lefts = rng.integers(0, 5, size=12), rng.integers(0, 5, size=12)
    flips = rng.random(12) < 0.5
    assert out.shape == (12, 3, 8, 8) and out.dtype == numpy.float32 and out.flags.c_contiguous
    for n in range(12):
        expected = one_image_reference(images[n], tops[n], lefts[n], flips[n], 8, 2)
        numpy.testing.assert_allclose(out[n], expected, rtol=1e-6, atol=1e-6)
    assert 0 < flips.sum() < 12


def test_both_orders_give_the_same_numbers_for_the_same_generator():
    images = uint8_images((20, 8, 8, 3))
    numpy.testing.assert_array_equal(torchvision_order()(images, numpy.random.default_rng(9)),
                                     minires_order()(images, numpy.random.default_rng(9)))


def test_to_tensor_takes_one_image_a_batch_or_a_pil_image(torch):
    image = uint8_images((5, 4, 3))                                       # (H, W, C)
    expected = torch.from_numpy(image).permute(2, 0, 1).float().div(255).numpy()   # torchvision's to_tensor
    to_tensor = transforms.ToTensor()
    numpy.testing.assert_array_equal(to_tensor(image), expected)
    numpy.testing.assert_array_equal(to_tensor(image[None]), expected[None])       # (1, H, W, C) -> (1, C, H, W)
    gray = image[:, :, 0]                                                 # (H, W) -> (1, H, W)
    assert to_tensor(gray).shape == (1, 5, 4) and to_tensor(gray)[0, 2, 1] == numpy.float32(gray[2, 1]) / 255
    Image = pytest.importorskip("PIL.Image")
    numpy.testing.assert_array_equal(to_tensor(Image.fromarray(image)), expected)
    assert to_tensor(Image.fromarray(gray)).shape == (1, 5, 4)
    assert to_tensor(image).dtype == numpy.float32 and repr(to_tensor) == "ToTensor()"


def test_a_composed_transform_takes_one_pil_image_with_minires_generator():
    Image = pytest.importorskip("PIL.Image")
    image = Image.fromarray(uint8_images((8, 8, 3)))
    transform = torchvision_order()
    mr.manual_seed(3)
    first = transform(image)                                             # no Generator: minires's own
    mr.manual_seed(3)
    numpy.testing.assert_array_equal(transform(image), first)
    assert first.shape == (3, 8, 8) and first.dtype == numpy.float32
    rng = numpy.random.default_rng(1)
    numpy.testing.assert_array_equal(transform(numpy.asarray(image), rng),
                                     transform(numpy.asarray(image)[None], numpy.random.default_rng(1))[0])


def test_crop_and_flip_keep_the_layout_they_are_given():
    image = uint8_images((6, 6, 3))
    crop, flip = transforms.RandomCrop(4, padding=1), transforms.RandomHorizontalFlip(p=1)
    assert crop(image, numpy.random.default_rng(0)).shape == (4, 4, 3)
    assert crop(image[:, :, 0], numpy.random.default_rng(0)).shape == (4, 4)                 # (H, W) stays
    numpy.testing.assert_array_equal(flip(image), image[:, ::-1])
    floats = transforms.ToTensor()(image)                                                    # (C, H, W)
    numpy.testing.assert_array_equal(flip(floats), floats[:, :, ::-1])
    assert crop(floats, numpy.random.default_rng(0)).shape == (3, 4, 4)
    numpy.testing.assert_array_equal(transforms.ToTensor()(crop(image, numpy.random.default_rng(0))),
                                     crop(floats, numpy.random.default_rng(0)))


def test_random_crop_pads_nothing_unless_told_as_torchvision():
    assert transforms.RandomCrop(32).padding == 0 and transforms.RandomCrop(32, padding=None).padding == 0
    image = uint8_images((5, 5, 3))
    numpy.testing.assert_array_equal(transforms.RandomCrop(5)(image, numpy.random.default_rng(0)), image)


def test_normalize_wants_float_images_and_says_where_to_put_to_tensor():
    with pytest.raises(TypeError, match=r"Normalize: expects float images .* got uint8 .* put ToTensor"):
        transforms.Normalize(MEAN, STD)(uint8_images((2, 4, 4, 3)))
    with pytest.raises(TypeError, match="ToTensor: expects uint8 images; got float32"):
        transforms.ToTensor()(numpy.zeros((4, 4, 3), numpy.float32))
    with pytest.raises(ValueError, match=r"channels last .* got uint8 of shape \(3, 5, 5\)"):
        transforms.ToTensor()(numpy.zeros((3, 5, 5), numpy.uint8))          # channels first by mistake
    with pytest.raises(TypeError, match="expects a NumPy array or a PIL image; got list"):
        transforms.ToTensor()([[1, 2], [3, 4]])
    one = transforms.Normalize(MEAN, STD)(numpy.full((3, 2, 2), 0.5, numpy.float32))        # (C, H, W)
    assert one.shape == (3, 2, 2) and one[1, 0, 0] == (numpy.float32(0.5) - numpy.float32(0.25)) / numpy.float32(0.2)


def test_datasets_take_torchvisions_order():
    train = cifar10_sample(train=True, transform=torchvision_order(32, 4), progress=False)
    images, labels = train.batch(numpy.arange(16), numpy.random.default_rng(0))
    assert images.shape == (16, 3, 32, 32) and images.dtype == numpy.float32 and labels.shape == (16,)
    train.transform = minires_order(32, 4)
    numpy.testing.assert_array_equal(train.batch(numpy.arange(16), numpy.random.default_rng(0))[0], images)
    train.transform = transforms.ToTensor()
    image, label = train[3]
    assert image.shape == (3, 32, 32) and 0 <= image.min() and image.max() <= 1
    gray = ArrayDataset(uint8_images((4, 6, 6)), [0, 1, 0, 1], ["a", "b"],
                        transforms.Compose([transforms.RandomCrop(6, padding=1), transforms.ToTensor(),
                                            transforms.Normalize((0.5,), (0.5,))]))
    assert gray.batch([0, 1, 2])[0].shape == (3, 1, 6, 6)
    uint8_out = ArrayDataset(uint8_images((4, 6, 6, 3)), [0, 1, 0, 1], ["a", "b"], transforms.RandomCrop(6))
    with pytest.raises(ValueError, match=r"returned uint8 .* give it a ToTensor\(\)"):
        uint8_out.batch([0, 1])


def augmented_dataset(transform, n=37):
    return ArrayDataset(uint8_images((n, 8, 8, 3)), numpy.arange(n) % 4, ["a", "b", "c", "d"], transform)


def epochs_of(loader, epochs=2):
    return [[(images.numpy(), labels.numpy()) for images, labels in loader] for _ in range(epochs)]


def assert_same_epochs(first, second):
    assert [len(epoch) for epoch in first] == [len(epoch) for epoch in second]
    for epoch, other in zip(first, second):
        for (images, labels), (other_images, other_labels) in zip(epoch, other):
            numpy.testing.assert_array_equal(images, other_images)
            numpy.testing.assert_array_equal(labels, other_labels)


@pytest.mark.parametrize("make_transform", [torchvision_order, minires_order, lambda: None])
@pytest.mark.parametrize("drop_last", [False, True])
def test_workers_give_the_batches_of_the_main_thread(make_transform, drop_last):
    dataset = augmented_dataset(make_transform())
    reference = epochs_of(DataLoader(dataset, batch_size=5, shuffle=True, drop_last=drop_last, seed=7))
    for num_workers in (2, 4):
        loader = DataLoader(dataset, batch_size=5, shuffle=True, drop_last=drop_last, seed=7,
                            num_workers=num_workers, pin_memory=True)
        assert_same_epochs(epochs_of(loader), reference)


def test_workers_on_a_subset_and_on_the_bundled_sample():
    train = cifar10_sample(train=True, transform=transforms.cifar10_train_transform(), progress=False)
    subset = Subset(train, numpy.arange(0, 5000, 37))
    reference = epochs_of(DataLoader(subset, batch_size=32, shuffle=True, seed=1), epochs=1)
    assert_same_epochs(epochs_of(DataLoader(subset, batch_size=32, shuffle=True, seed=1, num_workers=2), 1),
                       reference)


def test_a_restored_loader_with_workers_continues_the_sequence():
    dataset = augmented_dataset(torchvision_order())
    straight = DataLoader(dataset, batch_size=6, shuffle=True, seed=11)
    list(straight)
    state = straight.state_dict()
    expected = epochs_of(straight, epochs=1)
    resumed = DataLoader(dataset, batch_size=6, shuffle=True, seed=99, num_workers=2)
    resumed.load_state_dict(state)
    assert_same_epochs(epochs_of(resumed, epochs=1), expected)


def test_a_pass_left_early_stops_its_workers_and_the_next_epoch_is_unchanged():
    dataset = augmented_dataset(torchvision_order(), n=60)
    reference = epochs_of(DataLoader(dataset, batch_size=4, shuffle=True, seed=2), epochs=2)
    loader = DataLoader(dataset, batch_size=4, shuffle=True, seed=2, num_workers=2, prefetch_factor=1)
    for step, _ in enumerate(loader):                 # epoch 0, left after two batches
        if step == 1:
            break
    assert_same_epochs(epochs_of(loader, epochs=1), reference[1:])


def test_worker_arguments_and_errors():
    dataset = augmented_dataset(None)
    with pytest.raises(ValueError, match=r"num_workers must be an int >= 0 .* got -1"):
        DataLoader(dataset, num_workers=-1)
    with pytest.raises(ValueError, match="num_workers must be an int >= 0"):
        DataLoader(dataset, num_workers=2.0)
    with pytest.raises(ValueError, match="prefetch_factor must be a positive int; got 0"):
        DataLoader(dataset, num_workers=2, prefetch_factor=0)

    class OnlyBatch:                                  # a dataset of its own, with batch() only
        classes = ["a"]

        def __len__(self):
            return 4

        def batch(self, indices, rng):
            return numpy.zeros((len(indices), 1, 2, 2), numpy.float32), numpy.zeros(len(indices), numpy.int64)

    assert len(list(DataLoader(OnlyBatch(), batch_size=2))) == 2
    with pytest.raises(TypeError, match="num_workers > 0 needs a dataset with .draw"):
        DataLoader(OnlyBatch(), num_workers=2)
    own_step = transforms.Compose([transforms.ToTensor(), lambda images, rng: images * 2])
    assert len(list(DataLoader(augmented_dataset(own_step), batch_size=8))) == 5      # fine in the main thread
    with pytest.raises(TypeError, match="cannot draw its random choices ahead .* use num_workers=0"):
        list(DataLoader(augmented_dataset(own_step), batch_size=8, num_workers=2))
    with pytest.raises(TypeError, match="put ToTensor"):                               # raised in a worker
        list(DataLoader(augmented_dataset(transforms.Normalize(MEAN, STD)), batch_size=8, num_workers=2))
