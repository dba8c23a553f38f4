"""The lesson notebooks: each runs top to bottom in the quick setting, and the committed
copy holds the outputs of a full-setting run (tools/run_lessons.py)."""

import os
import pathlib
import re
import time

import pytest

nbformat = pytest.importorskip("nbformat", reason="the notebook tests need the test extra (nbformat)")
nbclient = pytest.importorskip("nbclient", reason="the notebook tests need the test extra (nbclient)")

LESSONS = pathlib.Path(__file__).resolve().parent.parent / "lessons"
EXPECTED = ["01_autograd", "02_layers", "03_plain_depth", "04_identity_path", "05_highway",
            "06_van", "07_plain_start", "08_shortcut_scaling"]
NOTEBOOKS = sorted(LESSONS.glob("[0-9][0-9]_*.ipynb"))


def code_cells(notebook):
    return [cell for cell in notebook.cells if cell.cell_type == "code"]


def test_the_eight_lessons_are_there():
    assert [path.stem for path in NOTEBOOKS] == EXPECTED


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_committed_outputs_come_from_a_full_run(path):
    notebook = nbformat.read(path, as_version=4)
    run = notebook.metadata.get("minires", {})
    assert run.get("mode") == "full", f"{path.name}: not saved by tools/run_lessons.py in the full setting"
    counts = [cell.execution_count for cell in code_cells(notebook)]
    assert counts == list(range(1, len(counts) + 1)), f"{path.name}: cells not run in order from the top: {counts}"
    errors = [output for cell in code_cells(notebook) for output in cell.outputs if output.output_type == "error"]
    assert errors == []
    sources = "\n".join(cell.source for cell in code_cells(notebook))
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


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
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
