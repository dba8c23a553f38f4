"""What the measuring files of minires.analysis share: which modules to measure, the
argument checks, and running a forward pass with hooks.

Two public functions, exported by ``minires.analysis``:

    blocks          (name, module) of every block (the classes of BLOCK_TYPES)
    weight_layers   (name, module) of every Conv2d and Linear

The rest are helpers for activity.py, block_measures.py and stability.py. Their names
have no leading underscore because those files import them, but the package does not
export them. The measurements keep values as 0-d arrays on the model's device and
call ``to_host`` once at the end, so a call synchronises with a GPU only once.
"""

import contextlib

from minires import backend
from minires.autograd import no_grad
from minires.nn import (Conv2d, DenseHighwayBlock, DensePlainBlock, DenseResidualBlock, DenseVANBlock,
                        HighwayBlock, Linear, Module, Parameter, PlainBlock, ResidualBlock,
                        ScaledResidualBlock, SimplifiedBlock, VANBlock)
from minires.tensor import Tensor

# NumPy, reached through the backend (the only module that imports it), for the
# bookkeeping done on the host after a function's one transfer of results.
host_xp = backend.array_module("cpu")

BLOCK_TYPES = (PlainBlock, ResidualBlock, HighwayBlock, VANBlock, ScaledResidualBlock, SimplifiedBlock,
               DensePlainBlock, DenseResidualBlock, DenseHighwayBlock, DenseVANBlock)
HIGHWAY_TYPES = (HighwayBlock, DenseHighwayBlock)


def blocks(model) -> list:
    """(dotted name, module) for every block of ``model`` (the classes of BLOCK_TYPES), in model order."""
    check_model("blocks", model)
    return [(name, module) for name, module in model.named_modules() if isinstance(module, BLOCK_TYPES)]


def highway_blocks(model) -> list:
    """(dotted name, block) for every highway block of ``model`` (HIGHWAY_TYPES), in order."""
    return [(name, block) for name, block in blocks(model) if isinstance(block, HIGHWAY_TYPES)]


def van_layers(model) -> list:
    """(dotted name, module) for every VAN layer, found as minires.optim.VANConstraint finds
    them: modules with an ``alpha`` Parameter and a ``lagrange_multiplier`` buffer."""
    check_model("van_layers", model)
    return [(name, module) for name, module in model.named_modules()
            if isinstance(getattr(module, "alpha", None), Parameter)
            and isinstance(getattr(module, "lagrange_multiplier", None), Tensor)]


def weight_layers(model) -> list:
    """(dotted name, module) for every Conv2d and Linear of ``model``, in model order."""
    check_model("weight_layers", model)
    return [(name, module) for name, module in model.named_modules() if isinstance(module, (Conv2d, Linear))]


# -- argument checks: errors that say what to do ---------------------------------------------

def check_model(function_name, model):
    """A TypeError unless ``model`` is a minires Module."""
    if not isinstance(model, Module):
        raise TypeError(f"{function_name}: model must be a minires nn.Module; got {type(model).__name__}")


def check_images(function_name, images):
    """A TypeError unless ``images`` is a minires Tensor (an array is not moved for the caller)."""
    if not isinstance(images, Tensor):
        raise TypeError(f"{function_name}: images must be a minires Tensor on the model's device; got "
                        f"{type(images).__name__} (wrap an array with minires.tensor(images, device=...))")


def require_found(function_name, model, found, what):
    """A ValueError when ``found``, the modules to measure, is empty."""
    if not found:
        raise ValueError(f"{function_name}: {type(model).__name__} has no {what}")


def type_names(types):
    """"PlainBlock, ResidualBlock, ...": the class names, for messages."""
    return ", ".join(block_type.__name__ for block_type in types)


def recorded_once(function_name, name, values):
    """The one value a module recorded; an error when it ran never or several times."""
    if len(values) != 1:
        raise ValueError(f"{function_name}: module {name!r} ran {len(values)} times in the forward pass; "
                         "it measures modules that run exactly once (is it part of this model?)")
    return values[0]


# -- one forward pass with hooks ---------------------------------------------------------------

def recorder(values, measure, of_input=False):
    """A forward hook that appends ``measure(array)`` of the module's output (or of its
    first input) to the list ``values``."""
    def hook(module, args, output):
        values.append(measure(args[0].array if of_input else output.array))
    return hook


def forward_with_hooks(model, images, hooks):
    """model(images) without a graph, each (module, hook) of ``hooks`` attached as a
    forward hook; the hooks are removed afterwards, also when the forward raises.
    Buffers are not restored here: wrap the call in ``buffers_kept(model)`` for that."""
    handles = []
    try:
        with no_grad():
            for module, hook in hooks:
                handles.append(module.register_forward_hook(hook))
            model(images)
    finally:
        for handle in handles:
            handle.remove()


@contextlib.contextmanager
def buffers_kept(model):
    """Writes every buffer back as it was: a training-mode forward moves batch norm's
    running statistics and its batch count, which a measurement must not."""
    saved = [(buffer, buffer.array.copy()) for buffer in model.buffers()]
    try:
        yield
    finally:
        for buffer, array in saved:
            buffer.array[...] = array


# -- small array helpers -----------------------------------------------------------------------

def l2_norm(array):
    """sqrt(sum of array ** 2) over every value: a 0-d array on the array's device."""
    xp = backend.get_array_module(array)
    return xp.sqrt(xp.sum(array * array))


def to_host(array):
    """The one read-back of a call: a float64 NumPy copy of a device array."""
    return backend.to_numpy(array).astype(backend.float64, copy=False)   # to_numpy copied already
