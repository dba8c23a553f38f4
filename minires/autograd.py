"""The autograd engine: Function (one op's forward and backward) and the backward walk.

A computation builds a graph as it runs. Each op is a :class:`Function`: its
``forward`` computes output arrays from input arrays, and its ``backward`` turns the
gradient of the loss with respect to the output into gradients with respect to the
inputs (the chain rule, one op at a time). ``Function.apply`` runs ``forward`` and,
when some input requires a gradient, records the Function as the output's
``grad_fn``, together with its inputs. ``Tensor.backward`` then visits the graph in
reverse topological order, so that a node's gradient is complete (summed over every
use of the node) before it is passed further down.

The Tensor class lives in :mod:`minires.tensor` (imported here as
``minires.autograd.Tensor`` too); this module holds the machinery it runs on.
"""

import contextlib

from minires import backend
from minires.tensor import Tensor

_grad_enabled = True


class no_grad(contextlib.ContextDecorator):
    """Context manager (or decorator) in which ops record no graph, as torch.no_grad.

    Example:
        >>> with minires.no_grad():
        ...     y = model(x)        # y.requires_grad is False; nothing is kept for backward
    """

    def __enter__(self):
        global _grad_enabled
        self._previous = _grad_enabled
        _grad_enabled = False

    def __exit__(self, *exc_info):
        global _grad_enabled
        _grad_enabled = self._previous
        return False


def is_grad_enabled() -> bool:
    """False inside ``no_grad()``."""
    return _grad_enabled


class Function:
    """One differentiable op: ``forward`` on arrays and ``backward`` on gradients.

    Subclasses write two methods:

    - ``forward(self, xp, *arrays)``: computes the output array with ``xp`` (numpy or
      cupy) from the input arrays (Python numbers pass through unchanged), calling
      ``self.save_for_backward(...)`` with what the backward will need.
    - ``backward(self, grad_output)``: returns one gradient per input, in order, each
      with that input's shape (None for inputs that need none). ``self.saved`` holds
      what forward saved, ``self.xp`` the array module forward ran with, and
      ``self.needs_input_grad[i]`` says whether input ``i`` needs a gradient at all.
      It must not change ``grad_output`` in place: other ops may share that array.

    Options of the op (an axis, a shape) are given to ``apply`` as keyword arguments
    and reach the subclass's ``__init__``::

        class Scale(Function):
            def __init__(self, factor):
                self.factor = factor
            def forward(self, xp, x):
                return x * self.factor
            def backward(self, grad_output):
                return (grad_output * self.factor,)

        y = Scale.apply(x, factor=2.0)

    Functions have a single output. The engine checks what backward returns: a wrong
    shape or device is a bug in the op and raises; a different float dtype (from
    type promotion) is cast back to the input's dtype, as PyTorch does.
    """

    saved = ()

    def save_for_backward(self, *arrays):
        """Keeps arrays for backward; they are freed once backward has run."""
        self.saved = arrays

    def forward(self, xp, *arrays):
        raise NotImplementedError(f"{type(self).__name__} must define forward(self, xp, *arrays)")

    def backward(self, grad_output):
        raise NotImplementedError(f"{type(self).__name__} must define backward(self, grad_output)")

    @classmethod
    def apply(cls, *inputs, **options):
        """Runs the op on ``inputs`` (Tensors, arrays or Python numbers); returns a Tensor."""
        function = cls(**options)
        name = cls.__name__
        arrays = [_input_array(name, index, value) for index, value in enumerate(inputs)]
        function.xp = backend.array_module(_common_device(name, arrays))
        function.needs_input_grad = tuple(
            isinstance(value, Tensor) and value.requires_grad for value in inputs)
        record = _grad_enabled and any(function.needs_input_grad)

        output_array = function.forward(function.xp, *arrays)

        if not record:
            function.saved = ()       # nothing will call backward: free what was saved
            return Tensor(output_array)
        output = Tensor(output_array)
        output.requires_grad = True
        output.grad_fn = function
        function.inputs = tuple(value if isinstance(value, Tensor) else None for value in inputs)
        return output

    def release(self):
        """Drops saved arrays and inputs after backward, so that memory can be freed."""
        self.saved = None
        self.inputs = None

    def __repr__(self):
        return f"<{type(self).__name__}>"


def _input_array(op_name, index, value):
    """The array (or Python number) that stands for one input of an op."""
    if isinstance(value, Tensor):
        return value.data
    value = backend.scalar_value(value)
    if isinstance(value, (bool, int, float)) or backend.is_array(value):
        return value
    raise TypeError(
        f"{op_name}: input {index} is a {type(value).__name__}; expected a Tensor, an array "
        "or a Python number (wrap data with minires.tensor(...))")


def _common_device(op_name, arrays):
    """The device all array inputs sit on ("cpu" when there are none).

    Raises a DeviceMismatchError naming the op when they sit on different devices.
    """
    located = [(index, backend.device_of(array), array.shape)
               for index, array in enumerate(arrays) if backend.is_array(array)]
    devices = {device for _, device, _ in located}
    if len(devices) > 1:
        described = ", ".join(f"input {index} {shape} on {device}" for index, device, shape in located)
        raise backend.DeviceMismatchError(
            f"{op_name}: inputs are on different devices ({described}); minires never moves "
            "data implicitly: move them to one device with .to(device)")
    return devices.pop() if devices else "cpu"


# ----------------------------------------------------------------------------------
# The backward walk
# ----------------------------------------------------------------------------------

def topological_order(root):
    """Tensors that ``root`` depends on (and that need gradients), inputs before outputs.

    Iterative depth-first search with an explicit stack, so that a chain of ten
    thousand ops does not reach Python's recursion limit. A tensor is appended after
    all the tensors it was computed from: each is pushed twice, once to visit its
    inputs and once (``inputs_done=True``) to be appended after them.
    """
    order, visited = [], set()
    stack = [(root, False)]
    while stack:
        tensor, inputs_done = stack.pop()
        if inputs_done:
            order.append(tensor)
            continue
        if id(tensor) in visited:
            continue
        visited.add(id(tensor))
        stack.append((tensor, True))
        if tensor.grad_fn is not None and tensor.grad_fn.inputs is not None:
            for parent in tensor.grad_fn.inputs:
                if parent is not None and parent.requires_grad and id(parent) not in visited:
                    stack.append((parent, False))
    return order


def run_backward(root, grad_output, retain_graph=False):
    """Propagates ``grad_output`` (the gradient of the loss w.r.t. ``root``) to the leaves.

    Leaves (tensors made by the user, with requires_grad=True) and tensors that
    called ``retain_grad()`` accumulate into ``.grad``: a second backward adds to it,
    as in PyTorch. Unless ``retain_graph``, each Function is released after its
    backward has run, so the graph's saved arrays can be freed.
    """
    grads = {id(root): grad_output}   # id(tensor) -> gradient of the loss w.r.t. tensor
    for tensor in reversed(topological_order(root)):
        grad = grads.pop(id(tensor), None)
        if grad is None:
            continue
        if tensor.grad_fn is None or tensor._retains_grad:
            _accumulate_grad(tensor, grad)
        function = tensor.grad_fn
        if function is None:
            continue
        if function.inputs is None:
            raise RuntimeError(
                f"backward through {type(function).__name__} a second time: its saved arrays "
                "were freed by the first backward; call the first backward with retain_graph=True")
        input_grads = function.backward(grad)
        if not isinstance(input_grads, tuple):
            input_grads = (input_grads,)
        if len(input_grads) != len(function.inputs):
            raise RuntimeError(
                f"{type(function).__name__}.backward returned {len(input_grads)} gradients "
                f"for {len(function.inputs)} inputs")
        for index, (parent, parent_grad) in enumerate(zip(function.inputs, input_grads)):
            if parent is None or not parent.requires_grad or parent_grad is None:
                continue
            parent_grad = _checked_grad(function, index, parent, parent_grad)
            if id(parent) in grads:
                grads[id(parent)] = grads[id(parent)] + parent_grad
            else:
                grads[id(parent)] = parent_grad
        if not retain_graph:
            function.release()


def _checked_grad(function, index, parent, grad):
    """Checks one gradient returned by a backward against the input it belongs to."""
    name = type(function).__name__
    grad = backend.ensure_array(grad)      # NumPy returns scalars, not 0-d arrays, for 0-d results
    if not backend.is_array(grad) or backend.device_of(grad) != parent.device:
        where = backend.device_of(grad) if backend.is_array(grad) else type(grad).__name__
        raise RuntimeError(
            f"{name}.backward returned a gradient for input {index} on {where}, "
            f"but the input is on {parent.device}")
    if tuple(grad.shape) != parent.shape:
        raise RuntimeError(
            f"{name}.backward returned a gradient of shape {tuple(grad.shape)} for input {index} "
            f"of shape {parent.shape}")
    if grad.dtype != parent.dtype:
        grad = grad.astype(parent.dtype)    # type promotion in forward: cast back, as PyTorch
    return grad


def _accumulate_grad(tensor, grad):
    """Adds ``grad`` into ``tensor.grad``; the first time, as a copy that the tensor owns.

    The copy matters: an op's backward may hand the same array to two inputs (add
    does), and an optimizer updating one ``.grad`` in place must not change another.
    """
    if tensor.grad is None:
        tensor.grad = grad.copy(order="K")      # "K": in grad's memory layout (see functional/layout.py)
    else:
        tensor.grad += grad
