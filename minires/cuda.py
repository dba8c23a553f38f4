"""``minires.cuda``: the few ``torch.cuda`` calls a training script makes.

minires runs on one GPU through CuPy, when CuPy and a CUDA device work (see
minires.backend.devices); these answer as torch.cuda does for that one device.
"""

from minires import backend


def is_available() -> bool:
    """Whether CUDA can be used (CuPy imports and a device runs a kernel)."""
    return backend.cuda_available()


def device_count() -> int:
    """1 when CUDA is usable (minires uses one GPU), else 0."""
    return 1 if backend.cuda_available() else 0


def synchronize():
    """Waits until the GPU has finished its queued work (for timing); a no-op without CUDA."""
    if backend.cuda_available():
        backend.synchronize("cuda")
