"""The command line of the units of "Identity Mappings in Deep Residual Networks":
every row of its Tables 1 and 2 is one ``minires train`` command (a tiny run each: 256
training and 128 test images of the bundled sample, width 4, depth 8, one epoch); the
new settings round-trip through config.json and --resume, runs made before them still
resume, and each mistake is a one-line error naming the option.
"""

import json

import pytest

from minires.cli import main

TINY_RUN = ["--epochs", "1", "--train-subset", "256", "--test-subset", "128", "--width", "4", "--depth", "8",
            "--device", "cpu", "--no-progress"]
# Every row of Tables 1 and 2, as the module docstring of minires/cli/models_table.py gives it.
ROWS = {
    "table1_original": ["--model", "residual"],
    "table2_original": ["--model", "residual", "--placement", "original"],
    "table2_bn_after_addition": ["--model", "residual", "--placement", "bn_after_addition"],
    "table2_relu_before_addition": ["--model", "residual", "--placement", "relu_before_addition"],
    "table2_relu_only_preactivation": ["--model", "residual", "--placement", "relu_only_preactivation"],
    "table2_full_preactivation": ["--model", "residual", "--placement", "full_preactivation"],
    "table1_constant_scaling_shortcut_only": ["--model", "scaled_residual", "--variant", "constant_scaling"],
    "table1_constant_scaling_both": ["--model", "scaled_residual", "--variant", "constant_scaling",
                                     "--residual-scale", "0.5"],
    "table1_exclusive_gating": ["--model", "scaled_residual", "--variant", "exclusive_gating", "--gate-bias", "-6"],
    "table1_shortcut_only_gating": ["--model", "scaled_residual", "--variant", "shortcut_only_gating",
                                    "--gate-bias", "0"],
    "table1_shortcut_only_gating_best": ["--model", "scaled_residual", "--variant", "shortcut_only_gating",
                                         "--gate-bias", "-6"],
    "table1_conv1x1_shortcut": ["--model", "scaled_residual", "--variant", "conv1x1_shortcut"],
    "table1_dropout_shortcut": ["--model", "scaled_residual", "--variant", "dropout_shortcut", "--dropout-p", "0.5"],
}


def settings_of(out):
    return json.loads((out / "config.json").read_text())["settings"]


@pytest.mark.parametrize("row", ROWS)
def test_each_row_is_one_command(row, tmp_path):
    out = tmp_path / row
    assert main(["train", *ROWS[row], *TINY_RUN, "--out", str(out)]) == 0
    settings = settings_of(out)
    typed = dict(zip(ROWS[row][::2], ROWS[row][1::2]))
    for option, value in typed.items():
        name = option[2:].replace("-", "_")
        assert str(settings[name]) == value or settings[name] == float(value), (name, settings[name])


def test_the_new_settings_round_trip_through_resume(tmp_path):
    out = tmp_path / "run"
    options = ["train", "--model", "scaled_residual", "--variant", "constant_scaling", "--residual-scale", "0.5",
               "--shortcut-scale", "0.25", *TINY_RUN, "--out", str(out)]
    assert main(options) == 0
    settings = settings_of(out)
    assert (settings["variant"], settings["residual_scale"], settings["shortcut_scale"]) == ("constant_scaling", 0.5,
                                                                                            0.25)
    assert settings["placement"] is None
    resume = ["train", "--resume", "--out", str(out), "--no-progress"]
    assert main([*resume, "--epochs", "2"]) == 0
    assert settings_of(out)["residual_scale"] == 0.5


def test_a_placement_run_resumes_and_refuses_another_placement(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--model", "residual", "--placement", "bn_after_addition", *TINY_RUN, "--out", str(out)]) == 0
    capsys.readouterr()
    resume = ["train", "--resume", "--out", str(out), "--no-progress", "--epochs", "2"]
    assert main([*resume, "--placement", "relu_before_addition"]) == 2
    assert "--placement relu_before_addition (the run has bn_after_addition)" in capsys.readouterr().err
    assert main(resume) == 0
    assert settings_of(out)["placement"] == "bn_after_addition"


def test_runs_without_the_new_settings_resume(tmp_path):
    """A config.json written before placement and the scales existed, with an old variant name."""
    out = tmp_path / "run"
    assert main(["train", "--model", "scaled_residual", "--variant", "constant", *TINY_RUN, "--out", str(out)]) == 0
    config = json.loads((out / "config.json").read_text())
    for name in ("placement", "residual_scale", "shortcut_scale"):
        del config["settings"][name]
    (out / "config.json").write_text(json.dumps(config))
    assert main(["train", "--resume", "--out", str(out), "--no-progress", "--epochs", "2"]) == 0
    assert settings_of(out)["variant"] == "constant"


def test_a_damaged_placement_in_config_json(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--model", "residual", "--placement", "original", *TINY_RUN, "--out", str(out)]) == 0
    config = json.loads((out / "config.json").read_text())
    config["settings"]["placement"] = "preact"
    (out / "config.json").write_text(json.dumps(config))
    capsys.readouterr()
    assert main(["train", "--resume", "--out", str(out), "--no-progress", "--epochs", "2"]) == 1
    assert "settings.placement is preact; expected one of original, bn_after_addition" in capsys.readouterr().err


@pytest.mark.parametrize("options, message", [
    (["--model", "plain", "--placement", "original"],
     "--placement does not apply to --model plain (it takes: none)"),
    (["--model", "residual_v2", "--placement", "full_preactivation"],
     "--placement does not apply to --model residual_v2 (it takes: --shortcut, --zero-init-last-bn)"),
    (["--model", "residual", "--residual-scale", "0.5"], "--residual-scale does not apply to --model residual"),
    (["--model", "scaled_residual", "--variant", "exclusive_gating", "--residual-scale", "0.5"],
     "--residual-scale does not apply to --variant exclusive_gating (it applies to --variant learned and "
     "constant_scaling)"),
    (["--model", "scaled_residual", "--variant", "constant", "--gate-bias", "-6"],
     "--gate-bias does not apply to --variant constant (it applies to --variant exclusive_gating and "
     "shortcut_only_gating)"),
    (["--model", "scaled_residual", "--dropout-p", "0.5"],
     "--dropout-p does not apply to the default --variant learned (it applies to --variant dropout_shortcut)"),
    (["--model", "residual", "--placement", "bn_after_addition", "--zero-init-last-bn"],
     "--zero-init-last-bn cannot start a --placement bn_after_addition block as its shortcut"),
    (["--model", "scaled_residual", "--variant", "constant_scaling", "--shortcut-scale", "nan"],
     "--shortcut-scale nan: expected a finite number"),
])
def test_mistakes_are_one_line_errors(options, message, tmp_path, capsys):
    assert main(["train", *options, *TINY_RUN, "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and message in err, err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("options, message", [
    (["--placement", "preact"], "argument --placement: invalid choice: 'preact' (choose from "),
    (["--variant", "gating"], "argument --variant: invalid choice: 'gating' (choose from "),
    (["--residual-scale", "half"], "argument --residual-scale: invalid float value: 'half'"),
])
def test_bad_values_are_refused_by_the_parser(options, message, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--model", "residual", *options, "--out", str(tmp_path / "run")])
    assert exit_info.value.code == 2
    assert message in " ".join(capsys.readouterr().err.split())
