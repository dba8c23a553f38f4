"""``minires report SWEEP_DIR`` on sweep folders built by hand: the numbers of table.csv
against means and standard deviations worked out below, what report.md says, the
figures, and one clear error for each damaged input."""

import csv
import json
import math
import shutil

import pytest
from PIL import Image

from minires.cli import main
from minires.report.aggregate import (curve_statistics, group_trials, metrics_to_report, paper_value,
                                      summarize)
from minires.report.sweep_folder import read_sweep
from minires.report.tables import minires_versions

CITATION = "He, Zhang, Ren and Sun, Deep Residual Learning for Image Recognition, CVPR 2016, table 6"


def trial_record(trial, settings, status, test=None, train=None, best=None, error=None):
    done = status == "done"
    return {"trial": trial, "settings": settings, "status": status,
            "final": {"epoch": 3, "train_loss": 0.5, "train_error": train, "test_loss": 0.6, "test_error": test}
            if done else None,
            "best": None if best is None else {"epoch": 2, "test_error": best},
            "wall_seconds": 12.5, "started": "2026-12-05T10:00:00", "finished": "2026-12-05T10:00:12",
            "versions": {"minires": "0.1.0", "numpy": "2.4.6"}, "error": error}


def write_trial_folder(sweep, trial, settings, epochs):
    """trials/<trial>/: config.json and metrics.jsonl, ``epochs`` as (train_error, test_error)."""
    folder = sweep / "trials" / trial
    folder.mkdir(parents=True)
    all_settings = {"model": "residual", "depth": 20, "epochs": len(epochs), "seed": 0, "variant": None, **settings}
    (folder / "config.json").write_text(json.dumps({"settings": all_settings, "versions": {"minires": "0.1.0"}}))
    (folder / "metrics.jsonl").write_text("".join(
        json.dumps({"epoch": epoch, "lr": 0.1, "train_loss": 1.0, "train_error": train,
                    "images_per_second": 100.0, "test_loss": 1.1, "test_error": test, "seconds": 4.0}) + "\n"
        for epoch, (train, test) in enumerate(epochs, start=1)))


def write_sweep(sweep, grid_keys, trials, published=None, base=None):
    """A sweep folder; ``trials`` are (id, settings, status, test, train, best, epochs, error).
    Each trial gets a "running" line first, so that the last line must win."""
    sweep.mkdir()
    (sweep / "sweep.json").write_text(json.dumps({
        "name": "degradation", "description": "Plain against residual nets at two depths.",
        "config_file": "configs/degradation.toml", "scale": "quick", "grid_keys": grid_keys,
        "base": base or {"epochs": 3}, "published": published, "created": "2026-12-05T10:00:00",
        "minires": "0.1.0"}))
    lines = [trial_record(trial, settings, "running") for trial, settings, *_ in trials]
    for trial, settings, status, test, train, best, epochs, error in trials:
        lines.append(trial_record(trial, settings, status, test, train, best, error))
        if epochs:
            write_trial_folder(sweep, trial, settings, epochs)
    (sweep / "trials.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    return sweep


def two_by_two_by_two(sweep):
    """Families plain and residual, depths 20 and 32, seeds 0 and 1; residual-32 seed 1
    failed (so that group has n = 1), and plain-32 seed 1 has no best record (its best
    comes from metrics.jsonl: 0.15 at epoch 2)."""
    def settings(model, depth, seed):
        return {"model": model, "depth": depth, "seed": seed}
    published = {"citation": CITATION, "metric": "test_error", "rows": [
        {"model": "plain", "depth": 20, "test_error": 0.10},
        {"model": "plain", "depth": 32, "test_error": "fail"},
        {"model": "residual", "depth": 20, "test_error": 0.0875},
        {"model": "residual", "depth": 110, "test_error": 0.0643}]}
    return write_sweep(sweep, ["model", "depth", "seed"], [
        ("plain-20-s0", settings("plain", 20, 0), "done", 0.10, 0.05, 0.095, [(0.6, 0.5), (0.1, 0.095), (0.05, 0.10)], None),
        ("plain-20-s1", settings("plain", 20, 1), "done", 0.12, 0.07, 0.115, [(0.6, 0.5), (0.1, 0.115), (0.07, 0.12)], None),
        ("plain-32-s0", settings("plain", 32, 0), "done", 0.13, 0.08, 0.125, [(0.7, 0.6), (0.1, 0.125), (0.08, 0.13)], None),
        ("plain-32-s1", settings("plain", 32, 1), "done", 0.16, 0.10, None, [(0.7, 0.6), (0.1, 0.15), (0.10, 0.16)], None),
        ("residual-20-s0", settings("residual", 20, 0), "done", 0.09, 0.04, 0.09, [(0.5, 0.4), (0.1, 0.095), (0.04, 0.09)], None),
        ("residual-20-s1", settings("residual", 20, 1), "done", 0.085, 0.03, 0.08, [(0.5, 0.4), (0.1, 0.08), (0.03, 0.085)], None),
        ("residual-32-s0", settings("residual", 32, 0), "done", 0.08, 0.02, 0.075, [(0.5, 0.4), (0.1, 0.075), (0.02, 0.08)], None),
        ("residual-32-s1", settings("residual", 32, 1), "failed", None, None, None, None,
         "training diverged: the training loss is nan in epoch 2 | see logs"),
    ], published)


def read_csv(path):
    with open(path, newline="") as file:
        return list(csv.DictReader(file))


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """The default report of the 2 x 2 x 2 sweep, made once: (sweep folder, report folder, printed)."""
    sweep = two_by_two_by_two(tmp_path_factory.mktemp("report") / "sweep")
    assert main(["report", str(sweep)]) == 0
    return sweep, sweep / "report"


def test_table_csv_holds_the_means_stds_and_ns_worked_out_by_hand(report):
    _, out = report
    rows = {(row["family"], row["depth"]): row for row in read_csv(out / "table.csv")}
    assert list(rows) == [("plain", "20"), ("plain", "32"), ("residual", "20"), ("residual", "32")]
    # test error, percent: mean of the two seeds, std = |a - b| / sqrt(2) (n - 1 = 1)
    expected = {("plain", "20"): ("11.0000", "1.4142", "2"),          # 10, 12
                ("plain", "32"): ("14.5000", "2.1213", "2"),          # 13, 16: 3 / sqrt 2
                ("residual", "20"): ("8.7500", "0.3536", "2"),        # 9, 8.5: 0.5 / sqrt 2
                ("residual", "32"): ("8.0000", "", "1")}              # one seed: no std
    for key, (mean, std, n) in expected.items():
        row = rows[key]
        assert (row["test_error_mean_percent"], row["test_error_std_percent"], row["test_error_n"]) == (mean, std, n)
    assert rows["residual", "32"]["left_out"] == "1" and rows["plain", "20"]["left_out"] == "0"
    # best test error: trials.jsonl's best, or metrics.jsonl's lowest (plain-32 seed 1: 15)
    assert (rows["plain", "20"]["best_test_error_mean_percent"], rows["plain", "20"]["best_test_error_std_percent"]) \
        == ("10.5000", "1.4142")                                      # 9.5, 11.5
    assert (rows["plain", "32"]["best_test_error_mean_percent"], rows["plain", "32"]["best_test_error_std_percent"]) \
        == ("13.7500", "1.7678")                                      # 12.5, 15: 2.5 / sqrt 2
    assert (rows["residual", "20"]["train_error_mean_percent"], rows["residual", "20"]["train_error_std_percent"]) \
        == ("3.5000", "0.7071")                                       # 4, 3
    # the paper: a number, "fail", or nothing; the difference in percentage points
    assert (rows["plain", "20"]["paper_test_error_percent"], rows["plain", "20"]["difference_test_error_percent"]) \
        == ("10.0000", "1.0000")
    assert (rows["plain", "32"]["paper_test_error_percent"], rows["plain", "32"]["difference_test_error_percent"]) \
        == ("fail", "")
    assert (rows["residual", "20"]["paper_test_error_percent"],
            rows["residual", "20"]["difference_test_error_percent"]) == ("8.7500", "0.0000")   # never -0.0000
    assert (rows["residual", "32"]["paper_test_error_percent"],
            rows["residual", "32"]["difference_test_error_percent"]) == ("", "")
    assert rows["plain", "20"]["model"] == "plain"


def test_report_md_says_how_to_remake_it_and_lists_the_failed_trial(report):
    sweep, out = report
    text = (out / "report.md").read_text()
    assert f"    minires report {sweep}\n" in text
    assert "- minires: 0.1.0" in text and "- trials: 8 recorded: 7 done, 1 failed" in text
    assert "- time: 1.5 min of training for the 7 finished trials\n" in text       # 7 x 12.5 s
    lines = text.splitlines()
    plain_20 = next(line for line in lines if line.startswith("| plain | 20 |"))
    assert plain_20 == "| plain | 20 | 2 | 11.00 | 1.41 | 10.50 | 1.41 | 6.00 | 1.41 | 10.00 | +1.00 |"
    assert next(line for line in lines if line.startswith("| plain | 32 |")).endswith("| fail | - |")
    assert next(line for line in lines if line.startswith("| residual | 32 |")) \
        == "| residual | 32 | 1 | 8.00 | - | 7.50 | - | 2.00 | - | - | - |"
    table_end = max(index for index, line in enumerate(lines) if line.startswith("| residual | 32 |"))
    assert lines[table_end + 2].startswith(f"Paper: {CITATION}.")               # under the table
    assert "match no trial of this sweep: model=residual, depth=110" in text
    left_out = text[text.index("## Trials left out of the means"):]
    assert ("| residual-32-s1 | model=residual, depth=32, seed=1 | failed | training diverged: the training "
            "loss is nan in epoch 2 \\| see logs |") in left_out
    assert "plain-20-s0" not in left_out
    assert "![" in text and "(error_vs_depth.png)" in text and "(curves.png)" in text


def test_the_figures_are_pngs(report):
    _, out = report
    for name in ("error_vs_depth.png", "curves.png"):
        with Image.open(out / name) as image:
            assert image.format == "PNG" and image.size[0] > 300 and image.size[1] > 200
        assert (out / name).stat().st_size > 5000
    assert not (out / "families.png").exists()


def test_the_last_line_of_a_trial_wins_and_groups_keep_the_sweeps_order(report):
    sweep, _ = report
    read = read_sweep(sweep)
    assert [trial.trial for trial in read.trials][:2] == ["plain-20-s0", "plain-20-s1"]
    assert [trial.status for trial in read.trials].count("running") == 0
    groups = group_trials(read)
    assert [(group.label, group.depth, len(group.done), len(group.left_out)) for group in groups] == [
        ("plain", 20, 2, 0), ("plain", 32, 2, 0), ("residual", 20, 2, 0), ("residual", 32, 1, 1)]
    assert [group.paper for group in groups] == [0.10, "fail", 0.0875, None]


def test_summaries_and_curves():
    assert summarize([]) == (None, None, 0)
    assert summarize([0.25]) == (0.25, None, 1)
    mean, std, n = summarize([0.1, 0.2, 0.6])
    assert n == 3 and math.isclose(mean, 0.3) and math.isclose(std, math.sqrt((0.04 + 0.01 + 0.09) / 2))
    short = [{"epoch": 1, "test_error": 0.5}, {"epoch": 2, "test_error": 0.3}]
    long = [{"epoch": 1, "test_error": 0.7}, {"epoch": 2, "test_error": 0.1}, {"epoch": 3, "test_error": 0.2}]
    curves = curve_statistics([short, long])
    assert curves.epochs == [1, 2, 3] and curves.mean == pytest.approx([0.6, 0.2, 0.2])
    assert curves.std == pytest.approx([math.sqrt(0.02), math.sqrt(0.02), 0.0])   # one seed reached epoch 3


def test_the_most_specific_published_row_wins():
    published = {"metric": "test_error", "rows": [{"model": "plain", "test_error": 0.2},
                                                  {"model": "plain", "depth": 20, "test_error": 0.1},
                                                  {"model": "plain", "depth": 56, "test_error": None}]}
    assert paper_value(published, {"model": "plain", "depth": 20, "width": 16}) == 0.1
    assert paper_value(published, {"model": "plain", "depth": 44}) == 0.2
    assert paper_value(published, {"model": "plain", "depth": 56}) == "fail"      # null: no number, as "fail"
    assert paper_value(published, {"model": "residual", "depth": 20}) is None
    assert metrics_to_report(None, None) == ["test_error", "best_test_error", "train_error"]
    assert metrics_to_report(["train_error"], published) == ["train_error", "test_error"]


def test_one_depth_gives_a_bar_chart_of_the_families(tmp_path, capsys):
    """Depth not varied: families.png, not error_vs_depth.png, and report.md says why."""
    def settings(variant, seed):
        return {"model": "scaled_residual", "variant": variant, "seed": seed}
    sweep = write_sweep(tmp_path / "sweep", ["model", "variant", "seed"], [
        ("dropout-s0", settings("dropout", 0), "done", 0.20, 0.10, 0.19, [(0.5, 0.4), (0.10, 0.20)], None),
        ("dropout-s1", settings("dropout", 1), "done", 0.30, 0.20, 0.29, [(0.5, 0.4), (0.20, 0.30)], None),
        ("gating-s0", settings("gating", 0), "interrupted", None, None, None, None, "stopped by Ctrl-C"),
        ("gating-s1", settings("gating", 1), "done", 0.25, 0.15, 0.24, [(0.5, 0.4), (0.15, 0.25)], None),
        ("gating-s2", settings("gating", 2), "running", None, None, None, None, None),
    ], base={"depth": 56, "epochs": 2})
    out = tmp_path / "report-out"
    assert main(["report", str(sweep), "--out", str(out), "--metric", "test_error"]) == 0
    assert "3 of 5 trials finished" in capsys.readouterr().out
    assert sorted(path.name for path in out.iterdir()) == ["curves.png", "families.png", "report.md", "table.csv"]
    with Image.open(out / "families.png") as image:
        assert image.format == "PNG" and image.size[0] > 300
    rows = read_csv(out / "table.csv")
    assert [(row["family"], row["variant"], row["depth"], row["test_error_mean_percent"],
             row["test_error_std_percent"], row["test_error_n"], row["left_out"]) for row in rows] == [
        ("scaled_residual, variant=dropout", "dropout", "56", "25.0000", "7.0711", "2", "0"),  # 20, 30: 10 / sqrt 2
        ("scaled_residual, variant=gating", "gating", "56", "25.0000", "", "1", "2")]
    assert "train_error_mean_percent" not in rows[0]                                          # --metric
    text = (out / "report.md").read_text()
    assert "The depth was not varied (every trial at depth 56)" in text and "(families.png)" in text
    assert f"    minires report {sweep} --out {out} --metric test_error\n" in text
    assert "| gating-s0 | model=scaled_residual, variant=gating, seed=0 | interrupted | stopped by Ctrl-C |" in text
    assert "| gating-s2 | model=scaled_residual, variant=gating, seed=2 | running | still running" in text
    assert "Paper:" not in text


# -- damaged inputs: one line, the right exit status, and no report written ----------------------

def _replace_line(number, text):
    def damage(sweep):
        lines = (sweep / "trials.jsonl").read_text().splitlines()
        lines[number - 1] = text
        (sweep / "trials.jsonl").write_text("\n".join(lines) + "\n")
    return damage


def _edit_sweep_json(**fields):
    def damage(sweep):
        info = json.loads((sweep / "sweep.json").read_text())
        info.update(fields)
        (sweep / "sweep.json").write_text(json.dumps(info))
    return damage


def _write(name, text):
    def damage(sweep):
        (sweep / name).write_text(text)
    return damage


def _remove(name):
    def damage(sweep):
        (sweep / name).unlink()
    return damage


def _only_failures(sweep):
    lines = [json.loads(line) for line in (sweep / "trials.jsonl").read_text().splitlines()]
    for line in lines:
        line.update(status="failed", final=None, error="out of memory")
    (sweep / "trials.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))


DONE_LINE = 9            # the first "done" line: eight "running" lines come first

DAMAGED = [
    ("a-missing-folder", None, "nowhere", "nowhere does not exist", 2),
    ("a-run-folder", None, "sweep/trials/plain-20-s0", "has no sweep.json (it is a run folder of minires train", 2),
    ("no-sweep-json", _remove("sweep.json"), None, "is not a sweep folder: it has no sweep.json; give", 2),
    ("sweep-json-not-json", _write("sweep.json", "{"), None, "sweep.json is damaged: not JSON", 1),
    ("sweep-json-without-grid-keys", _edit_sweep_json(grid_keys="model"), None,
     "its field grid_keys must be a list", 1),
    ("published-with-an-unknown-metric", _edit_sweep_json(published={"rows": [], "metric": "accuracy"}), None,
     "names the metric 'accuracy'", 1),
    ("published-row-not-a-number", _edit_sweep_json(published={"rows": [{"model": "plain", "test_error": "8%"}]}),
     None, "row 1 must be an object of settings and test_error", 1),
    ("published-without-rows", _edit_sweep_json(published={"citation": "x"}), None,
     "its published table (the config's [published]) must have a list of rows", 1),
    ("no-trials-jsonl", _remove("trials.jsonl"), None, "trials.jsonl is missing", 1),
    ("a-line-not-an-object", _replace_line(DONE_LINE, '["plain-20-s0", "done"]'), None,
     f"trials.jsonl is damaged: line {DONE_LINE} is not a JSON object (found list)", 1),
    ("a-line-without-trial", _replace_line(3, '{"status": "done"}'), None, "line 3 has no trial id", 1),
    ("a-trial-id-leaving-the-folder", _replace_line(3, '{"trial": "../x", "status": "running", "settings": {}}'),
     None, "line 3 has no trial id", 1),
    ("an-unknown-status", _replace_line(2, '{"trial": "t", "status": "finished", "settings": {}}'), None,
     "has the status 'finished'", 1),
    ("done-without-final", _replace_line(DONE_LINE, '{"trial": "plain-20-s0", "status": "done", "settings": {}}'),
     None, "its final train_error is None", 1),
    ("wall-seconds-not-a-number", _replace_line(2, '{"trial": "t", "status": "running", "settings": {}, '
                                                   '"wall_seconds": "long"}'), None,
     "has the wall_seconds 'long', not a number of seconds", 1),
    ("done-without-metrics", _remove("trials/plain-20-s0/metrics.jsonl"), None,
     "trial plain-20-s0 is done, but", 1),
    ("done-without-its-folder", lambda sweep: shutil.rmtree(sweep / "trials" / "plain-20-s1"), None,
     "its run folder", 1),
    ("damaged-metrics", _write("trials/plain-20-s0/metrics.jsonl", '{"epoch": 1}\n'), None,
     "metrics.jsonl is damaged: line 1 has no numeric train_error", 1),
    ("no-finished-trial", _only_failures, None, "has no finished trial to report (8 trials: failed)", 2),
]


@pytest.mark.parametrize("damage, folder, message, status", [row[1:] for row in DAMAGED],
                         ids=[row[0] for row in DAMAGED])
def test_a_damaged_sweep_gives_one_clear_line(tmp_path, capsys, damage, folder, message, status):
    sweep = two_by_two_by_two(tmp_path / "sweep")
    if damage:
        damage(sweep)
    capsys.readouterr()
    assert main(["report", str(tmp_path / (folder or "sweep"))]) == status
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err and len(captured.err.strip().splitlines()) == 1, captured.err
    assert captured.err.startswith("minires: error: ") and message in captured.err, captured.err
    assert not (sweep / "report").exists()


def test_out_must_be_a_folder_in_an_existing_folder(tmp_path, capsys):
    sweep = two_by_two_by_two(tmp_path / "sweep")
    (tmp_path / "file").write_text("notes")
    assert main(["report", str(sweep), "--out", str(tmp_path / "file")]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err
    assert main(["report", str(sweep), "--out", str(tmp_path / "no" / "such")]) == 2
    assert "does not exist" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["report", str(sweep), "--metric", "accuracy"])
    assert exit_info.value.code == 2 and "invalid choice: 'accuracy'" in capsys.readouterr().err


def test_a_depth_whose_trials_all_failed_keeps_its_row_with_n_0(tmp_path):
    """Only depth and seed varied: one family, named by the model in config.json; a depth
    with no finished trial is a row with n = 0 and no numbers, and is left out of the figures."""
    def settings(depth, seed):
        return {"depth": depth, "seed": seed}
    sweep = write_sweep(tmp_path / "sweep", ["depth", "seed"], [
        ("d20-s0", settings(20, 0), "done", 0.10, 0.05, 0.09, [(0.5, 0.4), (0.05, 0.10)], None),
        ("d20-s1", settings(20, 1), "done", 0.11, 0.06, 0.10, [(0.5, 0.4), (0.06, 0.11)], None),
        ("d110-s0", settings(110, 0), "failed", None, None, None, None, "ran out of memory"),
        ("d110-s1", settings(110, 1), "failed", None, None, None, None, "ran out of memory"),
    ])
    assert main(["report", str(sweep), "--metric", "test_error", "best_test_error"]) == 0
    rows = read_csv(sweep / "report" / "table.csv")
    assert [(row["family"], row["depth"], row["test_error_mean_percent"], row["test_error_n"], row["left_out"])
            for row in rows] == [("residual", "20", "10.5000", "2", "0"), ("residual", "110", "", "0", "2")]
    text = (sweep / "report" / "report.md").read_text()
    assert "| residual | 110 | 0 | - | - | - | - |" in text
    assert text.count("| failed | ran out of memory |") == 2
    with Image.open(sweep / "report" / "error_vs_depth.png") as image:
        assert image.format == "PNG"


def test_a_line_cut_short_by_a_killed_sweep_is_skipped_and_named(tmp_path):
    """minires sweep skips a line a kill cut short (the next one starts on a line of its
    own); the report does too, and says so. Here it was plain-20-s0's "done" line, so that
    trial stays "running". A long error (a log's last lines) is shortened in report.md."""
    sweep = two_by_two_by_two(tmp_path / "sweep")
    _replace_line(DONE_LINE, '{"trial": "plain-20-s0", "status": "do')(sweep)
    long_error = "exit status 1; the log ends:\n" + "\n".join(f"line {number} of the log" for number in range(40))
    _replace_line(DONE_LINE + 7, json.dumps(trial_record("residual-32-s1", {"model": "residual", "depth": 32,
                                                                           "seed": 1}, "failed", error=long_error)))(sweep)
    assert main(["report", str(sweep), "--metric", "test_error"]) == 0
    rows = read_csv(sweep / "report" / "table.csv")
    assert [(row["test_error_mean_percent"], row["test_error_n"]) for row in rows][0] == ("12.0000", "1")
    text = (sweep / "report" / "report.md").read_text()
    assert f"- trials.jsonl lines {DONE_LINE} are not JSON (cut short" in text
    assert "| plain-20-s0 | model=plain, depth=20, seed=0 | running | still running" in text
    failed = next(line for line in text.splitlines() if line.startswith("| residual-32-s1 |"))
    assert "exit status 1; the log ends: line 0 of the log line 1" in failed
    assert failed.endswith("... (see logs/residual-32-s1.log) |") and len(failed) < 450


def test_the_report_names_the_commit_each_trial_ran(tmp_path):
    sweep = read_sweep(two_by_two_by_two(tmp_path / "sweep"))
    assert minires_versions(sweep) == "0.1.0"                     # trials that recorded no commit
    for trial in sweep.trials:
        trial.versions["minires_commit"] = "c" * 40
    assert minires_versions(sweep) == "0.1.0, commit " + "c" * 40
    sweep.trials[0].versions["minires_commit"] = "d" * 40 + "+modified"
    assert minires_versions(sweep).startswith(f"0.1.0, commit {'d' * 40}+modified (plain-20-s0); "
                                              f"0.1.0, commit {'c' * 40} (plain-20-s1, plain-32-s0, plain-32-s1, ...)")


def test_tracked_alpha_and_noise_stability_are_summed_up_per_group(tmp_path, capsys):
    """VAN at depth 10, two seeds: plain at steps 30 and 20 (mean 25, std 10 / sqrt 2);
    VAN (lambda = 0) at depth 10, two seeds: one never plain. Noise stability per layer at
    the last record: means over the layers 0.2 and 0.4 (mean 0.3, std 0.2 / sqrt 2)."""
    def van(seed, **settings):
        return {"model": "van", "depth": 10, "seed": seed, **settings}
    sweep = write_sweep(tmp_path / "sweep", ["model", "no_lagrange_multipliers", "depth", "seed"], [
        ("van-s0", van(0), "done", 0.30, 0.20, None, [(0.5, 0.4), (0.3, 0.30)], None),
        ("van-s1", van(1), "done", 0.32, 0.22, None, [(0.5, 0.4), (0.3, 0.32)], None),
        ("free-s0", van(0, no_lagrange_multipliers=True), "done", 0.31, 0.21, None, [(0.5, 0.4), (0.3, 0.31)], None),
        ("free-s1", van(1, no_lagrange_multipliers=True), "done", 0.33, 0.23, None, [(0.5, 0.4), (0.3, 0.33)], None),
    ], base={"epochs": 2, "track": ["alpha", "noise-stability"], "data": "cifar10-jpeg.tar.gz"})
    residuals = {"van-s0": [16.0, 0.5, 0.0, 0.0], "van-s1": [16.0, 0.0, 0.0, 0.0],
                 "free-s0": [16.0, 4.0, 0.0, 0.0], "free-s1": [16.0, 8.0, 2.0, 0.25]}
    noise = {"van-s0": [0.1, 0.3], "van-s1": [0.3, 0.5], "free-s0": [0.2, 0.2], "free-s1": [0.2, 0.2]}
    for trial, values in residuals.items():
        records = [{"step": 10 * (index + 1), "epoch": 1 + index // 2, "alpha_residual": value,
                    "noise_stability": [9.0, 9.0], "weight_layers": ["conv", "fc"]}
                   for index, value in enumerate(values)]
        records[-1]["noise_stability"] = noise[trial]
        (sweep / "trials" / trial / "tracks.jsonl").write_text("".join(json.dumps(record) + "\n" for record in records))
    (sweep / "data.sha256").write_text("ab" * 32 + "  cifar10-jpeg.tar.gz\n")
    assert main(["report", str(sweep)]) == 0
    rows = read_csv(sweep / "report" / "tracks.csv")
    families = [(row["family"], row["depth"]) for row in rows]
    assert families == [("van", "10"), ("van, no_lagrange_multipliers=True", "10")]
    van_row, free_row = rows
    assert (van_row["plain_at_step_mean"], van_row["plain_at_step_std"], van_row["plain_at_step_n"],
            van_row["never_plain"]) == ("25", "7.07107", "2", "0")
    assert (free_row["plain_at_step_mean"], free_row["plain_at_step_std"], free_row["plain_at_step_n"],
            free_row["never_plain"]) == ("30", "", "1", "1")
    assert (free_row["alpha_residual_last_mean"], free_row["alpha_residual_last_std"]) == ("0.125", "0.176777")
    # nearly plain (residual <= 0.01): van at steps 30 and 20, VAN (lambda = 0) at 30 and never
    assert (van_row["nearly_plain_at_step_mean"], van_row["nearly_plain_at_step_n"], van_row["never_nearly_plain"],
            free_row["nearly_plain_at_step_mean"], free_row["never_nearly_plain"]) == ("25", "2", "0", "30", "1")
    assert (van_row["noise_stability_mean_mean"], van_row["noise_stability_mean_std"]) == ("0.3", "0.141421")
    text = (sweep / "report" / "report.md").read_text()
    assert "## Tracked inside the nets" in text and "30 (n=1), 1 never" in text
    assert f"- data: cifar10-jpeg.tar.gz, sha256 {'ab' * 32} (data.sha256)" in text
    for name in ("alpha_residual.png", "noise_stability.png"):
        assert Image.open(sweep / "report" / name).size[0] > 300 and f"![{name}]({name})" in text

    (sweep / "data.sha256").write_text("not a hash\n")
    assert main(["report", str(sweep)]) == 2
    assert "data.sha256 is damaged" in capsys.readouterr().err
