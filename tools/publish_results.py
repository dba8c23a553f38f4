"""Copies a finished sweep's small files into results/<claim>/ and makes its report there.

    python tools/publish_results.py sweeps/degradation-cpu results/degradation

A sweep folder holds checkpoints and logs that do not belong in the repository. The
results folder keeps what `minires report` reads, and nothing else:

    sweep.json, sweep.toml, trials.jsonl
    trials/<trial>/config.json, metrics.jsonl, tracks.jsonl (where tracked)
    data.sha256        the sha256 of the data archive the trials trained on (sweep.json's
                       base data; --data names it when that path no longer leads to it)

and then `minires report RESULTS_DIR --out RESULTS_DIR` writes report.md, table.csv (and
tracks.csv) and the figures beside them, so that anyone can make the same numbers
again from the committed files (tests/test_results.py does, for every folder).

Each trial's config.json records the versions and the minires commit it ran (runs made
before minires recorded the commit show only the version). A sweep with a trial that
did not finish is refused: finish it (or re-run its failures) first.
"""

import argparse
import hashlib
import json
import os
import shutil
import sys

TRIAL_FILES = ("config.json", "metrics.jsonl", "tracks.jsonl")
SWEEP_FILES = ("sweep.json", "sweep.toml", "trials.jsonl")


def last_states(trials_jsonl) -> dict:
    """{trial id: its status on its last line}; lines cut short by a killed sweep are skipped."""
    states = {}
    with open(trials_jsonl, encoding="utf-8") as file:
        for line in file:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            states[record["trial"]] = record["status"]
    return states


def sha256_of(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def publish(sweep, out, data=None):
    """Copies ``sweep``'s small files into ``out`` (emptied of earlier copies first) and
    writes data.sha256; returns the number of trials copied."""
    for name in SWEEP_FILES:
        if not os.path.isfile(os.path.join(sweep, name)):
            sys.exit(f"{sweep} has no {name}: give a sweep folder written by minires sweep")
    states = last_states(os.path.join(sweep, "trials.jsonl"))
    unfinished = [f"{trial} ({status})" for trial, status in states.items() if status != "done"]
    if unfinished:
        sys.exit(f"{sweep}: {len(unfinished)} of {len(states)} trials are not done: {', '.join(unfinished)}; "
                 "finish the sweep (minires sweep CONFIG, or --retry-failed) before publishing it")
    with open(os.path.join(sweep, "sweep.json"), encoding="utf-8") as file:
        data = data or json.load(file)["base"].get("data")
    if not data or not os.path.isfile(data):
        sys.exit(f"the data archive {data!r} is not a file here; give it with --data PATH")
    os.makedirs(out, exist_ok=True)
    if os.path.isdir(os.path.join(out, "trials")):
        shutil.rmtree(os.path.join(out, "trials"))          # trials of an earlier copy
    for trial in states:
        os.makedirs(os.path.join(out, "trials", trial))
        for name in TRIAL_FILES:
            source = os.path.join(sweep, "trials", trial, name)
            if os.path.isfile(source):
                shutil.copyfile(source, os.path.join(out, "trials", trial, name))
    for name in SWEEP_FILES:
        shutil.copyfile(os.path.join(sweep, name), os.path.join(out, name))
    with open(os.path.join(out, "data.sha256"), "w", encoding="utf-8") as file:
        file.write(f"{sha256_of(data)}  {os.path.basename(data)}\n")      # as sha256sum writes it
    return len(states)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sweep", help="a finished sweep folder (sweeps/<name>-<scale>)")
    parser.add_argument("out", help="the results folder to write (results/<claim>)")
    parser.add_argument("--data", help="the data archive the trials trained on (default: sweep.json's)")
    arguments = parser.parse_args(argv)
    count = publish(arguments.sweep, arguments.out, arguments.data)
    from minires.cli import main as minires_main
    status = minires_main(["report", arguments.out, "--out", arguments.out])
    print(f"published {count} trials of {arguments.sweep} into {arguments.out}")
    return status


if __name__ == "__main__":
    sys.exit(main())
