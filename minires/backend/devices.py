"""Devices: which array module (``xp``) holds an array, and moving arrays between devices.

Devices are named by strings: ``"cpu"`` (NumPy), ``"cuda"`` (CuPy), and any name
registered with :func:`register_device` (the test suite registers ``"strict"``, a
NumPy-backed stand-in that is as strict as CuPy). Each device has an array module,
``xp``: every op receives it and calls ``xp.matmul``, ``xp.zeros`` ..., so that one
source runs on both (see the package docstring for the rules that keep it correct).

This is the only module of minires that imports CuPy, and it does so lazily: CUDA is
probed on first use and the answer is cached, so ``import minires`` never imports
CuPy and never touches a GPU. minires never moves data between devices behind your
back: arrays of two devices meeting in one op raise :class:`DeviceMismatchError`.
"""

import os
import sys
from dataclasses import dataclass
from typing import Any, Callable

import numpy


class CudaUnavailableError(RuntimeError):
    """CUDA was asked for but cannot be used; the message says why and how to fix it."""


class DeviceMismatchError(RuntimeError):
    """Arrays from different devices met in one operation."""


@dataclass
class Device:
    """What minires needs to know about one device.

    Attributes:
        name: the device's name, as users write it (``"cuda"``).
        xp: the array module whose functions create and compute on its arrays.
        array_type: the class of its arrays, used to tell which device holds an array.
        to_host: copies one of its arrays to a NumPy array.
        from_host: copies a NumPy array onto the device.
    """

    name: str
    xp: Any
    array_type: type
    to_host: Callable
    from_host: Callable


_CPU = Device("cpu", numpy, numpy.ndarray, lambda array: array, lambda array: array)
_devices = {"cpu": _CPU}          # name -> Device; "cuda" is added once CUDA is probed
_cuda_probe = None                # None: not probed yet; else (cupy module or None, reason)
_default_device = None            # None: not chosen yet; read MINIRES_DEVICE on first use
_auto_announced = False           # "auto" says which device it chose once per process


# ----------------------------------------------------------------------------------
# CUDA detection
# ----------------------------------------------------------------------------------

_CUDA_FIX = (
    "To use the GPU, install CuPy for your CUDA version (pip install 'minires[gpu]' "
    "installs cupy-cuda12x for CUDA 12) on a machine with an NVIDIA driver "
    "(check with nvidia-smi). To run on the CPU, use set_device('cpu') or "
    "MINIRES_DEVICE=cpu."
)


def _probe_cuda():
    """Imports CuPy and runs a tiny kernel; returns (cupy or None, reason it failed).

    Each failure mode seen in practice is caught here, once:
    - CuPy not installed, or a broken install: ``import cupy`` raises ImportError;
    - CuPy installed on a machine without a GPU: ``import cupy`` succeeds,
      ``cupy.is_available()`` returns False, and any device call raises
      ``CUDARuntimeError`` (a RuntimeError);
    - a driver or toolkit mismatch: compiling the first kernel raises
      ``CompileException``, which is only an Exception.
    """
    try:
        import cupy
    except ImportError as error:
        return None, f"CuPy is not installed or fails to import ({error})"
    try:
        if not cupy.is_available():
            # is_available() hides the reason; asking the runtime directly raises
            # CUDARuntimeError with the driver's own message.
            cupy.cuda.runtime.getDeviceCount()
            return None, "CuPy is installed but finds no CUDA device"
        probe = cupy.arange(4, dtype=cupy.float32)
        float((probe * 2.0).sum())              # compiles and runs a kernel, then syncs
    except Exception as error:  # CUDARuntimeError, CompileException, ...
        return None, f"CuPy is installed but CUDA is not usable: {type(error).__name__}: {error}"
    return cupy, None


def _cuda():
    """The cached result of :func:`_probe_cuda`, probing on the first call."""
    global _cuda_probe
    if _cuda_probe is None:
        _cuda_probe = _probe_cuda()
        cupy = _cuda_probe[0]
        if cupy is not None:
            _devices["cuda"] = Device("cuda", cupy, cupy.ndarray,
                                      lambda array: array.get(), cupy.asarray)
    return _cuda_probe


def cuda_available() -> bool:
    """True when CuPy imports and a CUDA device runs a kernel (probed once, cached)."""
    return _cuda()[0] is not None


def cuda_unavailable_reason() -> str | None:
    """Why CUDA cannot be used, or None when it can."""
    return _cuda()[1]


def _require_cuda():
    cupy, reason = _cuda()
    if cupy is None:
        raise CudaUnavailableError(f"device 'cuda' was requested, but {reason}. {_CUDA_FIX}")


def _reset_cuda_probe():
    """Forgets the cached probe (tests use it to simulate machines)."""
    global _cuda_probe, _default_device, _auto_announced
    _cuda_probe = None
    _default_device = None
    _auto_announced = False
    _devices.pop("cuda", None)


# ----------------------------------------------------------------------------------
# Devices
# ----------------------------------------------------------------------------------

def register_device(name: str, xp, array_type: type, to_host: Callable, from_host: Callable):
    """Registers an extra device, such as the test suite's strict stand-in for CUDA."""
    if name in ("cpu", "cuda", "auto"):
        raise ValueError(f"register_device: the name {name!r} is reserved")
    _devices[name] = Device(name, xp, array_type, to_host, from_host)


def unregister_device(name: str):
    """Removes a device added with :func:`register_device`."""
    if name in ("cpu", "cuda"):
        raise ValueError(f"unregister_device: {name!r} is built in")
    _devices.pop(name, None)


def _known_device_names():
    return sorted(set(_devices) | {"cpu", "cuda"})


class device:          # lower case, as torch.device; Device above is minires's record of one
    """A device, as ``torch.device``: ``minires.device("cuda:0")``, ``.type`` "cuda", ``.index`` 0.

    minires uses one GPU, so the only index it accepts is 0 ("cuda" and "cuda:0" name the
    same device). Anywhere minires takes a device it takes one of these, or the string.
    """

    def __init__(self, type, index=None):
        text = str(type) if index is None else f"{type}:{index}"
        self.type = device_name(text)
        if self.type not in _known_device_names():
            raise ValueError(f"unknown device {text!r}; expected one of {_known_device_names()}")
        self.index = 0 if ":" in text else None
        self._text = text

    def __str__(self):
        return self._text

    def __repr__(self):
        return f"device(type={self.type!r}" + (f", index={self.index})" if self.index is not None else ")")

    def __eq__(self, other):
        return isinstance(other, device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self):
        return hash((self.type, self.index))


def device_name(spec) -> str:
    """The name minires keeps for a device: "cuda" for "cuda", "cuda:0" or device("cuda:0").

    Raises ValueError for another GPU index ("cuda:1": minires uses one GPU) and
    TypeError for what names no device. Whether the device works is not checked here.
    """
    if isinstance(spec, device):
        return spec.type
    if not isinstance(spec, str):
        raise TypeError(f"a device is named by a string such as 'cpu' or 'cuda', or a minires.device; "
                        f"got {spec!r}")
    name, colon, index = spec.partition(":")
    if not colon:
        return spec
    if index != "0":
        raise ValueError(f"device {spec!r}: minires uses one GPU, so the only index it accepts is 0 "
                         f"('{name}' and '{name}:0' name it)")
    return name


def _get_device(name) -> Device:
    """The Device called ``name``, checking that it exists and, for CUDA, works."""
    name = device_name(name)
    if name == "cuda":
        _require_cuda()
    if name not in _devices:
        raise ValueError(f"unknown device {name!r}; expected one of {_known_device_names()}")
    return _devices[name]


def device_of(array) -> str:
    """The name of the device holding ``array`` ("cpu" for NumPy arrays)."""
    for device in _devices.values():
        if device is not _CPU and isinstance(array, device.array_type):
            return device.name
    if isinstance(array, (numpy.ndarray, numpy.generic)):
        return "cpu"
    raise TypeError(f"expected an array (numpy.ndarray or a device array); got {type(array).__name__}")


def is_array(value) -> bool:
    """True for an array of any registered device (not for Python numbers or lists)."""
    return any(isinstance(value, device.array_type) for device in _devices.values())


def get_array_module(*arrays):
    """The array module (``numpy`` or ``cupy``, say) of the given arrays.

    Python numbers and None are ignored. Arrays from different devices raise a
    DeviceMismatchError: minires never moves data between devices implicitly.
    """
    names = {device_of(array) for array in arrays if is_array(array)}
    if len(names) > 1:
        raise DeviceMismatchError(
            f"arrays on different devices met in one operation: {sorted(names)}; "
            "move them to one device first with .to(device)")
    name = names.pop() if names else "cpu"
    return _devices[name].xp


def array_module(device: str):
    """The array module that creates arrays on ``device``."""
    return _get_device(device).xp


def to_device(array, device: str):
    """Copies ``array`` to ``device`` ("cpu", "cuda", ...); returns it as is if already there.

    The copy keeps the array's memory layout, as torch's ``.to()`` does: a channels-last
    (N, C, H, W) batch arrives channels-last. (CuPy's own transfers make a C-contiguous
    copy of anything that is neither C- nor Fortran-contiguous.)
    """
    target = _get_device(device)
    source = device_of(array)
    if source == target.name:
        return array
    memory_order = axes_in_memory_order(array)        # (0, 2, 3, 1) for channels-last
    in_memory_order = array.transpose(memory_order)   # C-contiguous where array is dense
    host_array = _devices[source].to_host(in_memory_order)
    back_to_logical_order = tuple(memory_order.index(axis) for axis in range(array.ndim))
    return target.from_host(host_array).transpose(back_to_logical_order)


def axes_in_memory_order(array) -> tuple:
    """The axes from the largest stride to the smallest: the order the array lies in memory.

    A C-contiguous array gives (0, 1, ..., ndim - 1); a channels-last (N, C, H, W) one
    (0, 2, 3, 1). Ties (axes of length 1) keep their order.
    """
    return tuple(sorted(range(array.ndim), key=lambda axis: -abs(array.strides[axis])))


def to_numpy(array):
    """A NumPy copy of ``array`` on the host (a synchronisation for device arrays)."""
    if device_of(array) == "cpu":
        return numpy.array(array, copy=True)
    return _devices[device_of(array)].to_host(array)


def synchronize(device: str):
    """Waits until all work queued on ``device`` has finished; a no-op on the CPU.

    CUDA kernels run asynchronously: a timer read right after a CuPy call measures the
    launch, not the work. Benchmarks call this before reading the clock (as
    ``torch.cuda.synchronize()``).
    """
    if _get_device(device).name == "cuda":
        _cuda()[0].cuda.Device().synchronize()


def available_memory(device: str):
    """Bytes that new arrays on ``device`` could still take; None where it cannot be known.

    CPU: the kernel's estimate of memory available without swapping (``MemAvailable`` in
    /proc/meminfo, Linux only). CUDA: the device's free memory plus what CuPy's memory
    pool holds unused. The command line refuses a model whose estimated need exceeds it.
    """
    if _get_device(device).name == "cuda":
        cupy = _cuda()[0]
        free_bytes, _ = cupy.cuda.runtime.memGetInfo()
        return free_bytes + cupy.get_default_memory_pool().free_bytes()
    if _get_device(device).name != "cpu":
        return None
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024            # the file counts kiB
    except (OSError, ValueError, IndexError):
        pass
    return None


# ----------------------------------------------------------------------------------
# Default device
# ----------------------------------------------------------------------------------

def set_device(device: str):
    """Chooses the device on which new tensors are created: "cpu", "cuda" or "auto".

    "auto" uses CUDA when it is usable and NumPy on the CPU otherwise, and prints
    which (once). "cuda" raises CudaUnavailableError, with the reason and the fix,
    when CUDA cannot be used. Without a call, the environment variable
    ``MINIRES_DEVICE`` decides, and without it the CPU (as in PyTorch).
    """
    global _default_device, _auto_announced
    if device == "auto":
        device = "cuda" if cuda_available() else "cpu"
        if not _auto_announced:
            choice = ("CUDA through CuPy" if device == "cuda"
                      else f"NumPy on the CPU ({cuda_unavailable_reason()})")
            print(f"minires: using {choice}", file=sys.stderr)
            _auto_announced = True
    _default_device = _get_device(device).name   # a clear error for an unknown or unusable device


def get_device() -> str:
    """The device on which new tensors are created (see :func:`set_device`)."""
    if _default_device is None:
        requested = os.environ.get("MINIRES_DEVICE", "cpu").strip().lower() or "cpu"
        if requested not in ("cpu", "cuda", "auto") and requested not in _devices:
            raise ValueError(f"MINIRES_DEVICE={requested!r} is not a device; use cpu, cuda or auto")
        set_device(requested)
    return _default_device
