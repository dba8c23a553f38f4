"""Arrays from Python data, dtypes, and the small differences between NumPy and CuPy.

NumPy and CuPy share their dtypes (``cupy.float32`` is ``numpy.float32``), so the
dtypes minires exports (``mr.float32`` ...) are NumPy's, whatever the device. Data
from Python (lists, numbers) and from files is made into NumPy arrays on the host
here, then copied to its device with :func:`minires.backend.to_device`.
"""

import numpy

from minires.backend.devices import get_array_module, to_numpy

# dtypes, exported by minires as mr.float32 and so on (CuPy uses NumPy's dtypes).
float16 = numpy.dtype("float16")
float32 = numpy.dtype("float32")
float64 = numpy.dtype("float64")
int32 = numpy.dtype("int32")
int64 = numpy.dtype("int64")
bool_ = numpy.dtype("bool")

DEFAULT_FLOAT_DTYPE = float32


def as_dtype(dtype):
    """Turns "float32", numpy.float32 or mr.float32 into a NumPy dtype."""
    try:
        return numpy.dtype(dtype)
    except TypeError as error:
        raise TypeError(f"{dtype!r} is not a dtype; use e.g. minires.float32") from error


def is_floating(dtype) -> bool:
    return numpy.issubdtype(dtype, numpy.floating)


def host_array(data, dtype=None):
    """A fresh NumPy array holding ``data`` (a list, a number or a NumPy array).

    Like ``torch.tensor``: Python floats become float32 (the default dtype), Python
    ints int64 and bools bool; a NumPy array keeps its dtype unless ``dtype`` is given.
    """
    if dtype is not None:
        return numpy.array(data, dtype=as_dtype(dtype), copy=True)
    array = numpy.array(data, copy=True)
    if array.dtype == object or array.dtype.kind in "USV":
        raise TypeError(f"cannot make a tensor from {type(data).__name__} data of dtype {array.dtype}")
    if not isinstance(data, (numpy.ndarray, numpy.generic)) and array.dtype == float64:
        array = array.astype(DEFAULT_FLOAT_DTYPE)
    return array


def scalar_value(value):
    """A NumPy scalar as the Python number it holds; other values unchanged.

    NumPy scalars are 'strong' in NumPy 2's promotion rules (float32 array *
    numpy.float64 -> float64); Python numbers are 'weak' and keep float32 float32.
    """
    if isinstance(value, numpy.generic):
        return value.item()
    return value


def ensure_array(value):
    """A NumPy scalar (what NumPy returns for 0-d results) as a 0-d array; arrays unchanged.

    CuPy always returns arrays; NumPy returns scalars from reductions and from ufuncs
    on 0-d arrays. Tensors and gradients always hold arrays.
    """
    if isinstance(value, numpy.generic):
        return numpy.asarray(value)
    return value


def array_to_string(array, prefix: str) -> str:
    """The values of ``array`` formatted as NumPy prints them (a host copy for devices)."""
    return numpy.array2string(to_numpy(array), separator=", ", prefix=prefix)


def sliding_windows(x, window_shape, stride):
    """The windows a pool or a convolution slides over an (N, C, H, W) array, as a view.

    Returns an (N, C, OH, OW, KH, KW) view of x, made without copying: window
    (oh, ow) is x[:, :, oh * SH : oh * SH + KH, ow * SW : ow * SW + KW], with
    OH = (H - KH) // SH + 1. The view is read-only (its windows overlap in memory).
    NumPy and CuPy both have ``lib.stride_tricks.sliding_window_view``; it slides with
    stride 1, and taking every SH-th and SW-th window gives the stride.
    """
    (SH, SW) = stride
    xp = get_array_module(x)
    windows = xp.lib.stride_tricks.sliding_window_view(x, window_shape, axis=(2, 3))   # (N, C, H-KH+1, W-KW+1, KH, KW)
    return windows[:, :, ::SH, ::SW]                                                    # (N, C, OH, OW, KH, KW)
