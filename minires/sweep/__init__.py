"""Sweeps: many ``minires train`` runs from one config file, resumable, on one machine or a Ray cluster.

The config file (TOML; read with tomllib, or tomli before Python 3.11):

    name = "plain-vs-residual"            # names the sweep folder (default: the file's name)
    description = "Plain nets degrade with depth, residual nets do not."   # the claim
    [base]                 # settings of `minires train` (names as in a run's config.json
    data = "sample"        # "settings"), the same for every trial
    epochs = 1
    [grid]                 # each key a list of values; the trials are their cartesian product
    model = ["plain", "residual"]
    depth = [8, 14]
    seed = [0, 1]
    # or several [[grid]] tables: the trials are the union of their products (e.g. an
    # option that applies to one model only); a trial in two of them runs once
    [resources]            # what each trial declares; optional
    cpus = 1               # its threads (minires.fast.set_num_threads), and the CPUs it asks Ray for
    gpus = 0               # the GPUs it asks Ray for
    [scale.cpu]            # optional named scales (`--scale cpu`): [scale.cpu.base] overrides
                           # base, [scale.cpu.grid] replaces grid, [scale.cpu.resources] overrides resources
    [published]            # optional; copied into sweep.json for `minires report`
    citation = "He, Zhang, Ren, Sun (2016), Deep Residual Learning for Image Recognition, Table 6"
    metric = "test_error"
    rows = [{model = "plain", depth = 20, test_error = 0.0875}]

Every trial's settings are checked as ``minires train`` checks its options, before any
trial starts. A trial's id is its grid values, ``model=plain,depth=8,seed=0``, and
names its run folder. Why every trial runs with a fixed thread count: trial_process.py.

    config.py            load_config: reading and checking a config; Sweep and its trials()
    train_arguments.py   the minires train options that give a trial its settings
    folder.py            the sweep folder: sweep.json, the trials table, the lock
    attempts.py          one attempt at a trial: minires train in a child process
    trial_process.py     that child: minires train with a fixed thread count
    runner.py            which trials run; running them here, one or --jobs N at a time
    ray_runner.py        running them as tasks of a Ray cluster (--ray)

The command is minires/cli/sweep_command.py.
"""

from minires.sweep.config import Sweep, load_config, trial_id

__all__ = ["Sweep", "load_config", "trial_id"]
