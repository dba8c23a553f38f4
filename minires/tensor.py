"""Tensor: one array, the gradient that backward leaves in it, and the op that made it.

A Tensor is a thin wrapper. ``.array`` is a NumPy or CuPy array (never copied behind
your back); ``.grad`` is None until a backward pass reaches the tensor, then a Tensor;
``.grad_fn`` is the :class:`~minires.autograd.Function` that computed it (None for
tensors you made). ``.data`` is PyTorch's name: a Tensor sharing ``.array``, outside
the graph. Every method that computes something (``x + y``, ``x.sum(dim=1)``,
``x.relu()``) calls an op in :mod:`minires.functional`, which records the graph.
The in-place methods (``x.mul_(2)``, ``x.zero_()``) change tensors outside the graph
only; see :mod:`minires.functional.inplace` for why.

The ops are built on Tensor, a layer above this module, so this module cannot import
them when it is loaded: that would be an import cycle, which breaks as soon as
someone imports the two in the other order. The methods reach them when they are
called instead, through :func:`_functional`, by which time ``minires.functional`` is
loaded. It is the only reference in minires from a layer to one above it.
"""

import math

from minires import backend
from minires.backward import run_backward
from minires.hooks import add_hook


def _functional():
    """The module minires.functional (``F``), for the methods that compute with an op.

    Imported when first called, not when this module loads (see the module docstring);
    Python keeps loaded modules, so later calls only look it up.
    """
    from minires import functional
    return functional


class Tensor:
    """An array with automatic differentiation, as torch.Tensor.

    Build tensors with :func:`minires.tensor`; ``Tensor(array)`` wraps an existing
    NumPy or CuPy array without copying it.

    Attributes:
        array: the array (numpy.ndarray on "cpu", cupy.ndarray on "cuda"). The ops read
            and write it; Chainer gives its Variable's array the same name.
        data: as in PyTorch, a Tensor sharing ``array`` that is outside the graph
            (requires_grad=False); assigning to it replaces the array.
        grad: a Tensor of the same shape, device and dtype, or None; its array is
            ``t.grad.array``, a host copy ``t.grad.numpy()``.
        grad_fn: the Function that produced this tensor, or None for a leaf.
    """

    # NumPy must hand `numpy_array * tensor` to Tensor.__rmul__ instead of converting
    # the tensor: the op then checks devices and records the graph.
    __array_ufunc__ = None

    def __init__(self, data, requires_grad=False):
        data = backend.ensure_array(data)
        if not backend.is_array(data):
            raise TypeError(
                f"Tensor wraps an array; got {type(data).__name__}. "
                "Use minires.tensor(data) to build one from lists or numbers")
        self.array = data
        self._grad = None
        self.grad_fn = None
        self._requires_grad = False
        self._retains_grad = False
        self._hooks = None                # {handle id: hook(grad)}, made by register_hook
        self.requires_grad = requires_grad

    # -- what a tensor is ------------------------------------------------------------

    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, flag):
        if flag and not backend.is_floating(self.array.dtype):
            raise TypeError(
                f"only floating-point tensors can require gradients; this one is {self.array.dtype} "
                "(make it with dtype=minires.float32, or call .float())")
        self._requires_grad = bool(flag)

    def requires_grad_(self, flag=True):
        """Sets requires_grad in place and returns the tensor, as in PyTorch."""
        self.requires_grad = flag
        return self

    @property
    def data(self):
        """A Tensor sharing this one's array, outside the graph, as PyTorch's ``.data``.

        Changes made through it reach this tensor: ``p.data.mul_(0.5)`` or
        ``p.data -= lr * p.grad`` update p in place, and backward does not see them.
        """
        return Tensor(self.array)

    @data.setter
    def data(self, value):
        # p.data = other_tensor: p now holds other's array (as in PyTorch, any shape).
        array = value.array if isinstance(value, Tensor) else value
        if not backend.is_array(array):
            raise TypeError(f"data: expected a Tensor (or a NumPy/CuPy array) to assign; "
                            f"got {type(value).__name__}")
        if self._requires_grad and not backend.is_floating(array.dtype):
            raise TypeError(f"data: this tensor requires grad, so its data must stay floating-point; "
                            f"got {array.dtype}")
        self.array = array

    @property
    def grad(self):
        """d(loss)/d(this tensor) after backward, a Tensor; None before (see Attributes)."""
        return self._grad

    @grad.setter
    def grad(self, value):
        # PyTorch's checks: a Tensor of this tensor's shape, dtype and device, or None.
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(f"grad: expected a Tensor or None; got {type(value).__name__} "
                                f"(wrap an array with minires.Tensor(array))")
            if (value.shape, value.dtype, value.device) != (self.shape, self.dtype, self.device):
                raise RuntimeError(
                    f"grad: the gradient must match the tensor: shape {self.shape}, dtype "
                    f"{self.dtype}, device {self.device}; got shape {value.shape}, dtype "
                    f"{value.dtype}, device {value.device}")
        self._grad = value

    @property
    def is_leaf(self) -> bool:
        """True for tensors made by the user rather than computed by an op."""
        return self.grad_fn is None

    @property
    def shape(self) -> tuple:
        return tuple(self.array.shape)

    @property
    def dtype(self):
        return self.array.dtype

    @property
    def device(self) -> str:
        return backend.device_of(self.array)

    @property
    def ndim(self) -> int:
        return self.array.ndim

    def dim(self) -> int:
        return self.array.ndim

    def numel(self) -> int:
        return int(self.array.size)

    def size(self, dim=None):
        """The shape as a tuple of ints, or with ``dim`` the size of that dimension, as in
        PyTorch (whose torch.Size is a tuple too)."""
        if dim is None:
            return self.shape
        if not -self.ndim <= dim < self.ndim:
            raise IndexError(f"size: dim {dim} is out of range for a tensor of shape {self.shape}; "
                             f"expected a dim in [{-self.ndim}, {self.ndim - 1}]")
        return self.shape[dim]

    def __len__(self):
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __repr__(self):
        values = backend.array_to_string(self.array, prefix="tensor(")
        extras = []
        if self.device != "cpu":
            extras.append(f"device='{self.device}'")
        if self.dtype != backend.float32 and backend.is_floating(self.dtype):
            extras.append(f"dtype={self.dtype}")
        if self.grad_fn is not None:
            extras.append(f"grad_fn={self.grad_fn!r}")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + ", ".join([values] + extras) + ")"

    # -- leaving the graph, changing device --------------------------------------------

    def numpy(self):
        """A NumPy copy of the data on the host (for a GPU tensor, a device-to-host copy).

        Unlike PyTorch, this works on tensors that require grad: it is always a copy.
        """
        return backend.to_numpy(self.array)

    def __array__(self, dtype=None, copy=None):
        # Lets numpy.asarray(t) and matplotlib read CPU tensors, as in PyTorch;
        # device tensors refuse, since that would be a hidden device-to-host copy.
        if self.device != "cpu":
            raise TypeError(f"a tensor on {self.device} cannot become a NumPy array implicitly; "
                            "call .numpy() for an explicit copy")
        return self.array if dtype is None else self.array.astype(dtype)

    def item(self):
        """The value of a one-element tensor as a Python number."""
        if self.numel() != 1:
            raise ValueError(f"item() needs a tensor with one element; this one has shape {self.shape}")
        return self.array.item()

    def tolist(self):
        """The values as nested Python lists (a Python number for a 0-d tensor)."""
        return backend.to_numpy(self.array).tolist()

    def __index__(self):
        # Lets a one-element integer tensor index a list or a range: names[label].
        if self.numel() != 1 or self.dtype.kind not in "biu":
            raise TypeError(f"only integer tensors of a single element can be converted to an index; "
                            f"this one has dtype {self.dtype} and shape {self.shape}")
        return int(self.array.item())

    def __int__(self):
        return int(self.item())

    def __float__(self):
        return float(self.item())

    def __bool__(self):
        if self.numel() != 1:
            raise ValueError(f"the truth value of a tensor of shape {self.shape} is ambiguous")
        return bool(self.array.item())

    def detach(self):
        """A tensor sharing this one's array, outside the graph (requires_grad=False)."""
        return Tensor(self.array)

    def to(self, *args, device=None, dtype=None, non_blocking=False):
        """This tensor on another device and/or in another dtype, as torch.Tensor.to.

        Accepts ``to("cuda")``, ``to("cuda:0")``, ``to(minires.device("cuda"))``,
        ``to(minires.float64)``, ``to("cuda", minires.float64)``, ``to(other_tensor)`` (its
        device and dtype) and the keywords. Gradients flow back to the original device and
        dtype; a cast to an integer dtype leaves the graph. Returns self when nothing
        changes. ``non_blocking`` is accepted and ignored (copies are synchronous).
        """
        if len(args) > 2:
            raise TypeError(f"to: expected a device, a dtype, or both; got {len(args)} arguments")
        for arg in args:
            if isinstance(arg, Tensor):
                device, dtype = arg.device, arg.dtype
            elif isinstance(arg, (str, backend.device)):
                device = arg
            else:
                dtype = arg                     # checked by cast: "... is not a dtype"
        result = self
        if dtype is not None:
            result = _functional().cast(result, dtype)
        if device is not None:
            result = _functional().to_device(result, device)
        return result

    def cuda(self, device=None, non_blocking=False):
        """This tensor on the GPU; ``device`` may be None, 0, "cuda:0" (minires uses one GPU)."""
        if isinstance(device, int) and not isinstance(device, bool):
            device = f"cuda:{device}"
        return self.to(device if device is not None else "cuda")

    def cpu(self):
        """This tensor on the host (NumPy); self if it is there already."""
        return self.to("cpu")

    def float(self):
        """This tensor cast to float32 (differentiable)."""
        return _functional().cast(self, backend.float32)

    def double(self):
        """This tensor cast to float64 (differentiable)."""
        return _functional().cast(self, backend.float64)

    def half(self):
        """This tensor cast to float16 (differentiable), as torch's half()."""
        return _functional().cast(self, backend.float16)

    # -- backward ----------------------------------------------------------------------

    def backward(self, grad=None, retain_graph=False):
        """Computes the gradient of this tensor w.r.t. every leaf that requires grad.

        Args:
            grad: d(loss)/d(this tensor), a Tensor or array of this tensor's shape.
                May be omitted only when the tensor has one element (a loss).
            retain_graph: keep the graph, so that backward can run through it again.
        """
        if not self.requires_grad:
            raise RuntimeError(
                "backward: this tensor does not require grad: none of the tensors it was "
                "computed from has requires_grad=True, or it was computed under no_grad()")
        if grad is None:
            if self.numel() != 1:
                raise RuntimeError(
                    f"backward: grad can be omitted only for a tensor with one element (a loss); "
                    f"this one has shape {self.shape}. Reduce it first (y.sum().backward()) "
                    f"or pass grad=, an array of shape {self.shape}")
            grad = backend.get_array_module(self.array).ones(self.shape, dtype=self.dtype)
        else:
            grad = grad.array if isinstance(grad, Tensor) else grad
            if not backend.is_array(grad):
                raise TypeError(f"backward: grad must be a Tensor or an array; got {type(grad).__name__}")
            if backend.device_of(grad) != self.device:
                raise backend.DeviceMismatchError(
                    f"backward: grad is on {backend.device_of(grad)} but the tensor is on "
                    f"{self.device}; move it with .to(device)")
            if tuple(grad.shape) != self.shape:
                raise ValueError(
                    f"backward: grad has shape {tuple(grad.shape)}, but the tensor has shape {self.shape}")
            if grad.dtype != self.dtype:
                grad = grad.astype(self.dtype)
        run_backward(self, grad, retain_graph=retain_graph)

    def accumulate_grad(self, grad):
        """Adds the array ``grad`` into ``.grad`` (the backward walk calls this); the first
        time, as a copy that this tensor owns.

        The copy matters: an op's backward may hand the same array to two inputs (add
        does), and an optimizer updating one ``.grad`` in place must not change another.
        """
        if self._grad is None:
            self._grad = Tensor(grad.copy(order="K"))  # "K": in grad's memory layout, not always C order
        else:
            self._grad.array += grad

    def register_hook(self, hook):
        """Calls ``hook(grad)`` each time backward computes this tensor's gradient, as in
        PyTorch: ``grad`` is a Tensor holding the whole d(loss)/d(this tensor), and what
        the hook returns (a Tensor of the same shape, dtype and device) replaces it, for
        ``.grad`` and for everything backward computes from it; None keeps it.

        Returns:
            a handle whose ``remove()`` detaches the hook.
        """
        if not self.requires_grad:
            raise RuntimeError(f"register_hook: this tensor (shape {self.shape}) does not require grad, "
                               "so backward never computes its gradient; set requires_grad=True first")
        if self._hooks is None:
            self._hooks = {}
        return add_hook(self._hooks, hook, "register_hook")

    def gradient_after_hooks(self, grad):
        """The array ``grad`` passed through this tensor's hooks (the backward walk calls this)."""
        for hook in list(self._hooks.values()):
            replacement = hook(Tensor(grad))
            if replacement is None:
                continue
            if not isinstance(replacement, Tensor) or (replacement.shape, replacement.dtype,
                                                         replacement.device) != (self.shape, self.dtype, self.device):
                found = (f"shape {replacement.shape}, dtype {replacement.dtype}, device {replacement.device}"
                         if isinstance(replacement, Tensor) else type(replacement).__name__)
                raise RuntimeError(f"a hook registered with register_hook returned {found}; it must return "
                                   f"None or a Tensor of shape {self.shape}, dtype {self.dtype}, device "
                                   f"{self.device}, the gradient's")
            grad = replacement.array
        return grad

    def retain_grad(self):
        """Asks backward to keep this non-leaf tensor's gradient in ``.grad``."""
        self._retains_grad = True

    # -- operators ---------------------------------------------------------------------

    def __add__(self, other):
        return _functional().add(self, other)

    def __radd__(self, other):
        return _functional().add(other, self)

    def __sub__(self, other):
        return _functional().sub(self, other)

    def __rsub__(self, other):
        return _functional().sub(other, self)

    def __mul__(self, other):
        return _functional().mul(self, other)

    def __rmul__(self, other):
        return _functional().mul(other, self)

    def __truediv__(self, other):
        return _functional().div(self, other)

    def __rtruediv__(self, other):
        return _functional().div(other, self)

    def __neg__(self):
        return _functional().neg(self)

    def __pow__(self, exponent):
        return _functional().pow(self, exponent)

    def __rpow__(self, base):
        # base ** x = exp(x * log(base)), for a positive Python number base
        if not isinstance(base, (int, float)) or base <= 0:
            raise TypeError(f"number ** tensor needs a positive Python number as base; got {base!r}")
        return _functional().exp(self * math.log(base))

    def __matmul__(self, other):
        return _functional().matmul(self, other)

    def __rmatmul__(self, other):
        return _functional().matmul(other, self)

    def __getitem__(self, index):
        return _functional().getitem(self, index)

    def __setitem__(self, index, value):
        # x[mask] = 0, p.data[...] = values: in place, so only outside the graph.
        _functional().inplace.setitem(self, index, value)

    # Comparisons are not differentiable: they return boolean tensors outside the graph.
    def __lt__(self, other):
        return Tensor(self.array < _compared_array(self, other))

    def __le__(self, other):
        return Tensor(self.array <= _compared_array(self, other))

    def __gt__(self, other):
        return Tensor(self.array > _compared_array(self, other))

    def __ge__(self, other):
        return Tensor(self.array >= _compared_array(self, other))

    def __eq__(self, other):
        return Tensor(self.array == _compared_array(self, other))

    def __ne__(self, other):
        return Tensor(self.array != _compared_array(self, other))

    __hash__ = object.__hash__    # tensors stay usable as dict keys, compared by identity

    def eq(self, other):
        return self == other

    def ne(self, other):
        return self != other

    def lt(self, other):
        return self < other

    def le(self, other):
        return self <= other

    def gt(self, other):
        return self > other

    def ge(self, other):
        return self >= other

    # -- methods PyTorch users reach for -------------------------------------------------

    def exp(self):
        return _functional().exp(self)

    def log(self):
        return _functional().log(self)

    def sqrt(self):
        return _functional().sqrt(self)

    def tanh(self):
        return _functional().tanh(self)

    def sigmoid(self):
        return _functional().sigmoid(self)

    def relu(self):
        return _functional().relu(self)

    def pow(self, exponent):
        return _functional().pow(self, exponent)

    def matmul(self, other):
        return _functional().matmul(self, other)

    def sum(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        return _functional().sum(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def mean(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        return _functional().mean(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def max(self, dim=None, keepdim=False, *, axis=None):
        """The largest element; with an int ``dim``, a pair ``(values, indices)``, as torch.
        See minires.functional.max; :meth:`amax` gives values only."""
        return _functional().max(self, dim, keepdim, axis=axis)

    def min(self, dim=None, keepdim=False, *, axis=None):
        """The smallest element; with an int ``dim``, a pair ``(values, indices)``, as torch."""
        return _functional().min(self, dim, keepdim, axis=axis)

    def amax(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        return _functional().amax(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def amin(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        return _functional().amin(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def argmax(self, dim=None, keepdim=False):
        return _functional().argmax(self, dim, keepdim)

    def argmin(self, dim=None, keepdim=False):
        return _functional().argmin(self, dim, keepdim)

    def topk(self, k, dim=-1, largest=True, sorted=True):
        """A pair ``(values, indices)`` of the k largest elements along ``dim``, as torch."""
        return _functional().topk(self, k, dim, largest, sorted)

    def reshape(self, *shape):
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = shape[0]
        return _functional().reshape(self, tuple(shape))

    def view(self, *shape):
        """The same values in another shape, as torch.Tensor.view, computed by reshape.

        It shares this tensor's memory when NumPy (or CuPy) can reshape without copying,
        as for a contiguous tensor, and is a copy otherwise, where PyTorch's view would
        raise; so changing one in place changes the other only in the first case. Slices
        (``x[:, :2]``) share memory as NumPy's basic slices do. Gradients flow as through
        reshape.
        """
        if len(shape) == 1 and not isinstance(shape[0], (int, tuple, list)):
            raise TypeError(f"view: expected a shape; got {shape[0]!r} (view(dtype), which "
                            "reinterprets memory, is not supported; use .to(dtype) to convert)")
        return self.reshape(*shape)

    def expand_as(self, other):
        """This tensor broadcast to ``other``'s shape (sizes of 1 stretched), as torch."""
        return _functional().broadcast_to(self, other.shape)

    def flatten(self, start_dim=0, end_dim=-1):
        return _functional().flatten(self, start_dim, end_dim)

    def transpose(self, dim0, dim1):
        return _functional().transpose(self, dim0, dim1)

    def permute(self, *dims):
        if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
            dims = dims[0]
        return _functional().permute(self, tuple(dims))

    def t(self):
        """The transpose of a tensor with at most 2 dimensions (itself for 0-d and 1-d)."""
        if self.ndim > 2:
            raise ValueError(f"t() expects a tensor with at most 2 dimensions; this one has shape "
                             f"{self.shape} (use transpose(dim0, dim1) or permute())")
        return self if self.ndim < 2 else _functional().transpose(self, 0, 1)

    @property
    def T(self):
        """The transpose of a tensor with at most 2 dimensions."""
        if self.ndim > 2:
            raise ValueError(f".T is defined for at most 2 dimensions; use permute() for shape {self.shape}")
        return self if self.ndim < 2 else _functional().transpose(self, 0, 1)

    # -- in place: only outside the graph (see minires.functional.inplace) ---------------

    def add_(self, other, *, alpha=1):
        return _functional().inplace.add_(self, other, alpha=alpha)

    def sub_(self, other, *, alpha=1):
        return _functional().inplace.sub_(self, other, alpha=alpha)

    def mul_(self, other):
        return _functional().inplace.mul_(self, other)

    def div_(self, other):
        return _functional().inplace.div_(self, other)

    def clamp_(self, min=None, max=None):
        return _functional().inplace.clamp_(self, min, max)

    def fill_(self, value):
        return _functional().inplace.fill_(self, value)

    def zero_(self):
        return _functional().inplace.zero_(self)

    def copy_(self, source):
        return _functional().inplace.copy_(self, source)

    # x += y: in place or a new tensor, as minires.functional.inplace.makes_new_tensor says.

    def __iadd__(self, other):
        return self + other if _functional().inplace.makes_new_tensor(self, other) else self.add_(other)

    def __isub__(self, other):
        return self - other if _functional().inplace.makes_new_tensor(self, other) else self.sub_(other)

    def __imul__(self, other):
        return self * other if _functional().inplace.makes_new_tensor(self, other) else self.mul_(other)

    def __itruediv__(self, other):
        return self / other if _functional().inplace.makes_new_tensor(self, other) else self.div_(other)


def _compared_array(tensor, other):
    """The array (or number) that ``tensor`` is compared with, on the same device."""
    other = other.array if isinstance(other, Tensor) else backend.scalar_value(other)
    if backend.is_array(other) and backend.device_of(other) != tensor.device:
        raise backend.DeviceMismatchError(
            f"comparison: tensor on {tensor.device} compared with an array on "
            f"{backend.device_of(other)}; move one with .to(device)")
    return other


def tensor(data, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Builds a Tensor from a list, a number, an array or a Tensor (always a copy).

    Args:
        data: nested lists or numbers, a NumPy/CuPy array, or a Tensor.
        dtype: minires.float32 (the default for Python floats), minires.float64,
            minires.int64 ...; None keeps an array's dtype, as torch.tensor does.
        device: "cpu", "cuda", ...; None means the default device (see
            minires.set_device) for host data, and the data's own device for device
            arrays and Tensors.
        requires_grad: record operations on this tensor for backward.
    """
    if isinstance(data, Tensor):
        data = data.array
    if backend.is_array(data) and backend.device_of(data) != "cpu":
        array = data.copy() if dtype is None else data.astype(backend.as_dtype(dtype))
        if device is not None:
            array = backend.to_device(array, device)
    else:
        array = backend.host_array(data, dtype)
        array = backend.to_device(array, device if device is not None else backend.get_device())
    return Tensor(array, requires_grad=requires_grad)
