"""What Module.__call__ does when hooks are registered: PyTorch's order, minires's graph.

Calling a module with hooks runs, in order:

1. the forward pre-hooks, ``hook(module, args)``; one that returns something replaces
   the positional arguments (a non-tuple becomes a one-element tuple);
2. if full backward hooks are registered and gradients are recorded: each input tensor
   that requires grad goes through an identity op (:class:`BackwardHookInput`), whose
   backward is where the gradient w.r.t. that input is complete;
3. ``forward``;
4. the forward hooks, ``hook(module, args, output)``; one that returns something
   replaces the output;
5. the output goes through an identity op too (:class:`BackwardHookOutput`), whose
   backward sees the gradient w.r.t. the output, complete, before the module's ops.

During backward the output's identity op records grad_output; the input's identity op
then calls each full backward hook with ``(module, grad_input, grad_output)``, Tensors
in tuples, and a hook's returned tuple replaces grad_input. This is how PyTorch places
its BackwardHook too. The identity ops pass the same array along (no copy, nothing read
from the device): a hooked module computes the same numbers.

minires has Functions with one output, so one identity op cannot gather the gradients
of several inputs at once, as PyTorch's does: a module with a full backward hook may
have one input tensor that requires grad (every layer and block of minires has); more
is an error that says so.
"""

from minires.autograd import Function, is_grad_enabled
from minires.tensor import Tensor


class BackwardHookState:
    """What the two identity ops of one call of a hooked module share."""

    def __init__(self, module, argument_count, input_index):
        self.module = module
        self.argument_count = argument_count    # positional arguments of the call
        self.input_index = input_index          # the one that requires grad, or None
        self.grad_output = None                 # the array, once backward reached the output

    def call_hooks(self, grad_input):
        """Runs every full backward hook; returns grad_input as the last hook left it."""
        grad_output = (Tensor(self.grad_output),)
        for hook in list(self.module._backward_hooks.values()):
            returned = hook(self.module, grad_input, grad_output)
            if returned is None:
                continue
            returned = tuple(returned) if isinstance(returned, (tuple, list)) else (returned,)
            if len(returned) != len(grad_input):
                raise RuntimeError(
                    f"a full backward hook of {type(self.module).__name__} returned {len(returned)} "
                    f"gradients; it must return None or one per positional input ({len(grad_input)})")
            grad_input = returned
        return grad_input


class BackwardHookOutput(Function):
    """The identity on a hooked module's output; its backward keeps grad_output."""

    def __init__(self, state):
        self.state = state

    def forward(self, xp, output):
        return output

    def backward(self, grad_output):
        self.state.grad_output = grad_output
        if self.state.input_index is None:      # no input needs a gradient: the hooks run now
            self.state.call_hooks((None,) * self.state.argument_count)
        return (grad_output,)


class BackwardHookInput(Function):
    """The identity on a hooked module's input; its backward runs the full backward hooks."""

    def __init__(self, state):
        self.state = state

    def forward(self, xp, x):
        return x

    def backward(self, grad_input):
        state = self.state
        grads = [None] * state.argument_count
        grads[state.input_index] = Tensor(grad_input)
        replaced = state.call_hooks(tuple(grads))[state.input_index]
        if replaced is None:
            return (grad_input,)
        if not isinstance(replaced, Tensor) or replaced.shape != tuple(grad_input.shape):
            found = f"shape {replaced.shape}" if isinstance(replaced, Tensor) else type(replaced).__name__
            raise RuntimeError(f"a full backward hook of {type(state.module).__name__} returned {found} for "
                               f"input {state.input_index}; expected None or a Tensor of shape "
                               f"{tuple(grad_input.shape)}")
        return (replaced.array,)


def call_with_hooks(module, args, options):
    """module(*args, **options) with its hooks, in the order of the module docstring."""
    for hook in list(module._forward_pre_hooks.values()):
        returned = hook(module, args)
        if returned is not None:
            args = returned if isinstance(returned, tuple) else (returned,)

    state = None
    if module._backward_hooks and is_grad_enabled():
        needing_grad = [index for index, arg in enumerate(args) if isinstance(arg, Tensor) and arg.requires_grad]
        if len(needing_grad) > 1:
            raise NotImplementedError(
                f"register_full_backward_hook: {type(module).__name__} was called with {len(needing_grad)} "
                f"input tensors that require grad (positions {needing_grad}); minires's full backward hooks "
                f"support one (see minires.nn.module_hooks); hook the tensors instead, with "
                f"Tensor.register_hook")
        state = BackwardHookState(module, len(args), needing_grad[0] if needing_grad else None)
        if state.input_index is not None:
            args = list(args)
            args[state.input_index] = BackwardHookInput.apply(args[state.input_index], state=state)
            args = tuple(args)

    output = module.forward(*args, **options)
    for hook in list(module._forward_hooks.values()):
        returned = hook(module, args, output)
        if returned is not None:
            output = returned

    if state is not None:
        if not isinstance(output, Tensor):
            raise NotImplementedError(
                f"register_full_backward_hook: {type(module).__name__} returned {type(output).__name__}; "
                f"minires's full backward hooks support modules that return one Tensor")
        if output.requires_grad:
            output = BackwardHookOutput.apply(output, state=state)
    return output
