"""results/: the published sweeps (issue 21) can be made again from their committed files.

For every results/<claim>/ folder (written by tools/publish_results.py), `minires report`
run afresh on the committed trial files must give the committed table.csv and tracks.csv
byte for byte, and the same report.md but for the command line it names. No checkpoint
is committed, every trial finished, and the data archive's sha256 is there.

The README's Results table is checked against them: each row points to a results folder,
and every "mean ± std" it quotes is a mean and standard deviation of that folder's
table.csv or tracks.csv, rounded as the README shows it.
"""

import csv
import json
import pathlib
import re

import pytest

from minires.cli import main

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
    last = {}
    for line in (folder / "trials.jsonl").read_text().splitlines():
        record = json.loads(line)
        last[record["trial"]] = record["status"]
    assert last and set(last.values()) == {"done"}
    for trial in last:
        assert {"config.json", "metrics.jsonl"} <= {path.name for path in (folder / "trials" / trial).iterdir()}


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
