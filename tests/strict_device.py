"""The "strict" device: a NumPy-backed stand-in for CuPy, so the CUDA path runs without a GPU.

Its arrays (:class:`StrictArray`) hold NumPy data but refuse what CuPy refuses, and its
array module ``strict_xp`` offers only what CuPy offers: an op that passes on "strict"
does not fail on "cuda" for these reasons. Each rule models a difference on CuPy's page
"Differences between CuPy and NumPy", or one read in CuPy 14.2's source:

- No implicit conversion: ``numpy.asarray(x)`` raises CuPy's TypeError; use ``x.get()``.
- Host and device arrays never mix ("Universal Functions only work with CuPy array or
  scalar"): a ``numpy.ndarray`` given to an operator, ufunc, ``xp`` function or index
  raises TypeError (CuPy would copy an index array silently; here copies are explicit).
- Reductions and ``x[i]`` give 0-d arrays, never NumPy scalars ("Zero-dimensional array").
- ``ufunc.at`` only for add, subtract, maximum, minimum; ``reduce`` and ``accumulate``
  only for add and multiply; other ufuncs raise NotImplementedError, as in CuPy.
- Only CuPy's names: ``xp.errstate``, ``x.setflags`` raise AttributeError. The names are
  in ``cupy_names.txt``, written by ``python tests/strict_device.py --write-cupy-names``.
- Reading data on the host makes Python wait for the GPU, a synchronisation: ``.get()``,
  ``.item()``, ``.tolist()``, ``float()``, ``int()``, ``bool()``, ``format()``, and ops whose
  output size depends on the data (mask indexing, ``nonzero``...) each count one.
- No ``__index__`` (cupy.ndarray has none): ``range(x)`` raises TypeError.
- NumPy functions on device arrays raise TypeError: ops call ``xp.sum``, not ``numpy.sum``
  (stricter than CuPy, which forwards ``numpy.sum`` to ``cupy.sum``).

Not modelled: CuPy wraps out-of-bounds index arrays around, leaves ``x[idx] = v`` with
repeated indices undefined, and synchronises in ``repr``; here ``repr`` is free.
"""

import contextlib
import functools
import pathlib
import sys
import types

import numpy
from numpy.lib.mixins import NDArrayOperatorsMixin

CUPY_NAMES_FILE = pathlib.Path(__file__).with_name("cupy_names.txt")
# ufunc method -> the ufuncs for which CuPy 14 has it (None: all); cupy/_core/_kernel.pyx
CUPY_UFUNC_METHODS = {"__call__": None, "outer": None, "reduceat": {"add"},
                      "at": {"add", "subtract", "maximum", "minimum"},
                      "reduce": {"add", "multiply"}, "accumulate": {"add", "multiply"}}
# Ops whose output size depends on the data: CuPy first reads a count back to the host.
DATA_DEPENDENT_SIZE = {"nonzero", "argwhere", "flatnonzero", "unique", "compress", "extract"}
PYTHON_SCALARS = (bool, int, float, complex)


# The sections of cupy_names.txt: CuPy's namespaces that ops may use, and its array's attributes.
SECTIONS = ("cupy", "cupy.linalg", "cupy.random", "cupy.lib", "cupy.lib.stride_tricks",
            "cupy.random.Generator", "cupy.ndarray")


@functools.cache
def cupy_names() -> dict:
    """CuPy's names by section, read once from cupy_names.txt: {"cupy.linalg": {"norm", ...}}."""
    names = {section: set() for section in SECTIONS}
    for line in CUPY_NAMES_FILE.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            section, name = line.strip().rsplit(".", 1)   # "cupy.linalg.norm" -> "cupy.linalg", "norm"
            names[section].add(name)
    return names


# --- Counting synchronisations ------------------------------------------------------

_open_counts = []   # the counter of each `with count_synchronizations()` block now open


def _synchronize():
    for counter in _open_counts:
        counter.count += 1


@contextlib.contextmanager
def count_synchronizations():
    """``with count_synchronizations() as syncs: step()`` then ``assert syncs.count == 0``."""
    counter = types.SimpleNamespace(count=0)
    _open_counts.append(counter)
    try:
        yield counter
    finally:
        _open_counts.remove(counter)


# --- Crossing between the stand-in and NumPy ----------------------------------------

def _mixing_error(where):
    return TypeError(
        f"{where}: got a numpy.ndarray where CuPy needs a device array; host and device "
        "arrays cannot be mixed (CuPy: TypeError: Unsupported type <class 'numpy.ndarray'>). "
        "Copy it to the device first with xp.asarray(...).")


def _unwrap(value, where, allow_host=False):
    """StrictArrays in ``value`` (also inside lists and tuples) -> their NumPy data."""
    if isinstance(value, StrictArray):
        return value._host
    if isinstance(value, numpy.ndarray) and not allow_host:
        raise _mixing_error(where)
    if isinstance(value, (list, tuple)):
        return type(value)(_unwrap(item, where, allow_host) for item in value)
    return value


def _wrap(result):
    """NumPy results -> StrictArrays; NumPy scalars become 0-d arrays, as in CuPy."""
    if isinstance(result, numpy.ndarray):
        return StrictArray(result)
    if isinstance(result, numpy.generic):
        return StrictArray(numpy.asarray(result))
    if isinstance(result, (list, tuple)):
        return type(result)(_wrap(item) for item in result)
    return result   # shapes, dtypes, Python numbers, None


def _on_device(numpy_function, where, synchronizes=False, numbers_to_arrays=False):
    """``numpy_function`` made to take and return device arrays, as ``where`` does in CuPy."""
    @functools.wraps(numpy_function)
    def device_function(*args, **kwargs):
        if synchronizes:
            _synchronize()
        host_kwargs = {key: _unwrap(value, where) for key, value in kwargs.items()}
        result = numpy_function(*_unwrap(args, where), **host_kwargs)
        if numbers_to_arrays and isinstance(result, PYTHON_SCALARS):
            result = numpy.asarray(result)   # cupy.random.random() is a 0-d array
        return _wrap(result)
    return device_function


def wrap(host_array) -> "StrictArray":
    """A StrictArray holding a copy of ``host_array``: what a host->device copy makes.

    As ``cupy.asarray``, the copy is C-contiguous unless the host array is Fortran-
    contiguous: a channels-last batch loses its layout (minires's to_device keeps it).
    """
    host_array = numpy.asarray(host_array)
    order = "F" if host_array.flags.f_contiguous and not host_array.flags.c_contiguous else "C"
    return StrictArray(numpy.array(host_array, copy=True, order=order))


# --- The device array ---------------------------------------------------------------

class StrictArray(NDArrayOperatorsMixin):
    """An array on the strict device: NumPy data, as strict as a cupy.ndarray.

    Operators (``+``, ``<``, ``@``...) come from NDArrayOperatorsMixin, which makes each a
    NumPy ufunc call that lands in :meth:`__array_ufunc__`. Methods and attributes
    (``x.sum()``, ``x.shape``) come from :meth:`__getattr__`, which allows only cupy.ndarray's.
    """

    __slots__ = ("_host",)
    __hash__ = None   # unhashable, like NumPy and CuPy arrays (== is elementwise)

    def __init__(self, host: numpy.ndarray):
        self._host = host   # not copied: views share data, as CuPy views do

    def __array__(self, dtype=None, copy=None):
        raise TypeError("Implicit conversion to a NumPy array is not allowed. "
                        "Please use `.get()` to construct a NumPy array explicitly.")

    def __array_function__(self, func, types, args, kwargs):
        raise TypeError(f"numpy.{func.__name__} was called on a device array; "
                        f"ops must call xp.{func.__name__} (cupy.{func.__name__} on CUDA)")

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return _apply_ufunc(ufunc, method, inputs, kwargs)

    def __getitem__(self, index):
        host_index = _unwrap(index, "indexing")
        host_index = host_index if isinstance(host_index, tuple) else (host_index,)
        if any(isinstance(item, numpy.ndarray) and item.dtype == bool for item in host_index):
            _synchronize()   # a mask: the output size is the number of True values
        if not any(item is Ellipsis for item in host_index):
            host_index += (Ellipsis,)   # with a trailing ..., NumPy gives 0-d views, not scalars
        return _wrap(self._host[host_index])

    def __setitem__(self, index, value):
        self._host[_unwrap(index, "indexing")] = _unwrap(value, "assigning to an index")

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        if name not in cupy_names()["cupy.ndarray"]:
            raise AttributeError(f"cupy.ndarray has no attribute {name!r}: "
                                 f"an op using array.{name} would fail on CUDA")
        if not hasattr(self._host, name):
            raise AttributeError(f"cupy.ndarray.{name} is not modelled by the strict device")
        value = getattr(self._host, name)
        if callable(value):
            return _on_device(value, f"ndarray.{name}", name in DATA_DEPENDENT_SIZE)
        return _wrap(value)   # x.T is a device array; x.shape and x.dtype are as they are

    # Reading values on the host: each is a synchronisation (CuPy's own go through get()).
    def get(self, stream=None) -> numpy.ndarray:
        _synchronize()
        return self._host.copy()

    def item(self, *args):
        return self.get().item(*args)

    def tolist(self):
        return self.get().tolist()

    def __float__(self):
        return float(self.get())

    def __int__(self):
        return int(self.get())

    def __bool__(self):
        return bool(self.get())

    def __format__(self, format_spec):
        return format(self.get(), format_spec)

    # Free: these read only the shape, or show the data to a person.
    def __len__(self):
        return len(self._host)

    def __iter__(self):
        return (self[i] for i in range(len(self._host)))   # rows are views, as in CuPy

    def __repr__(self):
        return "strict_" + repr(self._host)   # reads _host: printing is not a synchronisation

    def __copy__(self):
        return StrictArray(self._host.copy())

    def __deepcopy__(self, memo):
        return self.__copy__()


# --- Ufuncs -------------------------------------------------------------------------

def _apply_ufunc(ufunc, method, inputs, kwargs):
    """``ufunc.method(*inputs)`` on device arrays and scalars, within CuPy's limits."""
    name = ufunc.__name__
    where = name if method == "__call__" else f"{name}.{method}"
    supported = CUPY_UFUNC_METHODS.get(method, set())
    if supported is not None and name not in supported:
        raise NotImplementedError(f"`cupy_{name}.{method}` is not supported yet: CuPy has "
                                  f"{method} only for {sorted(supported) or 'no ufunc'}")
    if method == "at":   # in place: array[indices] op= values
        array, indices, *values = inputs
        if not isinstance(array, StrictArray):
            raise TypeError(f"{where}: the array updated in place must be a device array")
        _check_operands(where, values)
        ufunc.at(array._host, _unwrap(indices, where), *_unwrap(values, where))
        return None
    out = kwargs.pop("out", None)
    outs = () if out is None else out if isinstance(out, tuple) else (out,)
    arrays = inputs if method in ("__call__", "outer") else inputs[:1]   # reduce(array, axis)
    _check_operands(where, arrays + outs)
    host_kwargs = {key: _unwrap(value, where) for key, value in kwargs.items()}
    if outs:
        host_kwargs["out"] = _unwrap(outs, where)
    result = getattr(ufunc, method)(*_unwrap(inputs, where), **host_kwargs)
    if outs:
        return outs[0] if len(outs) == 1 else outs   # the caller's own arrays, as in NumPy
    return _wrap(result)


def _check_operands(where, operands):
    for operand in operands:
        if isinstance(operand, numpy.ndarray):
            raise _mixing_error(where)
        if not isinstance(operand, (StrictArray, numpy.generic) + PYTHON_SCALARS):
            raise TypeError(f"{where}: Unsupported type {type(operand)}; "
                            "CuPy ufuncs take only device arrays and scalars")


class StrictUfunc:
    """``xp.add``, ``xp.maximum``...: a NumPy ufunc on device arrays, with CuPy's methods.

    Only ``at`` and ``reduce`` are offered (``outer``, ``accumulate``: use ``xp.cumsum``...).
    """

    def __init__(self, numpy_ufunc: numpy.ufunc):
        self.ufunc = numpy_ufunc
        self.__name__ = numpy_ufunc.__name__

    def __call__(self, *inputs, **kwargs):
        return _apply_ufunc(self.ufunc, "__call__", inputs, kwargs)

    def at(self, array, indices, values=None):
        """In place ``array[indices] op= values``; repeated indices accumulate."""
        inputs = (array, indices) if values is None else (array, indices, values)
        return _apply_ufunc(self.ufunc, "at", inputs, {})

    def reduce(self, array, *args, **kwargs):
        return _apply_ufunc(self.ufunc, "reduce", (array, *args), kwargs)


# --- The array module: strict_xp ----------------------------------------------------

def _is_shared_with_numpy(value) -> bool:
    """CuPy re-exports these NumPy objects unchanged: dtypes, finfo, errors, constants."""
    if isinstance(value, type):
        return (issubclass(value, (numpy.generic, BaseException))
                or value in (numpy.dtype, numpy.finfo, numpy.iinfo))
    return value is None or isinstance(value, float)   # newaxis; pi, e, inf, nan


class StrictNamespace:
    """Stands in for the module ``cupy`` (or ``cupy.linalg``, ``cupy.random``, ``cupy.lib``,
    or a ``cupy.random.Generator``) as ``xp``.

    The one place the tests answer attribute access with ``__getattr__``: ops may ask
    ``xp`` for any of CuPy's hundreds of functions, and writing each out would copy
    NumPy. A name must be one of CuPy's; NumPy's function of that name then serves it.
    """

    def __init__(self, section, numpy_namespace, own_names):
        self._section = section                   # "cupy", "cupy.linalg" or "cupy.random"
        self._numpy_namespace = numpy_namespace   # numpy, numpy.linalg or numpy.random
        self._own_names = own_names               # name -> object for names NumPy lacks

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        path = self._section.replace("cupy", "xp", 1) + "." + name
        if name not in cupy_names()[self._section]:
            raise AttributeError(f"{self._section} has no attribute {name!r}: "
                                 f"an op using {path} would fail on CUDA")
        if name in self._own_names:
            return self._own_names[name]
        if not hasattr(self._numpy_namespace, name):
            raise AttributeError(f"{self._section}.{name} is not modelled: NumPy has no {name!r}")
        value = getattr(self._numpy_namespace, name)
        if isinstance(value, numpy.ufunc):
            return StrictUfunc(value)
        if _is_shared_with_numpy(value):
            return value
        if callable(value) and not isinstance(value, type):
            return _on_device(value, path, name in DATA_DEPENDENT_SIZE,
                              numbers_to_arrays=self._section.startswith("cupy.random"))
        raise AttributeError(f"{self._section}.{name} is not modelled by the strict device "
                             f"(NumPy's counterpart is {type(value).__name__})")

    def __repr__(self):
        return f"<strict stand-in for {self._section}>"


def _asarray(data, dtype=None, copy=None, **kwargs):
    """``xp.asarray`` (and ``xp.array``, with copy=True): host data is always copied over."""
    if isinstance(data, StrictArray):
        return StrictArray(numpy.array(data._host, dtype=dtype, copy=copy, **kwargs))
    host_data = _unwrap(data, "xp.asarray", allow_host=True)   # an explicit copy: not a sync
    return StrictArray(numpy.array(host_data, dtype=dtype, copy=True, **kwargs))


def _asnumpy(array) -> numpy.ndarray:
    """``xp.asnumpy``: a NumPy copy of a device array (a synchronisation)."""
    return array.get() if isinstance(array, StrictArray) else numpy.asarray(array)


def _default_rng(seed=None):
    """``xp.random.default_rng(seed)``: a NumPy Generator whose draws are device arrays,
    offering only the methods of ``cupy.random.Generator``."""
    return StrictNamespace("cupy.random.Generator", numpy.random.default_rng(seed), {})


strict_xp = StrictNamespace("cupy", numpy, {
    "ndarray": StrictArray, "asarray": _asarray,
    "array": functools.partial(_asarray, copy=True), "asnumpy": _asnumpy,
    "linalg": StrictNamespace("cupy.linalg", numpy.linalg, {}),
    "random": StrictNamespace("cupy.random", numpy.random, {"default_rng": _default_rng}),
    "lib": StrictNamespace("cupy.lib", numpy.lib, {
        "stride_tricks": StrictNamespace("cupy.lib.stride_tricks", numpy.lib.stride_tricks, {})}),
})


# --- Registering with minires, and writing the names file ---------------------------

def _to_host(array: StrictArray) -> numpy.ndarray:
    return array.get()   # a device->host copy: a synchronisation


def register_strict_device():
    """Adds the device "strict" to minires.backend (imported here: writing names needs no minires)."""
    from minires import backend
    backend.register_device("strict", strict_xp, StrictArray, _to_host, wrap)


def unregister_strict_device():
    from minires import backend
    backend.unregister_device("strict")


def write_cupy_names(path=CUPY_NAMES_FILE):
    """Writes the public names of the installed CuPy to ``path``, one per line."""
    import __future__

    import cupy
    sections = {"cupy": cupy, "cupy.linalg": cupy.linalg, "cupy.random": cupy.random,
                "cupy.lib": cupy.lib, "cupy.lib.stride_tricks": cupy.lib.stride_tricks,
                "cupy.random.Generator": cupy.random.Generator, "cupy.ndarray": cupy.ndarray}
    lines = [f"# Public names of CuPy {cupy.__version__}, read by tests/strict_device.py:",
             "# the strict device refuses every name of xp and of arrays not listed here.",
             "# Regenerate, from the repository root, with that CuPy installed:",
             "#     python tests/strict_device.py --write-cupy-names"]
    for section, namespace in sections.items():
        for name in sorted(dir(namespace)):
            value = getattr(namespace, name)
            skipped = (isinstance(value, type(__future__.annotations))   # `from __future__ import`
                       or isinstance(value, types.ModuleType) and name not in ("linalg", "random", "lib",
                                                                               "stride_tricks"))
            if not name.startswith("_") and not skipped:
                lines.append(f"{section}.{name}")
    path.write_text("\n".join(lines) + "\n")
    print(f"wrote {len(lines) - 4} names to {path}")


if __name__ == "__main__":
    if sys.argv[1:] != ["--write-cupy-names"]:
        sys.exit("usage: python tests/strict_device.py --write-cupy-names")
    write_cupy_names()
