"""``minires sweep CONFIG``: train every trial of a sweep config, resumably (minires.sweep).

The config (TOML) names a base recipe of ``minires train`` settings and a grid over any
of them; each trial is an ordinary run folder inside the sweep folder, and trials.jsonl
is the table of their results. Everything in the config is checked before the first
trial starts. Running the same command again skips the finished trials, resumes the
interrupted ones from their checkpoints and, with --retry-failed, runs the failed ones
again.

Exit status: 0 when every trial is done, 1 when some failed, 2 for a mistake in the
config or the options, 130 at Ctrl-C (each running trial keeps its checkpoint).
"""

import argparse
import contextlib
import os
import sys

from minires.cli.errors import CommandError
from minires.cli.train_command import check_data_exists, positive_int

EPILOG = """\
The config file:

  name = "plain-vs-residual"
  description = "Plain nets degrade with depth, residual nets do not."
  [base]                 # minires train settings of every trial (names as in config.json)
  data = "sample"
  epochs = 1
  [grid]                 # each a list of values; the trials are their product
  model = ["plain", "residual"]
  depth = [8, 14]
  seed = [0, 1]
  [resources]            # each trial's CPUs (its threads too) and GPUs; optional
  cpus = 1

(also [[grid]] tables, [scale.NAME] and [published]: see minires/sweep/__init__.py)

SWEEP_DIR/ holds sweep.json, sweep.toml (the config as run), trials.jsonl (the table:
one line per change of a trial's state, the last one wins), trials/<trial id>/ (each a
minires train run folder: minires plot and minires train --resume --out work on it) and
logs/<trial id>.log.

Trials run one after another (--jobs N: N at a time), each with [resources] cpus
threads and BLAS held to as many, so that a result does not depend on the machine.
Trainings share the cores: on 2 cores, two at once took 1.3-1.7x as long each as one
alone, and far longer (7-22x) where BLAS was left free to use every core; --jobs N
pays only where N x cpus cores are free (--jobs 2 with cpus = 1 on 2 cores: about the
throughput of one at a time with cpus = 2).
"""


def add_parser(commands):
    parser = commands.add_parser(
        "sweep", help="train every trial of a sweep config (a grid of train settings), resumably",
        description=__doc__.split("\n\n")[0], epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    add = parser.add_argument
    add("config", metavar="CONFIG", help="the sweep's TOML file")
    add("--scale", metavar="NAME", help="use the config's [scale.NAME] (its base overrides, its grid replaces)")
    add("--out", metavar="SWEEP_DIR", help="the sweep folder (default: sweeps/<name>[-<scale>])")
    add("--jobs", type=positive_int, default=1, metavar="N",
        help="trials at a time on this machine (default: 1; see below)")
    add("--ray", metavar="ADDRESS",
        help="run each trial as a task of a Ray cluster: auto (the cluster this machine belongs to), "
             "local (start one here), or an address; needs the cluster extra")
    add("--set", dest="overrides", action="append", default=[], metavar="SETTING=VALUE",
        help="replace a base setting for every trial, e.g. --set data=cifar10-jpeg.tar.gz (repeatable; "
             "recorded in sweep.json, so a re-run must give the same)")
    add("--dry-run", action="store_true", help="list the trials and what would run, then exit")
    add("--retry-failed", action="store_true", help="run the trials that failed before again")
    add("--no-progress", dest="progress", action="store_false", help="no progress bar")
    parser.set_defaults(run=run)


def run(arguments):
    # minires.sweep reads minires train's settings from minires.cli, which imports this
    # module: imported here, when the command runs, not when minires.cli loads.
    import minires
    from minires.sweep import load_config
    from minires.sweep.config import parse_override
    from minires.sweep.folder import SweepFolder
    from minires.sweep.runner import Recorder, plan, run_local

    if arguments.ray is not None and arguments.jobs != 1:
        raise CommandError("--jobs sets how many trials run at once on this machine; with --ray, "
                           "Ray decides from the cluster's free CPUs and GPUs: leave --jobs out")
    sweep = load_config(arguments.config, arguments.scale, dict(map(parse_override, arguments.overrides)))
    folder = SweepFolder(arguments.out or sweep.default_out())
    folder.check_same_sweep(sweep)
    trials = sweep.trials()
    records = folder.last_records()
    to_run, done_before, failed_before = plan(trials, records, arguments.retry_failed)
    if arguments.dry_run:
        _list_trials(sweep, folder, trials, records, to_run)
        return 0
    if arguments.ray is None:
        for data in dict.fromkeys(sweep.settings(settings).get("data", "sample") for _, settings in trials):
            check_data_exists(data)
        _warn_if_crowded(arguments.jobs, sweep.cpus)
        session = contextlib.nullcontext()
    else:
        from minires.sweep.ray_runner import ray_session       # imports Ray: only with --ray
        session = ray_session(arguments.ray)

    with session, folder.locked():
        folder.write_description(sweep, minires.__version__)
        if arguments.ray is not None:
            where = f"on Ray ({arguments.ray})"
        else:
            where = f"{arguments.jobs} at a time" if arguments.jobs > 1 else "one at a time"
        print(f"sweep {sweep.name}: {len(trials)} trials, {len(to_run)} to run {where} with {sweep.cpus} "
              f"thread(s) each, {len(done_before)} done before; writing to {folder.path}")
        for trial_id in failed_before:
            print(f"  {trial_id} failed before (--retry-failed runs it again): {records[trial_id]['error']}")
        recorder = Recorder(folder, trials, records, arguments.progress)
        recorder.skip(done_before + failed_before)
        try:
            if arguments.ray is not None:
                from minires.sweep.ray_runner import run_on_ray
                run_on_ray(sweep, folder, to_run, recorder)
            else:
                run_local(sweep, folder, to_run, recorder, arguments.jobs)
        except KeyboardInterrupt:
            recorder.close()
            print("minires: interrupted; each running trial keeps its last finished epoch's checkpoint "
                  "(trials.jsonl says interrupted); run the same command again to continue", file=sys.stderr)
            return 130
        recorder.close()
    statuses = [recorder.records.get(trial_id, {}).get("status") for trial_id, _ in trials]
    failed, other = statuses.count("failed"), len(statuses) - statuses.count("done") - statuses.count("failed")
    print(f"sweep {sweep.name}: {recorder.counts['done']} done, {failed} failed, {len(done_before)} skipped "
          f"(done before)" + (f", {other} interrupted" if other else "") + f"; {folder.path}"
          + (" (--retry-failed runs the failed ones again)" if failed else ""))
    return 0 if statuses.count("done") == len(statuses) else 1


def _list_trials(sweep, folder, trials, records, to_run):
    """--dry-run: each trial, what would happen to it, and its minires train options."""
    from minires.sweep.attempts import mode_of
    from minires.sweep.train_arguments import train_arguments

    will_run = {trial_id for trial_id, _ in to_run}
    print(f"sweep {sweep.name}" + (f" at scale {sweep.scale}" if sweep.scale else "") +
          f": {len(trials)} trials, {len(to_run)} to run, in {folder.path}")
    for number, (trial_id, settings) in enumerate(trials, start=1):
        status = records.get(trial_id, {}).get("status")
        if trial_id not in will_run:
            what = f"{status}, skipped"
        else:
            what = {"new": "new", "resume": "resume", "overwrite": "start again"}[
                mode_of(folder.trial_folder(trial_id))]
        print(f"{number:>4}/{len(trials)}  {trial_id}  [{what}]  minires train "
              f"{' '.join(train_arguments(sweep.settings(settings)))}")


def _warn_if_crowded(jobs, cpus):
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    if jobs * cpus > cores:
        print(f"minires: warning: --jobs {jobs} with {cpus} thread(s) per trial asks for {jobs * cpus} cores; "
              f"this machine gives {cores}: each trial will run slower", file=sys.stderr)
