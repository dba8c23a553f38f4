"""Host memory: keep the memory NumPy frees for the next arrays, instead of giving it back.

A training step allocates and frees the same few hundred MiB of arrays, step after
step. NumPy takes large arrays from the C library's ``malloc``, and glibc's malloc
(Linux) gives freed memory back to the operating system: blocks larger than its mmap
threshold get their own mapping, unmapped on free, and the top of the heap is
trimmed once more than its trim threshold lies free there. The next step's arrays
then land on fresh pages, and the first write to each page is a page fault in which
the kernel zeroes it: tens of thousands of faults a step (benchmarks/RESULTS.md).

:func:`keep_freed_memory` raises both thresholds with ``mallopt``, so that freed
blocks stay in the process for reuse. This changes how fast memory is reused, never
which values an array holds, and the process does not shrink after its peak.

It cannot be undone, so minires never does it inside a library call: glibc adjusts
both thresholds by itself until a program sets them, and never again after (it has no
call to turn that back on, nor one to read the current values). Setting them back to
glibc's documented defaults leaves them fixed there: a program that then allocates
and frees one 4 MiB array in a loop takes about 50 times more page faults than before. So ``import minires`` and minires's training loop leave
the allocator alone, and only processes that minires owns call
:func:`keep_freed_memory`: the ``minires train`` command and the scripts in
benchmarks/. In a process of your own (a notebook, a script), call it yourself if you
want its gain for the rest of the process (benchmarks/RESULTS.md has the figures).

A program that set the thresholds itself, through ``MALLOC_*_`` environment
variables or ``GLIBC_TUNABLES``, is left alone. On other C libraries (macOS, Windows,
musl) nothing happens.
"""

import ctypes
import os

M_TRIM_THRESHOLD = -1                 # glibc's mallopt parameter numbers (malloc.h)
M_MMAP_THRESHOLD = -3
KEPT_TRIM_THRESHOLD = 2**30           # keep up to 1 GiB free at the top of the heap
KEPT_MMAP_THRESHOLD = 32 * 2**20      # glibc's largest allowed value on 64-bit systems
USER_SETTINGS = ("MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_", "GLIBC_TUNABLES")


def _mallopt():
    """The C library's mallopt, or None where there is none (not glibc)."""
    try:
        mallopt = ctypes.CDLL(None).mallopt      # None: the libraries already loaded, libc included
    except (OSError, AttributeError, TypeError):
        return None
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return mallopt


def _user_set_allocator() -> bool:
    return any(name in os.environ for name in USER_SETTINGS)


def keep_freed_memory() -> bool:
    """Asks glibc's malloc to keep freed memory for reuse, for the rest of the process;
    True if it agreed.

    Blocks up to 32 MiB then come from the heap (not one mapping each), and up to
    1 GiB of free heap is kept instead of trimmed. False where the C library has no
    ``mallopt``, where the user set the thresholds, or where glibc refuses the values.
    See the module docstring for why minires calls it only in processes it owns.
    """
    mallopt = _mallopt()
    if mallopt is None or _user_set_allocator():
        return False
    return bool(mallopt(M_TRIM_THRESHOLD, KEPT_TRIM_THRESHOLD)) and bool(mallopt(M_MMAP_THRESHOLD, KEPT_MMAP_THRESHOLD))

