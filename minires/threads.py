"""CPU threads: ops split their batch into parts that run on all cores at once.

NumPy runs each call on one core; only matrix products large enough for OpenBLAS to
split use more. A convolution made of thousands of small products (conv_taps.py)
would leave the other cores idle. NumPy releases Python's GIL while its loops and BLAS
calls run, so Python threads that work on separate parts of a batch do run at the
same time, one per core (PyTorch does the same with OpenMP). Only the convolution
splits its batch today: element-wise passes such as batch norm's are limited by memory
bandwidth, and splitting batch norm gained about 10%, too little for the code it took.

An op that uses this writes one function for one part of the batch, then

    parts = batch_parts(x)                        # [slice(0, 64), slice(64, 128)] on 2 cores
    results = run_parts(work_on_part, parts)      # work_on_part(part) on each, in parallel

Each part writes only its own rows of the output, and partial results (a weight
gradient summed over the batch) are added in a fixed order, so a result does not
depend on which thread finishes first. Arrays on a GPU are never split: one CUDA
stream runs the kernels, and splitting would only add launches.

The first time an op splits its batch, minires limits BLAS (OpenBLAS under NumPy) to
one thread per call, for the whole process, with threadpoolctl: each part already has
a core, and BLAS threads of its own would compete with the parts for the same cores.
Limiting BLAS only while parts run is not enough: OpenBLAS's idle threads keep
spinning for a while after each call. Measured on 2 cores (ResNet-20, batch 128): a
training step took 1019 ms with BLAS at 2 threads, 849 ms limited during the parts
only, and 556 ms limited throughout. ``set_num_threads(1)`` gives BLAS its threads back.

``set_num_threads`` / ``get_num_threads`` as in PyTorch; the default is one thread per
CPU core this process may use.
"""

import os
from concurrent.futures import ThreadPoolExecutor

from threadpoolctl import threadpool_limits

from minires import backend

_num_threads = None          # None: one per core, decided on first use
_pool = None                 # the ThreadPoolExecutor, made on first use
_blas_limit = None           # threadpoolctl's limit on BLAS threads, while the batch is split


def get_num_threads() -> int:
    """How many threads CPU ops split their batch across (as torch.get_num_threads)."""
    global _num_threads
    if _num_threads is None:
        cores = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else range(os.cpu_count() or 1)
        _num_threads = max(1, len(cores))
    return _num_threads


def set_num_threads(num_threads: int):
    """Sets how many threads CPU ops use (as torch.set_num_threads); 1 turns splitting off."""
    global _num_threads, _pool, _blas_limit
    if isinstance(num_threads, bool) or not isinstance(num_threads, int) or num_threads < 1:
        raise ValueError(f"set_num_threads: expected an int of at least 1; got {num_threads!r}")
    _num_threads = num_threads
    if _pool is not None:
        _pool.shutdown(wait=True)
        _pool = None
    if _blas_limit is not None:
        _blas_limit.restore_original_limits()       # BLAS threads as they were before minires split
        _blas_limit = None


# Handing a part to a thread costs about 60 microseconds, so a part must carry more work
# than that: a 3x3 convolution of 4 images of 4 x 8 x 8 took 68 us in one piece and
# 247 us split in two. Arrays are split only into parts of at least this many values.
MIN_VALUES_PER_PART = 2**16


def batch_parts(array) -> list:
    """The batch (axis 0) of ``array`` as slices, one per thread.

    One slice (no split) off the CPU, and for arrays too small to be worth splitting
    (fewer than ``MIN_VALUES_PER_PART`` values per part).
    """
    batch_size = array.shape[0]
    count = get_num_threads() if backend.device_of(array) == "cpu" else 1
    count = max(1, min(count, batch_size, array.size // MIN_VALUES_PER_PART))
    bounds = [batch_size * k // count for k in range(count + 1)]
    return [slice(start, stop) for start, stop in zip(bounds, bounds[1:])]


def run_parts(work_on_part, parts) -> list:
    """[work_on_part(part) for part in parts], the parts on separate threads; results in order."""
    global _pool, _blas_limit
    if len(parts) == 1:
        return [work_on_part(parts[0])]
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=get_num_threads(), thread_name_prefix="minires")
    if _blas_limit is None:
        _blas_limit = threadpool_limits(limits=1, user_api="blas")   # until set_num_threads
    return list(_pool.map(work_on_part, parts))
