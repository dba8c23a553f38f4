"""The backward walk: the chain rule applied to a whole graph, from the loss to the leaves.

A computation builds a graph as it runs: each Tensor computed by an op keeps the
:class:`~minires.autograd.Function` that made it (``grad_fn``), and the Function keeps
its inputs. ``Tensor.backward`` calls :func:`run_backward`, which visits the graph in
reverse topological order, so that a node's gradient is complete (summed over every
use of the node) before it is passed further down, calls each Function's
``backward``, and leaves the gradients of the leaves in their ``.grad``.

This module works on any object with the attributes of a Tensor (``grad_fn``,
``requires_grad``, ``shape``, ``dtype``, ``device``, ``accumulate_grad``, which adds
into ``.grad``, and ``_hooks`` with ``gradient_after_hooks``); it imports neither the Tensor class nor Function, which both sit
above it.
"""

from minires import backend


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
        if tensor._hooks:                        # Tensor.register_hook: may replace the gradient
            grad = tensor.gradient_after_hooks(grad)
        if tensor.grad_fn is None or tensor._retains_grad:
            tensor.accumulate_grad(grad)
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
