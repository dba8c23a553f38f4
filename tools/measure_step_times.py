"""Measures how long one training step and one test batch take for every net that the
``cpu`` scale of the configs in experiments/ trains, and estimates each config's time.

    python tools/measure_step_times.py            # measure, write experiments/cpu_step_times.json
    python tools/measure_step_times.py --check    # only print the estimates from that file

The estimate of a trial is

    epochs * (train batches * train step + test batches * test batch) + TRIAL_OVERHEAD_SECONDS

with the batches counted from its subsets (CIFAR-10: 50,000 training and 10,000 test
images), and the step times measured here on random images of CIFAR-10's shape, with the
process's default thread count (one per core, as the configs' `cpus = 2` gives a trial).
Loading the data, the progress bars, checkpoints, figures and the measurements of
--track (every 10 to 100 steps in the configs; not timed) are the overhead. tests/test_experiments.py
checks that every config's ``cpu`` scale is estimated within CPU_BUDGET_SECONDS from
these measurements (and that every net it trains has been measured). Measure on the
machine the budget is for (here: 2 CPU cores) and with nothing else running.
"""

import argparse
import datetime
import json
import math
import pathlib
import platform
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
EXPERIMENTS = ROOT / "experiments"
STEP_TIMES_FILE = EXPERIMENTS / "cpu_step_times.json"
CPU_BUDGET_SECONDS = 60 * 60            # issue 20: a `cpu` scale finishes in about 60 minutes
TRIAL_OVERHEAD_SECONDS = 15.0           # data loading (decoded images are cached), checkpoints, figures
DATA_SIZES = {"sample": (5000, 1000), "cifar10": (50000, 10000)}   # (train, test) images
# Settings that do not change the time of a step: nets that differ only in these are timed once.
COST_FREE_SETTINGS = {
    "seed", "epochs", "lr", "momentum", "weight_decay", "nesterov", "schedule", "milestones", "gamma",
    "warmup_epochs", "max_grad_norm", "data", "download", "train_subset", "test_subset", "augment",
    "device", "multiplier_lr_fraction", "no_lagrange_multipliers", "alpha_lr", "alpha_loss",
    "gate_bias", "dropout_p", "init", "zero_init_last_bn", "track_every", "shortcut_scale",
    "residual_scale",
}


def net_key(settings) -> str:
    """The settings that decide a step's cost, as one sorted JSON text (the file's keys)."""
    costly = {name: value for name, value in settings.items() if name not in COST_FREE_SETTINGS}
    return json.dumps(costly, sort_keys=True)


def estimated_seconds(settings, step_times) -> float:
    """The estimated wall time of one trial with these (complete) settings; a KeyError
    names a net that has not been measured."""
    key = net_key(settings)
    if key not in step_times:
        raise KeyError(f"no measured step time for {key}: run python tools/measure_step_times.py")
    train_images, test_images = DATA_SIZES.get(settings["data"], DATA_SIZES["cifar10"])
    train_images = settings["train_subset"] or train_images
    test_images = settings["test_subset"] or test_images
    batch_size = settings["batch_size"]
    times = step_times[key]
    epoch = (math.ceil(train_images / batch_size) * times["train_step_seconds"]
             + math.ceil(test_images / batch_size) * times["test_batch_seconds"])
    return settings["epochs"] * epoch + TRIAL_OVERHEAD_SECONDS


def config_trials(path, scale):
    """(trial id, complete settings) of every trial of one config at one scale."""
    from minires.cli.train_command import DEFAULTS
    from minires.sweep import load_config
    sweep = load_config(path, scale)
    return [(trial, {**DEFAULTS, **sweep.settings(values)}) for trial, values in sweep.trials()]


def measure(settings, repeats=3) -> dict:
    """Median seconds of a training step and of a test batch, on random images."""
    import numpy
    import minires as mr
    import minires.functional as F
    from minires.cli import models_table
    from minires.cli.train_command import build_optimizer
    from minires import fast

    mr.manual_seed(0)
    model = models_table.build_model(settings, 10, (3, 32, 32))
    optimizer = build_optimizer(settings, model.parameters())
    generator = numpy.random.default_rng(0)
    images = mr.tensor(generator.standard_normal((settings["batch_size"], 3, 32, 32)).astype(numpy.float32))
    labels = mr.tensor(generator.integers(0, 10, settings["batch_size"]))

    def train_step():
        loss = F.cross_entropy(model(images), labels)
        model.zero_grad()
        loss.backward()
        optimizer.step()

    def test_batch():
        with mr.no_grad():
            model(images)

    timings = {}
    with fast.one_blas_thread():
        for name, step, mode in (("train_step_seconds", train_step, model.train),
                                 ("test_batch_seconds", test_batch, model.eval)):
            mode()
            step()                                              # warm-up
            seconds = []
            for _ in range(repeats):
                start = time.perf_counter()
                step()
                seconds.append(time.perf_counter() - start)
            timings[name] = sorted(seconds)[len(seconds) // 2]
    return timings


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only print the estimates from the file")
    arguments = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    configs = sorted(EXPERIMENTS.glob("*.toml"))
    trials = {path.name: config_trials(path, "cpu") for path in configs}
    if not arguments.check:
        from minires import fast
        fast.keep_freed_memory()                # as `minires train` does
        nets = {}
        for config_trials_list in trials.values():
            for _, settings in config_trials_list:
                nets.setdefault(net_key(settings), settings)
        step_times = {}
        for index, (key, settings) in enumerate(sorted(nets.items()), 1):
            step_times[key] = measure(settings)
            print(f"[{index}/{len(nets)}] {step_times[key]['train_step_seconds']:.3f} s/step  {key}", flush=True)
        STEP_TIMES_FILE.write_text(json.dumps({
            "measured": datetime.date.today().isoformat(), "machine": platform.platform(),
            "command": "python tools/measure_step_times.py", "nets": step_times}, indent=1) + "\n")
    step_times = json.loads(STEP_TIMES_FILE.read_text())["nets"]
    for name, config_trials_list in trials.items():
        total = sum(estimated_seconds(settings, step_times) for _, settings in config_trials_list)
        print(f"{name}: {len(config_trials_list)} trials, about {total / 60:.0f} min at the cpu scale")


if __name__ == "__main__":
    main()
