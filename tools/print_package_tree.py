"""Prints folders of the package as trees, with each file's line count and each folder's total.

    python tools/print_package_tree.py                  # minires/functional and minires/fast
    python tools/print_package_tree.py minires/nn       # the folders given instead

The output is a fenced block, ready to paste into a Markdown note. Only Python files
count (``__pycache__`` is left out); a line is what ``wc -l`` counts. Folders are
given relative to the repository (or as absolute paths).
"""

import argparse
import pathlib
import sys

REPOSITORY = pathlib.Path(__file__).resolve().parent.parent
DEFAULT_FOLDERS = ["minires/functional", "minires/fast"]


def line_count(path):
    with open(path, "rb") as file:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: file.read(1 << 16), b""))


def python_files(folder):
    return [path for path in folder.rglob("*.py") if "__pycache__" not in path.parts]


def folder_lines(folder):
    """(lines, files) of the Python files in ``folder`` and below."""
    files = python_files(folder)
    return sum(line_count(path) for path in files), len(files)


def tree_lines(folder, prefix=""):
    """The rows below ``folder``: its Python files, then its sub-folders that hold any, each with its count."""
    files = sorted(path for path in folder.iterdir() if path.is_file() and path.suffix == ".py")
    folders = sorted(path for path in folder.iterdir()
                     if path.is_dir() and path.name != "__pycache__" and python_files(path))
    entries = files + folders
    rows = []
    for index, entry in enumerate(entries):
        last = index == len(entries) - 1
        branch, below = ("└── ", "    ") if last else ("├── ", "│   ")
        if entry.is_file():
            rows.append((f"{prefix}{branch}{entry.name}", f"{line_count(entry)}"))
        else:
            lines, count = folder_lines(entry)
            rows.append((f"{prefix}{branch}{entry.name}/", f"{lines}  ({count} files)"))
            rows += tree_lines(entry, prefix + below)
    return rows


def shown_name(folder):
    """minires/fast for a folder of the repository, the full path for one outside it."""
    folder = folder.resolve()
    return folder.relative_to(REPOSITORY).as_posix() if folder.is_relative_to(REPOSITORY) else str(folder)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="*", help=f"folders to show (default: {' '.join(DEFAULT_FOLDERS)})")
    args = parser.parse_args(argv)
    folders = [REPOSITORY / folder for folder in (args.folders or DEFAULT_FOLDERS)]
    missing = [str(folder) for folder in folders if not folder.is_dir()]
    if missing:
        print(f"print_package_tree: not a folder: {', '.join(missing)}", file=sys.stderr)
        return 1

    rows = []
    all_lines = all_files = 0
    for folder in folders:
        lines, count = folder_lines(folder)
        all_lines, all_files = all_lines + lines, all_files + count
        rows.append((f"{shown_name(folder)}/", f"{lines}  ({count} files)"))
        rows += tree_lines(folder)
        rows.append(("", ""))
    if len(folders) > 1:
        rows.append(("in all", f"{all_lines}  ({all_files} files)"))
    else:
        rows.pop()

    width = max(len(name) for name, _ in rows) + 2
    number_width = max(len(count.split()[0]) for _, count in rows if count)
    print("```text")
    for name, count in rows:
        if not count:
            print()
            continue
        number, _, rest = count.partition("  ")
        print(f"{name:<{width}}{number:>{number_width}}{'  ' + rest if rest else ''}".rstrip())
    print("```")
    return 0


if __name__ == "__main__":
    sys.exit(main())
