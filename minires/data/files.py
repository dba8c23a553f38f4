"""What minires reads from a dataset's folders and archives: regular files of bounded size.

A dataset is often someone else's folder or download, so reading it must not hang,
exhaust memory, or wander outside it. Every file minires reads from a folder or from
inside a tar archive obeys three rules, checked before a byte is read:

- It is a regular file. A FIFO (named pipe) blocks whoever opens it until a writer
  comes; a device such as /dev/zero never ends; a socket cannot be read at all.
  Folders are checked with ``os.lstat`` (which opens nothing); a tar member must be
  of the regular-file type (symbolic links, hard links, devices and FIFOs are refused;
  folders are skipped).
- A symbolic link in a folder must lead to a regular file inside the data root:
  a link to ``/etc/passwd`` or ``/dev/zero`` is refused.
- It holds at most :data:`MAX_MEMBER_BYTES`. The size is read from ``os.stat`` or the
  tar header before reading, and the read itself stops one byte past the limit, so a
  header that lies cannot make it read more.

Each refusal is a one-line :class:`~minires.data.archive.DatasetError` naming the file.
"""

import os
import stat

from minires.data.archive import ARCHIVE_ERRORS, DatasetError, damaged_archive, file_kind, open_tar

# The most bytes minires reads for one file of a dataset. The largest file it needs is
# a CIFAR-10 batch, about 31 MB; an image of CIFAR size is a few KB, and even a 4096x4096
# photograph (image_folder.MAX_IMAGE_PIXELS) is under 50 MB as PNG. 256 MiB leaves room,
# while a damaged or hostile archive (6 MB of .tar.gz can hold a 6 GiB member) is
# refused before it fills the memory.
MAX_MEMBER_BYTES = 256 * 1024 * 1024


def _limit() -> str:
    """The size limit in words: "256 MiB", or a byte count when it is not whole MiB (tests)."""
    if MAX_MEMBER_BYTES % (1 << 20) == 0:
        return f"{MAX_MEMBER_BYTES >> 20} MiB"
    return f"{MAX_MEMBER_BYTES} bytes"


def check_size(where, size):
    """Raises DatasetError when a file of ``size`` bytes is over the limit; ``where`` names it."""
    if size > MAX_MEMBER_BYTES:
        raise DatasetError(f"{where} is {size} bytes, more than the {_limit()} limit for one file "
                           "(minires.data.files.MAX_MEMBER_BYTES)")


def read_bounded(file, where) -> bytes:
    """All of ``file``, but raises DatasetError instead of reading past the limit."""
    data = file.read(MAX_MEMBER_BYTES + 1)
    if len(data) > MAX_MEMBER_BYTES:
        raise DatasetError(f"{where} holds more than the {_limit()} limit for one file "
                           "(minires.data.files.MAX_MEMBER_BYTES)")
    return data


def is_inside(path, root) -> bool:
    """Whether ``path``, with every symbolic link resolved, lies in ``root`` (resolved too)."""
    real_root = os.path.realpath(root)
    return os.path.commonpath([os.path.realpath(path), real_root]) == real_root


def check_inside(path, root):
    """Raises DatasetError unless ``path``, every symbolic link resolved, lies in ``root``."""
    if not is_inside(path, root):
        raise DatasetError(f"{path} leads to {os.path.realpath(path)} through a symbolic link, outside "
                           f"{root}; minires reads only files inside the data folder (copy the file in)")


def check_link(path, root):
    """:func:`check_inside` for a symbolic link; anything else is inside a checked folder."""
    if os.path.islink(path):
        check_inside(path, root)


def regular_file_status(path, root) -> os.stat_result:
    """The ``os.stat`` of ``path``, after checking that it is a regular file minires may read.

    Its parent folders are assumed checked already (see :func:`check_link`); ``path``
    itself may be a symbolic link to a regular file inside ``root``. Nothing is opened.

    Raises:
        DatasetError: ``path`` is a FIFO, socket, device or folder, a link out of
            ``root`` or to nothing, or bigger than MAX_MEMBER_BYTES.
    """
    check_link(path, root)
    try:
        status = os.stat(path)                       # follows a link (checked above) to its target
    except FileNotFoundError:                        # a link to nothing, or removed meanwhile
        raise DatasetError(f"{path} leads to no file (a broken symbolic link?); "
                           "remove it or copy the file in") from None
    if not stat.S_ISREG(status.st_mode):
        raise DatasetError(f"{path} is a {file_kind(status.st_mode)}, not a regular file; "
                           "minires reads only regular files (remove it from the data folder)")
    check_size(path, status.st_size)
    return status


def read_file(path, root) -> bytes:
    """The bytes of a regular file inside ``root``, checked by :func:`regular_file_status` first."""
    regular_file_status(path, root)
    with open(path, "rb") as file:                   # a regular file: opening it cannot block
        return read_bounded(file, path)


def read_member(path, archive, member) -> bytes:
    """The bytes of one member of an open tar archive, refused unless it is a regular
    file within the limit. ``path`` is the archive's, for the messages."""
    where = f"{path}: member {member.name}"
    if not member.isfile():
        kind = ("symbolic link" if member.issym() else "hard link" if member.islnk() else
                "character device" if member.ischr() else "block device" if member.isblk() else
                "FIFO (named pipe)" if member.isfifo() else "special entry")
        raise DatasetError(f"{where} is a {kind}, not a regular file; minires reads only regular "
                           "files from archives (store the file itself)")
    check_size(where, member.size)                   # from the header, before reading
    return read_bounded(archive.extractfile(member), where)


def tar_files(path, wanted):
    """Yields (member name, bytes) of each member of a tar archive whose name ``wanted``
    accepts, in archive order, each read by :func:`read_member`. Folders are skipped.

    Raises:
        DatasetError: the archive is damaged, or a wanted member is not a regular file
            or is over the limit.
    """
    try:
        with open_tar(path) as archive:
            for member in archive:
                if not member.isdir() and wanted(member.name):
                    yield member.name, read_member(path, archive, member)
    except ARCHIVE_ERRORS as error:
        raise damaged_archive(path, error) from None
