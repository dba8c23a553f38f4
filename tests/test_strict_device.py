"""Tests of the strict device itself: it must refuse what CuPy refuses, and no more."""

import copy
import re

import numpy
import pytest

from minires import backend
from strict_device import (CUPY_NAMES_FILE, StrictArray, count_synchronizations, cupy_names,
                           register_strict_device, strict_xp, unregister_strict_device, wrap)


@pytest.fixture
def strict_device():
    """Registers "strict" with minires.backend for one test (unless it already was)."""
    was_registered = _strict_is_registered()
    register_strict_device()
    yield "strict"
    if not was_registered:
        unregister_strict_device()


def _strict_is_registered() -> bool:
    try:
        backend.array_module("strict")
        return True
    except ValueError:
        return False


def vector(dtype=numpy.float32):
    return wrap(numpy.arange(4, dtype=dtype))     # (4,)


def matrix():
    return wrap(numpy.arange(6, dtype=numpy.float32).reshape(2, 3))   # (2, 3)


# --- Host and device arrays do not mix ---------------------------------------------

def test_numpy_asarray_of_a_strict_array_raises_like_cupy():
    with pytest.raises(TypeError, match="Implicit conversion to a NumPy array is not allowed"):
        numpy.asarray(vector())


def test_numpy_function_on_a_strict_array_raises():
    with pytest.raises(TypeError, match=r"numpy.sum was called on a device array.*xp.sum"):
        numpy.sum(vector())


@pytest.mark.parametrize("combine", [
    lambda strict, host: strict + host,
    lambda strict, host: host + strict,
    lambda strict, host: strict * host,
    lambda strict, host: strict < host,
    lambda strict, host: strict_xp.add(strict, host),
    lambda strict, host: strict_xp.concatenate([strict, host]),
    lambda strict, host: strict[host.astype(numpy.int64)],
], ids=["strict+host", "host+strict", "strict*host", "strict<host", "xp.add", "xp.concatenate", "index"])
def test_mixing_a_numpy_array_with_a_strict_array_raises(combine):
    with pytest.raises(TypeError, match="host and device arrays cannot be mixed"):
        combine(vector(), numpy.ones(4, dtype=numpy.float32))


def test_assigning_a_numpy_array_into_a_strict_array_raises():
    x = vector()
    with pytest.raises(TypeError, match="host and device arrays cannot be mixed"):
        x[:2] = numpy.zeros(2, dtype=numpy.float32)


def test_python_float_keeps_float32():
    y = vector() + 2.0
    assert isinstance(y, StrictArray) and y.dtype == numpy.float32
    assert (2.0 * vector()).dtype == numpy.float32


def test_xp_asarray_copies_host_data_to_the_device():
    host = numpy.ones(3, dtype=numpy.float32)
    x = strict_xp.asarray(host)
    host[0] = 5.0
    assert isinstance(x, StrictArray) and x.dtype == numpy.float32
    numpy.testing.assert_array_equal(x.get(), [1.0, 1.0, 1.0])


# --- Results are device arrays, 0-d ones included -----------------------------------

@pytest.mark.parametrize("reduce", [
    lambda x: x.sum(), lambda x: strict_xp.sum(x), lambda x: x.max(),
    lambda x: strict_xp.mean(x), lambda x: x[0], lambda x: next(iter(x)),
    lambda x: strict_xp.linalg.norm(x), lambda x: strict_xp.add.reduce(x),
], ids=["x.sum", "xp.sum", "x.max", "xp.mean", "x[0]", "iter", "xp.linalg.norm", "add.reduce"])
def test_reductions_and_scalar_indexing_give_0d_strict_arrays(reduce):
    result = reduce(vector())
    assert isinstance(result, StrictArray)
    assert result.ndim == 0


def test_x_i_is_a_view_as_in_cupy():
    x = matrix()
    row, element = x[1], x[0, 0]
    row[...] = 7.0
    element[...] = -1.0
    numpy.testing.assert_array_equal(x.get(), [[-1, 1, 2], [7, 7, 7]])


def test_out_argument_and_in_place_operators_keep_the_array():
    x = vector()
    y = vector()
    assert strict_xp.add(x, 1.0, out=y) is y
    y += 1.0
    assert isinstance(y, StrictArray)
    numpy.testing.assert_array_equal(y.get(), [2, 3, 4, 5])


# --- ufunc methods: CuPy's limits ---------------------------------------------------

def test_add_at_accumulates_repeated_indices_like_numpy():
    indices = numpy.array([0, 0, 2, 3, 3, 3])
    expected = numpy.zeros(4, dtype=numpy.float32)
    numpy.add.at(expected, indices, 1.5)
    x = wrap(numpy.zeros(4, dtype=numpy.float32))
    strict_xp.add.at(x, wrap(indices), 1.5)
    numpy.testing.assert_array_equal(x.get(), expected)
    numpy.testing.assert_array_equal(x.get(), [3.0, 0.0, 1.5, 4.5])


def test_maximum_at_is_allowed():
    x = wrap(numpy.zeros(3))
    strict_xp.maximum.at(x, [0, 0, 1], wrap(numpy.array([2.0, 5.0, -1.0])))
    numpy.testing.assert_array_equal(x.get(), [5.0, 0.0, 0.0])


@pytest.mark.parametrize("call", [
    lambda x: strict_xp.multiply.at(x, [0], 2.0),
    lambda x: numpy.multiply.at(x, [0], 2.0),
    lambda x: strict_xp.maximum.reduce(x),
    lambda x: numpy.maximum.reduce(x),
    lambda x: numpy.maximum.accumulate(x),
], ids=["xp.multiply.at", "numpy.multiply.at", "xp.maximum.reduce", "numpy.maximum.reduce",
        "numpy.maximum.accumulate"])
def test_ufunc_methods_cupy_lacks_raise_not_implemented(call):
    with pytest.raises(NotImplementedError, match="is not supported yet"):
        call(vector())


def test_add_at_needs_a_device_array_to_update():
    with pytest.raises(TypeError, match="device array"):
        strict_xp.add.at(numpy.zeros(3), [0], 1.0)


# --- Only CuPy's names --------------------------------------------------------------

def test_names_numpy_has_and_cupy_lacks_raise_attribute_error():
    assert "errstate" not in cupy_names()["cupy"]
    assert "setflags" not in cupy_names()["cupy.ndarray"]
    with pytest.raises(AttributeError, match="cupy has no attribute 'errstate'.*would fail on CUDA"):
        strict_xp.errstate
    with pytest.raises(AttributeError, match="cupy.ndarray has no attribute 'setflags'"):
        vector().setflags
    with pytest.raises(AttributeError, match="cupy.linalg has no attribute 'multi_dot'"):
        strict_xp.linalg.multi_dot


def test_names_cupy_shares_with_numpy_are_numpy_objects():
    assert strict_xp.float32 is numpy.float32
    assert strict_xp.int64 is numpy.int64
    assert strict_xp.bool_ is numpy.bool_
    assert strict_xp.newaxis is None
    assert strict_xp.pi == numpy.pi and strict_xp.inf == numpy.inf
    assert strict_xp.ndarray is StrictArray
    assert isinstance(strict_xp.zeros((2, 3), dtype=strict_xp.float32), strict_xp.ndarray)


def test_random_functions_give_strict_arrays():
    assert isinstance(strict_xp.random.random((2, 3)), StrictArray)
    assert isinstance(strict_xp.random.random(), StrictArray)   # 0-d, as in CuPy


def test_generators_draw_strict_arrays_with_cupy_methods_only():
    generator = strict_xp.random.default_rng(0)
    draw = generator.random((2, 3), dtype=numpy.float32)
    assert isinstance(draw, StrictArray) and draw.dtype == numpy.float32
    numpy.testing.assert_array_equal(draw.get(), numpy.random.default_rng(0).random((2, 3), dtype=numpy.float32))
    with pytest.raises(AttributeError, match="cupy.random.Generator has no attribute 'permuted'"):
        generator.permuted


def test_sliding_window_view_gives_a_strict_view():
    x = strict_xp.arange(12.0).reshape(3, 4)
    windows = strict_xp.lib.stride_tricks.sliding_window_view(x, (2, 2))
    assert isinstance(windows, StrictArray) and windows.shape == (2, 3, 2, 2)


# --- Synchronisations ---------------------------------------------------------------

@pytest.mark.parametrize("read", [
    float, int, bool, lambda x: x.item(), lambda x: x.get(), lambda x: x.tolist(),
    lambda x: strict_xp.asnumpy(x), lambda x: f"{x:.3f}",
], ids=["float", "int", "bool", "item", "get", "tolist", "asnumpy", "format"])
def test_reading_a_value_on_the_host_is_one_synchronization(read):
    x = vector().sum()
    with count_synchronizations() as syncs:
        read(x)
    assert syncs.count == 1


def test_device_work_and_printing_are_not_synchronizations():
    x = matrix()
    with count_synchronizations() as syncs:
        y = strict_xp.maximum(x @ x.T, 0.0).sum(axis=1) * 2.0
        repr(y), str(y), len(y), y.shape
        strict_xp.asarray(numpy.ones(3))
    assert syncs.count == 0


def test_data_dependent_output_sizes_are_synchronizations():
    x = vector()
    with count_synchronizations() as syncs:
        x[x > 1.0]
    assert syncs.count == 1
    with count_synchronizations() as syncs:
        strict_xp.nonzero(x)
    assert syncs.count == 1


def test_no_index_conversion_like_cupy():
    count = wrap(numpy.array(3))
    with pytest.raises(TypeError):
        range(count)


def test_strict_arrays_are_unhashable_and_copy_their_data():
    x = vector()
    with pytest.raises(TypeError, match="unhashable"):
        hash(x)
    duplicate = copy.deepcopy(x)
    duplicate[0] = 9.0
    assert x[0].item() == 0.0


# --- Registration with minires.backend ----------------------------------------------

def test_registered_strict_device_is_known_to_the_backend(strict_device):
    host = numpy.arange(3, dtype=numpy.float32)
    on_device = backend.to_device(host, "strict")
    host[0] = 5.0   # a copy was made: the device array keeps 0
    assert isinstance(on_device, StrictArray)
    assert backend.device_of(on_device) == "strict"
    assert backend.get_array_module(on_device) is strict_xp
    with count_synchronizations() as syncs:
        back = backend.to_device(on_device, "cpu")
    assert syncs.count == 1
    assert type(back) is numpy.ndarray
    numpy.testing.assert_array_equal(back, [0.0, 1.0, 2.0])


def test_backend_refuses_to_mix_strict_and_numpy_arrays(strict_device):
    with pytest.raises(backend.DeviceMismatchError):
        backend.get_array_module(vector(), numpy.ones(3))


def test_unregistering_forgets_the_device(strict_device):
    unregister_strict_device()
    try:
        with pytest.raises(ValueError, match="unknown device 'strict'"):
            backend.to_device(numpy.ones(2), "strict")
    finally:
        register_strict_device()   # the fixture unregisters it, if it registered it


# --- The names file -----------------------------------------------------------------

def test_every_listed_name_exists_in_the_installed_cupy():
    cupy = pytest.importorskip("cupy")
    namespaces = {"cupy": cupy, "cupy.linalg": cupy.linalg, "cupy.random": cupy.random,
                  "cupy.lib": cupy.lib, "cupy.lib.stride_tricks": cupy.lib.stride_tricks,
                  "cupy.random.Generator": cupy.random.Generator, "cupy.ndarray": cupy.ndarray}
    missing = [f"{section}.{name}" for section, names in cupy_names().items()
               for name in names if not hasattr(namespaces[section], name)]
    assert missing == [], f"not in cupy {cupy.__version__}: {missing}; regenerate {CUPY_NAMES_FILE.name}"


def test_names_file_says_where_it_came_from():
    header = [line for line in CUPY_NAMES_FILE.read_text().splitlines() if line.startswith("#")]
    assert any(re.search(r"CuPy \d+\.\d+\.\d+", line) for line in header)
    assert any("python tests/strict_device.py --write-cupy-names" in line for line in header)
