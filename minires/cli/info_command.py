"""``minires info``: versions, the backend, and the device "auto" would pick, and why."""

import os
import platform
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
    """The installed version of each package minires uses (None when absent)."""
    versions = {"python": platform.python_version()}
    for package in PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return versions


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
