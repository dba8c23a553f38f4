"""experiments/: one sweep config per claim, each at two scales, checked without training.

Every config must parse and name only real options of ``minires train`` (load_config
checks every trial as the command line would), carry both scales, state its claim, and
its ``cpu`` scale must be estimated within the CPU budget from the step times measured
on the 2-core machine (experiments/cpu_step_times.json, written by
tools/measure_step_times.py; a net that was not measured fails the test, so a new
config comes with its measurements).
"""

import importlib.util
import json
import pathlib

import pytest

from minires.sweep import load_config

ROOT = pathlib.Path(__file__).resolve().parent.parent
CONFIGS = sorted((ROOT / "experiments").glob("*.toml"))
CLAIMS = {"degradation", "highway", "shortcuts", "placements", "van", "noise-stability", "thin-mlps",
          "zero-init-bn"}


def _estimator():
    spec = importlib.util.spec_from_file_location("measure_step_times", ROOT / "tools" / "measure_step_times.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_one_config_per_claim():
    assert {load_config(path, "cpu").name for path in CONFIGS} == CLAIMS


@pytest.mark.parametrize("path", CONFIGS, ids=lambda path: path.stem)
@pytest.mark.parametrize("scale", ["paper", "cpu"])
def test_config_parses_with_real_options(path, scale):
    sweep = load_config(path, scale)                 # a CommandError names any bad key or value
    assert sweep.description.strip() and sweep.trials()
    assert "seed" in sweep.grid_keys
    if sweep.published:
        assert sweep.published["citation"] and sweep.published["rows"]


@pytest.mark.parametrize("path", CONFIGS, ids=lambda path: path.stem)
def test_cpu_scale_fits_the_budget_and_says_what_it_gives_up(path):
    estimator = _estimator()
    step_times = json.loads(estimator.STEP_TIMES_FILE.read_text())["nets"]
    trials = estimator.config_trials(path, "cpu")
    seconds = sum(estimator.estimated_seconds(settings, step_times) for _, settings in trials)
    assert seconds <= estimator.CPU_BUDGET_SECONDS, \
        f"{path.name}: the cpu scale is estimated at {seconds / 60:.0f} min, over the budget"
    assert "What the cpu scale gives up" in path.read_text()


def test_the_paper_scale_is_the_papers_recipe():
    """Spot checks against the papers' texts: the VAN paper's CIFAR recipe (Section 4.2)
    and its thin MLPs (Section 4.1)."""
    van = load_config(ROOT / "experiments" / "van.toml", "paper")
    assert (van.base["epochs"], van.base["milestones"], van.base["stages"]) == (165, [82, 125], 4)
    assert sorted({settings["depth"] for _, settings in van.trials()}) == [10, 18, 26, 34, 42, 50, 66, 82]
    mlps = load_config(ROOT / "experiments" / "thin_mlps.toml", "paper")
    assert (mlps.base["width"], mlps.base["lr"], mlps.base["epochs"]) == (50, 0.001, 50)
    van_fractions = {settings.get("multiplier_lr_fraction") for _, settings in mlps.trials()
                     if settings["model"] == "mlp-van" and not settings.get("no_lagrange_multipliers")}
    assert van_fractions == {0.5}
