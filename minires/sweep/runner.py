"""Running a sweep's trials on this machine, and keeping the table while they run.

Which trials run (:func:`plan`): a trial whose last line in the table says "done" is
skipped; "failed" is skipped unless --retry-failed; any other ("running" or
"interrupted": a sweep stopped while it ran, or no line yet) runs, resuming from its
checkpoint where it has one (attempts.py).

:func:`run_local` runs them ``jobs`` at a time, each in its own process with the
sweep's ``cpus`` threads, and BLAS held to as many (attempts.trial_environment).
Trainings share the cores: measured on 2 cores (a ResNet-20 epoch on 1,024 sample
images), one alone took 6.8 s with 1 thread and 6.0 s with 2; two at once with 1
thread each took 10.9 and 11.4 s each, about the throughput of one at a time with 2;
two plain ``minires train`` at once (2 threads each) took 1.7x as long each. Far worse
is a training whose BLAS is left free to use every core while minires's kernels run
on one thread: 7x as long alone and 22x with two at once (a small net, 2,048 images),
which is why a trial's BLAS is held. So ``--jobs N`` pays only where N x cpus cores
are free. Ctrl-C interrupts every running trial once (each keeps its last checkpoint),
records them as "interrupted", and ends the sweep; a second Ctrl-C stops them at once
(SIGKILL).
"""

import time
from collections import deque

from tqdm import tqdm

from minires.cli.info_command import installed_versions
from minires.sweep.attempts import Attempt, outcome
from minires.sweep.folder import now, versions_of
from minires.sweep.train_arguments import train_arguments

POLL_SECONDS = 0.05


def plan(trials, records, retry_failed) -> tuple:
    """(the trials to run, the ones done before, the ones that failed before and stay so)."""
    to_run, done_before, failed_before = [], [], []
    for trial_id, settings in trials:
        status = records.get(trial_id, {}).get("status")
        if status == "done":
            done_before.append(trial_id)
        elif status == "failed" and not retry_failed:
            failed_before.append(trial_id)
        else:
            to_run.append((trial_id, settings))
    return to_run, done_before, failed_before


class Recorder:
    """Writes the table's lines, shows the progress over trials, and counts the outcomes."""

    def __init__(self, folder, trials, records, progress=True):
        self.folder = folder
        self.records = dict(records)                 # the last line of each trial so far
        self.numbers = {trial_id: number for number, (trial_id, _) in enumerate(trials, start=1)}
        self.total = len(trials)
        self.counts = {"done": 0, "failed": 0, "interrupted": 0}
        self.bar = tqdm(total=self.total, unit="trial", disable=not progress, dynamic_ncols=True)

    def skip(self, trial_ids):
        """Trials not run now (done, or failed and not retried): counted as finished."""
        self.bar.update(len(trial_ids))

    def running(self, trial_id, settings):
        previous = self.records.get(trial_id, {})
        self._append({"trial": trial_id, "settings": settings, "status": "running", "final": None,
                      "best": None, "wall_seconds": previous.get("wall_seconds", 0.0), "started": now(),
                      "finished": None, "versions": installed_versions(), "error": None})
        self.bar.set_postfix_str(f"trial {self.numbers[trial_id]}/{self.total} {trial_id}: running")

    def ended(self, trial_id, settings, result, mode, seconds, started, versions):
        """The line of an attempt that ended (``result`` from attempts.outcome)."""
        previous = self.records.get(trial_id, {})
        # the wall time of the training these results come from: a resumed one adds up
        wall_seconds = seconds + ((previous.get("wall_seconds") or 0.0) if mode == "resume" else 0.0)
        self._append({"trial": trial_id, "settings": settings, "status": result["status"],
                      "final": result["final"], "best": result["best"], "wall_seconds": wall_seconds,
                      "started": started, "finished": now(), "versions": versions, "error": result["error"]})
        self.counts[result["status"]] += 1
        self.bar.set_postfix_str(f"trial {self.numbers[trial_id]}/{self.total} {trial_id}: {result['status']}",
                                 refresh=False)
        if result["status"] != "interrupted":
            self.bar.update(1)
        self.bar.write(f"[{self.numbers[trial_id]}/{self.total}] {trial_id}: {_described(result)} "
                       f"({seconds:.1f} s)")

    def ended_unseen(self, trial_id, settings, status, error=None):
        """The line of a trial whose attempt sent nothing back (interrupted before its result
        came, or lost with its Ray worker); its wall time stays what it was."""
        previous = self.records.get(trial_id, {})
        result = {"status": status, "final": None, "best": None, "error": error}
        self._append({"trial": trial_id, "settings": settings, "status": status, "final": None, "best": None,
                      "wall_seconds": previous.get("wall_seconds", 0.0), "started": previous.get("started", now()),
                      "finished": now(), "versions": installed_versions(), "error": error})
        self.counts[status] += 1
        if status != "interrupted":
            self.bar.update(1)
        self.bar.write(f"[{self.numbers[trial_id]}/{self.total}] {trial_id}: "
                       + ("interrupted" if status == "interrupted" else _described(result)))

    def _append(self, record):
        self.folder.append(record)
        self.records[record["trial"]] = record

    def close(self):
        self.bar.close()


def _described(result) -> str:
    if result["status"] == "done":
        final, best = result["final"], result["best"]
        return (f"done, test error {final['test_error']:.4f} after epoch {final['epoch']} "
                f"(best {best['test_error']:.4f}, epoch {best['epoch']})")
    if result["status"] == "failed":
        return f"FAILED: {result['error']}"
    return "interrupted (the same command continues it, from its checkpoint if it made one)"


def run_local(sweep, folder, to_run, recorder, jobs=1):
    """Runs ``to_run`` ([(trial id, grid values)]) ``jobs`` at a time, recording each."""
    queue = deque(to_run)
    running = {}                                     # trial id -> (Attempt, grid values)
    try:
        while queue or running:
            while queue and len(running) < jobs:
                trial_id, settings = queue.popleft()
                attempt = Attempt(train_arguments(sweep.settings(settings)), folder.trial_folder(trial_id),
                                  folder.log_path(trial_id), sweep.cpus)
                running[trial_id] = (attempt, settings)
                recorder.running(trial_id, settings)
            for trial_id in _wait_for_any(running):
                attempt, settings = running.pop(trial_id)
                _record(recorder, folder, trial_id, settings, attempt)
    except KeyboardInterrupt:
        _stop([attempt for attempt, _ in running.values()])
        for trial_id, (attempt, settings) in running.items():
            _record(recorder, folder, trial_id, settings, attempt)
        raise


def _wait_for_any(running) -> list:
    """The ids of the trials whose process has ended, once one has."""
    while True:
        ended = [trial_id for trial_id, (attempt, _) in running.items() if attempt.process.poll() is not None]
        if ended:
            return ended
        time.sleep(POLL_SECONDS)


def _stop(attempts):
    """Interrupts each attempt once and waits for them; a second Ctrl-C kills them."""
    for attempt in attempts:
        attempt.interrupt()
    while True:
        try:
            for attempt in attempts:
                attempt.process.wait()
            return
        except KeyboardInterrupt:
            for attempt in attempts:
                attempt.process.kill()


def _record(recorder, folder, trial_id, settings, attempt):
    returncode, seconds, log_text = attempt.finish()
    run_folder = folder.trial_folder(trial_id)
    recorder.ended(trial_id, settings, outcome(run_folder, returncode, log_text), attempt.mode, seconds,
                   attempt.started, versions_of(run_folder) or installed_versions())
