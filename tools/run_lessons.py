"""Executes the lesson notebooks in their full setting and saves them with their outputs.

    python tools/run_lessons.py                       # all eight, one after the other
    python tools/run_lessons.py lessons/03_*.ipynb    # some of them

This is how the outputs committed in lessons/ are made: a real run of the current code,
with MINIRES_QUICK=0. Each notebook runs in a fresh kernel with lessons/ as its
working folder, and is written back only when every cell ran without error. The run is
recorded in the notebook's metadata (``metadata.minires``: mode, minires version, date,
seconds), which tests/test_lessons.py checks.

Needs the ``lessons`` extra (``python -m pip install -e ".[lessons]"``).
"""

import argparse
import datetime
import os
import pathlib
import platform
import sys
import time

import nbclient
import nbformat

import minires

LESSONS = pathlib.Path(__file__).resolve().parent.parent / "lessons"
CELL_TIMEOUT_SECONDS = 3600


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
                        help="notebooks to run (default: every lessons/NN_*.ipynb)")
    parser.add_argument("--quick", action="store_true",
                        help="the quick setting (MINIRES_QUICK=1), for trying; the notebook is not saved")
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted(LESSONS.glob("[0-9][0-9]_*.ipynb"))
    for path in paths:
        print(f"{path.name}: running ({'quick' if args.quick else 'full'} setting) ...", flush=True)
        try:
            notebook, seconds = run_notebook(path.resolve(), quick=args.quick)
        except nbclient.exceptions.CellExecutionError as error:
            print(f"{path.name}: a cell failed; the notebook was not saved\n{error}", file=sys.stderr)
            return 1
        print(f"{path.name}: {seconds:.0f} s", flush=True)
        if args.quick:
            continue
        notebook.metadata["minires"] = {
            "mode": "full",
            "minires_version": minires.__version__,
            "date": datetime.date.today().isoformat(),
            "seconds": round(seconds),
            "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores",
            "command": f"python tools/run_lessons.py lessons/{path.name}",
        }
        nbformat.write(notebook, path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
