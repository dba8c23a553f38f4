"""CPU threads: ops split their batch into parts that run on all cores at once.

NumPy runs each call on one core; only matrix products large enough for OpenBLAS to
split use more. A convolution made of thousands of small products (conv_taps.py)
would leave the other cores idle. NumPy releases Python's GIL while its loops and BLAS
calls run, so Python threads that work on separate parts of a batch do run at the
same time, one per core (PyTorch does the same with OpenMP). The convolution splits
its batch (forward and backward); so do ReLU (forward and backward) and batch norm's
forward in evaluation, for arrays large enough to gain (``elementwise_parts``): in an
evaluation forward of ResNet-20 they take about a fifth of the time.

An op that uses this writes one function for one part of the batch, then

    parts = batch_parts(x)                        # [slice(0, 64), slice(64, 128)] on 2 cores
    results = run_parts(work_on_part, parts)      # work_on_part(part) on each, in parallel

The calling thread takes a share of the parts itself; the others go to a pool of
threads that minires starts on first use.

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
from concurrent.futures import ThreadPoolExecutor, wait

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

# An element-wise pass does far less work per value than a convolution: splitting pays only
# for large arrays. Measured on 2 cores, max(x, 0) of (128, 16, 32, 32) took 1.19 ms whole and
# 0.66 ms split, of (128, 32, 16, 16) 0.59 and 0.38 ms, of (128, 64, 8, 8) 0.30 ms both ways.
ELEMENTWISE_MIN_VALUES_PER_PART = 2**19


def batch_parts(array, min_values_per_part=None, max_values_per_part=None) -> list:
    """The batch (axis 0) of ``array`` as slices: one per thread, or more if asked.

    One part (no split) off the CPU, and for arrays too small to be worth splitting:
    every part holds at least ``min_values_per_part`` values (default
    ``MIN_VALUES_PER_PART``). With ``max_values_per_part``, parts larger than that are
    split further, into a multiple of the thread count, so that the threads still get
    equal shares. A 0-d array is one part, ``...`` (``x[...]`` is the whole of x).
    """
    if array.ndim == 0:
        return [...]
    batch_size = array.shape[0]
    count = get_num_threads() if backend.device_of(array) == "cpu" else 1
    if min_values_per_part is None:
        min_values_per_part = MIN_VALUES_PER_PART
    count = max(1, min(count, batch_size, array.size // min_values_per_part))
    if count > 1 and max_values_per_part is not None:
        rounds = -(-array.size // (count * max_values_per_part))        # ceil: parts per thread
        count = min(batch_size, count * rounds)
    bounds = [batch_size * k // count for k in range(count + 1)]
    return [slice(start, stop) for start, stop in zip(bounds, bounds[1:])]


def elementwise_parts(array) -> list:
    """batch_parts for an element-wise pass: split only arrays large enough to gain."""
    return batch_parts(array, min_values_per_part=ELEMENTWISE_MIN_VALUES_PER_PART)


def run_parts(work_on_part, parts) -> list:
    """[work_on_part(part) for part in parts], spread over the threads; results in order.

    The parts are dealt out in equal runs of consecutive parts, one run per thread. The
    calling thread works through the first run itself while the pool's threads take
    the others: it is running already, and waking one more thread costs about 40 us
    (measured on 2 cores: 96 us for two empty parts both handed to the pool, 55 us
    with one of them kept).
    """
    global _pool, _blas_limit
    count = min(get_num_threads(), len(parts))                       # threads that get a run
    if count == 1:
        return work_through(work_on_part, parts)
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=get_num_threads() - 1, thread_name_prefix="minires")
    if _blas_limit is None:
        _blas_limit = threadpool_limits(limits=1, user_api="blas")   # until set_num_threads
    runs = [parts[len(parts) * k // count:len(parts) * (k + 1) // count] for k in range(count)]
    futures = [_pool.submit(work_through, work_on_part, run) for run in runs[1:]]
    try:
        results = work_through(work_on_part, runs[0])
    finally:
        wait(futures)                   # never return (or raise) while other threads still write
    for future in futures:
        results.extend(future.result())
    return results


def work_through(work_on_part, run) -> list:
    """[work_on_part(part) for part in run]: one thread's share of run_parts."""
    return [work_on_part(part) for part in run]
