"""A training run's folder: its settings, its metrics, its curves and its checkpoint.

    runs/residual20/
        config.json        every setting, the seed, versions and the device
        metrics.jsonl      one JSON line per epoch (the history)
        curves.png         loss and error against epoch (plotting.plot_curves)
        checkpoint.npz     the whole training state after the last finished epoch
        .minires-run       the marker: minires wrote this folder
        .minires-lock      while a run writes here: the writer's process id

The rules that keep results safe:

- **Nothing is deleted before everything is checked.** Making a RunDirectory only
  checks the folder; it writes nothing. The command line first checks its options,
  reads the data and builds the model, and only then calls :meth:`RunDirectory.writing`,
  which is where an old run is cleared (``--overwrite``) and files are written.
- **Only what minires wrote is deleted.** A run folder carries a marker file; a folder
  holding files but no marker is never overwritten, and overwriting removes only the
  run files listed above, never a user's notes beside them.
- **One folder, one writer.** :meth:`RunDirectory.writing` takes a lock file holding
  the writer's process id and host name. A second process is refused while the owner
  is alive; a lock left by a process of this machine that died (killed, power cut) is
  taken over. A lock from another machine (a shared folder) cannot be checked from
  here: it stays until its run ends or the user deletes it, as the message says.
- **Every file is replaced atomically**: written under a unique temporary name in the
  folder, then renamed over the old one (``os.replace``). A crash leaves the previous
  version whole; the temporary file is removed on an error, and one left by a killed
  process is removed by the next writer.
- **Damaged run files are refused**, naming the file and what is wrong in it
  (:class:`RunFileError`), never resumed with defaults.
"""

import contextlib
import datetime
import json
import os
import socket
import time

from minires.checkpoint import load_checkpoint, save_checkpoint, write_atomically
from minires.plotting import plot_curves
from minires.track_plots import plot_tracks

RUN_FILES = ("config.json", "metrics.jsonl", "curves.png", "checkpoint.npz")
MARKER = ".minires-run"
LOCK = ".minires-lock"
MODES = ("new", "overwrite", "resume", "read")
# A lock file that cannot be read is one being written this moment, or a crash's leftover
# once it is older than this (seconds).
UNREADABLE_LOCK_AGE = 10.0


class RunDirectoryError(Exception):
    """A run folder cannot be used as asked (occupied, locked, or missing what a resume needs)."""


class RunFileError(RunDirectoryError):
    """A file of a run folder is damaged: not JSON, or a field missing or of the wrong kind."""


def _is_temporary_file(name) -> bool:
    """A temporary file of a run file: ``checkpoint.npz.k2j4d.tmp`` (and minires 0.1's
    fixed names, ``checkpoint.npz.tmp`` and ``curves.tmp.png``)."""
    return (any(name.startswith(run_file + ".") and name.endswith(".tmp") for run_file in RUN_FILES)
            or name == "curves.tmp.png")


def process_alive(pid) -> bool:
    """Whether a process with this id runs on this machine (signal 0 checks, sends nothing)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:          # it exists, and belongs to another user
        return True
    return True


class RunDirectory:
    """The folder of one training run.

    Args:
        path: the folder.
        mode: "new" (the folder must be empty or absent), "overwrite" (empty, absent,
            or a run minires wrote, which :meth:`writing` clears), "resume"
            (config.json and checkpoint.npz must be there) or "read" (config.json
            must be there; for reading results only).

    Making one checks the folder and writes nothing; writing happens inside
    ``with run_directory.writing():``.
    """

    def __init__(self, path, mode="new"):
        self.path = os.fspath(path)
        if mode not in MODES:
            raise ValueError(f"RunDirectory: mode must be one of {MODES}; got {mode!r}")
        self.mode = mode
        self._writing = False
        if os.path.exists(self.path) and not os.path.isdir(self.path):
            raise RunDirectoryError(f"{self.path} is a file, not a folder; choose another --out")
        if mode == "read":
            if not os.path.isfile(self.file("config.json")):
                raise RunDirectoryError(f"{self.path} is not a run folder (it has no config.json); "
                                        "give a folder written by minires train")
            return
        self._check_writable()
        self._check_not_locked()
        self._check_mode()

    def _check_writable(self):
        """The folder, or its nearest existing parent, must be a folder this user may write."""
        existing = os.path.abspath(self.path)
        while not os.path.exists(existing):
            existing = os.path.dirname(existing)
        if not os.path.isdir(existing):
            raise RunDirectoryError(f"{self.path} cannot be made: {existing} is a file, not a folder; "
                                    "choose another --out")
        if not os.access(existing, os.W_OK | os.X_OK):
            raise RunDirectoryError(f"{self.path} cannot be written: {existing} is not writable by "
                                    "this user; choose another --out")

    def file(self, name) -> str:
        """The path of ``name`` inside the run folder."""
        return os.path.join(self.path, name)

    def _entries(self) -> list:
        """The names in the folder, without the lock ([] for an absent folder)."""
        if not os.path.isdir(self.path):
            return []
        try:
            return [name for name in os.listdir(self.path) if name != LOCK]
        except OSError as error:
            raise RunDirectoryError(f"cannot read the folder {self.path}: {error.strerror}") from None

    def _check_mode(self):
        """The checks of ``mode`` (see the class docstring); run again under the lock."""
        entries = self._entries()
        if self.mode == "new" and entries:
            raise RunDirectoryError(
                f"{self.path} already holds files; pass --overwrite to replace that run, "
                "--resume to continue it, or choose another --out")
        if self.mode == "overwrite" and entries and MARKER not in entries:
            raise RunDirectoryError(
                f"{self.path} holds files but no {MARKER} marker, so minires did not write it "
                "(or minires 0.1 did): --overwrite deletes only runs minires wrote; "
                "choose another --out, or empty the folder yourself")
        if self.mode == "resume":
            for name in ("config.json", "checkpoint.npz"):
                if not os.path.isfile(self.file(name)):
                    raise RunDirectoryError(
                        f"cannot resume from {self.path}: it has no {name} "
                        "(was a run started there, and did it finish an epoch?)")

    # -- the lock -----------------------------------------------------------------------

    def _lock_owner(self):
        """The process id in the lock file; None when there is no lock or it is stale."""
        path = self.file(LOCK)
        try:
            with open(path, encoding="utf-8") as file:
                lock = json.load(file)
            pid, host = int(lock["pid"]), lock.get("host")
        except FileNotFoundError:
            return None
        except (OSError, ValueError, TypeError, KeyError):
            try:                        # unreadable: being written now, or a crash's leftover
                young = time.time() - os.path.getmtime(path) < UNREADABLE_LOCK_AGE
            except OSError:
                return None
            return -1 if young else None
        if host not in (None, socket.gethostname()):
            return pid                  # another machine's process: it cannot be checked from here
        return pid if process_alive(pid) else None

    def _check_not_locked(self):
        owner = self._lock_owner()
        if owner is not None:
            who = f"process {owner}" if owner > 0 else "another process"
            raise RunDirectoryError(
                f"{self.path} is in use by {who} (see {self.file(LOCK)}); wait until it ends, "
                "or choose another --out (if no minires runs there any more, delete that lock file)")

    def _take_lock(self):
        """Creates the lock file; a stale one (its owner dead) is taken over."""
        path = self.file(LOCK)
        for _ in range(3):
            try:
                handle = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                self._check_not_locked()
                with contextlib.suppress(FileNotFoundError):
                    os.remove(path)      # its owner is dead
                continue
            with os.fdopen(handle, "w", encoding="utf-8") as file:
                json.dump({"pid": os.getpid(), "host": socket.gethostname(),
                           "since": datetime.datetime.now().isoformat(timespec="seconds")}, file)
            return
        raise RunDirectoryError(f"{self.path}: could not take the lock {path}; another process "
                                "keeps taking it; choose another --out")

    @contextlib.contextmanager
    def writing(self):
        """The block in which the run's files are written.

        On entry: the folder is created, the lock taken, the checks of the mode run
        again (another process may have written meanwhile), leftover temporary files
        removed, for "overwrite" the old run's files deleted, and the marker written.
        On exit, even by an exception, the lock is released.
        """
        if self.mode == "read":
            raise RunDirectoryError(f"{self.path} was opened for reading only")
        os.makedirs(self.path, exist_ok=True)
        self._take_lock()
        try:
            self._check_mode()
            for name in self._entries():
                if _is_temporary_file(name) or (self.mode == "overwrite" and name in RUN_FILES):
                    os.remove(self.file(name))
            if not os.path.exists(self.file(MARKER)):
                write_atomically(self.file(MARKER), lambda file: file.write(
                    b"This folder holds a minires training run (minires train).\n"))
            self._writing = True
            yield self
        finally:
            self._writing = False
            with contextlib.suppress(FileNotFoundError):
                os.remove(self.file(LOCK))

    def _check_writing(self, what):
        if not self._writing:
            raise RuntimeError(f"RunDirectory.{what}: write inside `with run_directory.writing():`, "
                               "after everything has been checked")

    # -- settings -----------------------------------------------------------------------

    def write_config(self, config: dict):
        self._check_writing("write_config")
        text = json.dumps(config, indent=2) + "\n"
        write_atomically(self.file("config.json"), lambda file: file.write(text.encode("utf-8")))

    def read_config(self) -> dict:
        """config.json as a dict; a RunFileError when it is not JSON or lacks its settings."""
        path = self.file("config.json")
        try:
            with open(path, encoding="utf-8") as file:
                config = json.load(file)
        except OSError as error:
            raise RunDirectoryError(f"cannot read {path}: {error.strerror}") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise RunFileError(f"{path} is damaged: not JSON ({error})") from None
        if not isinstance(config, dict) or not isinstance(config.get("settings"), dict):
            found = type(config.get("settings") if isinstance(config, dict) else config).__name__
            raise RunFileError(f"{path} is damaged: its field settings must be an object of "
                               f"settings (found {found})")
        return config

    # -- results ------------------------------------------------------------------------

    def write_metrics(self, history):
        """Writes the whole history, one JSON line per epoch (rewritten each epoch, so
        that a resumed run's file never holds epochs the checkpoint does not)."""
        self._check_writing("write_metrics")
        lines = "".join(json.dumps(record) + "\n" for record in history)
        write_atomically(self.file("metrics.jsonl"), lambda file: file.write(lines.encode("utf-8")))

    def read_metrics(self) -> list:
        """The history: one dict per epoch; a RunFileError names a damaged line."""
        path = self.file("metrics.jsonl")
        if not os.path.isfile(path):
            raise RunDirectoryError(f"{self.path} has no metrics.jsonl (no epoch finished there)")
        return _json_lines(path, ("epoch",), "an epoch's record (a JSON object with an integer epoch)")

    def write_curves(self, history, title=""):
        self._check_writing("write_curves")
        write_atomically(self.file("curves.png"), lambda file: plot_curves(history, file, title))

    def write_tracks(self, records, title=""):
        """Writes the --track records, one JSON line each, and draws them in tracks.png.

        The command writes them before the epoch's checkpoint: a run stopped between the
        two leaves records of an epoch the checkpoint does not hold, which
        :meth:`read_tracks` drops when the run resumes (never a gap).
        """
        self._check_writing("write_tracks")
        lines = "".join(json.dumps(record) + "\n" for record in records)
        write_atomically(self.file("tracks.jsonl"), lambda file: file.write(lines.encode("utf-8")))
        if records:
            write_atomically(self.file("tracks.png"), lambda file: plot_tracks(records, file, title))

    def read_tracks(self, last_epoch=None) -> list:
        """The --track records (one dict each), up to ``last_epoch`` when given; a
        RunFileError names a damaged line."""
        path = self.file("tracks.jsonl")
        if not os.path.isfile(path):
            raise RunFileError(f"{path} is missing: a run trained with --track writes it with every epoch")
        records = _json_lines(path, ("step", "epoch"), "a record (a JSON object with integer step and epoch)")
        return [record for record in records if last_epoch is None or record["epoch"] <= last_epoch]

    # -- checkpoint ---------------------------------------------------------------------

    def save_checkpoint(self, state):
        self._check_writing("save_checkpoint")
        save_checkpoint(self.file("checkpoint.npz"), state)

    def load_checkpoint(self):
        return load_checkpoint(self.file("checkpoint.npz"))


def _json_lines(path, integer_fields, expected) -> list:
    """The JSON objects of a .jsonl file, one per line (blank lines skipped); each must
    hold ``integer_fields`` as ints, or a RunFileError names the first damaged line."""
    records = []
    with open(path, encoding="utf-8", errors="replace") as file:
        for number, line in enumerate(file, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                record = None
            if not isinstance(record, dict) or not all(isinstance(record.get(field), int) and
                                                       not isinstance(record.get(field), bool)
                                                       for field in integer_fields):
                raise RunFileError(f"{path} is damaged: line {number} is not {expected}")
            records.append(record)
    return records
