"""Batch transforms: exact values, crops against a plain-loop reference, flips against the
Generator's draws, determinism for a given Generator, Compose, reprs and errors."""

import numpy
import pytest

from minires.data import transforms


def test_to_float_and_normalize_values():
    images = numpy.arange(2 * 2 * 2 * 3, dtype=numpy.uint8).reshape(2, 2, 2, 3)       # (N, H, W, C)
    floats = transforms.ToFloat()(images)
    assert floats.shape == (2, 3, 2, 2) and floats.dtype == numpy.float32
    assert floats[1, 2, 0, 1] == numpy.float32(images[1, 0, 1, 2]) / numpy.float32(255)
    normalized = transforms.Normalize((0.5, 0.25, 0.0), (0.5, 0.5, 2.0))(floats)
    numpy.testing.assert_allclose(normalized[:, 1], (floats[:, 1] - 0.25) / 0.5, rtol=1e-6)
    numpy.testing.assert_allclose(normalized[:, 2], floats[:, 2] / 2.0, rtol=1e-6)
    assert transforms.ToFloat()(numpy.zeros((2, 5, 5), numpy.uint8)).shape == (2, 1, 5, 5)


def test_random_crop_shifts_content_and_pads_zeros():
    image = numpy.arange(1, 26, dtype=numpy.float32).reshape(1, 1, 5, 5)               # no zeros inside
    crop = transforms.RandomCrop(5, padding=2)
    out = crop(numpy.repeat(image, 20, axis=0), numpy.random.default_rng(0))
    reference_rng = numpy.random.default_rng(0)
    tops = reference_rng.integers(0, 5, size=20)
    lefts = reference_rng.integers(0, 5, size=20)
    padded = numpy.pad(image[0, 0], 2)
    for n in range(20):
        numpy.testing.assert_array_equal(out[n, 0], padded[tops[n]:tops[n] + 5, lefts[n]:lefts[n] + 5])
    assert len({(t, l) for t, l in zip(tops, lefts)}) > 5                # windows differ per image
    assert (out == 0).any()                                                # padding came in


def test_random_flip_mirrors_about_half():
    images = numpy.arange(4, dtype=numpy.float32).reshape(1, 1, 1, 4).repeat(400, axis=0)
    out = transforms.RandomHorizontalFlip()(images, numpy.random.default_rng(1))
    flipped = (out[:, 0, 0] == [3, 2, 1, 0]).all(axis=1)
    kept = (out[:, 0, 0] == [0, 1, 2, 3]).all(axis=1)
    assert (flipped | kept).all() and 150 < flipped.sum() < 250


def test_transforms_refuse_the_wrong_input():
    with pytest.raises(TypeError, match="ToFloat: expects uint8"):
        transforms.ToFloat()(numpy.zeros((1, 2, 2, 3), numpy.float32))
    with pytest.raises(ValueError, match=r"expects uint8 images with channels last .* got int64"):
        transforms.RandomCrop(2)(numpy.zeros((1, 2, 2, 3), numpy.int64), numpy.random.default_rng())
    with pytest.raises(TypeError, match="put ToTensor .* before Normalize"):
        transforms.Normalize((0, 0, 0), (1, 1, 1))(numpy.zeros((1, 2, 2, 3), numpy.uint8))
    with pytest.raises(ValueError, match="3 channel means for images with 1 channels"):
        transforms.Normalize((0, 0, 0), (1, 1, 1))(numpy.zeros((1, 1, 2, 2), numpy.float32))



def crop_reference(images, size, padding, rng):
    """RandomCrop written as a loop over images, drawing in the same order (the answer key)."""
    N, C, H, W = images.shape
    tops = rng.integers(0, H + 2 * padding - size[0] + 1, size=N)
    lefts = rng.integers(0, W + 2 * padding - size[1] + 1, size=N)
    out = numpy.empty((N, C) + size, dtype=images.dtype)
    for n in range(N):
        padded = numpy.pad(images[n], ((0, 0), (padding, padding), (padding, padding)))
        out[n] = padded[:, tops[n]:tops[n] + size[0], lefts[n]:lefts[n] + size[1]]
    return out


def test_random_crop_matches_a_loop_for_every_size():
    images = numpy.random.default_rng(0).random((6, 3, 7, 5)).astype(numpy.float32)
    for size, padding in [((7, 5), 0), ((7, 5), 2), ((4, 3), 1), (9, 2)]:
        crop = transforms.RandomCrop(size, padding=padding)
        out = crop(images, numpy.random.default_rng(1))
        expected = crop_reference(images, crop.size, padding, numpy.random.default_rng(1))
        numpy.testing.assert_array_equal(out, expected)
        assert out.flags.c_contiguous and out.dtype == numpy.float32


def test_random_flip_follows_the_generator():
    images = numpy.random.default_rng(0).random((50, 2, 3, 4)).astype(numpy.float32)
    out = transforms.RandomHorizontalFlip(p=0.3)(images, numpy.random.default_rng(7))
    flip = numpy.random.default_rng(7).random(50) < 0.3
    numpy.testing.assert_array_equal(out[flip], images[flip][..., ::-1])
    numpy.testing.assert_array_equal(out[~flip], images[~flip])
    assert (transforms.RandomHorizontalFlip(p=0)(images, numpy.random.default_rng()) == images).all()
    always = transforms.RandomHorizontalFlip(p=1)(images, numpy.random.default_rng())
    assert (always == images[..., ::-1]).all()


def test_normalize_gives_exact_values_with_the_cifar10_constants():
    images = numpy.full((1, 3, 1, 2), 0.5, dtype=numpy.float32)
    out = transforms.Normalize(transforms.CIFAR10_MEAN, transforms.CIFAR10_STD)(images)
    expected = [(numpy.float32(0.5) - numpy.float32(m)) / numpy.float32(s)
                for m, s in zip(transforms.CIFAR10_MEAN, transforms.CIFAR10_STD)]
    numpy.testing.assert_array_equal(out[0, :, 0, 0], expected)
    assert out.dtype == numpy.float32


def test_the_same_generator_state_gives_the_same_augmentation():
    uint8_images = numpy.random.default_rng(0).integers(0, 256, (16, 32, 32, 3)).astype(numpy.uint8)
    train = transforms.cifar10_train_transform()
    first = train(uint8_images, numpy.random.default_rng(42))
    again = train(uint8_images, numpy.random.default_rng(42))
    other = train(uint8_images, numpy.random.default_rng(43))
    numpy.testing.assert_array_equal(first, again)
    assert not numpy.array_equal(first, other)
    assert first.shape == (16, 3, 32, 32) and first.dtype == numpy.float32


def test_compose_hands_one_generator_down_the_chain():
    images = numpy.random.default_rng(0).integers(0, 256, (8, 6, 6, 3)).astype(numpy.uint8)
    steps = [transforms.ToFloat(), transforms.RandomCrop(6, padding=2), transforms.RandomHorizontalFlip()]
    composed = transforms.Compose(steps)(images, numpy.random.default_rng(5))
    rng = numpy.random.default_rng(5)
    by_hand = images
    for step in steps:
        by_hand = step(by_hand, rng)
    numpy.testing.assert_array_equal(composed, by_hand)
    test = transforms.cifar10_test_transform()
    numpy.testing.assert_array_equal(test(images, numpy.random.default_rng(1)),
                                     test(images, numpy.random.default_rng(2)))     # no randomness


def test_reprs_read_like_torchvisions():
    assert repr(transforms.cifar10_train_transform()) == (
        "Compose(\n"
        "    ToFloat()\n"
        "    RandomCrop(size=(32, 32), padding=4)\n"
        "    RandomHorizontalFlip(p=0.5)\n"
        "    Normalize(mean=(0.4914, 0.4822, 0.4465), std=(0.247, 0.2435, 0.2616))\n"
        ")")


def test_transform_arguments_are_checked():
    with pytest.raises(ValueError, match="RandomCrop: size must be positive"):
        transforms.RandomCrop(0)
    with pytest.raises(ValueError, match="does not fit"):
        transforms.RandomCrop(13)(numpy.zeros((1, 1, 4, 4), numpy.float32), numpy.random.default_rng())
    with pytest.raises(ValueError, match="p is a probability"):
        transforms.RandomHorizontalFlip(p=1.5)
    with pytest.raises(ValueError, match="one positive std per channel"):
        transforms.Normalize((0.5, 0.5), (0.5, 0.0))
    with pytest.raises(ValueError, match="channels last"):
        transforms.ToFloat()(numpy.zeros((2, 3, 32, 32), numpy.uint8))       # channels first by mistake
