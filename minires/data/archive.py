"""Files of datasets: where they are cached, checksums, downloads, safe unpickling.

- The cache directory is ``~/.cache/minires``, or the folder named by the environment
  variable ``MINIRES_DATA``. Downloads and decoded image arrays are kept there.
- Every official archive has a published checksum; it is checked before the archive
  is used, so that a truncated download or a changed file is reported as such, not as
  a strange error while decoding.
- Downloads show a progress bar (tqdm) unless ``progress=False``; they and every cached
  file are written under a temporary name, unique to each write, and renamed when
  complete, so an interrupted write never looks done. Temporary files left by a killed
  process are removed by the next write of the same file once they are an hour old.
- An archive must be a regular file: a FIFO would block the reader for ever and a
  device such as /dev/zero never ends. What is read from inside archives and folders
  is limited further in :mod:`minires.data.files`.
- A truncated or damaged archive, like a wrong checksum, raises :class:`DatasetError`.
- Pickle files can run arbitrary code when loaded. :class:`RestrictedUnpickler`
  accepts only the few types the CIFAR-10 batch files contain and refuses the rest.
"""

import hashlib
import io
import os
import pickle
import re
import secrets
import stat
import tarfile
import time
import urllib.request
import zlib

# A temporary file not written to for this long belongs to a process that was killed:
# an active download or cache write touches its file every fraction of a second.
STALE_TEMPORARY_SECONDS = 3600


class DatasetError(Exception):
    """Data that cannot be used: missing, truncated, corrupt, changed, or laid out wrongly.

    The message says what is wrong and what to do; the command line prints it as is.
    """


def cache_directory() -> str:
    """Where datasets are downloaded and decoded arrays cached (MINIRES_DATA overrides)."""
    return os.path.expanduser(os.environ.get("MINIRES_DATA") or os.path.join("~", ".cache", "minires"))


def file_kind(mode) -> str:
    """What a file is, in words, from its ``st_mode``: "regular file", "FIFO (named pipe)", ..."""
    kinds = [(stat.S_ISREG, "regular file"), (stat.S_ISDIR, "folder"), (stat.S_ISLNK, "symbolic link"),
             (stat.S_ISFIFO, "FIFO (named pipe)"), (stat.S_ISSOCK, "socket"),
             (stat.S_ISCHR, "character device"), (stat.S_ISBLK, "block device")]
    return next((name for is_kind, name in kinds if is_kind(mode)), "special file")


def require_regular_file(path):
    """Raises DatasetError unless ``path`` (after symbolic links) is a regular file.

    Checked with ``os.stat``, which opens nothing: opening a FIFO for reading blocks
    until a writer comes, and reading /dev/zero never ends.
    """
    mode = os.stat(path).st_mode
    if not stat.S_ISREG(mode):
        raise DatasetError(f"{path} is a {file_kind(mode)}, not a regular file; "
                           "give the path of an archive file")


def file_digest(path, algorithm="md5") -> str:
    """The hex digest of a file, read in 1 MiB chunks.

    md5 is what the datasets publish; it detects damaged or changed files (it is no
    defence against a forger, and is not used as one).
    """
    require_regular_file(path)
    digest = hashlib.new(algorithm)
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify_md5(path, expected_md5):
    """Raises DatasetError unless the file's md5 is the published one."""
    actual = file_digest(path, "md5")
    if actual != expected_md5:
        raise DatasetError(f"{path} has md5 {actual}, not the published {expected_md5}: the file is "
                           "truncated or changed; delete it and download it again")


def download(urls, path, expected_md5, progress=True):
    """Downloads a file to ``path`` with a progress bar, checking its md5 before it lands.

    The bytes go to a temporary file beside ``path``; only once their md5 is the
    published one is the file renamed to ``path``. An interrupted or wrong download
    therefore never looks like a finished one.

    Args:
        urls: one URL, or a list of mirrors tried in order until one gives the file.
        path: where the file goes.
        expected_md5: its published md5.
        progress: draw a tqdm progress bar (False: none, as for --no-progress).

    Raises:
        DatasetError: when no mirror gives the file with the published md5.
    """
    urls = [urls] if isinstance(urls, str) else list(urls)
    failures = []
    for url in urls:
        try:
            write_atomically(path, lambda file: _fetch(url, file, expected_md5, progress))
            return
        except (OSError, DatasetError) as error:     # URLError, timeouts, a full disk, a wrong md5
            failures.append(f"{url}: {error}")
    raise DatasetError(f"downloading {os.path.basename(path)} failed ({'; '.join(failures)}); check the "
                       f"connection, or download the file by hand to {path}")


def _fetch(url, file, expected_md5, progress=True):
    """Copies the bytes at ``url`` into ``file`` under a tqdm bar, then checks their md5."""
    from tqdm import tqdm     # on first use, not when minires is imported (text bars: tqdm.auto needs ipywidgets)
    digest = hashlib.md5()
    with urllib.request.urlopen(url, timeout=60) as response:
        total = int(response.headers.get("Content-Length") or 0) or None
        with tqdm(total=total, unit="B", unit_scale=True, desc=os.path.basename(url),
                  disable=not progress) as bar:
            for chunk in iter(lambda: response.read(1 << 16), b""):
                file.write(chunk)
                digest.update(chunk)
                bar.update(len(chunk))
    if digest.hexdigest() != expected_md5:
        raise DatasetError(f"the downloaded file has md5 {digest.hexdigest()}, "
                           f"not the published {expected_md5}")


def write_atomically(path, write):
    """Calls ``write(file)`` on a temporary file beside ``path``, then renames it to ``path``.

    ``os.replace`` within one folder is atomic: readers see the old file or the whole
    new one, never a half-written file, even if the process is killed mid-way. If
    ``write`` raises, the temporary file is removed and ``path`` is left as it was.

    The temporary name, ``<name>.<pid>.<random hex>.tmp``, is new for every call, so two
    writers (two processes, or two threads of one) never write into one file. Mode
    "xb" creates it and fails rather than reuse an existing file; unlike
    tempfile.mkstemp, it gives the file the usual permissions (the umask's), so a shared
    cache stays readable by its other users. Before writing, leftovers of killed writers
    of the same file are removed (see :func:`remove_stale_temporaries`).
    """
    folder, name = os.path.split(os.fspath(path))
    os.makedirs(folder or ".", exist_ok=True)
    remove_stale_temporaries(path)
    temporary = os.path.join(folder, f"{name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        with open(temporary, "xb") as file:
            write(file)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def remove_stale_temporaries(path, max_age_seconds=STALE_TEMPORARY_SECONDS):
    """Removes the temporary files of ``path`` not written to for an hour or more.

    They are what a killed process (Ctrl-C twice, out of memory, a power cut) leaves of a
    download or a cache file: ``<name>.<pid>.<hex>.tmp``, or ``<name>.<pid>.tmp`` as
    minires 0.1 named them. A writer that is still alive touches its file all the time,
    so age alone tells the two apart, on any machine sharing the folder (a process id
    would only mean something on the machine that wrote it).
    """
    folder, name = os.path.split(os.fspath(path))
    pattern = re.compile(re.escape(name) + r"\.\d+(\.[0-9a-f]+)?\.tmp")
    for entry in os.listdir(folder or "."):
        if pattern.fullmatch(entry):
            leftover = os.path.join(folder, entry)
            try:
                if time.time() - os.lstat(leftover).st_mtime >= max_age_seconds:
                    os.remove(leftover)
            except OSError:          # another process removed or renamed it first
                pass


# What reading a damaged archive raises, depending on where the damage is: a bad tar
# header (TarError), a gzip stream cut short (EOFError), damaged compressed bytes
# (zlib.error), a bad gzip header (gzip.BadGzipFile, an OSError).
ARCHIVE_ERRORS = (tarfile.TarError, EOFError, zlib.error, OSError)


def damaged_archive(path, error) -> DatasetError:
    """The DatasetError for an archive that could not be read to its end (one line)."""
    reason = " ".join(str(error).split())            # some errors span lines; the message must not
    return DatasetError(f"{path} is truncated or corrupt ({type(error).__name__}: {reason}); "
                        "delete it and download or copy it again")


def open_tar(path):
    """tarfile.open for reading, gzip for names ending in .gz or .tgz, else any compression.

    The path must be a regular file (DatasetError otherwise). Naming the compression
    gives the error of that one format for a damaged file, instead of one error per
    format tried.
    """
    require_regular_file(path)
    mode = "r:gz" if os.fspath(path).lower().endswith((".gz", ".tgz")) else "r:*"
    return tarfile.open(path, mode)


def is_tar_archive(path) -> bool:
    """True for a file named like a tar archive: .tar.gz, .tgz or .tar."""
    return os.path.basename(os.fspath(path)).lower().endswith((".tar.gz", ".tgz", ".tar"))


def tar_names(path):
    """Yields the names of a tar archive's entries (a leading "./" removed), in archive order.

    A generator: a caller that stops early (``break``) leaves the rest of a big
    archive undecompressed.
    """
    try:
        with open_tar(path) as archive:
            for member in archive:
                yield member.name.removeprefix("./")
    except ARCHIVE_ERRORS as error:
        raise damaged_archive(path, error) from None


class RestrictedUnpickler(pickle.Unpickler):
    """An Unpickler that rebuilds only what the CIFAR-10 batch files hold.

    A pickle is a small program: loading it may call any function it names, such as
    ``os.system``. The batch files need only dicts, lists, byte strings and ints (which
    pickle builds without naming anything) and NumPy arrays, which name three globals.
    :meth:`find_class` is where the unpickler looks a name up; here it refuses every
    other name with pickle.UnpicklingError, before anything is imported or called.
    """

    ALLOWED = {
        # numpy.ndarray pickles as _reconstruct(ndarray, (0,), b"b") followed by its state
        # (shape, dtype, raw bytes). The real files were written by Python 2 with NumPy 1
        # (numpy.core); NumPy 2 writes numpy._core.
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"), ("numpy", "dtype"),
        # Python 3 writes bytes in protocol 2 as _codecs.encode(text, "latin1"), so the
        # batches re-pickled by Python 3 (as the tests write them) need it; it only
        # encodes a string.
        ("_codecs", "encode"),
    }

    def find_class(self, module, name):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refused to load the global {module}.{name}: a dataset file "
                                         "should contain only arrays, lists, numbers and strings")
        if module.startswith("numpy.core"):        # NumPy 2 renamed numpy.core to numpy._core
            module = "numpy._core" + module[len("numpy.core"):]
        return super().find_class(module, name)


def restricted_load(data: bytes):
    """Loads a Python 2 or 3 pickle with :class:`RestrictedUnpickler`.

    ``encoding="bytes"`` keeps Python 2 strings as bytes (the dict keys become
    b"data", b"labels"), and keeps the raw bytes of arrays intact.
    """
    return RestrictedUnpickler(io.BytesIO(data), encoding="bytes").load()
