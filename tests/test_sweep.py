"""minires sweep: the config's checks, the trials, and a sweep stopped, failed and run again.

The sweeps train tiny nets (width 4, 256 of the bundled sample's images, 128 to test)
as separate processes, the way a user runs them: about two seconds a trial here.
test_sweep_ray.py runs one through Ray.
"""

import csv
import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

from minires.cli import main
from minires.cli.errors import CommandError
from minires.sweep import load_config, trial_id
from minires.sweep.folder import SweepFolder
from minires.sweep.train_arguments import train_arguments

TINY = """\
data = "sample"
train_subset = 256
test_subset = 128
width = 4
"""

# 2 models x 2 depths x 2 seeds; 3 epochs, so that a trial stopped after its first
# checkpoint has two epochs left to resume
KILLABLE = f"""\
name = "plain-vs-residual"
description = "Plain nets degrade with depth, residual nets do not."
[base]
{TINY}epochs = 3
[grid]
model = ["plain", "residual"]
depth = [8, 14]
seed = [0, 1]
[resources]
cpus = 1
"""
TIMING_FIELDS = ("wall_seconds", "started", "finished")          # of a line of trials.jsonl
EPOCH_TIMING_FIELDS = ("seconds", "images_per_second")          # of a line of metrics.jsonl


# -- helpers (test_sweep_ray.py uses them too) -----------------------------------------------

def write_config(folder, text, name="sweep.toml"):
    path = folder / name
    path.write_text(text)
    return path


def sweep_command(config, out, *options):
    return [sys.executable, "-m", "minires", "sweep", str(config), "--out", str(out), "--no-progress", *options]


def run_sweep(config, out, *options, env=None):
    return subprocess.run(sweep_command(config, out, *options), capture_output=True, text=True, timeout=600,
                          env=env)


def table_lines(out) -> list:
    with open(out / "trials.jsonl", encoding="utf-8") as file:
        return [json.loads(line) for line in file]


def last_records(out) -> dict:
    return SweepFolder(out).last_records()


def without_timing(record) -> dict:
    return {key: value for key, value in record.items() if key not in TIMING_FIELDS}


def metrics_without_timing(run_folder) -> list:
    with open(os.path.join(run_folder, "metrics.jsonl"), encoding="utf-8") as file:
        return [{key: value for key, value in json.loads(line).items() if key not in EPOCH_TIMING_FIELDS}
                for line in file]


def assert_same_results(out, reference):
    """The same table (but for the times) and, trial by trial, the same metrics, bit for bit."""
    records, expected = last_records(out), last_records(reference)
    assert sorted(records) == sorted(expected)
    for trial in expected:
        assert without_timing(records[trial]) == without_timing(expected[trial]), trial
        assert (metrics_without_timing(out / "trials" / trial)
                == metrics_without_timing(reference / "trials" / trial)), trial


def log_of(out, trial) -> str:
    return (out / "logs" / f"{trial}.log").read_text()


# -- the config ----------------------------------------------------------------------------

def test_trials_are_the_grid_product_in_order(tmp_path):
    sweep = load_config(write_config(tmp_path, KILLABLE))
    trials = sweep.trials()
    assert [trial for trial, _ in trials][:3] == ["model=plain,depth=8,seed=0", "model=plain,depth=8,seed=1",
                                                   "model=plain,depth=14,seed=0"]
    assert len(trials) == 8 and trials[-1] == ("model=residual,depth=14,seed=1",
                                               {"model": "residual", "depth": 14, "seed": 1})
    assert sweep.grid_keys == ["model", "depth", "seed"] and sweep.cpus == 1 and sweep.gpus == 0
    assert sweep.settings(trials[0][1])["epochs"] == 3
    assert sweep.default_out() == os.path.join("sweeps", "plain-vs-residual")


def test_several_grid_tables_give_the_union_and_a_scale_changes_base_and_grid(tmp_path):
    config = write_config(tmp_path, f"""\
[base]
{TINY}epochs = 1
[[grid]]
model = ["plain", "residual"]
seed = [0]
[[grid]]
model = ["residual"]
zero_init_last_bn = [true]
seed = [0]
[[grid]]
seed = [0]
model = ["plain"]
[scale.cpu.base]
epochs = 2
[scale.cpu.grid]
seed = [0, 1, 2]
[scale.cpu.resources]
cpus = 2
""")
    sweep = load_config(config)
    assert sweep.grid_keys == ["model", "seed", "zero_init_last_bn"]     # in the order they first appear
    assert [trial for trial, _ in sweep.trials()] == [        # the third table's trial is the first one
        "model=plain,seed=0", "model=residual,seed=0", "model=residual,seed=0,zero_init_last_bn=true"]
    scaled = load_config(config, "cpu")
    assert scaled.base["epochs"] == 2 and scaled.cpus == 2 and scaled.scale == "cpu"
    assert [trial for trial, _ in scaled.trials()] == ["seed=0", "seed=1", "seed=2"]
    assert scaled.default_out() == os.path.join("sweeps", "sweep-cpu")


def test_trial_ids_are_safe_file_names():
    assert trial_id({"data": "../data/cifar 10", "gate_bias": -2.0, "milestones": [50, 75],
                     "augment": False}) == "data=.._data_cifar_10,gate_bias=-2.0,milestones=50_75,augment=false"
    long = trial_id({"data": "x" * 300})
    assert len(long) == 150 and long == trial_id({"data": "x" * 300})


def test_train_arguments_use_the_parsers_options_and_parse_back():
    assert train_arguments({"augment": False, "fast": False, "milestones": [2, 3], "gate_bias": -2.0,
                            "nesterov": True, "track": ["grad-norms"], "model": "plain"}) == [
        "--no-augment", "--reference-kernels", "--milestones", "2", "3", "--gate-bias=-2.0", "--nesterov",
        "--track=grad-norms", "--model=plain"]
    assert train_arguments({"augment": True, "download": False}) == []         # the defaults: no flag


@pytest.mark.parametrize("text, message", [
    ("nmae = 'x'\n[grid]\nseed = [0]", r"unknown key 'nmae'; a sweep config has name, description, base"),
    ("[base]\ndepht = 8\n[grid]\nseed = [0]", r"\[base\]: 'depht' is not a setting of minires train"),
    ("[grid]\nlearning_rate = [0.1]", r"\[grid\]: 'learning_rate' is not a setting of minires train"),
    ("[base]\ndepth = '8'\n[grid]\nseed = [0]", r"\[base\] depth = '8': expected an integer >= 1"),
    ("[grid]\nlr = [0.1, 0]", r"\[grid\] lr = 0: expected a finite number > 0"),
    ("[grid]\nmodel = ['plain', 'resnet50']", r"\[grid\] model = 'resnet50': expected one of plain, residual"),
    ("[grid]\ndepth = 20", r"\[grid\] depth = 20: expected a list of values .*write depth = \[20\]"),
    ("[grid]\nseed = []", r"\[grid\] seed = \[\]: expected at least one value"),
    ("[grid]", r"\[grid\] is empty: give at least one setting to vary"),
    ("[base]\nepochs = 1", r"has no \[grid\]: give the settings to vary"),
    ("[[grid]]\nseed = [0]\n[[grid]]\n", r"\[grid\] \(table 2\) is empty"),
    ("[base]\nseed = 0\n[grid]\nseed = [0, 1]", r"\[grid\] seed: also set in \[base\]"),
    ("[grid]\nseed = [0]\n[resources]\ncpus = 0", r"\[resources\] cpus = 0: expected an integer >= 1"),
    ("[grid]\nseed = [0]\n[resources]\nmemory = 4", r"\[resources\]: unknown key 'memory'"),
    ("name = 'a/b'\n[grid]\nseed = [0]", r"name = 'a/b': expected letters, digits"),
    ("[grid]\nseed = [0\n", r"not a valid TOML file"),
    ("[base]\noptimizer = 'adam'\n[grid]\nmomentum = [0.9]",
     r"trial 1 \(momentum=0.9\): --momentum applies only to --optimizer sgd"),
    ("[grid]\nmodel = ['residual']\ndepth = [8, 9]",
     r"trial 2 \(model=residual,depth=9\): --model residual --depth 9"),
    ("[base]\nepochs = 2\n[grid]\nwarmup_epochs = [0, 2]",
     r"trial 2 \(warmup_epochs=2\): --warmup-epochs 2 leaves"),
    ("[grid]\ndata = ['a/b', 'a_b']", r"two trials would share the folder 'data=a_b'"),
])
def test_config_mistakes_are_named_with_the_file_and_the_key(tmp_path, text, message):
    config = write_config(tmp_path, text)
    with pytest.raises(CommandError, match=message) as error:
        load_config(config)
    assert str(error.value).startswith(f"{config}: ") and "\n" not in str(error.value)


def test_a_missing_scale_is_named_with_the_ones_there(tmp_path):
    config = write_config(tmp_path, "[grid]\nseed = [0]\n[scale.cpu.base]\nepochs = 1\n"
                                    "[scale.gpu.base]\nepochs = 9")
    with pytest.raises(CommandError, match=r"no scale 'tpu': its scales are cpu, gpu"):
        load_config(config, "tpu")
    with pytest.raises(CommandError, match=r"no scale 'cpu': it has no \[scale.NAME\] tables"):
        load_config(write_config(tmp_path, "[grid]\nseed = [0]", "other.toml"), "cpu")
    with pytest.raises(CommandError, match=r"\[scale.cpu.base\] lr = -1: expected a finite number > 0"):
        load_config(write_config(tmp_path, "[grid]\nseed = [0]\n[scale.cpu.base]\nlr = -1", "bad.toml"), "cpu")


def test_the_command_reports_a_config_mistake_in_one_line_before_writing(tmp_path, capsys):
    config = write_config(tmp_path, "[grid]\ndepth = [8, 'deep']")
    assert main(["sweep", str(config), "--out", str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err
    assert error == f"minires: error: {config}: [grid] depth = 'deep': expected an integer >= 1\n"
    assert not (tmp_path / "out").exists()
    assert main(["sweep", str(tmp_path / "nothing.toml")]) == 2
    assert "cannot read the sweep config" in capsys.readouterr().err


def test_ray_options_are_checked_before_anything_is_written(tmp_path, capsys, monkeypatch):
    config = write_config(tmp_path, KILLABLE)
    assert main(["sweep", str(config), "--out", str(tmp_path / "out"), "--ray", "auto", "--jobs", "2"]) == 2
    assert "with --ray, Ray decides from the cluster's free CPUs and GPUs" in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, "ray", None)               # as if the cluster extra were missing
    assert main(["sweep", str(config), "--out", str(tmp_path / "out"), "--ray", "auto"]) == 2
    assert capsys.readouterr().err == (
        'minires: error: --ray needs Ray, which minires installs as its cluster extra: '
        'python -m pip install -e ".[cluster]" (or pip install "ray>=2.9")\n')
    assert not (tmp_path / "out").exists()


def test_the_readmes_example_config_is_a_valid_sweep(tmp_path):
    """The config the README's Studies section shows loads as it is, and is what it says."""
    readme = (pathlib.Path(__file__).resolve().parent.parent / "README.md").read_text()
    example = readme.split("```toml\n", 1)[1].split("```", 1)[0]
    sweep = load_config(write_config(tmp_path, example))
    assert sweep.name == "plain-vs-residual" and len(sweep.trials()) == 8
    assert sweep.published["rows"][0]["model"] == "residual"


def test_set_replaces_a_base_setting_for_every_trial_and_is_checked(tmp_path, capsys):
    """--set SETTING=VALUE: the value read as TOML when it is one, else as text; checked by
    the same rules; recorded as base, so a re-run without it is refused."""
    from minires.sweep.config import parse_override
    assert parse_override("epochs=3") == ("epochs", 3)
    assert parse_override("augment=false") == ("augment", False)
    assert parse_override("data=../x/cifar10-jpeg.tar.gz") == ("data", "../x/cifar10-jpeg.tar.gz")
    with pytest.raises(CommandError, match="--set 'epochs': expected SETTING=VALUE"):
        parse_override("epochs")
    config = write_config(tmp_path, KILLABLE)
    sweep = load_config(config, None, {"epochs": 1, "test_subset": 64})
    assert (sweep.base["epochs"], sweep.base["test_subset"]) == (1, 64)
    with pytest.raises(CommandError, match=r"--set lr = 0: expected a finite number > 0"):
        load_config(config, None, {"lr": 0})
    with pytest.raises(CommandError, match=r"--set: 'colour' is not a setting of minires train"):
        load_config(config, None, {"colour": "red"})
    out = tmp_path / "out"
    assert main(["sweep", str(config), "--out", str(out), "--set", "epochs=1", "--dry-run"]) == 0
    assert "--epochs=1" in capsys.readouterr().out


def test_dry_run_lists_the_trials_and_writes_nothing(tmp_path, capsys):
    config = write_config(tmp_path, KILLABLE)
    assert main(["sweep", str(config), "--out", str(tmp_path / "out"), "--dry-run"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("sweep plain-vs-residual: 8 trials, 8 to run")
    assert "model=plain,depth=8,seed=0  [new]  minires train --data=sample" in lines[1]
    assert len(lines) == 9 and not (tmp_path / "out").exists()


def test_one_sweep_at_a_time_in_a_folder(tmp_path):
    folder = SweepFolder(tmp_path / "out")
    with folder.locked():
        with pytest.raises(CommandError, match=r"is in use by another minires sweep \(process"):
            with SweepFolder(tmp_path / "out").locked():
                pass
    with folder.locked():                   # released
        pass


def test_a_line_cut_short_is_skipped_and_the_next_starts_a_line(tmp_path):
    folder = SweepFolder(tmp_path)
    record = {"trial": "seed=0", "settings": {"seed": 0}, "status": "running"}
    folder.append(record)
    with open(tmp_path / "trials.jsonl", "a") as file:
        file.write('{"trial": "seed=0", "status": "do')          # a sweep killed mid-write
    folder.append({**record, "status": "interrupted"})
    assert folder.last_records()["seed=0"]["status"] == "interrupted"


# -- sweeps that run -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def reference_sweep(tmp_path_factory):
    """The 8-trial sweep, run once without a stop: what every stopped one must end equal to."""
    folder = tmp_path_factory.mktemp("reference")
    result = run_sweep(write_config(folder, KILLABLE), folder / "out")
    assert result.returncode == 0, result.stderr
    assert "sweep plain-vs-residual: 8 done, 0 failed, 0 skipped (done before)" in result.stdout
    return folder / "out"


def test_a_sweep_writes_the_documented_layout(reference_sweep):
    description = json.loads((reference_sweep / "sweep.json").read_text())
    assert description["grid_keys"] == ["model", "depth", "seed"] and description["base"]["epochs"] == 3
    assert description["published"] is None and description["minires"]
    assert (reference_sweep / "sweep.toml").read_text() == KILLABLE
    lines = table_lines(reference_sweep)
    assert [line["status"] for line in lines] == ["running", "done"] * 8
    done = lines[1]
    assert set(done) == {"trial", "settings", "status", "final", "best", "wall_seconds", "started",
                         "finished", "versions", "error"}
    assert done["trial"] == "model=plain,depth=8,seed=0" and done["settings"] == {"model": "plain", "depth": 8,
                                                                                   "seed": 0}
    metrics = metrics_without_timing(reference_sweep / "trials" / done["trial"])
    assert done["final"] == {key: metrics[-1][key] for key in ("epoch", "train_loss", "train_error",
                                                                "test_loss", "test_error")}
    assert done["best"]["test_error"] == min(record["test_error"] for record in metrics)
    assert done["wall_seconds"] > 0 and done["error"] is None and done["versions"]["minires"]
    for name in ("config.json", "metrics.jsonl", "curves.png", "checkpoint.npz"):
        assert (reference_sweep / "trials" / done["trial"] / name).is_file()
    config = json.loads((reference_sweep / "trials" / done["trial"] / "config.json").read_text())
    assert config["command"][:3] == ["minires", "train", "--data=sample"]


def test_its_report_is_written(reference_sweep, tmp_path):
    """minires report on the real sweep: 2 families x 2 depths, n = 2 each, the means the
    trials' final test errors give."""
    out = tmp_path / "report"
    assert main(["report", str(reference_sweep), "--out", str(out)]) == 0
    for name in ("report.md", "table.csv", "error_vs_depth.png", "curves.png"):
        assert (out / name).stat().st_size > 0
    finals = {line["trial"]: line["final"]["test_error"] for line in table_lines(reference_sweep)
              if line["status"] == "done"}
    rows = list(csv.DictReader((out / "table.csv").open()))
    assert [(row["family"], row["depth"], row["test_error_n"]) for row in rows] == \
        [("plain", "8", "2"), ("plain", "14", "2"), ("residual", "8", "2"), ("residual", "14", "2")]
    for row in rows:
        seeds = [finals[f"model={row['family']},depth={row['depth']},seed={seed}"] for seed in (0, 1)]
        assert float(row["test_error_mean_percent"]) == pytest.approx(100 * sum(seeds) / 2, abs=1e-4)


def test_running_it_again_skips_every_finished_trial(reference_sweep, tmp_path):
    before = (reference_sweep / "trials.jsonl").read_text()
    result = run_sweep(reference_sweep / "sweep.toml", reference_sweep)
    assert result.returncode == 0, result.stderr
    assert "0 done, 0 failed, 8 skipped (done before)" in result.stdout
    assert (reference_sweep / "trials.jsonl").read_text() == before
    changed = write_config(tmp_path, KILLABLE.replace("epochs = 3", "epochs = 4"))
    result = run_sweep(changed, reference_sweep)
    assert result.returncode == 2
    assert "holds a sweep with another recipe (epochs was 3, now 4)" in result.stderr


def _wait_for(condition, what, seconds=300):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGKILL], ids=["ctrl-c", "kill"])
def test_a_stopped_sweep_run_again_finishes_every_trial_once(tmp_path, reference_sweep, stop):
    config, out = write_config(tmp_path, KILLABLE), tmp_path / "out"
    trials = [trial for trial, _ in load_config(config).trials()]
    second = out / "trials" / trials[1]
    with open(tmp_path / "first-run.txt", "w") as output:
        process = subprocess.Popen(sweep_command(config, out), stdout=output, stderr=subprocess.STDOUT)
        _wait_for(lambda: (second / "checkpoint.npz").exists(), "the second trial's first checkpoint")
        process.send_signal(stop)
        returncode = process.wait(timeout=120)
    first_run = (tmp_path / "first-run.txt").read_text()
    _wait_for(lambda: not (second / ".minires-lock").exists(), "the second trial's training to stop", 60)
    records = last_records(out)
    if stop == signal.SIGINT:
        assert returncode == 130, first_run
        assert "minires: interrupted; each running trial keeps its last finished epoch's checkpoint" in first_run
        assert records[trials[1]]["status"] == "interrupted"
    else:
        assert returncode == -signal.SIGKILL
        assert records[trials[1]]["status"] == "running"       # nobody was left to write its end
    assert records[trials[0]]["status"] == "done" and set(records) == set(trials[:2])
    assert (second / "checkpoint.npz").exists()                  # the stopped trial kept its checkpoint

    result = run_sweep(config, out)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "sweep plain-vs-residual: 7 done, 0 failed, 1 skipped (done before)" in result.stdout
    assert all(record["status"] == "done" for record in last_records(out).values())
    assert len(last_records(out)) == 8
    for trial in trials:                   # each trained from scratch once; the stopped one resumed
        log = log_of(out, trial)
        assert log.count("minires sweep: a new run") == 1 and "starting again" not in log, trial
        assert [line["status"] for line in table_lines(out) if line["trial"] == trial].count("done") == 1
    assert log_of(out, trials[1]).count("minires sweep: resuming the run from its checkpoint") == 1
    assert f"resuming {second} after epoch" in log_of(out, trials[1])
    assert log_of(out, trials[0]).count("--- ") == 1                # the finished one never ran again
    assert_same_results(out, reference_sweep)                       # resumed bit for bit


def _image_folder(root, damaged):
    rng = np.random.default_rng(0)
    for split, count in (("train", 16), ("test", 8)):
        for label in ("cat", "dog"):
            os.makedirs(root / split / label, exist_ok=True)
            for number in range(count):
                image = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
                Image.fromarray(image).save(root / split / label / f"{number}.png")
    if damaged:
        (root / "train" / "dog" / "3.png").write_bytes(b"not a png")


def test_a_failed_trial_is_recorded_the_others_go_on_and_retry_failed_reruns_it(tmp_path):
    images = tmp_path / "images"
    _image_folder(images, damaged=True)           # passes every check; fails when the trial reads it
    config = write_config(tmp_path, f"""\
name = "failing"
[base]
width = 4
epochs = 1
[[grid]]
data = ["sample"]
train_subset = [256]
test_subset = [128]
[[grid]]
data = ["{images}"]
""")
    out = tmp_path / "out"
    sample_trial, images_trial = [trial for trial, _ in load_config(config).trials()]
    environment = {**os.environ, "MINIRES_DATA": str(tmp_path / "cache")}
    result = run_sweep(config, out, "--jobs", "2", env=environment)
    assert result.returncode == 1, result.stderr
    assert "sweep failing: 1 done, 1 failed, 0 skipped" in result.stdout
    records = last_records(out)
    assert records[sample_trial]["status"] == "done"
    failed = records[images_trial]
    assert failed["status"] == "failed" and failed["final"] is None and failed["best"] is None
    assert failed["error"] == (f"exit status 1: {images}/train/dog/3.png is not a readable image (Pillow does "
                               "not recognise it as JPEG or PNG); remove or replace it")
    assert "is not a readable image" in log_of(out, images_trial)

    lines = len(table_lines(out))                 # run again: the failed one stays failed, not rerun
    result = run_sweep(config, out, env=environment)
    assert result.returncode == 1 and len(table_lines(out)) == lines
    assert "failed before (--retry-failed runs it again)" in result.stdout

    _image_folder(images, damaged=False)          # the data mended: --retry-failed runs it, alone
    result = run_sweep(config, out, "--retry-failed", env=environment)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "sweep failing: 1 done, 0 failed, 1 skipped (done before)" in result.stdout
    assert [line["trial"] for line in table_lines(out)[lines:]] == [images_trial, images_trial]
    assert last_records(out)[images_trial]["status"] == "done"
    assert "starting again" in log_of(out, images_trial) or log_of(out, images_trial).count("a new run") == 2
