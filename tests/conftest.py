"""Test set-up: the device every op test runs on, and the documentation site built once.

Each op test takes the ``device`` fixture and so runs three times:
- "cpu": NumPy;
- "strict": the stand-in for CUDA from strict_device.py, NumPy-backed but as strict
  as CuPy (no implicit host conversions, no mixing, CuPy's namespace only);
- "cuda": CuPy on a real GPU, marked ``gpu`` and skipped when none is usable.
"""

import os
import pathlib
import subprocess
import sys

import pytest

from minires import backend
from strict_device import register_strict_device

register_strict_device()

CUDA_SKIP_REASON = f"CUDA is not usable here: {backend.cuda_unavailable_reason()}"

DEVICES = [
    "cpu",
    "strict",
    pytest.param("cuda", marks=[pytest.mark.gpu,
                                pytest.mark.skipif(not backend.cuda_available(), reason=CUDA_SKIP_REASON)]),
]


@pytest.fixture(params=DEVICES)
def device(request):
    """The device an op test runs on: "cpu", "strict" or "cuda"."""
    return request.param


@pytest.fixture
def torch():
    """PyTorch, for comparison tests; they skip when it is not installed."""
    torch = pytest.importorskip("torch")
    torch.set_default_dtype(torch.float64)
    return torch


@pytest.fixture(scope="session")
def built_site(tmp_path_factory):
    """The documentation site, built once per test run by tools/build_site.py into a
    temporary folder, for tests/test_site.py and tests/test_site_browser.py (which skip
    without the docs extra before asking for it)."""
    root = pathlib.Path(__file__).resolve().parent.parent
    site_dir = tmp_path_factory.mktemp("site")
    command = [sys.executable, str(root / "tools" / "build_site.py"), "--site-dir", str(site_dir)]
    environment = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}          # quiet about a future MkDocs 2
    result = subprocess.run(command, cwd=root, capture_output=True, text=True, env=environment)
    assert result.returncode == 0, f"the site did not build:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return site_dir
