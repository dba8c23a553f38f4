"""Device selection and CUDA detection, on simulated machines.

No machine here has a GPU, so each failure mode that CuPy shows in practice is
simulated by putting a fake ``cupy`` module in sys.modules: not installed (import
fails), installed without a device (is_available() is False and device calls raise a
RuntimeError), and a kernel that fails to compile (an Exception that is no
RuntimeError). A working "GPU" is simulated with the strict stand-in's namespace.
"""

import subprocess
import sys
import types

import numpy as np
import pytest

import minires as mr
from minires import backend
from minires.backend import devices
from strict_device import StrictArray, strict_xp


@pytest.fixture
def fresh_probe(monkeypatch):
    """Forgets the cached CUDA probe and default device before and after the test."""
    monkeypatch.delenv("MINIRES_DEVICE", raising=False)
    devices._reset_cuda_probe()
    yield
    devices._reset_cuda_probe()


class CUDARuntimeError(RuntimeError):
    """Stands for cupy_backends.cuda.api.runtime.CUDARuntimeError."""


class CompileException(Exception):
    """Stands for cupy.cuda.compiler.CompileException (not a RuntimeError)."""


def fake_cupy_without_device():
    def get_device_count():
        raise CUDARuntimeError("cudaErrorNoDevice: no CUDA-capable device is detected")
    runtime = types.SimpleNamespace(getDeviceCount=get_device_count)
    return types.SimpleNamespace(is_available=lambda: False, cuda=types.SimpleNamespace(runtime=runtime))


def fake_cupy_failing_to_compile():
    def arange(*args, **kwargs):
        raise CompileException("nvrtc: error: invalid value for --gpu-architecture")
    return types.SimpleNamespace(is_available=lambda: True, arange=arange, float32=np.float32)


def fake_working_cupy():
    """A 'GPU' whose arrays are the strict stand-in's."""
    return types.SimpleNamespace(is_available=lambda: True, arange=strict_xp.arange, float32=np.float32,
                                 ndarray=StrictArray, asarray=strict_xp.asarray)


def test_import_never_touches_cuda():
    code = ("import sys, minires; from minires.backend import devices; "
            "assert 'cupy' not in sys.modules, 'cupy imported'; "
            "assert devices._cuda_probe is None, 'CUDA probed at import'; print('ok')")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr


def test_cuda_not_installed(fresh_probe, monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", None)                 # makes `import cupy` fail
    assert not mr.cuda_available()
    with pytest.raises(mr.CudaUnavailableError, match=r"CuPy is not installed.*pip install 'minires\[gpu\]'"):
        mr.set_device("cuda")


def test_cuda_installed_without_a_device(fresh_probe, monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", fake_cupy_without_device())
    with pytest.raises(mr.CudaUnavailableError, match="CUDARuntimeError: cudaErrorNoDevice.*nvidia-smi"):
        mr.set_device("cuda")
    with pytest.raises(mr.CudaUnavailableError):
        mr.tensor([1.0], device="cuda")


def test_kernel_that_fails_to_compile(fresh_probe, monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", fake_cupy_failing_to_compile())
    assert not mr.cuda_available()
    assert "CompileException" in backend.cuda_unavailable_reason()


def test_the_probe_runs_once(fresh_probe, monkeypatch):
    calls = []
    cupy = fake_cupy_without_device()
    cupy.is_available = lambda: calls.append(1) or False
    monkeypatch.setitem(sys.modules, "cupy", cupy)
    for _ in range(3):
        mr.cuda_available()
    assert len(calls) == 1


def test_auto_falls_back_to_the_cpu_and_says_so_once(fresh_probe, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "cupy", None)
    monkeypatch.setenv("MINIRES_DEVICE", "auto")
    assert mr.get_device() == "cpu"
    assert mr.get_device() == "cpu"
    assert mr.tensor([1.0]).device == "cpu"
    mr.set_device("auto")
    assert capsys.readouterr().err.count("minires: using NumPy on the CPU") == 1


def test_auto_uses_a_working_gpu(fresh_probe, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "cupy", fake_working_cupy())
    monkeypatch.delitem(devices._devices, "strict")      # the fake GPU's arrays are StrictArrays
    mr.set_device("auto")
    assert mr.get_device() == "cuda"
    assert "using CUDA" in capsys.readouterr().err
    t = mr.tensor([1.0, 2.0])
    assert t.device == "cuda" and isinstance(t.array, StrictArray)


def test_environment_variable(fresh_probe, monkeypatch):
    monkeypatch.setenv("MINIRES_DEVICE", "cpu")
    assert mr.get_device() == "cpu"
    devices._reset_cuda_probe()
    monkeypatch.setenv("MINIRES_DEVICE", "tpu")
    with pytest.raises(ValueError, match="MINIRES_DEVICE='tpu' is not a device"):
        mr.get_device()


def test_default_device_is_the_cpu(fresh_probe):
    assert mr.get_device() == "cpu"
    assert "cupy" not in sys.modules or devices._cuda_probe is None


def test_set_device_to_the_stand_in(fresh_probe):
    mr.set_device("strict")
    assert mr.tensor([1.0]).device == "strict"
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        mr.set_device("tpu")


def test_get_array_module_and_to_device():
    host = np.ones(3)
    device_array = backend.to_device(host, "strict")
    assert backend.get_array_module(host) is np
    assert backend.get_array_module(device_array) is strict_xp
    assert backend.get_array_module(2.0, None, device_array) is strict_xp
    assert backend.to_device(device_array, "strict") is device_array
    np.testing.assert_array_equal(backend.to_device(device_array, "cpu"), host)
    with pytest.raises(mr.DeviceMismatchError, match=r"\['cpu', 'strict'\]"):
        backend.get_array_module(host, device_array)


def test_synchronize_waits_for_the_cuda_device_and_is_a_no_op_on_the_cpu(fresh_probe, monkeypatch):
    backend.synchronize("cpu")                                  # nothing queued, nothing to do
    with pytest.raises(ValueError):
        backend.synchronize("tpu")
    waited = []
    fake = fake_working_cupy()
    fake.cuda = types.SimpleNamespace(Device=lambda: types.SimpleNamespace(synchronize=lambda: waited.append(1)))
    monkeypatch.setitem(sys.modules, "cupy", fake)
    backend.synchronize("cuda")
    assert waited == [1]


def test_device_objects_and_index_zero_as_pytorch_names_them():
    import minires as mr
    assert mr.device("cuda:0").type == "cuda" and mr.device("cuda:0").index == 0
    assert mr.device("cuda", 0) == mr.device("cuda:0") != mr.device("cuda")
    assert str(mr.device("cuda:0")) == "cuda:0" and mr.device("cpu").index is None
    assert backend.device_name(mr.device("cpu")) == "cpu" and backend.device_name("cuda:0") == "cuda"
    assert mr.tensor([1.0]).to("cpu:0").device == "cpu"
    with pytest.raises(ValueError, match="minires uses one GPU, so the only index it accepts is 0"):
        mr.device("cuda:1")
    with pytest.raises(ValueError, match="unknown device '3'"):
        mr.device(3)
    with pytest.raises(TypeError, match="a device is named by a string"):
        backend.device_name(0)
