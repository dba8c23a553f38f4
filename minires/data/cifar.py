"""CIFAR10: the official python archive of CIFAR-10 (Krizhevsky, 2009).

The archive ``cifar-10-python.tar.gz`` holds a folder ``cifar-10-batches-py/`` of
Python 2 pickles: five training batches ``data_batch_1`` .. ``data_batch_5`` and one
``test_batch`` of 10,000 images each, and ``batches.meta`` with the class names. Each
batch is a dict with byte-string keys::

    b"data":        uint8 (10000, 3072), one row per image: the 1024 red values,
                    then the green, then the blue, each 32x32 row-major
    b"labels":      a list of 10000 ints in 0..9
    b"filenames":   a list of 10000 byte strings
    b"batch_label": a byte string

The batches are read straight from the archive (no extraction) and unpickled with
:class:`~minires.data.archive.RestrictedUnpickler`. Like every file minires reads, each
must be a regular file of at most MAX_MEMBER_BYTES (see :mod:`minires.data.files`), and
each batch must hold as many labels as images, every label in 0..9; anything else is a
DatasetError naming the file.
"""

import os

import numpy

from minires.data.archive import DatasetError, cache_directory, restricted_load, verify_md5
from minires.data.archive import download as download_file
from minires.data.dataset import ArrayDataset
from minires.data.files import read_file, tar_files

CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR10_ARCHIVE = "cifar-10-python.tar.gz"
CIFAR10_MD5 = "c58f30108f718f92721af3b95e74349a"
CIFAR10_FOLDER = "cifar-10-batches-py"
TRAIN_BATCHES = [f"data_batch_{index}" for index in range(1, 6)]
TEST_BATCHES = ["test_batch"]


def _read_batches(path, names):
    """{name: bytes} of the batch files ``names`` (+ batches.meta) in the archive or folder."""
    wanted = set(names) | {"batches.meta"}
    found = {}
    if os.path.isdir(path):
        for name in wanted:
            file_path = os.path.join(path, name)
            if os.path.lexists(file_path):          # a FIFO or a link out of the folder is refused
                found[name] = read_file(file_path, path)
    else:
        for member_name, raw in tar_files(path, lambda member_name: os.path.basename(member_name) in wanted):
            found[os.path.basename(member_name)] = raw
    missing = sorted(wanted - set(found))
    if missing:
        raise DatasetError(f"{path} lacks {', '.join(missing)}: it is not the CIFAR-10 python archive; "
                           f"download it again ({CIFAR10_URL})")
    return found


def _unpickle(name, raw):
    """A batch file's dict, its keys as bytes (b"data"), whoever pickled it."""
    try:
        content = restricted_load(raw)
    except Exception as error:       # UnpicklingError from a refused global, or a damaged file
        reason = " ".join(str(error).split())        # one line, for the command line
        raise DatasetError(f"cannot read {name} of CIFAR-10 ({type(error).__name__}: {reason}); "
                           "use the official archive from " + CIFAR10_URL) from None
    if not isinstance(content, dict):
        raise DatasetError(f"{name} of CIFAR-10 holds a {type(content).__name__}, not a dict; "
                           "use the official archive from " + CIFAR10_URL)
    # Python 2 wrote str keys, which encoding="bytes" reads as bytes; a batch re-pickled
    # by Python 3 with str keys gets the same bytes keys here.
    return {key.encode() if isinstance(key, str) else key: value for key, value in content.items()}


def _images_and_labels(name, batch):
    """uint8 (n, 32, 32, 3) images and int64 (n,) labels of one batch dict.

    ``name`` names the batch in messages ("<archive>: data_batch_1").
    """
    if b"data" not in batch or b"labels" not in batch:
        raise DatasetError(f"{name} of CIFAR-10 lacks 'data' or 'labels' (keys: {sorted(batch)}); "
                           "use the official archive from " + CIFAR10_URL)
    try:
        rows, labels = numpy.asarray(batch[b"data"]), numpy.asarray(batch[b"labels"])
    except (ValueError, TypeError) as error:        # ragged lists
        raise DatasetError(f"{name} of CIFAR-10 holds data or labels that are not arrays ({error}); "
                           "use the official archive from " + CIFAR10_URL) from None
    if rows.dtype != numpy.uint8 or rows.ndim != 2 or rows.shape[1] != 3072 or labels.shape != (len(rows),):
        raise DatasetError(f"{name} of CIFAR-10 holds data {rows.dtype} {rows.shape} and labels of shape "
                           f"{labels.shape}, not uint8 (n, 3072) and n labels; use the official archive")
    if labels.dtype.kind not in "iu" or (len(labels) and not 0 <= labels.min() <= labels.max() <= 9):
        found = labels.dtype if labels.dtype.kind not in "iu" else f"{labels.min()}..{labels.max()}"
        raise DatasetError(f"{name} of CIFAR-10 holds labels {found}, not integers in 0..9; "
                           "use the official archive from " + CIFAR10_URL)
    labels = labels.astype(numpy.int64)
    images = rows.reshape(-1, 3, 32, 32)                 # (n, 3072) -> (n, 3, 32, 32): planes R, G, B
    images = images.transpose(0, 2, 3, 1)                # (n, 32, 32, 3), channels last as the other datasets
    return images, labels


def _find_source(root, download, expected_md5, progress=True):
    """The extracted folder or the (verified) archive to read, downloading it if asked."""
    if os.path.isfile(root):                      # root is the archive itself
        verify_md5(root, expected_md5)
        return root
    folder, archive = os.path.join(root, CIFAR10_FOLDER), os.path.join(root, CIFAR10_ARCHIVE)
    if os.path.isdir(folder):
        return folder
    if os.path.isfile(archive):
        verify_md5(archive, expected_md5)
    elif download:
        download_file(CIFAR10_URL, archive, expected_md5, progress)   # checks the md5 before the file lands
    else:
        raise DatasetError(f"CIFAR-10 is not in {root} (neither {CIFAR10_ARCHIVE} nor "
                           f"{CIFAR10_FOLDER}/); pass download=True (--download on the command line) "
                           "or put the archive there")
    return archive


class CIFAR10(ArrayDataset):
    """CIFAR-10, 50,000 training and 10,000 test 32x32 colour images in 10 classes.

    Reads ``cifar-10-python.tar.gz`` (or its extracted ``cifar-10-batches-py/``) from
    ``root``, by default the cache directory (``~/.cache/minires`` or $MINIRES_DATA).
    The archive's md5 is checked against the published one before use (the files of an
    extracted folder are not: no md5 is published for them), and its batch files are
    unpickled with a restricted unpickler that refuses anything but arrays, lists,
    numbers and strings.

    Args:
        root: the folder holding the archive or the extracted folder, or the archive
            file itself; None for the cache directory.
        train: the 50,000 training images (True) or the 10,000 test images.
        download: fetch the archive (163 MB) into ``root`` when it is missing.
        transform: applied to each batch (see ArrayDataset.batch).
        expected_md5: the archive's md5; None for the published one, CIFAR10_MD5.
        progress: draw the download's progress bar (False: none, as for --no-progress).

    Attributes:
        data: uint8 (N, 32, 32, 3); targets: int64 (N,); classes: the 10 names, from
            batches.meta ("airplane", "automobile", ..., "truck").

    Raises:
        DatasetError: the archive is missing (and download=False), has another md5, is
            truncated, or holds something other than CIFAR-10's batches (including
            labels outside 0..9, or a file that is not a regular one or is too big).
    """

    def __init__(self, root=None, train=True, download=False, transform=None, expected_md5=None,
                 progress=True):
        root = os.fspath(root) if root is not None else cache_directory()
        source = _find_source(root, download, expected_md5 or CIFAR10_MD5, progress)
        names = TRAIN_BATCHES if train else TEST_BATCHES
        files = _read_batches(source, names)
        meta = _unpickle(f"{source}: batches.meta", files["batches.meta"])
        pairs = [_images_and_labels(f"{source}: {name}", _unpickle(f"{source}: {name}", files[name]))
                 for name in names]
        # concatenate keeps the transposed memory order; one contiguous copy makes
        # every later data[indices] a copy of whole rows.
        data = numpy.ascontiguousarray(numpy.concatenate([images for images, _ in pairs]))  # (N, 32, 32, 3)
        labels = numpy.concatenate([labels for _, labels in pairs])                   # (N,)
        label_names = meta.get(b"label_names", [])
        classes = [name.decode() if isinstance(name, bytes) else name for name in label_names]
        if len(classes) != 10:
            raise DatasetError(f"{source}: batches.meta of CIFAR-10 names {len(classes)} classes, not 10; "
                               "use the official archive from " + CIFAR10_URL)
        super().__init__(data, labels, classes, transform)
