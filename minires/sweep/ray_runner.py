"""Running a sweep's trials on a Ray cluster (``minires sweep CONFIG --ray ADDRESS``).

Ray is the scheduler: each trial is one Ray task that declares the sweep's
``[resources]`` (``num_cpus=cpus, num_gpus=gpus``), and Ray places it on a node with
them free. The task runs the same child process as a local trial (attempts.py: ``minires
train`` with ``cpus`` threads) in a folder of that node's own, then returns the run
folder's small files (config.json, metrics.jsonl, curves.png, tracks.jsonl, tracks.png)
and the attempt's log through Ray; this process, the driver, writes them into the sweep
folder as trials/<trial id>/ and logs/<trial id>.log. So the nodes need no shared
filesystem, and the sweep folder looks the same as after a local sweep.

What the cluster needs: minires and its dependencies installed on every node (the same
versions; ``sweep.json`` and each line of the table record them), and the data each
trial names (``sample`` ships with minires; ``cifar10`` in every node's cache,
``$MINIRES_DATA``; a PATH must exist on every node).

The checkpoint stays on the node that trained: ``$TMPDIR/minires-sweeps/<key>/<trial
id>/`` (the key is made from the driver's host and the sweep folder's path, and the
trial's log names the node and the folder). A trial interrupted on a node resumes from
that checkpoint when Ray runs it there again (a retry after a worker died, or the same
command run again), and starts again elsewhere. ``minires train --resume`` on a trial
folder written through Ray needs that checkpoint copied in first.

``import ray`` happens only here, and only when --ray is given: Ray is an optional
extra (``python -m pip install -e ".[cluster]"``).
"""

import contextlib
import hashlib
import logging
import os
import socket
import tempfile

from minires.checkpoint import write_atomically
from minires.cli.errors import CommandError
from minires.cli.info_command import installed_versions
from minires.sweep.attempts import Attempt, outcome
from minires.sweep.folder import versions_of
from minires.sweep.train_arguments import train_arguments

RETURNED_FILES = (".minires-run", "config.json", "metrics.jsonl", "curves.png", "tracks.jsonl", "tracks.png")


def _import_ray():
    try:
        import ray
    except ImportError:
        raise CommandError('--ray needs Ray, which minires installs as its cluster extra: '
                           'python -m pip install -e ".[cluster]" (or pip install "ray>=2.9")') from None
    return ray


def sweep_key(sweep_path) -> str:
    """Names a sweep's folders on the nodes: the same for every run of the same sweep."""
    where = f"{socket.gethostname()}:{os.path.abspath(sweep_path)}"
    return hashlib.sha1(where.encode("utf-8")).hexdigest()[:12]


def run_trial_on_node(key, trial_id, arguments, threads) -> dict:
    """The Ray task: one attempt at a trial, in this node's folder for it; its results.

    Returns the exit status, how the attempt started ("new", "resume", "overwrite"), its
    seconds, its log, the run folder's small files, and where the checkpoint stays.
    """
    run_folder = os.path.join(tempfile.gettempdir(), "minires-sweeps", key, trial_id)
    attempt = Attempt(arguments, run_folder, run_folder + ".log", threads)
    try:
        attempt.process.wait()
    except KeyboardInterrupt:             # ray.cancel: stop the training as Ctrl-C would
        attempt.interrupt()
        attempt.process.wait()
        raise
    returncode, seconds, log_text = attempt.finish()
    files = {}
    for name in RETURNED_FILES:
        path = os.path.join(run_folder, name)
        if os.path.isfile(path):
            with open(path, "rb") as file:
                files[name] = file.read()
    return {"returncode": returncode, "mode": attempt.mode, "seconds": seconds, "started": attempt.started,
            "log": log_text, "files": files, "host": socket.gethostname(), "run_folder": run_folder,
            "versions": installed_versions()}


@contextlib.contextmanager
def ray_session(address):
    """The block in which this process is connected to Ray: the connection it already has
    (a script that called ray.init), or one to ``address`` for the block's duration.
    Raises CommandError, before anything runs, when Ray is missing or unreachable."""
    ray = _import_ray()
    connected_here = not ray.is_initialized()
    if connected_here:
        _connect(ray, address)
    try:
        yield
    finally:
        if connected_here:
            ray.shutdown()


def _connect(ray, address):
    """Connects to the Ray cluster at ``address`` ("auto", "local" to start one here, or an address)."""
    options = {"address": address, "log_to_driver": False, "logging_level": logging.WARNING}
    if address == "local":
        options["include_dashboard"] = False
    try:
        ray.init(**options)
    except Exception as error:            # Ray raises several kinds (ConnectionError, RuntimeError, ...)
        reason = " ".join(str(error).split()) or type(error).__name__
        raise CommandError(f"--ray {address}: cannot connect to a Ray cluster ({reason}); start one with "
                           "`ray start --head`, give its address, or use --ray local") from None


def run_on_ray(sweep, folder, to_run, recorder):
    """Runs ``to_run`` as Ray tasks (inside ``ray_session``), recording each as its result comes back."""
    ray = _import_ray()
    task = ray.remote(num_cpus=sweep.cpus, num_gpus=sweep.gpus)(run_trial_on_node)
    key = sweep_key(folder.path)
    pending = {}                          # Ray's reference -> (trial id, grid values)
    try:
        for trial_id, settings in to_run:
            reference = task.remote(key, trial_id, train_arguments(sweep.settings(settings)), sweep.cpus)
            pending[reference] = (trial_id, settings)
            recorder.running(trial_id, settings)
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            for reference in ready:
                trial_id, settings = pending.pop(reference)
                try:
                    result = ray.get(reference)
                except ray.exceptions.RayError as error:        # the task died: its node or worker
                    _record_lost(recorder, trial_id, settings, error)
                else:
                    _record(recorder, folder, trial_id, settings, result)
    except KeyboardInterrupt:
        for reference in pending:
            ray.cancel(reference)         # a running task interrupts its training (run_trial_on_node)
        for trial_id, settings in pending.values():
            recorder.ended_unseen(trial_id, settings, "interrupted")
        raise


def _record(recorder, folder, trial_id, settings, result):
    """Writes a task's files into the trial's folder and its log, then the table's line."""
    run_folder = folder.trial_folder(trial_id)
    os.makedirs(run_folder, exist_ok=True)
    for name, data in result["files"].items():
        write_atomically(os.path.join(run_folder, name), lambda file, data=data: file.write(data))
    stale = os.path.join(run_folder, "checkpoint.npz")
    if os.path.isfile(stale):             # from an earlier local attempt: not these results' state
        os.remove(stale)
    os.makedirs(os.path.dirname(folder.log_path(trial_id)), exist_ok=True)
    with open(folder.log_path(trial_id), "a", encoding="utf-8") as log:
        log.write(result["log"])
        log.write(f"--- ran on {result['host']} through Ray; its checkpoint stays there, in "
                  f"{result['run_folder']}\n")
    recorder.ended(trial_id, settings, outcome(run_folder, result["returncode"], result["log"]),
                   result["mode"], result["seconds"], result["started"],
                   versions_of(run_folder) or result["versions"])


def _record_lost(recorder, trial_id, settings, error):
    reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    recorder.ended_unseen(trial_id, settings, "failed", f"the Ray task was lost: {reason}")
