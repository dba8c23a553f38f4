"""Bad data is refused before training, in one line naming the file: train and test
classes that differ, labels that are not integers in range, files that are not regular
(FIFOs, devices, links out of the data folder, link members of archives), files over
the size limit, images over the pixel limit, a damaged decode cache (decoded again),
temporary files, and the progress switch."""

import contextlib
import gzip
import io
import os
import pickle
import signal
import tarfile
import time
import warnings
import zlib

import numpy
import pytest
from PIL import Image

from minires.data import (CIFAR10, MNIST, ArrayDataset, DatasetError, ImageFolder, datasets_from_path,
                          files, image_folder)
from minires.data.archive import download, file_digest, write_atomically

CIFAR_CLASSES = [f"class{index}" for index in range(10)]


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    """Every test gets its own cache directory, never ~/.cache."""
    monkeypatch.setenv("MINIRES_DATA", str(tmp_path / "cache"))


@contextlib.contextmanager
def within(seconds):
    """Fails the test instead of hanging for ever (opening a FIFO blocks): SIGALRM
    interrupts a blocking open() or read() in the main thread."""
    def too_slow(signum, frame):
        raise TimeoutError(f"still running after {seconds} s: a FIFO or device was opened")
    previous = signal.signal(signal.SIGALRM, too_slow)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def png_bytes(color=(0, 0, 0), size=(4, 4)):
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="PNG")
    return buffer.getvalue()


def write_tree(root, classes_of_split):
    """root/<split>/<class>/<n>.png, two 4x4 images per class."""
    for split, classes in classes_of_split.items():
        for label, class_name in enumerate(classes):
            (root / split / class_name).mkdir(parents=True)
            for index in range(2):
                (root / split / class_name / f"{index}.png").write_bytes(png_bytes((label, index, 0)))


def add_member(tar, name, data=b"", kind=tarfile.REGTYPE, link=""):
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.size = kind, link, len(data)
    tar.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)


def one_line(error) -> str:
    message = str(error.value)
    assert "\n" not in message
    return message


# 1. The train and test class lists

def test_train_and_test_classes_must_be_the_same(tmp_path):
    write_tree(tmp_path / "tree", {"train": ["cat", "dog"], "test": ["ant", "cat"]})
    with tarfile.open(tmp_path / "tree.tar.gz", "w:gz") as tar:
        tar.add(tmp_path / "tree", arcname=".")
    for spec in (tmp_path / "tree", tmp_path / "tree.tar.gz"):
        with pytest.raises(DatasetError) as caught:
            datasets_from_path(os.fspath(spec))
        assert one_line(caught) == (f"--data {spec}: the train classes (cat, dog) and test classes (ant, cat) "
                                    "differ; both must hold the same class folders")


def test_same_classes_pass_and_long_lists_are_shortened(tmp_path):
    write_tree(tmp_path / "same", {"train": ["cat", "dog"], "test": ["cat", "dog"]})
    train, test = datasets_from_path(os.fspath(tmp_path / "same"), None, None, download=False)
    assert train.classes == test.classes == ["cat", "dog"]
    write_tree(tmp_path / "many", {"train": [f"c{index:02d}" for index in range(12)],
                                   "test": [f"c{index:02d}" for index in range(11)]})
    with pytest.raises(DatasetError, match=r"c09, \.\.\. \(12 in all\)\) and test classes "
                                           r"\(c00, .*c09, \.\.\. \(11 in all\)\) differ"):
        datasets_from_path(os.fspath(tmp_path / "many"))


# 2. Labels

def test_labels_must_be_integers():
    images = numpy.zeros((3, 2, 2, 3), numpy.uint8)
    for labels, dtype in (([0.0, 1.7, 2.0], "float64"), (numpy.array([True, False, True]), "bool")):
        with pytest.raises(ValueError, match=f"ArrayDataset: labels must be integers; got {dtype}"):
            ArrayDataset(images, labels, ["a", "b", "c"])
    for labels in ([0, 1, 2], numpy.array([0, 1, 2], numpy.uint8), numpy.array([0, 1, 2], numpy.int32)):
        dataset = ArrayDataset(images, labels, ["a", "b", "c"])
        assert dataset.targets.dtype == numpy.int64 and dataset.targets.tolist() == [0, 1, 2]
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 3\); got 0..18446744073709551615"):
        ArrayDataset(images, numpy.array([0, 1, 2 ** 64 - 1], numpy.uint64), ["a", "b", "c"])
    assert len(ArrayDataset(numpy.zeros((0, 2, 2, 3), numpy.uint8), [], ["a"])) == 0     # [] is float64


def write_cifar(path, labels_of=lambda name: [1, 2], members=None):
    """A small cifar-10-python.tar.gz: two images per batch, labels from ``labels_of``."""
    with tarfile.open(path, "w:gz") as tar:
        for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
            batch = {b"data": numpy.zeros((2, 3072), numpy.uint8), b"labels": labels_of(name)}
            add_member(tar, f"cifar-10-batches-py/{name}", pickle.dumps(batch, protocol=2))
        meta = {b"label_names": [name.encode() for name in CIFAR_CLASSES]}
        add_member(tar, "cifar-10-batches-py/batches.meta", pickle.dumps(meta, protocol=2))
        for member in members or []:
            add_member(tar, *member)
    return file_digest(path)


@pytest.mark.parametrize("labels, fragment", [
    ([1, 12], "data_batch_3 of CIFAR-10 holds labels 1..12, not integers in 0..9"),
    ([-1, 2], "data_batch_3 of CIFAR-10 holds labels -1..2, not integers in 0..9"),
    ([1.7, 2.0], "data_batch_3 of CIFAR-10 holds labels float64, not integers in 0..9"),
    ([1, 2, 3], r"data_batch_3 of CIFAR-10 holds data uint8 \(2, 3072\) and labels of shape \(3,\)"),
])
def test_cifar_labels_are_checked(tmp_path, labels, fragment):
    archive = tmp_path / "cifar-10-python.tar.gz"
    md5 = write_cifar(archive, lambda name: labels if name == "data_batch_3" else [1, 2])
    with pytest.raises(DatasetError, match=f"{archive}: {fragment}") as caught:
        CIFAR10(archive, expected_md5=md5)
    one_line(caught)


def write_idx(path, array):
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(size.to_bytes(4, "big") for size in array.shape)
    with gzip.open(path, "wb") as file:
        file.write(header + array.astype(numpy.uint8).tobytes())


def write_mnist(root, monkeypatch, images, labels):
    folder = root / "MNIST"
    folder.mkdir(parents=True, exist_ok=True)
    write_idx(folder / "t10k-images-idx3-ubyte.gz", images)
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", labels)
    checksums = dict(MNIST.FILES)
    checksums.update({name: file_digest(folder / name) for name in os.listdir(folder)})
    monkeypatch.setattr(MNIST, "FILES", checksums)
    return folder


def test_mnist_labels_are_checked(tmp_path, monkeypatch):
    images = numpy.zeros((3, 28, 28), numpy.uint8)
    folder = write_mnist(tmp_path, monkeypatch, images, numpy.array([1, 200, 3]))
    with pytest.raises(DatasetError, match=f"{folder / 't10k-labels-idx1-ubyte.gz'} holds the label 200, "
                                           "not one of 0..9"):
        MNIST(tmp_path, train=False)
    write_mnist(tmp_path, monkeypatch, images, numpy.array([1, 2]))
    with pytest.raises(DatasetError, match=r"t10k-labels-idx1-ubyte.gz holds labels of shape \(2,\), "
                                           r"but .*t10k-images-idx3-ubyte.gz holds 3 images"):
        MNIST(tmp_path, train=False)
    write_mnist(tmp_path, monkeypatch, numpy.zeros((3, 784)), numpy.array([1, 2, 3]))
    with pytest.raises(DatasetError, match=r"t10k-images-idx3-ubyte.gz holds an array of shape \(3, 784\)"):
        MNIST(tmp_path, train=False)


# 3. Only regular files

needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no os.mkfifo on this platform")
needs_dev_zero = pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero here")


@needs_fifo
def test_a_fifo_in_a_class_folder_is_refused_without_opening_it(tmp_path):
    write_tree(tmp_path / "tree", {"train": ["cat"], "test": ["cat"]})
    os.mkfifo(tmp_path / "tree" / "train" / "cat" / "2.png")
    with within(20), pytest.raises(DatasetError) as caught:
        datasets_from_path(os.fspath(tmp_path / "tree"))
    assert one_line(caught) == (f"{tmp_path / 'tree' / 'train' / 'cat' / '2.png'} is a FIFO (named pipe), "
                                "not a regular file; minires reads only regular files (remove it from the "
                                "data folder)")


@needs_fifo
def test_fifos_named_like_archives_or_batches_are_refused(tmp_path, monkeypatch):
    os.mkfifo(tmp_path / "data.tar.gz")
    with within(20):
        for load in (lambda: datasets_from_path(os.fspath(tmp_path / "data.tar.gz")),
                     lambda: ImageFolder(tmp_path / "data.tar.gz")):
            with pytest.raises(DatasetError, match="data.tar.gz is a FIFO .named pipe., not a regular file"):
                load()
        (tmp_path / "cifar-10-batches-py").mkdir()
        os.mkfifo(tmp_path / "cifar-10-batches-py" / "test_batch")
        with pytest.raises(DatasetError, match="test_batch is a FIFO .named pipe., not a regular file"):
            CIFAR10(tmp_path, train=False)
        folder = write_mnist(tmp_path, monkeypatch, numpy.zeros((1, 28, 28)), numpy.array([1]))
        os.remove(folder / "t10k-labels-idx1-ubyte.gz")
        os.mkfifo(folder / "t10k-labels-idx1-ubyte.gz")
        with pytest.raises(DatasetError, match="labels-idx1-ubyte.gz is a FIFO .named pipe., not a regular"):
            MNIST(tmp_path, train=False)


@needs_dev_zero
def test_links_to_devices_or_out_of_the_data_folder_are_refused(tmp_path):
    write_tree(tmp_path / "tree", {"train": ["cat"], "test": ["cat"]})
    endless = tmp_path / "tree" / "train" / "cat" / "2.png"
    os.symlink("/dev/zero", endless)
    with within(20), pytest.raises(DatasetError) as caught:
        ImageFolder(tmp_path / "tree", subdir="train")
    assert one_line(caught) == (f"{endless} leads to /dev/zero through a symbolic link, outside "
                                f"{tmp_path / 'tree'}; minires reads only files inside the data folder "
                                "(copy the file in)")
    os.remove(endless)
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "secret.png").write_bytes(png_bytes())
    os.symlink(tmp_path / "elsewhere" / "secret.png", endless)
    with pytest.raises(DatasetError, match="secret.png through a symbolic link, outside"):
        ImageFolder(tmp_path / "tree", subdir="train")
    os.remove(endless)
    os.symlink(tmp_path / "elsewhere", tmp_path / "tree" / "train" / "dog")        # a class folder
    with pytest.raises(DatasetError, match="train/dog leads to .*elsewhere through a symbolic link"):
        ImageFolder(tmp_path / "tree", subdir="train")
    os.remove(tmp_path / "tree" / "train" / "dog")
    os.symlink("/dev/zero", tmp_path / "zero.tar.gz")                              # --data itself
    with within(20), pytest.raises(DatasetError, match="zero.tar.gz is a character device, not a regular"):
        datasets_from_path(os.fspath(tmp_path / "zero.tar.gz"))


def test_links_inside_the_data_folder_are_read(tmp_path):
    write_tree(tmp_path / "tree", {"train": ["cat"], "test": ["cat"]})
    os.symlink(os.path.join("..", "..", "train", "cat", "0.png"), tmp_path / "tree" / "test" / "cat" / "2.png")
    train, test = datasets_from_path(os.fspath(tmp_path / "tree"))
    assert len(test) == 3 and test.data[2].tolist() == train.data[0].tolist()
    os.symlink("absent.png", tmp_path / "tree" / "test" / "cat" / "3.png")
    with pytest.raises(DatasetError, match="3.png leads to no file"):
        ImageFolder(tmp_path / "tree", subdir="test")


@pytest.mark.parametrize("kind, words", [(tarfile.SYMTYPE, "symbolic link"), (tarfile.LNKTYPE, "hard link"),
                                         (tarfile.CHRTYPE, "character device"),
                                         (tarfile.FIFOTYPE, "FIFO .named pipe.")])
def test_archive_members_that_are_not_regular_files_are_refused(tmp_path, kind, words):
    archive = tmp_path / "images.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        add_member(tar, "train/cat/0.png", png_bytes())
        add_member(tar, "train/dog.png/", kind=tarfile.DIRTYPE)            # a folder named like an image: skipped
        add_member(tar, "train/cat/notes", kind=kind, link="train/cat/0.png")   # not an image name: not read
        add_member(tar, "train/cat/1.png", kind=kind, link="/etc/passwd" if kind != tarfile.LNKTYPE
                   else "train/cat/0.png")
    with pytest.raises(DatasetError) as caught:
        ImageFolder(archive, subdir="train")
    assert one_line(caught).startswith(f"{archive}: member train/cat/1.png is a ")
    assert caught.match(f"is a {words}, not a regular file; minires reads only regular files from archives")
    cifar = tmp_path / "cifar-10-python.tar.gz"
    md5 = write_cifar(cifar, members=[("cifar-10-batches-py/test_batch", b"", kind, "data_batch_1")])
    with pytest.raises(DatasetError, match=f"member cifar-10-batches-py/test_batch is a {words}"):
        CIFAR10(cifar, train=False, expected_md5=md5)


# 4. The size limit of one file

def test_the_size_limit_is_checked_before_reading(tmp_path, monkeypatch):
    assert files.MAX_MEMBER_BYTES == 256 * 1024 * 1024
    with pytest.raises(DatasetError, match=r"^x.npz: member y is 268435457 bytes, more than the 256 MiB limit "
                                           r"for one file \(minires.data.files.MAX_MEMBER_BYTES\)$"):
        files.check_size("x.npz: member y", 256 * 1024 * 1024 + 1)
    monkeypatch.setattr(files, "MAX_MEMBER_BYTES", 1000)

    def no_reading(file, where):
        raise AssertionError("read before the size was checked")
    monkeypatch.setattr(files, "read_bounded", no_reading)
    archive = tmp_path / "images.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        add_member(tar, "cat/0.png", bytes(2000))
    with pytest.raises(DatasetError) as caught:
        ImageFolder(archive)
    assert one_line(caught) == (f"{archive}: member cat/0.png is 2000 bytes, more than the 1000 bytes limit "
                                "for one file (minires.data.files.MAX_MEMBER_BYTES)")
    (tmp_path / "tree" / "cat").mkdir(parents=True)
    (tmp_path / "tree" / "cat" / "0.png").write_bytes(bytes(2000))
    with pytest.raises(DatasetError, match="cat/0.png is 2000 bytes, more than the 1000 bytes limit"):
        ImageFolder(tmp_path / "tree")
    cifar = tmp_path / "cifar-10-python.tar.gz"
    md5 = write_cifar(cifar)
    with pytest.raises(DatasetError, match="member cifar-10-batches-py/test_batch is [0-9]+ bytes, more than"):
        CIFAR10(cifar, train=False, expected_md5=md5)


def test_reads_stop_at_the_limit_whatever_the_header_says(tmp_path, monkeypatch):
    monkeypatch.setattr(files, "MAX_MEMBER_BYTES", 1000)
    assert files.read_bounded(io.BytesIO(bytes(1000)), "x") == bytes(1000)
    with pytest.raises(DatasetError, match=r"^x holds more than the 1000 bytes limit for one file"):
        files.read_bounded(io.BytesIO(bytes(1001)), "x")
    # A gzip file gives no size before decompressing: 2 KB of zeros from a few bytes.
    folder = write_mnist(tmp_path, monkeypatch, numpy.zeros((3, 28, 28)), numpy.array([1, 2, 3]))
    with pytest.raises(DatasetError, match=r"t10k-images-idx3-ubyte.gz \(decompressed\) holds more than the "
                                           "1000 bytes limit") as caught:
        MNIST(tmp_path, train=False)
    assert str(folder) in one_line(caught)


# 5. Image dimensions

def forged_png(width, height) -> bytes:
    """A 1x1 PNG whose header claims width x height: what a decompression bomb looks like
    to Image.open, which reads only the header."""
    raw = bytearray(png_bytes(size=(1, 1)))
    raw[16:24] = width.to_bytes(4, "big") + height.to_bytes(4, "big")       # IHDR width, height
    raw[29:33] = zlib.crc32(bytes(raw[12:29])).to_bytes(4, "big")           # the chunk's CRC over type + data
    return bytes(raw)


@pytest.mark.parametrize("width, height, fragment", [
    (9000, 9000, r"0.png is 9000x9000 pixels, more than the limit of 16777216 "
                 r"\(minires.data.image_folder.MAX_IMAGE_PIXELS\); resize it or remove it"),
    (10000, 10000, r"0.png is too large to decode \(Image size .*\); resize it or remove it"),     # Pillow warns
    (20000, 20000, r"0.png is too large to decode \(Image size .*\); resize it or remove it"),     # Pillow refuses
])
def test_images_are_bounded_before_decoding(tmp_path, width, height, fragment):
    from PIL import Image as PillowImage
    pillow_limit, filters = PillowImage.MAX_IMAGE_PIXELS, list(warnings.filters)
    (tmp_path / "tree" / "cat").mkdir(parents=True)
    (tmp_path / "tree" / "cat" / "0.png").write_bytes(forged_png(width, height))
    with pytest.raises(DatasetError, match=fragment) as caught:
        ImageFolder(tmp_path / "tree")
    one_line(caught)
    assert PillowImage.MAX_IMAGE_PIXELS == pillow_limit and warnings.filters == filters   # Pillow left as it was


def test_the_pixel_limit_is_a_module_constant(tmp_path, monkeypatch):
    (tmp_path / "tree" / "cat").mkdir(parents=True)
    (tmp_path / "tree" / "cat" / "0.png").write_bytes(png_bytes(size=(20, 10)))
    monkeypatch.setattr(image_folder, "MAX_IMAGE_PIXELS", 199)
    with pytest.raises(DatasetError, match="0.png is 20x10 pixels, more than the limit of 199"):
        ImageFolder(tmp_path / "tree")
    monkeypatch.setattr(image_folder, "MAX_IMAGE_PIXELS", 200)
    assert ImageFolder(tmp_path / "tree").data.shape == (1, 10, 20, 3)


# 6. A damaged cache

@pytest.mark.parametrize("damage", [lambda raw: raw[: len(raw) // 2], lambda raw: b"garbage",
                                    lambda raw: raw[:100] + bytes(len(raw) - 100)])
def test_a_damaged_cache_is_decoded_again_and_rewritten(tmp_path, monkeypatch, capsys, damage):
    write_tree(tmp_path / "tree", {"train": ["cat", "dog"]})
    first = ImageFolder(tmp_path / "tree", subdir="train", progress=False)
    cache_folder = tmp_path / "cache" / "imagefolder"
    (cache_file,) = [cache_folder / name for name in os.listdir(cache_folder)]
    cache_file.write_bytes(damage(cache_file.read_bytes()))
    capsys.readouterr()
    second = ImageFolder(tmp_path / "tree", subdir="train", progress=False)
    numpy.testing.assert_array_equal(second.data, first.data)
    warning = capsys.readouterr().err
    assert warning.startswith(f"minires: the decoded-image cache {cache_file} is damaged (")
    assert warning.endswith("); decoding again\n") and warning.count("\n") == 1

    def no_decoding(name, raw):
        raise AssertionError("decoded again: the damaged cache was not rewritten")
    monkeypatch.setattr(image_folder, "_decode", no_decoding)
    ImageFolder(tmp_path / "tree", subdir="train", progress=False)
    assert capsys.readouterr().err == ""


# 7. Temporary files

def test_temporary_names_are_unique_and_stale_ones_are_removed(tmp_path):
    names = []
    for _ in range(2):
        write_atomically(str(tmp_path / "file.npz"), lambda file: names.append(file.name))
    assert len(set(names)) == 2 and all(name.startswith(f"{tmp_path / 'file.npz'}.{os.getpid()}.")
                                        for name in names)
    hour_ago = time.time() - 3601
    for leftover in ("file.npz.123.tmp", "file.npz.123.0a1b2c3d.tmp", "file.npz.456.ffff.tmp",
                     "other.npz.123.tmp", "file.npz.notes.tmp"):
        (tmp_path / leftover).write_bytes(b"half")
        if leftover != "file.npz.456.ffff.tmp":                        # this one is still being written
            os.utime(tmp_path / leftover, (hour_ago, hour_ago))
    write_atomically(str(tmp_path / "file.npz"), lambda file: file.write(b"new"))
    assert sorted(os.listdir(tmp_path)) == ["file.npz", "file.npz.456.ffff.tmp", "file.npz.notes.tmp",
                                            "other.npz.123.tmp"]


def test_written_files_get_the_usual_permissions(tmp_path):
    old_umask = os.umask(0o022)
    try:
        write_atomically(str(tmp_path / "file.npz"), lambda file: file.write(b"new"))
    finally:
        os.umask(old_umask)
    assert os.stat(tmp_path / "file.npz").st_mode & 0o777 == 0o644


# 8. Progress bars

def test_progress_false_draws_no_bar(tmp_path, capsys):
    import hashlib
    write_tree(tmp_path / "tree", {"train": ["cat"], "test": ["cat"]})
    datasets_from_path(os.fspath(tmp_path / "tree"), None, None, download=False, progress=False)
    source = tmp_path / "served.bin"
    source.write_bytes(b"payload" * 1000)
    download(source.as_uri(), str(tmp_path / "file.bin"), hashlib.md5(source.read_bytes()).hexdigest(),
             progress=False)
    assert capsys.readouterr().err == ""
    ImageFolder(tmp_path / "tree", subdir="train", progress=True)             # cached: nothing to decode
    write_tree(tmp_path / "other", {"train": ["cat"]})
    ImageFolder(tmp_path / "other", subdir="train")                           # the default draws one
    assert "decoding" in capsys.readouterr().err
