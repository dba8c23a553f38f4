"""The array backend: NumPy on the CPU, CuPy on an NVIDIA GPU, behind one name, ``xp``.

Every op receives ``xp`` (``numpy`` on the CPU, ``cupy`` on a GPU) and writes the
same source for both. The rules that keep one source correct on both:

- create arrays with ``xp``, never ``numpy``, inside ops;
- never convert implicitly between host and device (CuPy refuses ``numpy.asarray``
  of a device array; call :func:`to_device` instead);
- reductions return 0-d arrays on CuPy, so never rely on NumPy scalars;
- accumulate with ``xp.add.at`` (CuPy has ``.at`` only for add, subtract, maximum
  and minimum), never ``g[idx] += v``, which drops repeated indices;
- draw random numbers from minires's generators (random.py), never ``xp.random``'s
  global one;
- use Python floats for constants, so that float32 stays float32.

Three topics, one file each:

- devices.py: devices by name, the array module of each, moving arrays between them,
  the default device, CUDA detection (the only module of minires importing CuPy);
- arrays.py: dtypes, arrays from Python data, NumPy scalars as arrays;
- random.py: minires's random generators and manual_seed.

Everything is re-exported here: ``from minires import backend; backend.to_device(...)``.
"""

from minires.backend.arrays import (DEFAULT_FLOAT_DTYPE, array_to_string, as_dtype, bool_,
                                    ensure_array, float16, float32, float64, host_array, int32,
                                    int64, is_floating, scalar_value, sliding_windows)
from minires.backend.devices import (CudaUnavailableError, Device, DeviceMismatchError,
                                     array_module, available_memory, cuda_available,
                                     cuda_unavailable_reason, device, device_name, device_of,
                                     get_array_module,
                                     get_device, is_array, register_device, set_device, synchronize,
                                     to_device, to_numpy, unregister_device)
from minires.backend.random import (device_generator, host_generator, host_random_normal, manual_seed,
                                    random_state, set_random_state)
