"""``minires info``: versions, the backend, and the device "auto" would pick, and why."""

import os
import platform
import subprocess
from importlib import metadata

from minires import backend
from minires.cli.settings_check import DEVICES
from minires.data import cache_directory

PACKAGES = ("minires", "numpy", "cupy-cuda12x", "cupy", "pillow", "tqdm", "matplotlib")


def add_parser(commands):
    parser = commands.add_parser("info", help="print versions and the device 'auto' would use",
                                 description=__doc__)
    parser.set_defaults(run=run)


def installed_versions() -> dict:
    """The installed version of each package minires uses (None when absent), and the
    git commit of the minires source that runs (see :func:`source_commit`)."""
    versions = {"python": platform.python_version()}
    for package in PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    versions["minires_commit"] = source_commit()
    return versions


def source_commit():
    """The git commit minires is imported from, when it runs from a git checkout (as
    ``pip install -e .`` leaves it): "<40 hex digits>", with "+modified" appended when
    tracked files under minires/ differ from that commit; None when minires is not the
    top of a checkout or git is not installed. A run's config.json records it, so that
    a published result names the code that made it."""
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))      # .../minires
    checkout = os.path.dirname(package)
    try:
        top = _git(checkout, "rev-parse", "--show-toplevel")
        if os.path.realpath(top) != os.path.realpath(checkout):
            return None                        # an installed copy that sits inside some other repository
        commit = _git(checkout, "rev-parse", "HEAD")
        modified = _git(checkout, "status", "--porcelain", "--untracked-files=no", "--", "minires")
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("+modified" if modified else "")


def _git(folder, *arguments) -> str:
    result = subprocess.run(["git", "-C", folder, *arguments], capture_output=True, text=True, timeout=10,
                            check=True)
    return result.stdout.strip()


def run(arguments):
    for name, version in installed_versions().items():
        print(f"{name:>14}: {version or 'not installed'}")
    reason = backend.cuda_unavailable_reason()
    if reason is None:
        print("    device auto: cuda (CuPy imports and a CUDA device runs a kernel)")
    else:
        print(f"    device auto: cpu, NumPy ({reason})")
    requested = os.environ.get("MINIRES_DEVICE")
    if requested is None:
        print("MINIRES_DEVICE: (unset: the library uses cpu, minires train auto)")
    elif requested.strip().lower() in DEVICES:
        print(f"MINIRES_DEVICE: {requested} (the device when --device is not given)")
    else:
        print(f"MINIRES_DEVICE: {requested!r} is not a device: use {', '.join(DEVICES)} "
              "(minires train refuses it)")
    print(f"    data cache: {cache_directory()} (set MINIRES_DATA to move it)")
