"""Reading a sweep folder, the one ``minires sweep CONFIG`` writes:

    SWEEP_DIR/
        sweep.json        the sweep's name, its varied settings (grid_keys), its base
                          settings, the published numbers of its config, the minires version
        trials.jsonl      one JSON line per change of a trial's state; a trial's last line wins
        trials/<trial>/   an ordinary run folder of minires train (config.json, metrics.jsonl, ...)
        logs/<trial>.log

Only these small files are read, never a checkpoint, so that a report can be made again
from what is committed. A damaged file is refused, naming the file, the line and what is
wrong (:class:`~minires.run_directory.RunFileError`); a folder that is not a sweep gives
a :class:`~minires.run_directory.RunDirectoryError`.
"""

import json
import math
import os
from dataclasses import dataclass, field

from minires.run_directory import RunDirectory, RunDirectoryError, RunFileError

STATUSES = ("running", "done", "failed", "interrupted")
# What a report can average over seeds; each is a fraction of the images, as in metrics.jsonl.
METRICS = {
    "test_error": "final test error",            # after the last epoch
    "best_test_error": "best test error",        # the lowest over the epochs
    "train_error": "final train error",          # over the last epoch's batches, while training
}


@dataclass
class Trial:
    """One trial of a sweep, as its last line in trials.jsonl leaves it."""
    trial: str                   # its id, also the name of its folder under trials/
    settings: dict               # the grid values of this trial
    status: str                  # one of STATUSES
    final: dict | None           # the last epoch's losses and errors (for "done")
    best: dict | None            # the epoch of the lowest test error, and that error
    error: str | None            # why it failed or stopped
    versions: dict               # of minires, NumPy, ... that ran it
    line: int                    # the line of trials.jsonl that holds this state
    wall_seconds: float = 0.0    # the wall time of its training (a resumed trial's attempts added up)


@dataclass
class Sweep:
    """A sweep folder's sweep.json and trials, in the order trials.jsonl first names them."""
    path: str
    info: dict                   # sweep.json
    trials: list = field(default_factory=list)
    cut_lines: list = field(default_factory=list)    # numbers of trials.jsonl lines cut short

    @property
    def grid_keys(self) -> list:
        return self.info["grid_keys"]

    @property
    def base(self) -> dict:
        return self.info["base"]

    @property
    def published(self):
        return self.info.get("published")

    def trial_folder(self, trial) -> RunDirectory:
        return RunDirectory(os.path.join(self.path, "trials", trial.trial), mode="read")


def read_sweep(path) -> Sweep:
    """sweep.json and trials.jsonl of the sweep folder ``path``, checked."""
    path = os.fspath(path)
    if not os.path.isdir(path):
        what = "is a file, not a folder" if os.path.exists(path) else "does not exist"
        raise RunDirectoryError(f"{path} {what}; give a sweep folder written by minires sweep")
    info_path = os.path.join(path, "sweep.json")
    if not os.path.isfile(info_path):
        hint = (" (it is a run folder of minires train: compare runs with minires plot)"
                if os.path.isfile(os.path.join(path, "config.json")) else "")
        raise RunDirectoryError(f"{path} is not a sweep folder: it has no sweep.json{hint}; "
                                "give a folder written by minires sweep")
    sweep = Sweep(path, _read_info(info_path))
    sweep.trials, sweep.cut_lines = _read_trials(os.path.join(path, "trials.jsonl"))
    return sweep


def _read_info(path) -> dict:
    info = _read_json(path)
    if not isinstance(info, dict):
        raise RunFileError(f"{path} is damaged: it must hold a JSON object (found {type(info).__name__})")
    grid_keys = info.get("grid_keys")
    if not isinstance(grid_keys, list) or not all(isinstance(key, str) for key in grid_keys):
        raise RunFileError(f"{path} is damaged: its field grid_keys must be a list of setting names")
    if not isinstance(info.get("base", {}), dict):
        raise RunFileError(f"{path} is damaged: its field base must be an object of settings")
    info.setdefault("base", {})
    if info.get("published") is not None:
        _check_published(info["published"], path)
    return info


def _check_published(published, path):
    """The config's [published] table: a citation, a metric, and rows of settings and a number."""
    where = f"{path}: its published table (the config's [published])"
    if not isinstance(published, dict) or not isinstance(published.get("rows"), list):
        raise RunFileError(f"{where} must have a list of rows ([[published.rows]] tables), each "
                           "some settings and the paper's number")
    metric = published.setdefault("metric", "test_error")
    if metric not in METRICS:
        raise RunFileError(f"{where} names the metric {metric!r}; a report knows {', '.join(METRICS)}")
    for number, row in enumerate(published["rows"], start=1):
        value = row.get(metric, "fail") if isinstance(row, dict) else None
        if not isinstance(row, dict) or not (value in (None, "fail") or _is_finite_number(value)):
            raise RunFileError(f"{where}: row {number} must be an object of settings and {metric}: a "
                               f"fraction, \"fail\" or null (found {row!r})")


def _read_json(path):
    try:
        with open(path, encoding="utf-8") as file:
            return json.load(file)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise RunFileError(f"{path} is damaged: not JSON ({error})") from None


def _read_trials(path) -> tuple:
    """The trials of trials.jsonl, each in the state of its last line, in first-seen order,
    and the numbers of the lines that are not JSON.

    A sweep killed while it appended a line leaves that line cut short, and the next line
    starts on a line of its own (minires.sweep.folder); such a line is skipped, as the
    sweep itself skips it, and the report names it. A line that is JSON but not a trial's
    record is damage, and refused.
    """
    if not os.path.isfile(path):
        raise RunFileError(f"{path} is missing: minires sweep writes it when the sweep starts "
                           "(was the sweep started here, and is the file still there?)")
    trials, cut_lines = {}, []
    with open(path, encoding="utf-8", errors="replace") as file:
        for number, line in enumerate(file, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                cut_lines.append(number)
                continue
            trial = _trial_from_record(record, number, path)
            trials[trial.trial] = trial              # a dict keeps the order of the first line
    return list(trials.values()), cut_lines


def _trial_from_record(record, number, path) -> Trial:
    where = f"{path} is damaged: line {number}"
    if not isinstance(record, dict):
        raise RunFileError(f"{where} is not a JSON object (found {type(record).__name__})")
    trial = record.get("trial")
    if not isinstance(trial, str) or trial in ("", ".", "..") or "/" in trial or "\\" in trial:
        raise RunFileError(f"{where} has no trial id (the name of a folder under trials/); found {trial!r}")
    if record.get("status") not in STATUSES:
        raise RunFileError(f"{where}: trial {trial} has the status {record.get('status')!r}; "
                           f"expected one of {', '.join(STATUSES)}")
    for name in ("settings", "final", "best", "versions"):
        if record.get(name) is not None and not isinstance(record[name], dict):
            raise RunFileError(f"{where}: the field {name} of trial {trial} must be an object or null")
    if not isinstance(record.get("settings"), dict):
        raise RunFileError(f"{where}: trial {trial} has no settings (an object of its grid values)")
    if record["status"] == "done":
        final = record.get("final") or {}
        for name in ("train_error", "test_error"):
            if not _is_finite_number(final.get(name)):
                raise RunFileError(f"{where}: trial {trial} is done, but its final {name} is "
                                   f"{final.get(name)!r}, not a number")
        if record.get("best") is not None and not _is_finite_number(record["best"].get("test_error")):
            raise RunFileError(f"{where}: trial {trial} has a best record without a numeric test_error")
    wall_seconds = record.get("wall_seconds") or 0.0
    if not _is_finite_number(wall_seconds) or wall_seconds < 0:
        raise RunFileError(f"{where}: trial {trial} has the wall_seconds {wall_seconds!r}, not a number of seconds")
    error = record.get("error")
    return Trial(trial, record["settings"], record["status"], record.get("final"), record.get("best"),
                 None if error is None else str(error), record.get("versions") or {}, number, wall_seconds)


def _is_finite_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def read_history(sweep, trial) -> tuple:
    """A done trial's (settings, history): config.json's settings and metrics.jsonl's epochs.

    The epochs give the curves and, when trials.jsonl holds no best record, the best test
    error; a done trial without them is a damaged sweep.
    """
    folder = os.path.join(sweep.path, "trials", trial.trial)
    if not os.path.isdir(folder):
        raise RunFileError(f"trial {trial.trial} is done (trials.jsonl line {trial.line}), but its "
                           f"run folder {folder} is missing")
    try:
        run_directory = sweep.trial_folder(trial)
        history = run_directory.read_metrics()
    except RunFileError:
        raise
    except RunDirectoryError as error:       # no config.json or no metrics.jsonl: the sweep lost them
        raise RunFileError(f"trial {trial.trial} is done, but {error}") from None
    for number, record in enumerate(history, start=1):
        for name in ("train_error", "test_error"):
            if not _is_finite_number(record.get(name)):
                raise RunFileError(f"{run_directory.file('metrics.jsonl')} is damaged: line {number} "
                                   f"has no numeric {name}")
    if not history:
        raise RunFileError(f"trial {trial.trial} is done, but {run_directory.file('metrics.jsonl')} "
                           "holds no epoch")
    return run_directory.read_config()["settings"], history
