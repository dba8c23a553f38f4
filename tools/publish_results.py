"""Copies a finished sweep's small files into results/<claim>/ and makes its report there.

    python tools/publish_results.py sweeps/degradation-cpu results/degradation

A sweep folder holds checkpoints and logs that do not belong in the repository. The
results folder keeps what `minires report` reads, and nothing else:

    sweep.json, sweep.toml, trials.jsonl
    trials/<trial>/config.json, metrics.jsonl, tracks.jsonl (where tracked)
    logs/<trial>.log   only for a failed trial kept with --keep-failed (see below)
    data.sha256        the sha256 of the data archive the trials trained on (sweep.json's
                       base data; --data names it when that path no longer leads to it)

and then `minires report RESULTS_DIR --out RESULTS_DIR` writes report.md, table.csv (and
tracks.csv) and the figures beside them, so that anyone can make the same numbers
again from the committed files (tests/test_results.py does, for every folder).

Each trial's config.json records the versions and the minires commit it ran (runs made
before minires recorded the commit show only the version). A sweep with a trial that
did not finish is refused: finish it (or re-run its failures) first. A trial that failed
for a reason that is itself the result (a net whose loss became NaN at its second step
fails again the same way on every retry) is kept with --keep-failed: its record stays in
trials.jsonl with its error, its log is copied to logs/<trial>.log, and the report lists
it among the trials left out of the means. Running and interrupted trials are refused
even so.
"""

import argparse
import hashlib
import os
import shutil
import sys

from minires.cli import main as minires_main
from minires.report.sweep_folder import read_sweep
from minires.run_directory import RunDirectoryError, RunFileError

TRIAL_FILES = ("config.json", "metrics.jsonl", "tracks.jsonl")
SWEEP_FILES = ("sweep.json", "sweep.toml", "trials.jsonl")


def sha256_of(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def publish(sweep, out, data=None, keep_failed=False):
    """Copies ``sweep``'s small files into ``out`` (emptied of earlier copies first) and
    writes data.sha256; returns the number of trials copied. With ``keep_failed``, failed
    trials are published too, each with its log."""
    if not os.path.isfile(os.path.join(sweep, "sweep.toml")):
        sys.exit(f"{sweep} has no sweep.toml: give a sweep folder written by minires sweep")
    try:
        finished = read_sweep(sweep)             # sweep.json and trials.jsonl, checked; a trial's last line wins
    except (RunDirectoryError, RunFileError) as error:
        sys.exit(str(error))
    published_statuses = ("done", "failed") if keep_failed else ("done",)
    unfinished = [f"{trial.trial} ({trial.status})" for trial in finished.trials
                  if trial.status not in published_statuses]
    if unfinished:
        sys.exit(f"{sweep}: {len(unfinished)} of {len(finished.trials)} trials are not done: "
                 f"{', '.join(unfinished)}; finish the sweep (minires sweep CONFIG, or --retry-failed) "
                 "before publishing it" + ("" if keep_failed else ", or keep its failed trials with --keep-failed"))
    failed = [trial.trial for trial in finished.trials if trial.status == "failed"]
    missing_logs = [trial for trial in failed if not os.path.isfile(os.path.join(sweep, "logs", f"{trial}.log"))]
    if missing_logs:
        sys.exit(f"{sweep}: the failed trial(s) {', '.join(missing_logs)} have no log in {sweep}/logs; "
                 "a failed trial is published with the log that shows why it failed")
    data = data or finished.base.get("data")
    if not data or not os.path.isfile(data):
        sys.exit(f"the data archive {data!r} is not a file here; give it with --data PATH")
    os.makedirs(out, exist_ok=True)
    for folder in ("trials", "logs"):                       # an earlier copy's
        if os.path.isdir(os.path.join(out, folder)):
            shutil.rmtree(os.path.join(out, folder))
    for trial in finished.trials:
        for name in TRIAL_FILES:                # a trial that failed at once may have none of them
            source = os.path.join(sweep, "trials", trial.trial, name)
            if os.path.isfile(source):
                os.makedirs(os.path.join(out, "trials", trial.trial), exist_ok=True)
                shutil.copyfile(source, os.path.join(out, "trials", trial.trial, name))
    for trial in failed:
        os.makedirs(os.path.join(out, "logs"), exist_ok=True)
        shutil.copyfile(os.path.join(sweep, "logs", f"{trial}.log"), os.path.join(out, "logs", f"{trial}.log"))
    for name in SWEEP_FILES:
        shutil.copyfile(os.path.join(sweep, name), os.path.join(out, name))
    with open(os.path.join(out, "data.sha256"), "w", encoding="utf-8") as file:
        file.write(f"{sha256_of(data)}  {os.path.basename(data)}\n")      # as sha256sum writes it
    return len(finished.trials)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sweep", help="a finished sweep folder (sweeps/<name>-<scale>)")
    parser.add_argument("out", help="the results folder to write (results/<claim>)")
    parser.add_argument("--data", help="the data archive the trials trained on (default: sweep.json's)")
    parser.add_argument("--keep-failed", action="store_true",
                        help="publish failed trials too, with their logs (for a failure that is the result, "
                             "such as a loss that became NaN)")
    arguments = parser.parse_args(argv)
    count = publish(arguments.sweep, arguments.out, arguments.data, arguments.keep_failed)
    status = minires_main(["report", arguments.out, "--out", arguments.out])
    print(f"published {count} trials of {arguments.sweep} into {arguments.out}")
    return status


if __name__ == "__main__":
    sys.exit(main())
