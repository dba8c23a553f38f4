"""host_memory: freed NumPy arrays are reused without page faults (glibc only)."""

import subprocess
import sys
import textwrap

import pytest

from minires import host_memory

# Allocates 40 arrays of 4 MiB, frees them, three times; prints the page faults of the
# last two rounds. Without the setting glibc trims the freed 160 MiB every round.
ROUNDS = textwrap.dedent("""
    import resource, sys
    import numpy
    if sys.argv[1] == "keep":
        from minires import host_memory
        assert host_memory.keep_freed_memory()
    def round_of_arrays():
        arrays = [numpy.ones(2**20, dtype=numpy.float32) for _ in range(40)]
        del arrays
    round_of_arrays()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    round_of_arrays()
    round_of_arrays()
    print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
""")


def page_faults(mode):
    result = subprocess.run([sys.executable, "-c", ROUNDS, mode], capture_output=True, text=True, check=True)
    return int(result.stdout)


def test_freed_memory_is_reused_without_page_faults():
    if not host_memory.keep_freed_memory():
        pytest.skip("the C library here has no mallopt (not glibc)")
    kept, default = page_faults("keep"), page_faults("default")
    pages = 2 * 40 * 4 * 2**20 // 4096                # what two rounds would touch afresh
    assert default > pages // 2, f"the default allocator faulted only {default} times; the test shows nothing"
    assert kept < pages // 20, f"{kept} page faults with freed memory kept (default: {default})"


def test_without_mallopt_it_does_nothing(monkeypatch):
    def no_c_library(name):
        raise OSError("no C library here")
    monkeypatch.setattr(host_memory.ctypes, "CDLL", no_c_library)
    assert host_memory.keep_freed_memory() is False
