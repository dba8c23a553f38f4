"""``python -m minires.sweep.trial_process THREADS train ...``: one trial of a sweep.

It runs ``minires train ...`` in this process, with two things settled first:

- the number of threads minires.fast's kernels split a batch across
  (``minires.fast.set_num_threads(THREADS)``). A trained net depends on it, in its last
  bits: a weight gradient is summed part by part, and the parts follow the threads
  (1, 2 and 4 threads give three different nets after a few steps). ``minires train``
  alone takes one thread per core this process may use, which differs from machine
  to machine and on a Ray worker; a sweep gives every trial the same count, its
  ``[resources] cpus``, so that a trial's result does not depend on where it ran.
- on Linux, the process is sent SIGINT when the process that started it dies (the
  sweep, or a Ray worker): a sweep killed outright (SIGKILL) leaves no training
  running behind it, and the trial stops as at Ctrl-C, keeping its last checkpoint.

config.json records the command as ``minires train ...``, which is what ran.
"""

import ctypes
import os
import signal
import sys

from minires import fast
from minires.cli import main as minires_main

PR_SET_PDEATHSIG = 1          # prctl(2): the signal this process gets when its parent dies


def interrupt_when_parent_dies(parent_pid) -> bool:
    """SIGINT to this process when its parent exits (Linux; elsewhere nothing is set).
    False when the parent is gone already."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGINT)
    return os.getppid() == parent_pid


def main(argv) -> int:
    threads, parent_pid, *command = argv
    fast.set_num_threads(int(threads))
    if not interrupt_when_parent_dies(int(parent_pid)):
        return 130                              # the sweep died while this process started
    sys.argv = ["minires", *command]
    return minires_main(command)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
