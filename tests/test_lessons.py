"""The lesson notebooks and their worked solutions: each runs top to bottom in the quick
setting, the committed copy holds the outputs of a full-setting run (tools/run_lessons.py),
and a record measured alone on the machine says that all of them together take under 10
minutes in the quick setting."""

import json
import os
import pathlib
import re
import time

import pytest

from minires.lessons.settings import notebook_code_hash

nbformat = pytest.importorskip("nbformat", reason="the notebook tests need the test extra (nbformat)")
nbclient = pytest.importorskip("nbclient", reason="the notebook tests need the test extra (nbclient)")

LESSONS = pathlib.Path(__file__).resolve().parent.parent / "lessons"
EXPECTED = ["01_autograd", "02_layers", "03_plain_depth", "04_identity_path", "05_highway",
            "06_van", "07_plain_start", "08_shortcut_scaling"]
NOTEBOOKS = sorted(LESSONS.glob("[0-9][0-9]_*.ipynb"))
SOLUTIONS = sorted((LESSONS / "solutions").glob("[0-9][0-9]_*.ipynb"))
QUICK_TIMES = LESSONS / "quick_mode_times.json"
QUICK_BUDGET_SECONDS = 10 * 60            # issue 22: all of them together, in the quick setting


def code_cells(notebook):
    return [cell for cell in notebook.cells if cell.cell_type == "code"]


def test_the_eight_lessons_are_there():
    assert [path.stem for path in NOTEBOOKS] == EXPECTED


def test_every_lesson_has_its_worked_solutions():
    assert [path.stem for path in SOLUTIONS] == EXPECTED


def test_quick_mode_record_is_of_the_current_code_and_under_ten_minutes():
    """lessons/quick_mode_times.json, written by `python tools/run_lessons.py --record-quick-times`
    (alone on the machine), times every notebook in the quick setting; rerun it when a
    notebook's code changes."""
    record = json.loads(QUICK_TIMES.read_text())
    root = LESSONS.parent
    expected = {path.relative_to(root).as_posix(): path for path in NOTEBOOKS + SOLUTIONS}
    assert set(record["notebooks"]) == set(expected), "the record does not cover exactly the lessons and solutions"
    stale = [name for name, path in expected.items()
             if record["notebooks"][name]["code_sha256"] != notebook_code_hash(nbformat.read(path, 4))]
    assert not stale, (f"the quick-mode times were measured on older code of {stale}: "
                       "run `python tools/run_lessons.py --record-quick-times`")
    total = sum(entry["seconds"] for entry in record["notebooks"].values())
    assert abs(total - record["total_seconds"]) < 1
    assert total < QUICK_BUDGET_SECONDS, f"the quick setting takes {total:.0f} s for all the notebooks together"


@pytest.mark.parametrize("path", NOTEBOOKS + SOLUTIONS, ids=lambda path: path.parent.name + "/" + path.stem)
def test_committed_outputs_come_from_a_full_run(path):
    notebook = nbformat.read(path, as_version=4)
    run = notebook.metadata.get("minires", {})
    assert run.get("mode") == "full", f"{path.name}: not saved by tools/run_lessons.py in the full setting"
    counts = [cell.execution_count for cell in code_cells(notebook)]
    assert counts == list(range(1, len(counts) + 1)), f"{path.name}: cells not run in order from the top: {counts}"
    errors = [output for cell in code_cells(notebook) for output in cell.outputs if output.output_type == "error"]
    assert errors == []
    sources = "\n".join(cell.source for cell in code_cells(notebook))
    if path in NOTEBOOKS:
        assert "compare_gradients(" in sources, f"{path.name}: no hand-derived gradient is checked"
    assert not re.search(r"\bsys\.path\b", sources), f"{path.name}: import the installed package, no path tricks"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_figures_are_shown_in_the_committed_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    sources = "\n".join(cell.source for cell in code_cells(notebook))
    images = [output for cell in code_cells(notebook) for output in cell.outputs
              if "image/png" in output.get("data", {})]
    if "plt." in sources or "matplotlib" in sources:
        assert images, f"{path.name}: plots are drawn but no figure was saved in the outputs"


@pytest.mark.parametrize("path", NOTEBOOKS + SOLUTIONS, ids=lambda path: path.parent.name + "/" + path.stem)
def test_lesson_runs_top_to_bottom_in_quick_mode(path, tmp_path, monkeypatch):
    monkeypatch.setenv("MINIRES_QUICK", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    start = time.perf_counter()
    client.execute()         # raises CellExecutionError, naming the cell, on any error
    seconds = time.perf_counter() - start
    print(f"{path.name}: {seconds:.1f} s in quick mode")
    assert os.listdir(tmp_path) == [], f"{path.name} left files in its working folder: {os.listdir(tmp_path)}"
