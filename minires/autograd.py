"""Function: one differentiable op, its forward and backward side by side; no_grad; Variable.

Each op of :mod:`minires.functional` is a :class:`Function`: its ``forward`` computes
output arrays from input arrays, and its ``backward`` turns the gradient of the loss
with respect to the output into gradients with respect to the inputs (the chain
rule, one op at a time). ``Function.apply`` runs ``forward`` and, when some input
requires a gradient, records the Function as the output's ``grad_fn``, together
with its inputs: that is the graph. ``Tensor.backward`` then walks it from the loss
to the leaves (:mod:`minires.backward`).

The layers, from the bottom: backend <- backward (the walk) <- tensor (Tensor) <- this
module <- functional (the ops).
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

    Functions have a single output. An output that is not floating (argmax's indices,
    a comparison) is never recorded: it has no gradient. The backward walk checks
    what backward returns: a wrong shape or device is a bug in the op and raises; a
    different float dtype (from type promotion) is cast back to the input's dtype, as
    PyTorch does.
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
        output_array = function.forward(function.xp, *arrays)

        record = (_grad_enabled and any(function.needs_input_grad)
                  and backend.is_floating(output_array.dtype))
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


def Variable(tensor, requires_grad=False):
    """A Tensor sharing ``tensor``'s array, as PyTorch's long-deprecated autograd.Variable.

    Since PyTorch 0.4 a Variable is a Tensor, and ``Variable(t, requires_grad=True)``
    returns a new leaf tensor sharing t's data; old scripts still write it. It is kept
    here for them: new code writes the tensor itself (``x.requires_grad = True``).
    Unlike PyTorch's, Variable is a function, so ``isinstance(x, Variable)`` fails:
    write ``isinstance(x, minires.Tensor)``.

    Args:
        tensor: a Tensor (anything else is a TypeError, as in PyTorch).
        requires_grad: whether the returned leaf records operations for backward.
    """
    if not isinstance(tensor, Tensor):
        raise TypeError(f"Variable: data has to be a Tensor; got {type(tensor).__name__} "
                        "(wrap it with minires.tensor(...) first)")
    return Tensor(tensor.array, requires_grad=requires_grad)


def array_of(value):
    """The array a Tensor holds; arrays and Python numbers as they are.

    Ops that check their inputs before ``apply`` (shapes, devices) read them with it,
    without importing Tensor themselves.
    """
    return value.array if isinstance(value, Tensor) else value


def _input_array(op_name, index, value):
    """The array (or Python number) that stands for one input of an op."""
    if isinstance(value, Tensor):
        return value.array
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
