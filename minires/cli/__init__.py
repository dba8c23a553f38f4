"""The ``minires`` command line (also ``python -m minires``).

    minires train [options]        train a net and write a run folder (train_command.py)
    minires plot RUN [RUN ...]     overlay the error curves of runs (plot_command.py)
    minires sweep CONFIG           train every trial of a sweep config, resumably (sweep_command.py)
    minires report SWEEP_DIR       a sweep's trials averaged over seeds: tables, figures (report_command.py)
    minires info                   versions, and the device "auto" would pick (info_command.py)

Every error a user can cause ends with one line, ``minires: error: <what is wrong and
what would be right>``, never with a traceback from inside the library. The exit status
says which kind it was:

    0    success
    1    a failure while running: damaged or invalid data, a damaged run file or
         checkpoint, a run that diverged, a full disk, no memory, CUDA unusable
    2    a usage error: an option out of its range, options that do not go together,
         a path that does not exist, a run folder that is occupied or locked
    130  interrupted (Ctrl-C); the last finished epoch's checkpoint is kept

``--debug`` (after the command: ``minires train --debug ...``) shows the traceback
instead, for reporting a bug.
"""

import argparse
import sys

from minires.backend import CudaUnavailableError
from minires.checkpoint import CheckpointError
from minires.cli.errors import CommandError
from minires.cli import info_command, plot_command, report_command, sweep_command, train_command
from minires.data import DatasetError
from minires.run_directory import RunDirectoryError, RunFileError
from minires.train import TrainingDiverged

# Checked in this order: RunFileError is a RunDirectoryError, but a failure, not a usage error.
EXIT_STATUSES = (
    (RunFileError, 1), (DatasetError, 1), (CheckpointError, 1), (TrainingDiverged, 1),
    (CudaUnavailableError, 1), (MemoryError, 1), (OSError, 1),
    (CommandError, 2), (RunDirectoryError, 2),
)
USAGE_STATUS = 2


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a mistake in the arguments is reported in one line, like every other error."""

    def error(self, message):
        print(f"minires: error: {message} (see {self.prog} --help)", file=sys.stderr)
        sys.exit(USAGE_STATUS)


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="minires",
        description="Train and compare plain, residual, highway and VAN nets with minires.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    for command in (train_command, plot_command, sweep_command, report_command, info_command):
        command.add_parser(commands)
    for subparser in commands.choices.values():
        subparser.add_argument("--debug", action="store_true",
                               help="show the Python traceback of an error (to report a bug)")
    return parser


def described(error) -> str:
    """The one line that reports ``error``."""
    if isinstance(error, MemoryError):
        return ("ran out of memory" + (f" ({error})" if str(error) else "")
                + "; choose a smaller --batch-size, --width or --depth")
    if isinstance(error, OSError) and error.strerror:
        where = f" {error.filename}" if error.filename else ""
        return f"cannot use{where}: {error.strerror}"
    return " ".join(str(error).split())          # one line, whatever the message held


def exit_status(error):
    """The exit status for an error a user can cause; None for a bug (a traceback then)."""
    for error_class, status in EXIT_STATUSES:
        if isinstance(error, error_class):
            return status
    return None


def main(argv=None) -> int:
    """Runs one command; returns the exit status (see the module docstring)."""
    arguments = build_parser().parse_args(argv)
    try:
        return arguments.run(arguments) or 0
    except KeyboardInterrupt:
        print("minires: interrupted; the last finished epoch's checkpoint is kept "
              "(continue with --resume)", file=sys.stderr)
        return 130
    except Exception as error:
        status = exit_status(error)
        if status is None or arguments.debug:
            raise
        print(f"minires: error: {described(error)}", file=sys.stderr)
        return status
