"""Module and Parameter: how a network holds its weights, as in torch.nn.

A Module is a Python object whose attributes are its state:

- Parameters, the weights that training learns (``self.weight = Parameter(...)``);
- buffers, tensors that belong to the model but are not learned by gradient, such as
  batch norm's running statistics (``self.register_buffer("running_mean", ...)``);
- sub-modules (``self.conv1 = Conv2d(...)``), which hold their own.

There is no registration magic: every method below finds parameters and children by
reading the attributes (``vars(self)``) in the order they were assigned, which is also
the order PyTorch uses. Names are dotted paths, ``"stage1.0.conv1.weight"``.
"""

from collections import namedtuple

from minires import backend
from minires.hooks import add_hook
from minires.nn.module_hooks import call_with_hooks
from minires.tensor import Tensor


class Parameter(Tensor):
    """A Tensor that is a learnable weight of a module (requires_grad=True), as torch.nn.Parameter.

    Assigning one to a module attribute is what makes it a parameter of the module.
    """

    def __init__(self, data, requires_grad=True):
        if isinstance(data, Tensor):
            data = data.array
        super().__init__(data, requires_grad=requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()


def filled_array(shape, fill_value, device=None, dtype=None):
    """A new array of ``shape`` holding ``fill_value`` everywhere.

    Args:
        device: "cpu", "cuda", ...; None means minires.get_device().
        dtype: None means float32, PyTorch's default for parameters.
    """
    xp = backend.array_module(device if device is not None else backend.get_device())
    return xp.full(shape, fill_value, dtype=backend.as_dtype(dtype if dtype is not None else backend.float32))


IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


class Module:
    """Base class of every layer, block and network, as torch.nn.Module.

    A subclass calls ``super().__init__()``, assigns its parameters and sub-modules as
    attributes, and defines ``forward``. Calling the module calls forward.

    ``training`` is True after construction; ``train()`` and ``eval()`` set it on the
    module and every sub-module. Layers that behave differently in training (batch
    norm, dropout) pass ``training=self.training`` to their op: there is no global mode.

    ``fast`` is True after construction too; ``use_fast_kernels(False)`` sets it on the
    module and every sub-module. Modules that compute conv2d, batch_norm or relu use the
    fast kernels of minires.fast when it is True and the reference ops of
    minires.functional when it is False (minires/nn/kernels.py); the values are the same.
    """

    # Buffers that load_state_dict may find missing from a state dict without complaint
    # (they keep their value), such as batch norm's ("num_batches_tracked",).
    optional_state = ()

    def __init__(self):
        self.training = True
        self.fast = True
        self._buffer_names = []
        self._forward_pre_hooks, self._forward_hooks, self._backward_hooks = {}, {}, {}

    def forward(self, *inputs):
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *inputs, **options):
        if "_forward_hooks" not in vars(self):
            raise RuntimeError(f"{type(self).__name__}: call super().__init__() first thing in __init__")
        if self._forward_pre_hooks or self._forward_hooks or self._backward_hooks:
            return call_with_hooks(self, inputs, options)
        return self.forward(*inputs, **options)

    # -- hooks, as in PyTorch (see minires.nn.module_hooks for the order) ---------------

    def register_forward_pre_hook(self, hook):
        """Calls ``hook(module, args)`` before each forward; a returned value replaces
        the positional arguments. Returns a handle whose ``remove()`` detaches it."""
        return add_hook(self._forward_pre_hooks, hook, "register_forward_pre_hook")

    def register_forward_hook(self, hook):
        """Calls ``hook(module, args, output)`` after each forward; a returned value
        replaces the output. Returns a handle whose ``remove()`` detaches it."""
        return add_hook(self._forward_hooks, hook, "register_forward_hook")

    def register_full_backward_hook(self, hook):
        """Calls ``hook(module, grad_input, grad_output)`` when backward has computed the
        gradients w.r.t. this module's inputs: tuples of Tensors (None for an input that
        needs no gradient), as in PyTorch; a returned tuple replaces grad_input. The
        module may have one input tensor that requires grad. Returns a handle whose
        ``remove()`` detaches it."""
        return add_hook(self._backward_hooks, hook, "register_full_backward_hook")

    # -- what a module holds ----------------------------------------------------------

    def register_buffer(self, name, tensor):
        """Adds a buffer: state that is saved and moved with the module but not learned.

        The tensor becomes the attribute ``name``; it appears in state_dict() and
        moves with to(device), but not in parameters().
        """
        if "_buffer_names" not in vars(self):
            raise RuntimeError(f"{type(self).__name__}: call super().__init__() before register_buffer")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"register_buffer: {name!r} must be a Tensor or None; got {type(tensor).__name__}")
        setattr(self, name, tensor)
        if name not in self._buffer_names:
            self._buffer_names.append(name)

    def add_module(self, name, module):
        """Adds a sub-module under ``name`` (the same as ``setattr(self, name, module)``)."""
        if not isinstance(module, Module):
            raise TypeError(f"add_module: {name!r} must be a Module; got {type(module).__name__}")
        setattr(self, name, module)

    def named_children(self):
        """(name, module) for each direct sub-module, in the order they were assigned."""
        for name, value in vars(self).items():
            if isinstance(value, Module):
                yield name, value

    def children(self):
        for _, child in self.named_children():
            yield child

    def named_modules(self, prefix="", remove_duplicate=True):
        """(dotted name, module) for this module ("" for itself) and every one below it.

        A module held in two places is listed once, under its first name, unless
        ``remove_duplicate=False`` (state_dict lists every name, as PyTorch does).
        """
        seen = set()
        stack = [(prefix, self)]
        while stack:                      # depth first, children in assignment order
            name, module = stack.pop()
            if remove_duplicate and id(module) in seen:
                continue
            seen.add(id(module))
            yield name, module
            children = [(_dotted(name, child_name), child) for child_name, child in module.named_children()]
            stack.extend(reversed(children))

    def modules(self):
        for _, module in self.named_modules():
            yield module

    def named_parameters(self):
        """(dotted name, Parameter) for every parameter of this module and its sub-modules.

        A parameter shared by two modules (tied weights) is listed once, so that an
        optimiser updates it once.
        """
        seen = set()
        for module_name, module in self.named_modules():
            for name, value in _own_parameters(module):
                if id(value) not in seen:
                    seen.add(id(value))
                    yield _dotted(module_name, name), value

    def parameters(self):
        for _, parameter in self.named_parameters():
            yield parameter

    def named_buffers(self):
        """(dotted name, Tensor) for every buffer of this module and its sub-modules."""
        for module_name, module in self.named_modules():
            for name, value in _own_buffers(module):
                yield _dotted(module_name, name), value

    def buffers(self):
        for _, buffer in self.named_buffers():
            yield buffer

    def num_parameters(self) -> int:
        """The number of learnable values: sum(p.numel() for p in self.parameters())."""
        return sum(parameter.numel() for parameter in self.parameters())

    # -- modes, devices, gradients ------------------------------------------------------

    def train(self, mode=True):
        """Sets training mode on this module and every sub-module; returns self."""
        for module in self.modules():
            module.training = bool(mode)
        return self

    def eval(self):
        """Sets evaluation mode (batch norm uses running statistics, dropout is off)."""
        return self.train(False)

    def use_fast_kernels(self, fast=True):
        """Computes with minires.fast's kernels (True) or the references of F (False),
        in this module and every sub-module; returns self. See minires/nn/kernels.py."""
        for module in self.modules():
            module.fast = bool(fast)
        return self

    def zero_grad(self, set_to_none=True):
        """Forgets every parameter's gradient, as torch.nn.Module.zero_grad.

        Args:
            set_to_none: True (PyTorch's default) sets each .grad to None, so that the
                optimisers skip a parameter that the next backward pass does not reach;
                False replaces each existing gradient by zeros of its shape (then SGD's
                momentum and weight decay still move that parameter).
        """
        clear_gradients(self.parameters(), set_to_none)

    def apply(self, fn):
        """Calls ``fn(module)`` on every sub-module, children first, then on this module;
        returns self, as torch.nn.Module.apply.

        The usual use is custom initialisation::

            def init_weights(module):
                if isinstance(module, nn.Conv2d):
                    nn.init.kaiming_normal_(module.weight)
            model.apply(init_weights)
        """
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    def cuda(self, device=None):
        """Moves the module to the GPU, as torch.nn.Module.cuda; returns self.

        ``device`` may be None, 0, "cuda", "cuda:0" or minires.device("cuda:0"): minires
        uses one GPU, so another index is a ValueError.
        """
        if device is None:
            device = "cuda"
        elif isinstance(device, int) and not isinstance(device, bool):
            device = f"cuda:{device}"
        if backend.device_name(device) != "cuda":
            raise ValueError(f"{type(self).__name__}.cuda: {device!r} is not a GPU; use .to({device!r})")
        return self.to("cuda")

    def cpu(self):
        """Moves the module to the host (NumPy), as torch.nn.Module.cpu; returns self."""
        return self.to("cpu")

    def to(self, device):
        """Moves every parameter, gradient and buffer to ``device``, in place; returns self.

        The Parameter objects stay the same (only their ``.array`` changes), so an
        optimiser built before the move still holds them.
        """
        device = backend.device_name(device)  # "cuda:0" and minires.device("cuda:0") name "cuda"
        backend.array_module(device)          # a clear error for an unknown or unusable device
        return self._convert_arrays(device=device)

    def double(self):
        """Casts floating parameters and buffers to float64 (for gradcheck); returns self."""
        return self._convert_arrays(dtype=backend.float64)

    def float(self):
        """Casts floating parameters and buffers to float32; returns self."""
        return self._convert_arrays(dtype=backend.float32)

    def half(self):
        """Casts floating parameters and buffers to float16; returns self, as torch's half().

        On the CPU NumPy computes float16 slowly and with float16's rounding (about 3
        decimal digits): it saves memory, not time. Mixed precision (autocast) is not
        in minires.
        """
        return self._convert_arrays(dtype=backend.float16)

    def _convert_arrays(self, device=None, dtype=None):
        """Moves parameters, their gradients and buffers to ``device`` and casts the
        floating ones to ``dtype`` (integer buffers, such as a step count, keep theirs)."""
        def converted(array):
            if device is not None:
                array = backend.to_device(array, device)
            if dtype is not None and backend.is_floating(array.dtype):
                array = array.astype(dtype)
            return array

        for tensor in list(self.parameters()) + list(self.buffers()):
            tensor.array = converted(tensor.array)
            if tensor.grad is not None:
                tensor.grad = Tensor(converted(tensor.grad.array))
        return self

    # -- saving and loading -------------------------------------------------------------

    def _state_tensors(self):
        """{dotted name: Tensor} of every parameter and buffer, module by module, under
        every name (a shared module or a tied weight appears once per name, as in PyTorch)."""
        state = {}
        for module_name, module in self.named_modules(remove_duplicate=False):
            for name, value in list(_own_parameters(module)) + list(_own_buffers(module)):
                state[_dotted(module_name, name)] = value
        return state

    def state_dict(self) -> dict:
        """{dotted name: array} for every parameter and buffer, as host NumPy copies.

        The names are PyTorch's ("layer1.0.bn1.running_mean"). Unlike PyTorch, the
        values are NumPy arrays on the host whatever the model's device, so a state
        dict can be saved with numpy.savez and loaded onto any device.
        """
        return {name: backend.to_numpy(tensor.array) for name, tensor in self._state_tensors().items()}

    def load_state_dict(self, state_dict, strict=True):
        """Copies the values of ``state_dict`` into this module's parameters and buffers.

        An entry named in a module's ``optional_state`` (batch norm's num_batches_tracked,
        which PyTorch fills in when a checkpoint lacks it) may be missing even with
        ``strict=True``: it keeps its current value and is not listed as missing.

        Every entry is checked before anything is written: an entry that holds no numbers
        (a string, None, an array of objects or strings) or whose shape differs is always
        an error, naming the entry, what it holds and the shape expected; with
        ``strict=True`` a missing or unexpected entry is an error too. (NaN and infinity
        are numbers: they load.) Values may be NumPy or CuPy arrays,
        Tensors, or anything NumPy can read; they are cast to the parameter's dtype and
        copied to its device, into the existing arrays.

        Returns:
            IncompatibleKeys(missing_keys, unexpected_keys), as PyTorch.
        """
        own = self._state_tensors()
        optional = self._optional_state_names()
        missing = [name for name in own if name not in state_dict and name not in optional]
        unexpected = [name for name in state_dict if name not in own]
        problems = []
        values = {}
        for name, tensor in own.items():
            if name not in state_dict:
                continue
            value = state_dict[name]
            value = value.array if isinstance(value, Tensor) else value
            if value is not None and not backend.is_array(value):
                try:
                    value = backend.host_array(value, tensor.dtype)
                except (TypeError, ValueError):      # a string, a dict: not numbers
                    value = None
            if value is None or not (backend.is_floating(value.dtype) or value.dtype.kind in "iub"):
                found = (f"an array of {value.dtype}" if value is not None
                         else f"{type(state_dict[name]).__name__} {state_dict[name]!r:.40}")
                problems.append(f"  {name}: the state dict holds {found}, not numbers; the model expects "
                                f"an array of shape {tensor.shape}")
                continue
            if tuple(value.shape) != tensor.shape:
                problems.append(f"  {name}: the state dict has shape {tuple(value.shape)}, "
                                f"the model expects {tensor.shape}")
            values[name] = value
        if strict:
            problems += [f"  {name}: missing from the state dict (the model expects shape "
                         f"{own[name].shape})" for name in missing]
            problems += [f"  {name}: in the state dict but not in the model" for name in unexpected]
        if problems:
            raise RuntimeError(f"load_state_dict: cannot load into {type(self).__name__}:\n"
                               + "\n".join(problems))
        for name, value in values.items():
            tensor = own[name]
            # Cast where the value is, then copy it over: the copy moves the final dtype.
            tensor.array[...] = backend.to_device(value.astype(tensor.dtype, copy=False), tensor.device)
        return IncompatibleKeys(missing, unexpected)

    def _optional_state_names(self):
        """Dotted names of the entries a state dict may lack (see load_state_dict)."""
        names = set()
        for module_name, module in self.named_modules(remove_duplicate=False):
            for name in module.optional_state:
                if getattr(module, name, None) is not None:
                    names.add(_dotted(module_name, name))
        return names

    # -- printing -------------------------------------------------------------------------

    def extra_repr(self) -> str:
        """The text between the parentheses of this module's repr, e.g. "16, 32, kernel_size=3"."""
        return ""

    def __repr__(self):
        count = self.num_parameters()
        counted = f"  # {count:,} parameters" if count else ""
        children = list(self.named_children())
        if not children:
            return f"{type(self).__name__}({self.extra_repr()}){counted}"
        # A module with children prints one line per child, indented, like PyTorch.
        lines = [f"{type(self).__name__}({counted}"]
        if self.extra_repr():
            lines.append("  " + self.extra_repr())
        for name, child in children:
            child_lines = repr(child).split("\n")
            lines.append(f"  ({name}): " + child_lines[0])
            lines.extend("  " + line for line in child_lines[1:])
        lines.append(")")
        return "\n".join(lines)


def clear_gradients(parameters, set_to_none=True):
    """Sets each parameter's gradient to None, or (``set_to_none=False``) replaces an
    existing gradient by zeros: zero_grad of Module and of Optimizer."""
    for parameter in parameters:
        if set_to_none:
            parameter.grad = None
        elif parameter.grad is not None:
            xp = backend.get_array_module(parameter.grad.array)
            parameter.grad = Tensor(xp.zeros_like(parameter.grad.array))


def _dotted(prefix, name):
    """"stage1.0" and "conv1" -> "stage1.0.conv1"; "" and "fc" -> "fc"."""
    return f"{prefix}.{name}" if prefix else name


def _own_parameters(module):
    """(name, Parameter) for the parameters held by ``module`` itself, in assignment order."""
    for name, value in vars(module).items():
        if isinstance(value, Parameter):
            yield name, value


def _own_buffers(module):
    """(name, Tensor) for the buffers registered on ``module`` itself (None ones skipped)."""
    for name in vars(module).get("_buffer_names", []):
        value = getattr(module, name)
        if value is not None:
            yield name, value
