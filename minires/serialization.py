"""``minires.save(obj, f)`` and ``minires.load(f)``, in the order torch.save and torch.load
take them, written as minires's checkpoints: an .npz file, no pickle (minires.checkpoint).

    torch.save(model.state_dict(), "model.npz")       # with `import minires as torch`
    model.load_state_dict(torch.load("model.npz"))

``obj`` is what a checkpoint holds (nested dicts, lists and tuples of arrays, numbers,
strings, None) plus Tensors, which come back as Tensors (with their requires_grad).
What PyTorch would pickle (a whole Module, a lambda) is refused: pickles can run code
when loaded, which minires never does. Tuples come back as lists.
"""

import os

from minires import backend
from minires.checkpoint import load_checkpoint, save_checkpoint, write_checkpoint
from minires.tensor import Tensor

TENSOR_MARK = "__minires_tensor__"      # how a Tensor is kept: {TENSOR_MARK: array, "requires_grad": ...}


def _plain(value):
    """``value`` with every Tensor replaced by its mark (host arrays, for the file)."""
    if isinstance(value, Tensor):
        return {TENSOR_MARK: backend.to_numpy(value.array), "requires_grad": value.requires_grad}
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if backend.is_array(value):
        return backend.to_numpy(value)
    return value


def _rebuilt(value, device):
    """The Tensors of :func:`_plain`'s marks, on ``device`` (None: the default device)."""
    if isinstance(value, dict) and TENSOR_MARK in value:
        array = backend.to_device(value[TENSOR_MARK], device if device is not None else backend.get_device())
        return Tensor(array, requires_grad=bool(value.get("requires_grad", False)))
    if isinstance(value, dict):
        return {key: _rebuilt(item, device) for key, item in value.items()}
    if isinstance(value, list):
        return [_rebuilt(item, device) for item in value]
    return value


def save(obj, f):
    """Writes ``obj`` to ``f``, a path (written atomically) or a binary file open for writing."""
    try:
        plain = _plain(obj)
        if hasattr(f, "write"):
            write_checkpoint(f, plain)
        else:
            save_checkpoint(os.fspath(f), plain)
    except TypeError as error:
        raise TypeError(f"minires.save: {error} (minires saves tensors, arrays, numbers, strings, "
                        "lists and dicts, never pickles: save model.state_dict(), not the model)") from None


def load(f, map_location=None, weights_only=None):
    """Reads what :func:`save` wrote, from a path or a binary file open for reading.

    Args:
        map_location: the device the Tensors are put on ("cpu", "cuda", "cuda:0", a
            minires.device); None: the default device. (torch's callables and dicts
            of devices are not taken.) State-dict arrays stay host arrays, as
            state_dict() gives them.
        weights_only: accepted for torch's signature; minires never unpickles, so it
            always loads "weights only".
    """
    if map_location is not None and not isinstance(map_location, (str, backend.device)):
        raise TypeError(f"minires.load: map_location must be a device name or minires.device; "
                        f"got {type(map_location).__name__}")
    return _rebuilt(load_checkpoint(f), None if map_location is None else backend.device_name(map_location))
