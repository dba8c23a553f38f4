"""Checkpoints: nested state in one .npz, no pickle, atomic writes, damaged files named.
(Run folders are tested in test_run_directory.py.)"""

import errno
import json
import os

import numpy
import pytest

from minires import checkpoint
from minires.checkpoint import CheckpointError, check_training_state, load_checkpoint, save_checkpoint


def nested_state():
    return {
        "epoch": 3,
        "model": {"conv.weight": numpy.arange(6, dtype=numpy.float32).reshape(2, 3),
                  "bn.num_batches_tracked": numpy.array(7, dtype=numpy.int64)},
        "optimizer": {"state": {0: {"momentum_buffer": numpy.ones(3)}, 1: {}},
                      "param_groups": [{"lr": 0.1, "nesterov": False, "params": [0, 1]}]},
        "scheduler": None,
        "random": {"host_generator": {"state": {"state": 2**127 + 5, "inc": 3}}, "name": "PCG64"},
        "history": [{"epoch": 1, "test_error": 0.5}, {"epoch": 2, "test_error": float("nan")}],
    }


def test_round_trip_keeps_arrays_values_and_int_keys(tmp_path):
    path = tmp_path / "checkpoint.npz"
    state = nested_state()
    save_checkpoint(path, state)
    loaded = load_checkpoint(path)
    numpy.testing.assert_array_equal(loaded["model"]["conv.weight"], state["model"]["conv.weight"])
    assert loaded["model"]["conv.weight"].dtype == numpy.float32
    assert loaded["model"]["bn.num_batches_tracked"].dtype == numpy.int64
    assert list(loaded["optimizer"]["state"]) == [0, 1]           # int keys come back as ints
    numpy.testing.assert_array_equal(loaded["optimizer"]["state"][0]["momentum_buffer"], numpy.ones(3))
    assert loaded["optimizer"]["param_groups"] == state["optimizer"]["param_groups"]
    assert loaded["random"]["host_generator"]["state"]["state"] == 2**127 + 5
    assert loaded["scheduler"] is None and loaded["epoch"] == 3
    assert numpy.isnan(loaded["history"][1]["test_error"])


def test_the_file_holds_no_pickle(tmp_path):
    path = tmp_path / "checkpoint.npz"
    save_checkpoint(path, nested_state())
    with numpy.load(path, allow_pickle=False) as npz:          # would raise on any object array
        structure = json.loads(str(npz[checkpoint.STRUCTURE_KEY]))
        assert all(npz[name].dtype != object for name in npz.files)
    assert structure["__dict__"][0] == ["epoch", 3]


def test_object_arrays_are_refused_when_saving(tmp_path):
    with pytest.raises(TypeError, match="object array"):
        save_checkpoint(tmp_path / "c.npz", {"bad": numpy.array([{"a": 1}], dtype=object)})


def test_a_pickled_entry_is_refused_when_loading(tmp_path):
    path = tmp_path / "crafted.npz"
    numpy.savez(path, allow_pickle=True, **{checkpoint.STRUCTURE_KEY: numpy.array("{}"),
                                            "evil": numpy.array([print], dtype=object)})
    with pytest.raises(CheckpointError, match="corrupt"):
        load_checkpoint(path)


def test_a_crash_mid_write_leaves_the_old_checkpoint_whole(tmp_path, monkeypatch):
    path = tmp_path / "checkpoint.npz"
    save_checkpoint(path, {"epoch": 1, "w": numpy.zeros(3)})

    def crash(file, **entries):
        file.write(b"PK\x03\x04 half a zip")
        raise KeyboardInterrupt
    monkeypatch.setattr(checkpoint.numpy, "savez", crash)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, {"epoch": 2, "w": numpy.ones(3)})
    monkeypatch.undo()
    assert load_checkpoint(path)["epoch"] == 1


def test_truncated_missing_and_foreign_files_get_clear_errors(tmp_path):
    path = tmp_path / "checkpoint.npz"
    save_checkpoint(path, nested_state())
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        load_checkpoint(path)
    with pytest.raises(CheckpointError, match="no checkpoint at"):
        load_checkpoint(tmp_path / "absent.npz")
    numpy.savez(tmp_path / "other.npz", x=numpy.zeros(2))
    with pytest.raises(CheckpointError, match="not a minires checkpoint"):
        load_checkpoint(tmp_path / "other.npz")


def test_a_file_that_is_not_a_zip_is_not_taken_for_a_pickle(tmp_path):
    path = tmp_path / "checkpoint.npz"
    path.write_bytes(os.urandom(4096))
    with pytest.raises(CheckpointError) as caught:
        load_checkpoint(path)
    assert str(caught.value) == (f"{path} is not a minires checkpoint (not an .npz archive: it does not "
                                 "start as a zip file does)")
    assert "pickle" not in str(caught.value)


@pytest.mark.parametrize("structure, fragment", [
    ("{not json", "checkpoint.npz is corrupt: its __structure__ entry is not valid JSON"),
    (json.dumps({"__array__": ["model/w"]}), r"the top names the array entry \['model/w'\], which the file lacks"),
    (json.dumps({"__dict__": [[["model"], 1]]}),
     r"the top is a dict with the key \['model'\]; keys are strings or ints"),
    (json.dumps({"__array__": "model/w"}), "the top names the array entry 'model/w', which the file lacks"),
    (json.dumps({"__dict__": [["model", {"odd": 1}]]}), "model is an object that is neither an array mark nor a dict"),
    (json.dumps({"__dict__": "x"}), "the top is an object that is neither"),
])
def test_a_damaged_structure_is_named(tmp_path, structure, fragment):
    path = tmp_path / "checkpoint.npz"
    numpy.savez(path, **{checkpoint.STRUCTURE_KEY: numpy.array(structure)})
    with pytest.raises(CheckpointError, match=fragment):
        load_checkpoint(path)


def test_a_structure_that_is_not_text_is_named(tmp_path):
    path = tmp_path / "checkpoint.npz"
    numpy.savez(path, **{checkpoint.STRUCTURE_KEY: numpy.arange(3)})
    with pytest.raises(CheckpointError, match=r"checkpoint.npz is corrupt: its __structure__ entry is an "
                                              r"array of int64, shape \(3,\), not the JSON text"):
        load_checkpoint(path)


def test_a_zip_of_random_bytes_is_corrupt_not_a_pickle(tmp_path):
    path = tmp_path / "checkpoint.npz"
    path.write_bytes(checkpoint.ZIP_MAGIC + os.urandom(4096))
    with pytest.raises(CheckpointError, match="checkpoint.npz is truncated or corrupt") as caught:
        load_checkpoint(path)
    assert "pickle" not in str(caught.value)


def test_a_failed_write_leaves_no_temporary_file(tmp_path, monkeypatch):
    path = tmp_path / "checkpoint.npz"
    save_checkpoint(path, {"epoch": 1, "w": numpy.zeros(3)})

    def full_disk(file, **entries):
        file.write(b"PK\x03\x04 part")
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(checkpoint.numpy, "savez", full_disk)
    with pytest.raises(OSError, match="No space left"):
        save_checkpoint(path, {"epoch": 2, "w": numpy.ones(3)})
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["checkpoint.npz"] and load_checkpoint(path)["epoch"] == 1


def test_temporary_names_are_unique(tmp_path, monkeypatch):
    opened = []
    real_open = open

    def recording_open(name, mode="r", *args, **kwargs):
        opened.append(str(name))
        return real_open(name, mode, *args, **kwargs)
    monkeypatch.setattr("builtins.open", recording_open)
    for epoch in (1, 2):
        save_checkpoint(tmp_path / "checkpoint.npz", {"epoch": epoch})
    temporary = [name for name in opened if name.endswith(".tmp")]
    assert len(temporary) == 2 and temporary[0] != temporary[1]
    assert temporary[0].startswith(f"{tmp_path / 'checkpoint.npz'}.{os.getpid()}.")


def training_state():
    history = [{"epoch": 1, "train_loss": 2.0, "test_loss": 2.1}, {"epoch": 2, "train_loss": 1.5, "test_loss": 1.7}]
    return {"epoch": 2, "model": {"fc.weight": numpy.zeros((2, 3))}, "optimizer": {"state": {}},
            "scheduler": None, "van": None, "train_loader": {"epoch": 2}, "random": {"seed": 0},
            "history": history}


@pytest.mark.parametrize("damage, fragment", [
    (lambda state: state.pop("model"), "model is missing"),
    (lambda state: state.pop("history"), "history is missing"),
    (lambda state: state.__setitem__("epoch", -4), "epoch is -4; expected an integer >= 0"),
    (lambda state: state.__setitem__("epoch", 2.5), "epoch is 2.5; expected an integer >= 0"),
    (lambda state: state.__setitem__("epoch", True), "epoch is True"),
    (lambda state: state.__setitem__("model", {"fc.weight": "zeros"}), "model/fc.weight is of type str, not an array"),
    (lambda state: state.__setitem__("model", {}), "model is not a dict of arrays"),
    (lambda state: state.__setitem__("optimizer", [1]), "optimizer is of type list, not a dict"),
    (lambda state: state.__setitem__("scheduler", 3), "scheduler is of type int, not a dict or null"),
    (lambda state: state.__setitem__("history", state["history"][:1]),
     r"history holds 1 records; expected one per finished epoch \(2\)"),
    (lambda state: state["history"][1].__setitem__("epoch", 5), "history/1 is not the record of epoch 2"),
    (lambda state: state["history"][0].__setitem__("epoch", True), "history/0 is not the record of epoch 1"),
    (lambda state: state["history"].__setitem__(1, [2]), "history/1 is not the record of epoch 2"),
    (lambda state: state["model"].__setitem__(0, numpy.zeros(2)), "model has the key 0; expected parameter names"),
    (lambda state: state["history"][1].pop("train_loss"),
     "history/1/train_loss is None; expected a finite number"),
    (lambda state: state["history"][0].__setitem__("test_loss", float("nan")),
     "history/0/test_loss is nan; expected a finite number"),
])
def test_a_damaged_training_state_is_refused_naming_its_field(tmp_path, damage, fragment):
    state = training_state()
    check_training_state(state, "run/checkpoint.npz")                 # whole: no error
    damage(state)
    with pytest.raises(CheckpointError, match=f"run/checkpoint.npz is damaged: {fragment}"):
        check_training_state(state, "run/checkpoint.npz")
