"""Refusing a net that cannot fit in memory, from an estimate made before it is built.

``minires train --depth 99999999998`` would otherwise allocate layer after layer until
the machine runs out of memory and the kernel kills the process. The nets of minires
are stacks of identical blocks, so what they need grows linearly with depth (and, for
the parameters, as a parabola with width): this module builds the family at its two
smallest depths (and, for a width beyond 64, at widths 8, 16 and 32), measures
each small net, and extrapolates to the net asked for:

- parameters: counted; training holds each one about four times (its value,
  its gradient, and up to two optimiser buffers: SGD's momentum, Adam's two moments);
- activations: one forward pass of two images in training mode, summing the arrays
  its graph keeps for the backward pass (each op's output and what it saved), per image,
  times the batch size.

The backward pass's own temporaries and the data are left out, while arrays that are
allocated but never fully written count whole. Measured once: for ResNet-56 at batch
128 the estimate is 1,395 MiB, and the process's resident memory grew by 1,219 MiB
over two training steps. So a net refused here needs about what the message says, and
a net near the limit may or may not fit.

Building the small nets draws initial weights; the random state is saved before and
restored after, so that the run itself draws exactly what it would have drawn.
"""

from minires import backend
from minires.backward import topological_order
from minires.cli.errors import CommandError
from minires.tensor import Tensor

COPIES_PER_PARAMETER = 4          # value, gradient, two optimiser buffers (Adam)
CANDIDATE_DEPTHS = range(1, 40)   # the two smallest depths a family takes lie here
MEASURED_WIDTHS = (8, 16, 32)     # wider nets are measured at these widths and extrapolated
MEASURED_WIDTH = 64               # nets up to this width are measured at their own width


def _saved_arrays(function):
    for item in function.saved or ():
        if backend.is_array(item):
            yield item
        elif isinstance(item, (tuple, list)):
            yield from (inner for inner in item if backend.is_array(inner))


def _owner(array):
    """The array that owns the memory ``array`` sees (a view's base, followed to the end):
    views of one buffer must be counted once."""
    while getattr(array, "base", None) is not None and backend.is_array(array.base):
        array = array.base
    return array


def footprint(model, image_shape) -> tuple:
    """(parameter bytes, activation bytes per image) of ``model`` for images (C, H, W)."""
    parameter_bytes = sum(parameter.array.nbytes for parameter in model.parameters())
    xp = backend.array_module(next(iter(model.parameters())).device)
    images = Tensor(xp.zeros((2, *image_shape), dtype=backend.float32))        # (2, C, H, W)
    model.train()
    output = model(images)
    kept = {}                                           # id of a buffer -> its bytes
    for tensor in topological_order(output):
        if tensor.grad_fn is None:
            continue                                    # a parameter, counted above
        for array in (tensor.array, *_saved_arrays(tensor.grad_fn)):
            owner = _owner(array)
            kept[id(owner)] = owner.nbytes
    return parameter_bytes, sum(kept.values()) / 2


def _interpolated(points, x):
    """The polynomial through ``points`` [(x_i, y_i)], evaluated at x (Lagrange's formula):
    a line through two points, a parabola through three."""
    total = 0.0
    for i, (x_i, y_i) in enumerate(points):
        term = y_i
        for j, (x_j, _) in enumerate(points):
            if j != i:
                term *= (x - x_j) / (x_i - x_j)
        total += term
    return total


def _buildable(values, make, count):
    """The first ``count`` of ``values`` for which ``make(value)`` builds a net."""
    found = []
    for value in values:
        try:
            make(value)
        except (ValueError, TypeError, CommandError):
            continue                                 # not a depth or width this family takes
        found.append(value)
        if len(found) == count:
            return found
    return None


def estimate_training_bytes(build, depth, width, image_shape, batch_size):
    """The estimate of the module docstring for ``build(depth, width)``, a function that
    returns the net (width None: the family's default).

    Parameters grow linearly with depth and as a parabola with width (a convolution
    has width x width weights per tap), activations linearly with both. Up to a width
    of MEASURED_WIDTH the nets are measured at the width asked for, at the family's two
    smallest depths; beyond it, at MEASURED_WIDTHS too, and the curves through those
    are followed out to the width asked for.

    Returns:
        dict with parameters (count), parameter_bytes, activation_bytes (for the batch)
        and total_bytes; None when the family cannot be built small enough to measure.
    """
    state = backend.random_state()
    try:
        small_width = width if width is None or width <= MEASURED_WIDTH else None    # None: the default
        depths = _buildable(CANDIDATE_DEPTHS, lambda d: build(d, small_width), 2)
        if depths is None:
            return None
        if width is None or width <= MEASURED_WIDTH:
            widths = [width]
        else:
            widths = MEASURED_WIDTHS
        per_depth = []
        for small_depth in depths:
            measured = [footprint(build(small_depth, small_width), image_shape) for small_width in widths]
            if len(widths) == 1:
                per_depth.append(measured[0])
                continue
            # parameters: the parabola through the three widths; activations: the line
            # through the two widest; neither below what the widest small net measured
            parameters = _interpolated([(w, m[0]) for w, m in zip(widths, measured)], width)
            activations = _interpolated([(w, m[1]) for w, m in zip(widths[1:], measured[1:])], width)
            per_depth.append((max(parameters, measured[-1][0]), max(activations, measured[-1][1])))
    finally:
        backend.set_random_state(state)
    parameter_bytes = _interpolated([(d, m[0]) for d, m in zip(depths, per_depth)], depth)
    activation_bytes = batch_size * _interpolated([(d, m[1]) for d, m in zip(depths, per_depth)], depth)
    return {"parameters": parameter_bytes / 4, "parameter_bytes": parameter_bytes,
            "activation_bytes": activation_bytes,
            "total_bytes": COPIES_PER_PARAMETER * parameter_bytes + activation_bytes}


def check_fits(settings, build, image_shape, batch_size, device):
    """Raises CommandError when the estimate exceeds the memory ``device`` has available.

    ``build(depth, width)`` returns the net; ``batch_size`` is the largest batch the
    loader will give (no more than the training set holds).
    """
    available = backend.available_memory(device)
    if available is None:
        return
    estimate = estimate_training_bytes(build, settings["depth"], settings["width"], image_shape, batch_size)
    if estimate is None or estimate["total_bytes"] <= available:
        return
    width = f" --width {settings['width']}" if settings["width"] is not None else ""
    raise CommandError(
        f"--model {settings['model']} --depth {settings['depth']}{width} cannot fit: training it would need "
        f"about {_gibibytes(estimate['total_bytes'])} ({estimate['parameters']:.3g} parameters, "
        f"{_gibibytes(estimate['activation_bytes'])} of activations for a batch of "
        f"{batch_size}), and {device} has {_gibibytes(available)} available; "
        "choose a smaller --depth, --width or --batch-size")


def _gibibytes(size) -> str:
    return f"{size / 2**30:.3g} GiB"
