"""A sweep's folder: what was run, the table of its trials, and one run folder per trial.

    SWEEP_DIR/
      sweep.json          name, description, config_file, scale, grid_keys, base, published,
                          resources, created, minires (the version)
      sweep.toml          the config as it was last run
      trials.jsonl        the trials table: one JSON line per state change of a trial
      trials/<trial id>/  an ordinary `minires train` run folder
      logs/<trial id>.log what each attempt at the trial printed, attempt after attempt
      .minires-sweep-lock while a sweep runs here: its process id and host

The table is append-only, and the last line of a trial wins: a line is written when a
trial starts ("running") and when it ends ("done", "failed" or "interrupted"). Only the
sweep's own process writes it, one whole line per write; a line cut short by a killed
process is skipped when the table is read, and the next line starts on a line of its own.
"""

import contextlib
import datetime
import json
import os
import socket

from minires.checkpoint import write_atomically
from minires.cli.errors import CommandError
from minires.run_directory import RunDirectory, RunDirectoryError, process_alive

TABLE = "trials.jsonl"
LOCK = ".minires-sweep-lock"
RESULT_FIELDS = ("epoch", "train_loss", "train_error", "test_loss", "test_error")
STATUSES = ("running", "done", "failed", "interrupted")


def now() -> str:
    return datetime.datetime.now().isoformat(timespec="seconds")


class SweepFolder:
    """The folder of one sweep (see the module docstring). Making one writes nothing."""

    def __init__(self, path):
        self.path = os.fspath(path)
        if os.path.exists(self.path) and not os.path.isdir(self.path):
            raise CommandError(f"{self.path} is a file, not a folder; choose another --out")

    def file(self, name) -> str:
        return os.path.join(self.path, name)

    def trial_folder(self, trial_id) -> str:
        return os.path.join(self.path, "trials", trial_id)

    def log_path(self, trial_id) -> str:
        return os.path.join(self.path, "logs", trial_id + ".log")

    # -- what was run ---------------------------------------------------------------------

    def read_description(self):
        """sweep.json as a dict, or None when this folder holds no sweep yet."""
        path = self.file("sweep.json")
        if not os.path.isfile(path):
            return None
        try:
            with open(path, encoding="utf-8") as file:
                return json.load(file)
        except (OSError, ValueError) as error:
            raise CommandError(f"{path} cannot be read ({error}); choose another --out") from None

    def check_same_sweep(self, sweep):
        """A folder that holds a sweep must hold this one: the same scale and base recipe.

        Its grid may grow (new trials run, finished ones are skipped), but a trial whose
        recipe changed would no longer be the trial its results describe.
        """
        description = self.read_description()
        if description is None:
            return
        base = description.get("base", {})
        changed = [key for key in sorted(set(base) | set(sweep.base)) if base.get(key) != sweep.base.get(key)]
        if description.get("scale") != sweep.scale:
            what = f"scale {description.get('scale')!r}, now {sweep.scale!r}"
        else:
            what = "; ".join(f"{key} was {base.get(key)!r}, now {sweep.base.get(key)!r}" for key in changed)
        if description.get("scale") != sweep.scale or changed:
            raise CommandError(f"{self.path} holds a sweep with another recipe ({what}); its finished "
                               "trials would not be this config's: choose another --out")

    def write_description(self, sweep, version):
        description = self.read_description() or {}
        record = {"name": sweep.name, "description": sweep.description, "config_file": sweep.config_file,
                  "scale": sweep.scale, "grid_keys": sweep.grid_keys, "base": sweep.base,
                  "published": sweep.published, "resources": {"cpus": sweep.cpus, "gpus": sweep.gpus},
                  "created": description.get("created", now()), "minires": version}
        os.makedirs(self.path, exist_ok=True)
        text = json.dumps(record, indent=2, default=str) + "\n"      # a TOML date in [published]: text
        write_atomically(self.file("sweep.json"), lambda file: file.write(text.encode("utf-8")))
        write_atomically(self.file("sweep.toml"), lambda file: file.write(sweep.text.encode("utf-8")))

    # -- the trials table -----------------------------------------------------------------

    def last_records(self) -> dict:
        """{trial id: its last line in trials.jsonl} ({} before the first trial)."""
        records = {}
        path = self.file(TABLE)
        if not os.path.isfile(path):
            return records
        with open(path, encoding="utf-8", errors="replace") as file:
            for line in file:
                try:
                    record = json.loads(line)
                except ValueError:
                    continue                   # cut short by a killed process
                if isinstance(record, dict) and isinstance(record.get("trial"), str):
                    records[record["trial"]] = record
        return records

    def append(self, record):
        """Appends one line to trials.jsonl, on a line of its own, flushed to the disk."""
        assert record["status"] in STATUSES, record["status"]
        path = self.file(TABLE)
        with open(path, "a+b") as file:
            file.seek(0, os.SEEK_END)
            if file.tell() > 0:
                file.seek(-1, os.SEEK_END)
                if file.read(1) != b"\n":       # the last line was cut short
                    file.write(b"\n")
            file.write((json.dumps(record) + "\n").encode("utf-8"))
            file.flush()
            os.fsync(file.fileno())

    # -- one writer at a time -------------------------------------------------------------

    @contextlib.contextmanager
    def locked(self):
        """The block in which this process alone runs the sweep (a lock file with its id)."""
        os.makedirs(self.path, exist_ok=True)
        path = self.file(LOCK)
        for _ in range(3):
            try:
                handle = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
                break
            except FileExistsError:
                self._check_lock_stale(path)
                with contextlib.suppress(FileNotFoundError):
                    os.remove(path)             # its owner is dead
        else:
            raise CommandError(f"{self.path}: could not take the lock {path}; choose another --out")
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            json.dump({"pid": os.getpid(), "host": socket.gethostname(), "since": now()}, file)
        try:
            yield self
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.remove(path)

    def _check_lock_stale(self, path):
        """Raises when the lock's owner may be alive (or lives on another machine)."""
        try:
            with open(path, encoding="utf-8") as file:
                lock = json.load(file)
            pid, host = int(lock["pid"]), lock.get("host")
        except FileNotFoundError:
            return
        except (OSError, ValueError, TypeError, KeyError):
            return                              # unreadable: a crash's leftover
        if host == socket.gethostname() and not process_alive(pid):
            return
        raise CommandError(f"{self.path} is in use by another minires sweep (process {pid} on {host}); "
                           f"wait until it ends, or delete {path} if no sweep runs there any more")


# -- a trial's results, from its run folder ---------------------------------------------------

def results_of(run_folder) -> tuple:
    """(final, best) of a finished run: its last epoch's losses and errors, and the epoch
    with the lowest test error (the first such). Raises RunDirectoryError without metrics."""
    run = RunDirectory(run_folder, "read")
    history = run.read_metrics()
    if not history:
        raise RunDirectoryError(f"{run.file('metrics.jsonl')} holds no epoch")
    final = {field: history[-1].get(field) for field in RESULT_FIELDS}
    best = min(history, key=lambda record: record["test_error"])
    return final, {"epoch": best["epoch"], "test_error": best["test_error"]}


def versions_of(run_folder):
    """The versions a run recorded in its config.json, or None when it has none."""
    try:
        return RunDirectory(run_folder, "read").read_config().get("versions")
    except RunDirectoryError:
        return None
