"""ImageFolder: images stored as ``root/<class>/<image>``, in a folder or a .tar.gz.

Decoding tens of thousands of JPEGs takes seconds to minutes, so the decoded arrays
are cached once in the cache directory, as an ``.npz`` file (``numpy.savez``, no
pickles) whose name holds a fingerprint of the source:

- an archive: the sha256 of its bytes;
- a folder: the sha256 of its image list with each file's size and modification time;

plus the subdir. A changed source gets a new fingerprint and is decoded again. A
damaged cache file (a full disk, a copy cut short) is reported in one line on stderr,
decoded again and rewritten.

What is read obeys the rules of :mod:`minires.data.files` (regular files only, links
staying inside the root, at most MAX_MEMBER_BYTES each), and an image is decoded only
when its header says it has at most :data:`MAX_IMAGE_PIXELS` pixels.
"""

import hashlib
import io
import os
import sys
import warnings
import zipfile

import numpy

from minires.data.archive import DatasetError, cache_directory, file_digest, write_atomically
from minires.data.dataset import ArrayDataset
from minires.data.files import check_inside, check_link, read_file, regular_file_status, tar_files

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")

# The most pixels an image may have. Pillow reads the size from the header without
# decoding, so the check costs nothing; decoding a 9000x9000 PNG would take 243 MB as
# RGB, and a few KB of crafted header can claim that. CIFAR images are 32x32, ImageNet
# photographs about 500x400; 4096x4096 (50 MB as RGB) is far above both.
MAX_IMAGE_PIXELS = 4096 * 4096

# What numpy.load raises on a damaged .npz: a file cut short or overwritten
# (zipfile.BadZipFile, EOFError), a damaged array header (ValueError), an unreadable file
# (OSError), an array missing (KeyError).
CACHE_ERRORS = (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile)


def _decode(name, raw: bytes):
    """One image file's bytes -> uint8 (H, W, 3), decoded by Pillow and converted to RGB.

    ``Image.open`` reads only the header; the size is checked against MAX_IMAGE_PIXELS
    before ``convert`` decodes the pixels. Pillow's own guard (Image.MAX_IMAGE_PIXELS,
    a warning above it and an error above twice it) is turned into DatasetError here,
    with the warning made an error only inside this function: Pillow's settings are
    left as they are.
    """
    from PIL import Image, UnidentifiedImageError     # imported on first use: import minires loads no Pillow
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(raw)) as image:
                width, height = image.size
                if width * height > MAX_IMAGE_PIXELS:
                    raise DatasetError(f"{name} is {width}x{height} pixels, more than the limit of "
                                       f"{MAX_IMAGE_PIXELS} (minires.data.image_folder.MAX_IMAGE_PIXELS); "
                                       "resize it or remove it")
                return numpy.asarray(image.convert("RGB"), dtype=numpy.uint8)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise DatasetError(f"{name} is too large to decode ({error}); resize it or remove it") from None
    except UnidentifiedImageError:                    # its message names a BytesIO, not the file
        raise DatasetError(f"{name} is not a readable image (Pillow does not recognise it as "
                           "JPEG or PNG); remove or replace it") from None
    except OSError as error:                          # a truncated or damaged JPEG or PNG
        raise DatasetError(f"{name} is not a readable image ({error}); remove or replace it") from None


def _split_member(name, subdir):
    """("class", "file") for an image path inside root (under subdir), else None."""
    parts = [part for part in name.replace("\\", "/").split("/") if part not in ("", ".")]
    if subdir is not None:
        wanted = [part for part in subdir.split("/") if part]
        if parts[:len(wanted)] != wanted:
            return None
        parts = parts[len(wanted):]
    if len(parts) != 2 or parts[1].startswith(".") or not parts[1].lower().endswith(IMAGE_EXTENSIONS):
        return None                     # not <class>/<image>, a hidden file (macOS "._x.jpg"), not an image
    return parts[0], parts[1]


def _archive_files(path, subdir):
    """(class, name, bytes) of every image in a .tar.gz (or .tar), in archive order.

    A member named like an image must be a regular file within the size limit
    (minires.data.files.read_member); other members are not read.
    """
    for name, raw in tar_files(path, lambda name: _split_member(name, subdir) is not None):
        yield _split_member(name, subdir)[0], name, raw


def _folder_images(root, data_root):
    """(class, path) of every image under root/<class>/, sorted.

    ``root`` and its class folders, links resolved, must lie inside ``data_root``;
    image files are checked as they are read (minires.data.files.regular_file_status).
    """
    check_inside(root, data_root)
    for class_name in sorted(os.listdir(root)):
        class_folder = os.path.join(root, class_name)
        if os.path.isdir(class_folder):
            check_link(class_folder, data_root)
            for name in sorted(os.listdir(class_folder)):
                if _split_member(f"{class_name}/{name}", None) is not None:
                    yield class_name, os.path.join(class_folder, name)


def folder_classes(root, data_root) -> list:
    """The class names of a folder of ``root/<class>/<image>`` files, sorted, as ImageFolder
    numbers them; found from the names alone, without reading an image."""
    return sorted({class_name for class_name, _ in _folder_images(root, data_root)})


def _folder_files(root, data_root):
    """(class, path, bytes) of every image under root/<class>/, each a checked regular file."""
    for class_name, path in _folder_images(root, data_root):
        yield class_name, path, read_file(path, data_root)


def _folder_key(root, data_root):
    """The sha256 of a folder's image list with each file's size and modification time."""
    digest = hashlib.sha256()
    for _, path in _folder_images(root, data_root):
        status = regular_file_status(path, data_root)       # refuses a FIFO or device before it is read
        digest.update(f"{os.path.relpath(path, root)}:{status.st_size}:{status.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def _stack(source, entries, progress=True):
    """(images uint8 (N, H, W, 3), targets int64 (N,), classes) from (class, name, bytes) entries.

    Entries are sorted by class, then file name, so the order does not depend on the
    archive's. Classes are the sorted folder names: label i is the i-th name.
    """
    entries = sorted(entries, key=lambda entry: (entry[0], entry[1]))
    if not entries:
        raise DatasetError(f"{source} holds no images laid out as <class>/<image> "
                           f"({', '.join(IMAGE_EXTENSIONS)}); check the path and subdir")
    classes = sorted({class_name for class_name, _, _ in entries})
    label_of = {class_name: label for label, class_name in enumerate(classes)}
    first_name = entries[0][1]
    first = _decode(first_name, entries[0][2])
    images = numpy.empty((len(entries),) + first.shape, dtype=numpy.uint8)        # (N, H, W, 3)
    from tqdm import tqdm     # on first use, not when minires is imported (text bars: tqdm.auto needs ipywidgets)
    for index, (_, name, raw) in enumerate(tqdm(entries, desc=f"decoding {os.path.basename(source)}",
                                                unit="image", leave=False, disable=not progress)):
        image = first if index == 0 else _decode(name, raw)
        if image.shape != first.shape:
            raise DatasetError(f"{source}: images of different sizes, {name} is "
                               f"{image.shape[1]}x{image.shape[0]} but {first_name} is "
                               f"{first.shape[1]}x{first.shape[0]}; ImageFolder needs one size "
                               "(resize them first)")
        images[index] = image
    targets = numpy.array([label_of[class_name] for class_name, _, _ in entries], dtype=numpy.int64)
    return images, targets, classes


class ImageFolder(ArrayDataset):
    """Images laid out as ``root/<class>/<image>`` (JPEG or PNG), as torchvision's ImageFolder.

    ``root_or_archive`` is a folder or a ``.tar.gz`` of one; ``subdir`` picks a folder
    inside it (the CIFAR-10 JPEG archive holds ``train/<class>/...`` and
    ``test/<class>/...``). Classes are the folder names, sorted: label i is the i-th
    name. Images are decoded with Pillow to RGB once, with a progress bar; the arrays
    are cached in the cache directory under a key made of the archive's sha256 (or the
    folder's listing) and subdir, so a second load skips decoding.

    Args:
        root_or_archive: a folder, or a .tar.gz (.tgz, .tar) archive.
        transform: applied to each batch (see ArrayDataset.batch).
        subdir: a folder inside root_or_archive, such as "train"; None for its top.
        progress: draw a progress bar while decoding (False: none, as for --no-progress).

    Attributes:
        data: uint8 (N, H, W, 3); targets: int64 (N,); classes: list of names.
        root: root_or_archive, as given.

    Raises:
        DatasetError: the path does not exist, the archive is damaged, no image is laid
            out as ``<class>/<image>``, an image cannot be decoded, or sizes differ; an
            image file is not a regular file, leads out of the root, is over
            MAX_MEMBER_BYTES, or has more than MAX_IMAGE_PIXELS pixels.
    """

    def __init__(self, root_or_archive, transform=None, subdir=None, progress=True):
        path = os.fspath(root_or_archive)
        if not os.path.exists(path):
            raise DatasetError(f"{path} does not exist; give a folder or .tar.gz of <class>/<image> files")
        is_archive = not os.path.isdir(path)          # file_digest refuses a FIFO or a device
        if is_archive:
            key = file_digest(path, "sha256")[:24]
        else:
            folder = os.path.join(path, subdir) if subdir else path
            if not os.path.isdir(folder):
                raise DatasetError(f"{folder} does not exist; expected <class>/<image> folders there")
            key = "folder-" + _folder_key(folder, path)[:24]
        cache_file = os.path.join(cache_directory(), "imagefolder",
                                  f"{key}-{(subdir or 'root').replace('/', '_')}.npz")
        data, targets, classes = self._cached(cache_file)
        if data is None:
            entries = _archive_files(path, subdir) if is_archive else _folder_files(folder, path)
            data, targets, classes = _stack(path if not subdir else f"{path}:{subdir}", entries, progress)
            write_atomically(cache_file, lambda file: numpy.savez(
                file, data=data, targets=targets, classes=numpy.array(classes), allow_pickle=False))
        super().__init__(data, targets, classes, transform)
        self.root = path

    @staticmethod
    def _cached(cache_file):
        """(data, targets, classes) from the cache, or three Nones when absent or damaged.

        A damaged file is reported in one line on stderr; the caller decodes the images
        again and rewrites it.
        """
        if not os.path.isfile(cache_file):
            return None, None, None
        try:
            with numpy.load(cache_file, allow_pickle=False) as cached:
                data, targets = cached["data"], cached["targets"]
                classes = [str(name) for name in cached["classes"]]
            if (data.dtype != numpy.uint8 or data.ndim != 4 or targets.dtype != numpy.int64
                    or targets.shape != (len(data),)):
                raise ValueError(f"data {data.dtype} {data.shape} and targets {targets.shape}")
            return data, targets, classes
        except CACHE_ERRORS as error:
            reason = " ".join(str(error).split())
            print(f"minires: the decoded-image cache {cache_file} is damaged ({type(error).__name__}: "
                  f"{reason}); decoding again", file=sys.stderr)
            return None, None, None
