"""Checkpoints: a training run's whole state in one ``.npz`` file, written atomically.

A checkpoint holds nested dicts and lists (the model's state_dict, the optimiser's,
the scheduler's, the random generators', the history so far). ``.npz`` stores only
arrays, so :func:`save_checkpoint` splits the nest in two:

- every array goes in as its own ``.npz`` entry, named by its path in the nest
  (``model/stage1.0.branch.conv1.weight``);
- everything else (numbers, strings, booleans, None, and the shape of the nest) goes
  into one JSON text, stored as the entry ``__structure__``, where each array appears
  as ``{"__array__": "<entry name>"}``.

The file is written with ``allow_pickle=False`` and read with ``allow_pickle=False``:
loading a checkpoint never runs code hidden in it (a pickle can).

Writing is atomic: the file is written under a temporary name in the same folder,
unique to the call (the process id and random hex digits), and then renamed over the
old one (``os.replace``, atomic on POSIX and Windows): :func:`write_atomically`. A
crash mid-write leaves the previous checkpoint whole; an error (a full disk, Ctrl-C)
removes the temporary file, and only a killed process leaves one behind
(``checkpoint.npz.<pid>.<hex>.tmp``, which the next run in the folder removes: see
minires.run_directory).

Reading checks what it reads: a file that is not a zip archive, an entry of pickled
objects, a structure that is not the one :func:`save_checkpoint` writes, each is a
one-line :class:`CheckpointError` naming the file. :func:`check_training_state` goes
further for the command line's checkpoints: every field a resumed run needs, of the
right kind.

This module reads and writes host NumPy arrays only (files live on the host); it does
no array math on tensors, so it imports NumPy directly.
"""

import contextlib
import json
import math
import os
import secrets
import zipfile

import numpy

STRUCTURE_KEY = "__structure__"
ARRAY_MARK = "__array__"
ZIP_MAGIC = b"PK\x03\x04"          # how every .npz (a zip archive) starts


class CheckpointError(Exception):
    """A checkpoint file is missing, truncated, corrupt, or not a minires checkpoint."""


def _split(value, path, arrays):
    """The JSON-able structure of ``value``; arrays are moved into ``arrays`` by path."""
    if isinstance(value, numpy.ndarray) or isinstance(value, numpy.generic):
        array = numpy.asarray(value)
        if array.dtype == object:
            raise TypeError(f"save_checkpoint: {path or 'the value'} is an object array, which "
                            "cannot be stored without pickle")
        arrays[path] = array
        return {ARRAY_MARK: path}
    if isinstance(value, dict):
        for key in value:
            if not isinstance(key, (str, int)) or isinstance(key, bool):
                raise TypeError(f"save_checkpoint: dict keys must be str or int; {path or 'the top'} "
                                f"has {key!r}")
        # JSON keys are strings; int keys are marked so that they come back as ints.
        return {"__dict__": [[key, _split(item, f"{path}/{key}" if path else str(key), arrays)]
                             for key, item in value.items()]}
    if isinstance(value, (list, tuple)):
        return [_split(item, f"{path}/{index}", arrays) for index, item in enumerate(value)]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"save_checkpoint: cannot store {type(value).__name__} at {path or 'the top'}; "
                    "use arrays, numbers, strings, lists and dicts")


def _join(structure, arrays, path=""):
    """Rebuilds the nest that :func:`_split` took apart; ValueError names a damaged place."""
    where = path or "the top"
    if isinstance(structure, dict) and ARRAY_MARK in structure:
        if not isinstance(structure[ARRAY_MARK], str) or structure[ARRAY_MARK] not in arrays:
            raise ValueError(f"{where} names the array entry {structure[ARRAY_MARK]!r:.40}, which the file lacks")
        return arrays[structure[ARRAY_MARK]]
    if isinstance(structure, dict):
        items = structure.get("__dict__")
        if not isinstance(items, list) or not all(isinstance(item, list) and len(item) == 2 for item in items):
            raise ValueError(f"{where} is an object that is neither an array mark nor a dict")
        for key, _ in items:
            if not isinstance(key, (str, int)) or isinstance(key, bool):
                raise ValueError(f"{where} is a dict with the key {key!r:.40}; keys are strings or ints")
        return {key: _join(item, arrays, f"{path}/{key}" if path else str(key)) for key, item in items}
    if isinstance(structure, list):
        return [_join(item, arrays, f"{path}/{index}") for index, item in enumerate(structure)]
    return structure


def write_checkpoint(file, state):
    """Writes ``state`` as a checkpoint into ``file``, a binary file open for writing.

    :func:`save_checkpoint` is the atomic form for a path; this one serves file objects
    (``minires.save(obj, buffer)``, as ``torch.save`` takes a BytesIO).
    """
    arrays = {}
    structure = _split(state, "", arrays)
    entries = {name: array for name, array in arrays.items()}
    entries[STRUCTURE_KEY] = numpy.array(json.dumps(structure))
    numpy.savez(file, allow_pickle=False, **entries)


def write_atomically(path, write):
    """Calls ``write(file)`` on a new temporary file beside ``path``, then renames it to ``path``.

    The temporary name is unique (the process id and random hex digits; opened with "x",
    which fails rather than share a name), so that two writers never share one. The
    bytes are flushed to the disk (fsync) before the rename, so that a power cut leaves
    the old file or the new one. If ``write`` raises (a full disk, Ctrl-C), the
    temporary file is removed and ``path`` is left as it was. The file gets the usual
    permissions (``tempfile.mkstemp`` would make it readable by its owner only).
    The run folder's files (minires.run_directory) are written with it too.
    """
    temporary = f"{os.fspath(path)}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    try:
        with open(temporary, "xb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(temporary)
        raise


def save_checkpoint(path, state):
    """Writes ``state`` (nested dicts/lists of host arrays and plain values) to ``path``.

    Atomic: the old file at ``path`` stays whole until the new one is complete.
    """
    write_atomically(path, lambda file: write_checkpoint(file, state))


def load_checkpoint(path):
    """Reads a checkpoint written by :func:`save_checkpoint` (never unpickles anything).

    ``path`` may also be a binary file open for reading (a BytesIO), as for ``torch.load``.
    """
    source = path
    if hasattr(source, "read"):
        path = getattr(source, "name", "the checkpoint file")
        start = source.tell()
        magic = source.read(4)
        source.seek(start)
    else:
        source = path = os.fspath(path)
        if not os.path.isfile(path):
            raise CheckpointError(f"no checkpoint at {path}")
        with open(path, "rb") as file:
            magic = file.read(4)
    if magic != ZIP_MAGIC:                     # numpy.load would take it for a pickle
        raise CheckpointError(f"{path} is not a minires checkpoint (not an .npz archive: it does not "
                              "start as a zip file does)")
    try:
        with numpy.load(source, allow_pickle=False) as npz:
            if STRUCTURE_KEY not in npz.files:
                raise CheckpointError(f"{path} is an .npz file but not a minires checkpoint "
                                      f"(it has no {STRUCTURE_KEY} entry)")
            text = npz[STRUCTURE_KEY]
            if text.dtype.kind != "U" or text.shape != ():
                raise CheckpointError(f"{path} is corrupt: its {STRUCTURE_KEY} entry is an array of "
                                      f"{text.dtype}, shape {text.shape}, not the JSON text of the structure")
            try:
                structure = json.loads(str(text))
            except json.JSONDecodeError as error:
                raise CheckpointError(f"{path} is corrupt: its {STRUCTURE_KEY} entry is not valid JSON "
                                      f"({error})") from None
            arrays = {name: npz[name] for name in npz.files if name != STRUCTURE_KEY}
    except ValueError as error:
        if "pickle" in str(error):              # an entry of Python objects: never loaded
            raise CheckpointError(f"{path} is corrupt or not a minires checkpoint: an entry holds Python "
                                  "objects (a pickle), which minires never loads") from None
        raise CheckpointError(f"{path} is truncated or corrupt ({type(error).__name__}: "
                              f"{' '.join(str(error).split())}); delete it, or resume from an earlier copy") from None
    except (zipfile.BadZipFile, EOFError, OSError) as error:
        raise CheckpointError(f"{path} is truncated or corrupt ({type(error).__name__}: "
                              f"{' '.join(str(error).split())}); delete it, or resume from an earlier copy") from None
    try:
        return _join(structure, arrays)
    except ValueError as error:
        raise CheckpointError(f"{path} is corrupt: its {STRUCTURE_KEY} entry is damaged ({error})") from None


TRAINING_STATE_FIELDS = ("epoch", "model", "optimizer", "scheduler", "van", "train_loader", "random",
                         "history")


def check_training_state(state, path):
    """Checks a loaded training checkpoint (minires.train.training_state) before it is restored.

    Every field a resumed run needs must be there and of its kind: ``epoch`` an int >= 0,
    ``history`` one record per finished epoch (numbered 1..epoch, with finite losses),
    ``model`` a dict of arrays, ``optimizer``, ``train_loader`` and ``random`` dicts,
    ``scheduler`` and ``van`` dicts or None. Whether the arrays fit the model is left to
    ``load_state_dict``, which names the entry.

    Raises:
        CheckpointError: "<path> is damaged: <field> ...", naming the field.
    """
    def damaged(field, what):
        return CheckpointError(f"{path} is damaged: {field} {what}")

    if not isinstance(state, dict):
        raise damaged("its top", f"is of type {type(state).__name__}, not the dict of a training state")
    for field in TRAINING_STATE_FIELDS:
        if field not in state:
            raise damaged(field, "is missing")
    epoch = state["epoch"]
    if not isinstance(epoch, int) or isinstance(epoch, bool) or epoch < 0:
        raise damaged("epoch", f"is {epoch!r:.40}; expected an integer >= 0")
    model = state["model"]
    if not isinstance(model, dict) or not model:
        raise damaged("model", "is not a dict of arrays (a state_dict)")
    for name, value in model.items():
        if not isinstance(name, str):
            raise damaged("model", f"has the key {name!r}; expected parameter names (strings)")
        if not isinstance(value, numpy.ndarray):
            raise damaged(f"model/{name}", f"is of type {type(value).__name__}, not an array")
    for field in ("optimizer", "train_loader", "random"):
        if not isinstance(state[field], dict):
            raise damaged(field, f"is of type {type(state[field]).__name__}, not a dict")
    for field in ("scheduler", "van"):
        if state[field] is not None and not isinstance(state[field], dict):
            raise damaged(field, f"is of type {type(state[field]).__name__}, not a dict or null")
    history = state["history"]
    if not isinstance(history, list) or len(history) != epoch:
        found = f"{len(history)} records" if isinstance(history, list) else f"a value of type {type(history).__name__}"
        raise damaged("history", f"holds {found}; expected one per finished epoch ({epoch})")
    for number, record in enumerate(history, start=1):
        record_epoch = record.get("epoch") if isinstance(record, dict) else None
        if not isinstance(record_epoch, int) or isinstance(record_epoch, bool) or record_epoch != number:
            raise damaged(f"history/{number - 1}", f"is not the record of epoch {number}")
        for key in ("train_loss", "test_loss"):
            value = record.get(key)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
                raise damaged(f"history/{number - 1}/{key}", f"is {value!r:.40}; expected a finite number")
