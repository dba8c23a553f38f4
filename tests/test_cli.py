"""The command line: a small real run on the bundled sample, resuming bit for bit after
an interruption, plot and info, and a one-line error for each mistake a user can make."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy
import pytest

import minires.train
from minires.checkpoint import load_checkpoint
from minires.cli import info_command, main

# A few seconds each: 96 training and 40 test images of the bundled sample, width 4.
SMALL_RUN = ["--data", "sample", "--train-subset", "96", "--test-subset", "40", "--width", "4",
             "--batch-size", "32", "--device", "cpu", "--no-progress"]


def train(out, *extra):
    return main(["train", *SMALL_RUN, "--out", str(out), *extra])


def error_line(capsys):
    """The one line a failed command printed, after checking it is one line and no traceback."""
    captured = capsys.readouterr()
    lines = [line for line in captured.err.strip().splitlines()
             if not line.startswith("minires: using")]      # --device auto says what it chose
    assert "Traceback" not in captured.err and len(lines) == 1, captured.err
    assert lines[0].startswith("minires: error: ")
    return lines[0]


def test_a_small_run_writes_its_folder(tmp_path, capsys):
    out = tmp_path / "run"
    assert train(out, "--epochs", "2") == 0
    printed = capsys.readouterr().out
    assert "final test accuracy" in printed and str(out / "curves.png") in printed
    config = json.loads((out / "config.json").read_text())
    assert config["settings"]["model"] == "residual" and config["settings"]["depth"] == 8
    assert config["settings"]["fast"] is True                # which kernels ran: minires.fast's
    assert config["settings"]["seed"] == 0 and config["device"] == "cpu"
    assert config["versions"]["numpy"] == numpy.__version__
    assert "minires_commit" in config["versions"]           # the code that made the run (None outside git)
    assert config["train_images"] == 96 and config["test_images"] == 40
    metrics = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [record["epoch"] for record in metrics] == [1, 2]
    assert {"train_loss", "train_error", "test_loss", "test_error", "lr"} <= set(metrics[0])
    assert metrics[1]["lr"] < metrics[0]["lr"]               # the cosine schedule moved
    assert (out / "curves.png").stat().st_size > 1000
    assert load_checkpoint(out / "checkpoint.npz")["epoch"] == 2


@pytest.mark.parametrize("model_options", [[], ["--model", "scaled_residual", "--variant", "dropout"],
                                           ["--model", "van"], ["--reference-kernels"]],
                         ids=["residual", "dropout-shortcut", "van", "reference-kernels"])
def test_resuming_after_an_interruption_is_bit_exact(tmp_path, monkeypatch, model_options):
    """Three epochs straight against two epochs, a crash in the third, and --resume."""
    assert train(tmp_path / "straight", "--epochs", "3", *model_options) == 0

    real_train_one_epoch = minires.train.train_one_epoch
    calls = []

    def interrupted_in_third_epoch(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_train_one_epoch(*args, **kwargs)
    monkeypatch.setattr(minires.train, "train_one_epoch", interrupted_in_third_epoch)
    assert train(tmp_path / "resumed", "--epochs", "3", *model_options) == 130
    assert load_checkpoint(tmp_path / "resumed" / "checkpoint.npz")["epoch"] == 2
    monkeypatch.undo()
    assert main(["train", "--resume", "--out", str(tmp_path / "resumed"), "--no-progress"]) == 0

    straight = load_checkpoint(tmp_path / "straight" / "checkpoint.npz")
    resumed = load_checkpoint(tmp_path / "resumed" / "checkpoint.npz")
    assert resumed["epoch"] == 3
    for name, value in straight["model"].items():
        numpy.testing.assert_array_equal(resumed["model"][name], value, err_msg=name)
    for index, buffers in straight["optimizer"]["state"].items():
        for name, value in buffers.items():
            numpy.testing.assert_array_equal(resumed["optimizer"]["state"][index][name], value)
    for a, b in zip(straight["history"], resumed["history"]):
        assert {k: v for k, v in a.items() if k not in ("seconds", "images_per_second")} == \
               {k: v for k, v in b.items() if k not in ("seconds", "images_per_second")}


def test_resume_with_nothing_left_to_do_says_how_to_go_further(tmp_path, capsys):
    out = tmp_path / "run"
    assert train(out, "--epochs", "1") == 0
    assert main(["train", "--resume", "--out", str(out), "--no-progress"]) == 0
    assert "pass --epochs N (N > 1)" in capsys.readouterr().out


def test_plot_overlays_runs_and_info_reports(tmp_path, capsys):
    assert train(tmp_path / "a", "--epochs", "1") == 0
    assert train(tmp_path / "b", "--epochs", "1", "--model", "plain") == 0
    figure = tmp_path / "both.png"
    assert main(["plot", str(tmp_path / "a"), str(tmp_path / "b"), "--out", str(figure)]) == 0
    assert figure.read_bytes()[:4] == b"\x89PNG"
    capsys.readouterr()
    assert main(["info"]) == 0
    printed = capsys.readouterr().out
    assert f"numpy: {numpy.__version__}" in printed and "device auto:" in printed


def test_the_source_commit_names_the_checkout_minires_runs_from(monkeypatch):
    checkout = Path(info_command.__file__).resolve().parents[2]
    if shutil.which("git") is None or not (checkout / ".git").exists():
        pytest.skip("minires is not imported from a git checkout here")
    head = subprocess.run(["git", "-C", str(checkout), "rev-parse", "HEAD"], capture_output=True, text=True,
                          check=True).stdout.strip()
    assert info_command.source_commit() in (head, head + "+modified")

    answers = {("rev-parse", "--show-toplevel"): str(checkout), ("rev-parse", "HEAD"): "a" * 40}
    monkeypatch.setattr(info_command, "_git", lambda folder, *arguments: answers.get(
        arguments[:2], " M minires/tensor.py"))                    # git status: a tracked file changed
    assert info_command.source_commit() == "a" * 40 + "+modified"
    answers[("rev-parse", "--show-toplevel")] = str(checkout.parent)   # minires inside another repository
    assert info_command.source_commit() is None

    def no_git(folder, *arguments):
        raise FileNotFoundError("git")
    monkeypatch.setattr(info_command, "_git", no_git)
    assert info_command.source_commit() is None


def test_python_dash_m_runs_the_command_line():
    result = subprocess.run([sys.executable, "-m", "minires", "info"], capture_output=True, text=True)
    assert result.returncode == 0 and "device auto:" in result.stdout


def test_the_installed_minires_script(tmp_path):
    """The console script that `pip install` puts beside the interpreter (README's main job)."""
    script = Path(sys.executable).parent / ("minires.exe" if sys.platform == "win32" else "minires")
    if not script.exists():
        pytest.skip(f"minires is not installed in {sys.prefix} (pip install -e . installs the script)")
    result = subprocess.run([str(script), "train", *SMALL_RUN, "--epochs", "1", "--out", str(tmp_path / "run")],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "final test accuracy" in result.stdout and (tmp_path / "run" / "curves.png").exists()


# -- mistakes, each with a one-line error -----------------------------------------------

def test_missing_data_path(tmp_path, capsys):
    assert train(tmp_path / "run", "--data", str(tmp_path / "nowhere")) == 2
    assert "nowhere" in error_line(capsys)


def test_corrupt_archive(tmp_path, capsys):
    archive = tmp_path / "images.tar.gz"
    archive.write_bytes(b"\x1f\x8b\x08 this is not a whole gzip file")
    assert main(["train", "--data", str(archive), "--out", str(tmp_path / "run"), "--no-progress"]) == 1
    assert "images.tar.gz" in error_line(capsys)


def test_checksum_mismatch(tmp_path, capsys):
    (tmp_path / "cifar-10-python.tar.gz").write_bytes(b"not the published archive")
    assert main(["train", "--data", str(tmp_path), "--out", str(tmp_path / "run"), "--no-progress"]) == 1
    assert "md5" in error_line(capsys).lower()


def test_unknown_model(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--model", "resnext", "--out", str(tmp_path / "run")])
    assert exit_info.value.code == 2
    assert "'resnext' is not a model; choose from plain, residual, residual_v2" in capsys.readouterr().err


def test_a_model_renamed_since_0_1_names_its_new_name(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--model", "resnet", "--out", str(tmp_path / "run")])
    assert exit_info.value.code == 2
    assert "'resnet' is now called 'residual', the family name minires.models takes" in capsys.readouterr().err


def test_the_command_line_and_the_builders_take_the_same_family_names():
    from minires import models
    from minires.cli import models_table
    for name, (builder, family, _) in models_table.MODELS.items():
        accepted = {"cifar": models.CIFAR_FAMILIES, "simplified": ("plain", "residual"),
                    "mlp": models.MLP_FAMILIES}[builder]
        assert family in accepted and name.endswith(family), name


def test_a_run_of_minires_0_1_resumes_under_the_new_name(tmp_path):
    out = tmp_path / "run"
    assert train(out, "--epochs", "1") == 0
    config = json.loads((out / "config.json").read_text())
    config["settings"]["model"] = "resnet"                   # as minires 0.1 wrote it, without "fast"
    del config["settings"]["fast"]
    (out / "config.json").write_text(json.dumps(config))
    assert main(["train", "--resume", "--out", str(out), "--epochs", "2", "--no-progress"]) == 0
    assert json.loads((out / "config.json").read_text())["settings"]["model"] == "residual"


def test_depth_that_does_not_fit_the_family(tmp_path, capsys):
    assert train(tmp_path / "run", "--depth", "10") == 2
    line = error_line(capsys)
    assert "--depth 10" in line and "8" in line and "14" in line


def test_block_option_the_model_does_not_take(tmp_path, capsys):
    assert train(tmp_path / "run", "--gate-bias", "-2") == 2
    assert "--gate-bias does not apply to --model residual" in error_line(capsys)


def test_occupied_run_folder_is_not_overwritten(tmp_path, capsys):
    out = tmp_path / "run"
    assert train(out, "--epochs", "1") == 0
    before = (out / "checkpoint.npz").read_bytes()
    capsys.readouterr()
    assert train(out, "--epochs", "1", "--seed", "3") == 2
    assert "--overwrite" in error_line(capsys)
    assert (out / "checkpoint.npz").read_bytes() == before
    assert train(out, "--epochs", "1", "--seed", "3", "--overwrite") == 0


def test_resume_into_a_different_model(tmp_path, capsys):
    out = tmp_path / "run"
    assert train(out, "--epochs", "1") == 0
    capsys.readouterr()
    assert main(["train", "--resume", "--out", str(out), "--model", "plain", "--epochs", "2"]) == 2
    assert "--model plain (the run has residual)" in error_line(capsys)
    assert main(["train", "--resume", "--out", str(out), "--reference-kernels", "--epochs", "2"]) == 2
    assert "--reference-kernels (the run used the fast kernels)" in error_line(capsys)


def test_resume_needs_a_run(tmp_path, capsys):
    assert main(["train", "--resume", "--out", str(tmp_path / "empty")]) == 2
    assert "no config.json" in error_line(capsys)
    assert main(["train", "--resume"]) == 2
    assert "--resume needs --out" in error_line(capsys)


def test_train_a_four_stage_van_net_and_resume_it(tmp_path):
    """--stages 4: the VAN paper's nets, depth 8n + 2; recorded, and kept on a resume."""
    out = tmp_path / "van10"
    options = ["train", "--model", "van", "--stages", "4", "--depth", "10", "--width", "4", "--train-subset", "32",
               "--test-subset", "16", "--batch-size", "16", "--device", "cpu", "--no-progress", "--out", str(out)]
    assert main([*options, "--epochs", "1"]) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["settings"]["stages"] == 4 and config["parameters"] > 0
    assert main([*options[:-2], "--out", str(out), "--epochs", "2", "--resume"]) == 0


def test_van_phase_out_settings_from_the_command_line(tmp_path, capsys):
    """--alpha-lr and --alpha-loss reach the constraint, are recorded, resume, and are
    refused for a model without VAN layers."""
    out = tmp_path / "van_slow"
    options = ["train", "--model", "van", "--alpha-lr", "0.01", "--alpha-loss", "sum", "--width", "4",
               "--train-subset", "32", "--test-subset", "16", "--batch-size", "16", "--device", "cpu",
               "--no-progress", "--out", str(out)]
    assert main([*options, "--epochs", "1"]) == 0
    settings = json.loads((out / "config.json").read_text())["settings"]
    assert (settings["alpha_lr"], settings["alpha_loss"]) == (0.01, "sum")
    assert load_checkpoint(out / "checkpoint.npz")["van"]["alpha_loss"] == "sum"
    assert main([*options, "--epochs", "2", "--resume"]) == 0
    capsys.readouterr()
    assert main(["train", "--model", "plain", "--alpha-loss", "sum", "--out", str(tmp_path / "p")]) == 2
    assert "--alpha-loss applies only to the VAN models" in error_line(capsys)


def test_van_with_lambda_zero_from_the_command_line(tmp_path):
    """--no-lagrange-multipliers: the multipliers stay 0; the run records the setting and
    resumes with it."""
    out = tmp_path / "van0"
    options = ["train", "--model", "van", "--no-lagrange-multipliers", "--width", "4", "--train-subset", "32",
               "--test-subset", "16", "--batch-size", "16", "--device", "cpu", "--no-progress", "--out", str(out)]
    assert main([*options, "--epochs", "1"]) == 0
    assert main([*options, "--epochs", "2", "--resume"]) == 0
    assert json.loads((out / "config.json").read_text())["settings"]["no_lagrange_multipliers"] is True
    state = load_checkpoint(out / "checkpoint.npz")
    multipliers = [value for name, value in state["model"].items() if name.endswith("lagrange_multiplier")]
    assert multipliers and all(not numpy.any(value) for value in multipliers)
