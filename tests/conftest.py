"""Test set-up: the device every op test runs on.

Each op test takes the ``device`` fixture and so runs three times:
- "cpu": NumPy;
- "strict": the stand-in for CUDA from strict_device.py, NumPy-backed but as strict
  as CuPy (no implicit host conversions, no mixing, CuPy's namespace only);
- "cuda": CuPy on a real GPU, marked ``gpu`` and skipped when none is usable.
"""

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
