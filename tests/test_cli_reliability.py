"""The command line's promises beyond one-line errors: a diverged run never records a
non-finite model, a full disk loses nothing, settings that do not apply are never
recorded, a net that cannot fit is refused from an estimate, and --debug shows the
traceback. (The one-line errors themselves are in test_bad_input_catalogue.py.)"""

import errno
import json
import math
import os
import signal
import subprocess
import sys
import time

import numpy
import pytest

import minires.cli.train_command
import minires.run_directory
import minires.train
from minires import backend
from minires.checkpoint import load_checkpoint
from minires.cli import main, models_table
from minires.cli.memory_check import estimate_training_bytes
from minires.run_directory import LOCK, MARKER

SMALL_RUN = ["--data", "sample", "--train-subset", "64", "--test-subset", "32", "--width", "4",
             "--batch-size", "32", "--device", "cpu", "--no-progress"]


def train(out, *extra):
    return main(["train", *SMALL_RUN, "--out", str(out), *extra])


def error_line(capsys):
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("minires: error: "), captured.err
    return lines[0]


def finite_arrays(state):
    arrays = []

    def walk(value):
        if isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)
        elif isinstance(value, numpy.ndarray) and value.dtype.kind == "f":
            arrays.append(bool(numpy.isfinite(value).all()))
    walk(state)
    return arrays


def test_a_run_that_diverges_at_once_writes_no_checkpoint(tmp_path, capsys):
    out = tmp_path / "run"
    assert train(out, "--lr", "1e6", "--schedule", "constant", "--epochs", "2") == 1
    line = error_line(capsys)
    assert "lower the learning rate" in line and "no checkpoint was written" in line
    assert not (out / "checkpoint.npz").exists() and not (out / "metrics.jsonl").exists()
    assert not (out / LOCK).exists()


def test_a_run_that_diverges_later_keeps_the_last_finite_checkpoint(tmp_path, capsys, monkeypatch):
    """Epoch 1 is finite; the test loss of epoch 2 is NaN: exit 1, epoch 1's checkpoint stays."""
    out = tmp_path / "run"
    evaluate = minires.train.evaluate
    calls = []

    def nan_in_epoch_2(*args, **kwargs):
        result = evaluate(*args, **kwargs)
        calls.append(1)
        return {**result, "test_loss": math.nan} if len(calls) == 2 else result

    monkeypatch.setattr(minires.train, "evaluate", nan_in_epoch_2)
    assert train(out, "--epochs", "3") == 1
    line = error_line(capsys)
    assert "diverged in epoch 2: its test loss is nan" in line
    assert f"{out / 'checkpoint.npz'} keeps epoch 1, the last finite one" in line
    state = load_checkpoint(out / "checkpoint.npz")
    assert state["epoch"] == 1 and all(finite_arrays(state))
    assert [json.loads(line)["epoch"] for line in (out / "metrics.jsonl").read_text().splitlines()] == [1]
    monkeypatch.setattr(minires.train, "evaluate", evaluate)
    assert main(["train", "--resume", "--out", str(out), "--no-progress"]) == 0      # and it resumes


def test_a_model_broken_by_its_last_step_is_not_saved(tmp_path, capsys, monkeypatch):
    """Every training loss finite, but the epoch's last step leaves an infinite parameter
    (a sabotaged optimiser): the epoch is not recorded."""
    out = tmp_path / "run"
    build_optimizer = minires.cli.train_command.build_optimizer

    def sabotaged(settings, parameters):
        parameters = list(parameters)
        optimizer = build_optimizer(settings, parameters)
        step, steps = optimizer.step, []

        def step_then_break():
            step()
            steps.append(1)
            if len(steps) == 2:                          # the last of epoch 1's two steps
                parameters[-1].array[...] = numpy.inf     # the last layer's bias
        optimizer.step = step_then_break
        return optimizer

    monkeypatch.setattr(minires.cli.train_command, "build_optimizer", sabotaged)
    assert train(out, "--epochs", "2") == 1
    assert "diverged in epoch 1: its test loss is nan" in error_line(capsys)
    assert not (out / "checkpoint.npz").exists()


def test_a_full_disk_loses_nothing(tmp_path, capsys, monkeypatch):
    out = tmp_path / "run"
    assert train(out, "--epochs", "1") == 0
    before = (out / "checkpoint.npz").read_bytes()
    save = minires.run_directory.save_checkpoint

    def full_disk(path, state):
        with open(str(path) + ".partial.tmp", "wb") as file:        # what a write cut short leaves
            file.write(b"PK")
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(minires.run_directory, "save_checkpoint", full_disk)
    capsys.readouterr()
    assert main(["train", "--resume", "--out", str(out), "--epochs", "2", "--no-progress"]) == 1
    assert "No space left on device" in error_line(capsys)
    assert (out / "checkpoint.npz").read_bytes() == before and not (out / LOCK).exists()
    monkeypatch.setattr(minires.run_directory, "save_checkpoint", save)
    assert main(["train", "--resume", "--out", str(out), "--epochs", "2", "--no-progress"]) == 0
    assert not [name for name in os.listdir(out) if name.endswith(".tmp")]   # the leftover is gone


def test_debug_shows_the_traceback(tmp_path):
    with pytest.raises(minires.cli.errors.CommandError, match="--lr -1.0"):
        train(tmp_path / "run", "--lr", "-1", "--debug")


def test_settings_that_do_not_apply_are_never_recorded(tmp_path):
    out = tmp_path / "run"
    assert train(out, "--epochs", "1", "--optimizer", "adam", "--lr", "0.001") == 0
    settings = json.loads((out / "config.json").read_text())["settings"]
    assert settings["momentum"] is None and settings["nesterov"] is None
    assert settings["gamma"] is None and settings["milestones"] is None
    assert settings["multiplier_lr_fraction"] is None and settings["lr"] == 0.001
    assert (out / MARKER).exists()


def test_minires_device_chooses_the_device_without_device(tmp_path, monkeypatch):
    monkeypatch.setenv("MINIRES_DEVICE", "cpu")
    options = [option for option in SMALL_RUN if option not in ("--device", "cpu")]
    assert main(["train", *options, "--epochs", "1", "--out", str(tmp_path / "run")]) == 0
    assert json.loads((tmp_path / "run" / "config.json").read_text())["settings"]["device"] == "cpu"


@pytest.mark.parametrize("model, depth, width", [("residual", 32, None), ("residual", 20, 100),
                                                 ("highway", 14, 80), ("mlp-van", 12, 300),
                                                 ("simplified-plain", 9, None)])
def test_the_memory_estimate_counts_parameters_exactly(model, depth, width):
    """Extrapolated from the family's smallest nets, the count equals the real net's."""
    settings = {**minires.cli.train_command.DEFAULTS, "model": model}
    image_shape = (3, 32, 32)

    def build(small_depth, small_width):
        return models_table.build_model({**settings, "depth": small_depth, "width": small_width}, 10, image_shape)

    backend.manual_seed(0)
    state = backend.random_state()
    estimate = estimate_training_bytes(build, depth, width, image_shape, batch_size=8)
    assert backend.random_state()["host_generator"] == state["host_generator"]    # nothing drawn for the run
    assert round(estimate["parameters"]) == build(depth, width).num_parameters()
    assert estimate["activation_bytes"] > 0 and estimate["total_bytes"] > 4 * estimate["parameter_bytes"]


def test_a_net_that_cannot_fit_is_refused_before_it_is_built(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(backend, "available_memory", lambda device: 2**20)        # a 1 MiB machine
    assert train(tmp_path / "run", "--epochs", "1") == 2
    line = error_line(capsys)
    assert "cannot fit" in line and "cpu has 0.000977 GiB available" in line
    assert not (tmp_path / "run").exists()


def test_a_killed_run_leaves_a_loadable_checkpoint_and_its_lock_is_taken_over(tmp_path):
    """SIGKILL (no cleanup runs) once the first checkpoint is on disk: the checkpoint loads,
    the dead process's lock does not block --resume, and the resumed run finishes."""
    out = tmp_path / "run"
    command = [sys.executable, "-m", "minires", "train", *SMALL_RUN, "--epochs", "30", "--out", str(out)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not (out / "checkpoint.npz").exists():
            assert process.poll() is None, process.stderr.read().decode()
            assert time.monotonic() < deadline, "no checkpoint within 120 s"
            time.sleep(0.05)
        time.sleep(0.3)                                   # somewhere in a later epoch, or its writing
        assert (out / LOCK).exists()                      # held while the run writes
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    state = load_checkpoint(out / "checkpoint.npz")
    assert state["epoch"] >= 1 and all(finite_arrays(state))
    assert json.loads((out / LOCK).read_text())["pid"] == process.pid        # left by the dead process
    assert main(["train", "--resume", "--out", str(out), "--epochs", str(state["epoch"] + 1),
                 "--no-progress"]) == 0
    assert not (out / LOCK).exists() and not [name for name in os.listdir(out) if name.endswith(".tmp")]
    assert load_checkpoint(out / "checkpoint.npz")["epoch"] == state["epoch"] + 1
