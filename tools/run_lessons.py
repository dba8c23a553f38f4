"""Executes the lesson notebooks in their full setting and saves them with their outputs.

    python tools/run_lessons.py                       # all eight and their solutions, one after the other
    python tools/run_lessons.py lessons/03_*.ipynb    # some of them
    python tools/run_lessons.py --record-quick-times  # all of them in the quick setting, timed

This is how the outputs committed in lessons/ are made: a real run of the current code,
with MINIRES_QUICK=0. Each notebook runs in a fresh kernel with lessons/ as its
working folder, and is written back only when every cell ran without error. The run is
recorded in the notebook's metadata (``metadata.minires``: mode, minires version, date,
seconds), which tests/test_lessons.py checks.

``--record-quick-times`` runs every notebook in the quick setting (MINIRES_QUICK=1, what
the tests run), saves none of them, and writes the seconds each took, with a hash of its
code, to lessons/quick_mode_times.json. tests/test_lessons.py checks that the record is
of the current code and that all of them together take under 10 minutes: the figure is
measured by a run alone on the machine, not by the tests (whose timings vary with load).

Needs the ``lessons`` extra (``python -m pip install -e ".[lessons]"``).
"""

import argparse
import datetime
import json
import os
import pathlib
import platform
import sys
import time

import nbclient
import nbformat

import minires
from minires.lessons.settings import notebook_code_hash

ROOT = pathlib.Path(__file__).resolve().parent.parent
LESSONS = ROOT / "lessons"
QUICK_TIMES = LESSONS / "quick_mode_times.json"
CELL_TIMEOUT_SECONDS = 3600


def all_notebooks():
    """The eight lessons, then their worked solutions (lessons/solutions/)."""
    return sorted(LESSONS.glob("[0-9][0-9]_*.ipynb")) + sorted((LESSONS / "solutions").glob("[0-9][0-9]_*.ipynb"))


def run_notebook(path, quick=False):
    """Executes ``path`` in a fresh kernel; returns the executed notebook and its seconds."""
    notebook = nbformat.read(path, as_version=4)
    os.environ["MINIRES_QUICK"] = "1" if quick else "0"
    os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"   # figures saved as PNG outputs
    client = nbclient.NotebookClient(notebook, timeout=CELL_TIMEOUT_SECONDS, kernel_name="python3",
                                     resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    client.execute()
    return notebook, time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=pathlib.Path,
                        help="notebooks to run (default: every lessons/NN_*.ipynb and lessons/solutions/NN_*.ipynb)")
    parser.add_argument("--quick", action="store_true",
                        help="the quick setting (MINIRES_QUICK=1), for trying; the notebook is not saved")
    parser.add_argument("--record-quick-times", action="store_true",
                        help=f"run in the quick setting, save no notebook, write the seconds to "
                             f"{QUICK_TIMES.relative_to(ROOT)}")
    args = parser.parse_args(argv)
    if args.record_quick_times and args.notebooks:
        parser.error("--record-quick-times times all the notebooks together; give no notebook")
    paths = [path.resolve() for path in args.notebooks] or all_notebooks()
    quick = args.quick or args.record_quick_times
    times = {}
    for path in paths:
        name = path.relative_to(ROOT).as_posix()
        print(f"{name}: running ({'quick' if quick else 'full'} setting) ...", flush=True)
        try:
            notebook, seconds = run_notebook(path, quick=quick)
        except nbclient.exceptions.CellExecutionError as error:
            print(f"{name}: a cell failed; the notebook was not saved\n{error}", file=sys.stderr)
            return 1
        print(f"{name}: {seconds:.0f} s", flush=True)
        times[name] = {"seconds": round(seconds, 1), "code_sha256": notebook_code_hash(notebook)}
        if quick:
            continue
        notebook.metadata["minires"] = {
            "mode": "full",
            "minires_version": minires.__version__,
            "date": datetime.date.today().isoformat(),
            "seconds": round(seconds),
            "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores",
            "command": f"python tools/run_lessons.py {name}",
        }
        nbformat.write(notebook, path)
    if args.record_quick_times:
        total = sum(entry["seconds"] for entry in times.values())
        record = {"date": datetime.date.today().isoformat(), "minires_version": minires.__version__,
                  "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores",
                  "command": "python tools/run_lessons.py --record-quick-times",
                  "total_seconds": round(total, 1), "notebooks": times}
        QUICK_TIMES.write_text(json.dumps(record, indent=1) + "\n")
        print(f"all {len(times)} in the quick setting: {total:.0f} s; written to {QUICK_TIMES.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
