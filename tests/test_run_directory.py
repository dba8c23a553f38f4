"""Run folders: nothing deleted before everything is checked, only what minires wrote is
deleted, one writer at a time, atomic files with unique temporary names."""

import errno
import json
import os
import socket
import subprocess
import sys

import pytest

from minires.run_directory import (LOCK, MARKER, RunDirectory, RunDirectoryError, RunFileError,
                                   write_atomically)

HISTORY = [{"epoch": e, "lr": 0.1, "train_loss": 2.0 / e, "train_error": 0.8 / e,
            "test_loss": 2.1 / e, "test_error": 0.85 / e, "alpha_residual": 1.0 / e} for e in (1, 2, 3)]


def finished_run(folder):
    run = RunDirectory(folder, "new")
    with run.writing():
        run.write_config({"settings": {"model": "residual"}})
        run.save_checkpoint({"epoch": 1})
        run.write_metrics(HISTORY[:1])
    return run


def dead_pid():
    """The id of a process that has ended (and, on a quiet machine, not been reused yet)."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_making_a_run_directory_writes_nothing(tmp_path):
    RunDirectory(tmp_path / "run", "new")
    RunDirectory(tmp_path / "run", "overwrite")
    assert not (tmp_path / "run").exists()


def test_writing_needs_the_block(tmp_path):
    run = RunDirectory(tmp_path / "run", "new")
    with pytest.raises(RuntimeError, match="inside `with run_directory.writing"):
        run.write_config({"settings": {}})


def test_a_run_folder_carries_its_marker_and_releases_its_lock(tmp_path):
    finished_run(tmp_path / "run")
    names = set(os.listdir(tmp_path / "run"))
    assert {"config.json", "checkpoint.npz", "metrics.jsonl", MARKER} <= names
    assert LOCK not in names


def test_a_new_run_refuses_an_occupied_folder(tmp_path):
    finished_run(tmp_path / "run")
    with pytest.raises(RunDirectoryError, match="--overwrite"):
        RunDirectory(tmp_path / "run", "new")


def test_overwrite_deletes_only_the_run_files_and_only_inside_the_block(tmp_path):
    folder = tmp_path / "run"
    finished_run(folder)
    (folder / "notes.txt").write_text("mine")
    run = RunDirectory(folder, "overwrite")
    assert (folder / "config.json").exists()                    # nothing deleted yet
    with run.writing():
        assert not (folder / "config.json").exists() and not (folder / "checkpoint.npz").exists()
    assert (folder / "notes.txt").read_text() == "mine"         # only the run's own files go
    assert (folder / MARKER).exists()


def test_overwrite_refuses_a_folder_minires_did_not_write(tmp_path):
    folder = tmp_path / "other"
    folder.mkdir()
    (folder / "config.json").write_text('{"another": "program"}')
    with pytest.raises(RunDirectoryError, match="no .minires-run marker"):
        RunDirectory(folder, "overwrite")
    assert (folder / "config.json").read_text() == '{"another": "program"}'


def test_a_live_owner_keeps_the_folder(tmp_path):
    folder = tmp_path / "run"
    run = RunDirectory(folder, "new")
    with run.writing():
        lock = json.loads((folder / LOCK).read_text())
        assert lock["pid"] == os.getpid() and lock["host"] == socket.gethostname()
        with pytest.raises(RunDirectoryError, match=f"in use by process {os.getpid()}"):
            RunDirectory(folder, "resume")
        with pytest.raises(RunDirectoryError, match="in use by process"):
            with RunDirectory(folder, "overwrite").writing():
                pass
    assert not (folder / LOCK).exists()


def test_a_dead_owners_lock_is_taken_over(tmp_path):
    folder = tmp_path / "run"
    finished_run(folder)
    (folder / LOCK).write_text(json.dumps({"pid": dead_pid(), "host": socket.gethostname()}))
    run = RunDirectory(folder, "resume")
    with run.writing():
        assert json.loads((folder / LOCK).read_text())["pid"] == os.getpid()
    assert not (folder / LOCK).exists()


def test_a_damaged_lock_is_stale_once_old(tmp_path):
    folder = tmp_path / "run"
    finished_run(folder)
    (folder / LOCK).write_text("")                              # killed while writing its lock
    with pytest.raises(RunDirectoryError, match="in use by another process"):
        RunDirectory(folder, "resume")
    os.utime(folder / LOCK, (0, 0))
    with RunDirectory(folder, "resume").writing():
        pass


def test_the_lock_is_released_by_an_error(tmp_path):
    folder = tmp_path / "run"
    with pytest.raises(ValueError):
        with RunDirectory(folder, "new").writing():
            raise ValueError("training failed")
    assert not (folder / LOCK).exists()


def test_leftover_temporary_files_are_removed_by_the_next_writer(tmp_path):
    folder = tmp_path / "run"
    finished_run(folder)
    for name in ("checkpoint.npz.k2j4d.tmp", "checkpoint.npz.tmp", "curves.tmp.png", "config.json.x1.tmp"):
        (folder / name).write_bytes(b"half")
    (folder / "my.tmp").write_bytes(b"a user's file")
    with RunDirectory(folder, "resume").writing():
        pass
    assert sorted(os.listdir(folder)) == sorted(["config.json", "checkpoint.npz", "metrics.jsonl", MARKER,
                                                 "my.tmp"])


def test_write_atomically_uses_unique_names_and_cleans_up_on_failure(tmp_path):
    target = tmp_path / "file.json"
    target.write_text("old")

    def full_disk(file):
        file.write(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        write_atomically(target, full_disk)
    assert target.read_text() == "old" and os.listdir(tmp_path) == ["file.json"]
    names = []
    write_atomically(target, lambda file: names.append(file.name) or file.write(b"new"))
    assert target.read_text() == "new" and names[0] != str(target) + ".tmp"


def test_resume_and_read_need_their_files(tmp_path):
    folder = tmp_path / "run"
    with pytest.raises(RunDirectoryError, match="no config.json"):
        RunDirectory(folder, "resume")
    with pytest.raises(RunDirectoryError, match="not a run folder"):
        RunDirectory(folder, "read")
    run = RunDirectory(folder, "new")
    with run.writing():
        run.write_config({"settings": {}})
    with pytest.raises(RunDirectoryError, match="no checkpoint.npz"):
        RunDirectory(folder, "resume")


def test_a_path_that_cannot_be_a_folder(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(RunDirectoryError, match="is a file, not a folder"):
        RunDirectory(tmp_path / "file", "new")
    with pytest.raises(RunDirectoryError, match="cannot be made: .*file is a file"):
        RunDirectory(tmp_path / "file" / "run", "new")


def test_damaged_config_and_metrics_are_named(tmp_path):
    folder = tmp_path / "run"
    run = finished_run(folder)
    (folder / "config.json").write_text('{"settings": null}')
    with pytest.raises(RunFileError, match="config.json is damaged: its field settings"):
        run.read_config()
    (folder / "metrics.jsonl").write_text('{"epoch": 1}\n[2]\n')
    with pytest.raises(RunFileError, match="metrics.jsonl is damaged: line 2"):
        run.read_metrics()


def test_metrics_and_curves(tmp_path):
    run = RunDirectory(tmp_path / "run", "new")
    with run.writing():
        run.write_metrics(HISTORY)
        run.write_curves(HISTORY, "van-8")
    assert run.read_metrics() == HISTORY
    assert len((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()) == 3
    assert (tmp_path / "run" / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not [name for name in os.listdir(tmp_path / "run") if "tmp" in name]
