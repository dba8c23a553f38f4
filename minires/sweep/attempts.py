"""One attempt at a trial: ``minires train`` in a child process, and what came of it.

The child is ``python -m minires.sweep.trial_process THREADS PARENT train OPTIONS --out
RUN_FOLDER --no-progress`` (trial_process.py: minires train with a fixed thread count),
so that a crash, a divergence or running out of memory ends that trial only. How it
starts depends on what its run folder holds:

    new        an empty or absent folder
    resume     a checkpoint (an attempt that was interrupted): --resume continues it
    overwrite  a run that never finished an epoch (no checkpoint): --overwrite starts again

Everything the child prints goes to the trial's log, after a header line per attempt.
The child runs in a session of its own, so that Ctrl-C at the terminal reaches the
sweep alone, which then interrupts each child once (SIGINT: it stops as ``minires
train`` does at Ctrl-C, keeping its last finished epoch's checkpoint).
"""

import os
import shlex
import signal
import subprocess
import sys
import time

from minires.run_directory import RunDirectoryError
from minires.sweep.folder import now, results_of

MODE_WORDS = {
    "new": "a new run",
    "resume": "resuming the run from its checkpoint",
    "overwrite": "starting again (the folder holds a run that finished no epoch)",
}
INTERRUPTED = (130, -signal.SIGINT)          # minires train's status at Ctrl-C; killed by SIGINT
LOG_TAIL_LINES = 12


def mode_of(run_folder) -> str:
    """"new", "resume" or "overwrite": how an attempt starts, from what the folder holds."""
    if os.path.isfile(os.path.join(run_folder, "checkpoint.npz")) and \
            os.path.isfile(os.path.join(run_folder, "config.json")):
        return "resume"
    if os.path.isdir(run_folder) and os.listdir(run_folder):
        return "overwrite"
    return "new"


def trial_command(arguments, run_folder, mode, threads) -> list:
    """The child's command line: minires train with ``arguments`` (train_arguments.py)."""
    flags = {"new": [], "resume": ["--resume"], "overwrite": ["--overwrite"]}[mode]
    return [sys.executable, "-m", "minires.sweep.trial_process", str(threads), str(os.getpid()),
            "train", *arguments, "--out", run_folder, "--no-progress", *flags]


def trial_environment(threads) -> dict:
    """This process's environment, with BLAS held to the trial's threads too (as Ray does)."""
    return {**os.environ, "OMP_NUM_THREADS": str(threads), "OPENBLAS_NUM_THREADS": str(threads),
            "MKL_NUM_THREADS": str(threads)}


class Attempt:
    """A started attempt at one trial; ``finish()`` after its process has ended."""

    def __init__(self, arguments, run_folder, log_path, threads):
        self.mode = mode_of(run_folder)
        self.started = now()
        command = trial_command(arguments, run_folder, self.mode, threads)
        os.makedirs(os.path.dirname(log_path) or ".", exist_ok=True)
        self.log_path = log_path
        self.log = open(log_path, "ab")
        self.log_start = self.log.tell()
        self.log.write(f"--- {self.started} minires sweep: {MODE_WORDS[self.mode]}\n"
                       f"$ {shlex.join(command)}\n".encode("utf-8"))
        self.log.flush()
        self.clock = time.monotonic()
        self.process = subprocess.Popen(command, stdout=self.log, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, env=trial_environment(threads),
                                        start_new_session=True)

    def interrupt(self):
        """SIGINT to the child, as Ctrl-C would send it (nothing when it has ended)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)

    def finish(self) -> tuple:
        """(exit status, seconds, what this attempt wrote to the log), once the child has ended."""
        returncode = self.process.wait()
        seconds = time.monotonic() - self.clock
        self.log.close()
        with open(self.log_path, "rb") as file:
            file.seek(self.log_start)
            text = file.read().decode("utf-8", errors="replace")
        return returncode, seconds, text


def outcome(run_folder, returncode, log_text) -> dict:
    """The fields of the table's line for an attempt that ended with ``returncode``."""
    if returncode in INTERRUPTED:
        return {"status": "interrupted", "final": None, "best": None, "error": None}
    if returncode == 0:
        try:
            final, best = results_of(run_folder)
        except RunDirectoryError as error:
            return {"status": "failed", "final": None, "best": None,
                    "error": f"minires train ended without results: {error}"}
        return {"status": "done", "final": final, "best": best, "error": None}
    return {"status": "failed", "final": None, "best": None, "error": error_of(returncode, log_text)}


def error_of(returncode, log_text) -> str:
    """What went wrong: minires's one-line error, or else the end of the log."""
    lines = [line for line in log_text.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("minires: error: ")]
    killed = returncode < 0 and -returncode in signal.valid_signals()
    how = f"killed by {signal.Signals(-returncode).name}" if killed else f"exit status {returncode}"
    if errors:
        return f"{how}: {errors[-1][len('minires: error: '):]}"
    return f"{how}; the log ends:\n" + "\n".join(lines[-LOG_TAIL_LINES:])
