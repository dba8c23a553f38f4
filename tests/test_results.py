"""results/: the published sweeps (issue 21) can be made again from their committed files.

For every results/<claim>/ folder (written by tools/publish_results.py), `minires report`
run afresh on the committed trial files must give the committed table.csv and tracks.csv
byte for byte, and the same report.md but for the command line it names. No checkpoint
is committed, every trial finished (or failed with its log kept, where the failure is the
result: a loss that became NaN), and the data archive's sha256 is there.

The README's Results table is checked against them: each row points to a results folder,
and every "mean ± std" it quotes is a mean and standard deviation of that folder's
table.csv or tracks.csv, rounded as the README shows it.
"""

import csv
import hashlib
import importlib.util
import pathlib
import re

import pytest

from minires.cli import main
from minires.report.sweep_folder import read_sweep

ROOT = pathlib.Path(__file__).resolve().parent.parent
RESULTS = ROOT / "results"
FOLDERS = sorted(path.parent for path in RESULTS.glob("*/sweep.json"))
MEAN_AND_STD = re.compile(r"(-?\d+(?:\.\d+)?) ± (\d+(?:\.\d+)?)")


def test_there_are_published_results():
    assert FOLDERS, "results/ holds no published sweep (a folder with sweep.json)"


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda folder: folder.name)
def test_minires_report_makes_the_committed_numbers_again(folder, tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)                          # the committed report names the folder from here
    relative = folder.relative_to(ROOT).as_posix()
    assert main(["report", relative, "--out", str(tmp_path)]) == 0
    for name in ("table.csv", "tracks.csv"):
        if (folder / name).exists() or (tmp_path / name).exists():
            assert (tmp_path / name).read_text() == (folder / name).read_text(), f"{relative}/{name} differs"
    command = f"    minires report {relative} --out {relative}"
    committed = (folder / "report.md").read_text().splitlines()
    assert command in committed, f"{relative}/report.md was not made in place by tools/publish_results.py"
    again = (tmp_path / "report.md").read_text().splitlines()
    assert [line for line in again if not line.startswith("    minires report ")] \
        == [line for line in committed if line != command]
    for line in committed:                          # every figure it shows is committed
        for name in re.findall(r"!\[[^]]*\]\(([^)]+)\)", line):
            assert (folder / name).read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda folder: folder.name)
def test_a_results_folder_holds_finished_trials_their_data_hash_and_no_checkpoint(folder):
    assert not list(folder.rglob("*.npz")), "checkpoints are never committed"
    assert re.fullmatch(r"[0-9a-f]{64}  \S+\n", (folder / "data.sha256").read_text())
    sweep = read_sweep(folder)                      # checked; a trial's last line wins
    assert not sweep.cut_lines, "trials.jsonl has lines cut short"
    statuses = {trial.status for trial in sweep.trials}
    assert "done" in statuses and statuses <= {"done", "failed"}
    report = (folder / "report.md").read_text()
    for trial in sweep.trials:
        if trial.status == "done":
            written = {path.name for path in (folder / "trials" / trial.trial).iterdir()}
            assert {"config.json", "metrics.jsonl"} <= written
        else:                                       # kept with --keep-failed: its log and its error shown
            assert trial.error and (folder / "logs" / f"{trial.trial}.log").is_file()
            assert f"| {trial.trial} |" in report and "| failed |" in report


def _mean_std_pairs(folder) -> set:
    """(mean, std) strings of every column pair of table.csv and tracks.csv."""
    pairs = set()
    for name in ("table.csv", "tracks.csv"):
        if not (folder / name).exists():
            continue
        with open(folder / name, newline="") as file:
            for row in csv.DictReader(file):
                for column, mean in row.items():
                    for suffix in ("_mean_percent", "_mean"):
                        if column.endswith(suffix) and mean:
                            std = row.get(column[:-len(suffix)] + suffix.replace("mean", "std"))
                            pairs.add((float(mean), float(std) if std else None))
    return pairs


def _results_rows() -> list:
    """The rows of the README's Results table (after its header and rule)."""
    text = (ROOT / "README.md").read_text()
    section = text.split("\n## Results\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|")]
    return rows[2:]


def _shown_as(value, text) -> bool:
    decimals = len(text.split(".")[1]) if "." in text else 0
    return value is not None and f"{round(value, decimals) + 0.0:.{decimals}f}" == text


def test_every_readme_results_row_points_to_a_folder_whose_numbers_it_quotes():
    rows = _results_rows()
    assert rows, "the README has no Results table"
    published = {folder.name for folder in FOLDERS}
    linked = {link for row in rows for link in re.findall(r"\(results/([^/)]+)/?\)", row)}
    assert published <= linked, f"results folders without a README row: {sorted(published - linked)}"
    for row in rows:
        links = re.findall(r"\(results/([^/)]+)/?\)", row)
        assert links and all(link in published for link in links), f"a Results row without its folder: {row}"
        quoted = MEAN_AND_STD.findall(row)
        assert quoted, f"a Results row quotes no mean ± std: {row}"
        pairs = set().union(*(_mean_std_pairs(RESULTS / link) for link in links))
        for mean, std in quoted:
            assert any(_shown_as(m, mean) and _shown_as(s, std) for m, s in pairs), \
                f"{mean} ± {std} in the README's Results row for {links} is in no table of results/{links[0]}"


def _publisher():
    spec = importlib.util.spec_from_file_location("publish_results", ROOT / "tools" / "publish_results.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_publishing_copies_the_small_files_hashes_the_data_and_makes_the_report(tmp_path, capsys):
    from test_report import two_by_two_by_two, write_sweep
    archive = tmp_path / "images.tar.gz"
    archive.write_bytes(b"not really images" * 1000)

    def done(model, seed):
        return (f"{model}-s{seed}", {"model": model, "depth": 20, "seed": seed}, "done", 0.1 + seed / 100, 0.05,
                None, [(0.5, 0.4), (0.05, 0.1 + seed / 100)], None)
    sweep = write_sweep(tmp_path / "sweep", ["model", "depth", "seed"],
                        [done("plain", 0), done("plain", 1), done("residual", 0)], base={"data": str(archive)})
    (sweep / "sweep.toml").write_text('name = "degradation"\n')
    (sweep / "trials" / "plain-s0" / "checkpoint.npz").write_bytes(b"weights")
    (sweep / "logs").mkdir()
    (sweep / "logs" / "plain-s0.log").write_text("epoch 1 ...")
    out = tmp_path / "results" / "claim"
    assert _publisher().main([str(sweep), str(out)]) == 0
    copied = sorted(path.relative_to(out).as_posix() for path in out.rglob("*") if path.is_file())
    assert [name for name in copied if name.startswith("trials/")] == [
        f"trials/{trial}/{name}" for trial in ("plain-s0", "plain-s1", "residual-s0")
        for name in ("config.json", "metrics.jsonl")]
    assert {"sweep.json", "sweep.toml", "trials.jsonl", "data.sha256", "report.md", "table.csv"} <= set(copied)
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    assert (out / "data.sha256").read_text() == f"{digest}  images.tar.gz\n"
    assert f"sha256 {digest} (data.sha256)" in (out / "report.md").read_text()

    unfinished = two_by_two_by_two(tmp_path / "unfinished")           # residual-32-s1 failed
    (unfinished / "sweep.toml").write_text('name = "degradation"\n')
    with pytest.raises(SystemExit, match="1 of 8 trials are not done: residual-32-s1 .failed."):
        _publisher().main([str(unfinished), str(tmp_path / "results" / "other")])
    assert not (tmp_path / "results" / "other").exists()
    with pytest.raises(SystemExit, match="residual-32-s1 have no log"):     # kept only with its log
        _publisher().main([str(unfinished), str(tmp_path / "results" / "other"), "--keep-failed"])
    (unfinished / "logs").mkdir()
    (unfinished / "logs" / "residual-32-s1.log").write_text("the training loss is nan\n")
    assert _publisher().main([str(unfinished), str(tmp_path / "results" / "other"), "--data", str(archive),
                              "--keep-failed"]) == 0
    kept = tmp_path / "results" / "other"
    assert (kept / "logs" / "residual-32-s1.log").read_text() == "the training loss is nan\n"
    assert not (kept / "trials" / "residual-32-s1").exists()           # it wrote no trial files
    assert "| residual-32-s1 | model=residual, depth=32, seed=1 | failed |" in (kept / "report.md").read_text()

    stopped = write_sweep(tmp_path / "stopped", ["model", "seed"], [
        done("plain", 0), ("plain-s1", {"model": "plain", "depth": 20, "seed": 1}, "interrupted",
                           None, None, None, None, "stopped by SIGTERM")], base={"data": str(archive)})
    (stopped / "sweep.toml").write_text('name = "degradation"\n')
    with pytest.raises(SystemExit, match="1 of 2 trials are not done: plain-s1 .interrupted."):
        _publisher().main([str(stopped), str(tmp_path / "results" / "third"), "--keep-failed"])
