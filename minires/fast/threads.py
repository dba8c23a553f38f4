"""CPU threads: a fast kernel splits its batch into parts that run on all cores at once.

NumPy runs each call on one core; only matrix products large enough for BLAS to split
use more. A convolution made of many small products (conv_taps.py) would leave the
other cores idle. NumPy releases Python's GIL while its loops and BLAS calls run, so
Python threads that work on separate parts of a batch do run at the same time, one
per core (PyTorch does the same with OpenMP).

A kernel that uses this writes one function for one part of the batch, then

    parts = batch_parts(x)                        # [slice(0, 64), slice(64, 128)] on 2 cores
    results = run_parts(work_on_part, parts)      # work_on_part(part) on each, in parallel

The calling thread takes a share of the parts itself; the others go to a pool of
threads that minires starts on first use. Each part writes only its own rows of the
output, and partial results (a weight gradient summed over the batch) are added in a
fixed order, so a result does not depend on which thread finishes first. Arrays on a
GPU are never split: one CUDA stream runs the kernels, and splitting would only add
launches.

BLAS and these threads must not compete for the same cores: while a fast kernel runs
(its forward or its backward, parts and all), BLAS is limited to one thread per call
(:func:`one_blas_thread`, with threadpoolctl), and given back its threads when the
kernel is done. The whole kernel, not only its parts: BLAS's own threads keep spinning
for a while after every call they share, and a matrix-vector product between two
parts (batch norm's sums) would leave them spinning while the next parts run.
minires's training loop (minires.train) holds the limit for a whole epoch, which
spares the switching; a training loop of your own can do the same::

    with minires.fast.one_blas_thread():
        for images, labels in loader:
            ...

``set_num_threads`` / ``get_num_threads`` as in PyTorch; the default is one thread per
CPU core this process may use.
"""

import contextlib
import os
import sys
from concurrent.futures import ThreadPoolExecutor, wait

from threadpoolctl import ThreadpoolController

from minires import backend

_num_threads = None          # None: one per core, decided on first use
_pool = None                 # the ThreadPoolExecutor, made on first use
_blas_controller = None      # threadpoolctl's view of the BLAS libraries loaded, made on first use
_modules_when_scanned = 0    # len(sys.modules) when it was made: a new extension may bring a BLAS
_blas_scopes_open = 0        # how many one_blas_thread() blocks are running now


def get_num_threads() -> int:
    """How many threads the fast kernels split their batch across (as torch.get_num_threads)."""
    global _num_threads
    if _num_threads is None:
        cores = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else range(os.cpu_count() or 1)
        _num_threads = max(1, len(cores))
    return _num_threads


def set_num_threads(num_threads: int):
    """Sets how many threads the fast kernels use (as torch.set_num_threads); 1 turns splitting off."""
    global _num_threads, _pool
    if isinstance(num_threads, bool) or not isinstance(num_threads, int) or num_threads < 1:
        raise ValueError(f"set_num_threads: expected an int of at least 1; got {num_threads!r}")
    _num_threads = num_threads
    if _pool is not None:
        _pool.shutdown(wait=True)
        _pool = None


@contextlib.contextmanager
def one_blas_thread():
    """Inside the block, BLAS runs one thread per call; outside, as many as it had.

    Does nothing when minires uses one thread (nothing is split then), or inside
    another such block (the outer one restores). Only BLAS libraries (OpenBLAS, MKL)
    are limited; the user's own settings come back as they were when the block exits.
    The limit is process-wide while it lasts: minires's ops are meant to be called
    from one Python thread at a time.
    """
    global _blas_controller, _modules_when_scanned, _blas_scopes_open
    if _blas_scopes_open > 0 or get_num_threads() == 1:
        yield
        return
    if _blas_controller is None or len(sys.modules) != _modules_when_scanned:
        # finding the loaded BLAS libraries takes about a millisecond: done again only
        # when Python has imported something since (SciPy, say, brings a BLAS of its own)
        _blas_controller, _modules_when_scanned = ThreadpoolController(), len(sys.modules)
    limit = _blas_controller.limit(limits=1, user_api="blas")
    _blas_scopes_open += 1
    try:
        yield
    finally:
        _blas_scopes_open -= 1
        limit.restore_original_limits()


# Handing a part to a thread has a cost: a part must carry more work than that.
# Arrays are split only into parts of at least this many values (benchmarks/RESULTS.md).
MIN_VALUES_PER_PART = 2**16

# An element-wise pass does far less work per value than a convolution: splitting pays
# only for large arrays.
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
    the others: it is running already, and waking one more thread has a cost.
    """
    global _pool
    count = min(get_num_threads(), len(parts))                       # threads that get a run
    if count == 1:
        return work_through(work_on_part, parts)
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=get_num_threads() - 1, thread_name_prefix="minires")
    runs = [parts[len(parts) * k // count:len(parts) * (k + 1) // count] for k in range(count)]
    with one_blas_thread():
        futures = [_pool.submit(work_through, work_on_part, run) for run in runs[1:]]
        try:
            results = work_through(work_on_part, runs[0])
        finally:
            wait(futures)               # never return (or raise) while other threads still write
    for future in futures:
        results.extend(future.result())
    return results


def work_through(work_on_part, run) -> list:
    """[work_on_part(part) for part in run]: one thread's share of run_parts."""
    return [work_on_part(part) for part in run]
