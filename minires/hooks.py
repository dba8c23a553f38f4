"""Hooks: code a user attaches to a tensor or a module, and the handle that detaches it.

A hook is a function that minires calls at a given moment of a computation, with what
exists at that moment: a tensor's gradient during backward (``Tensor.register_hook``),
a module's inputs and output during forward, its gradients during backward
(``Module.register_forward_pre_hook``, ``register_forward_hook``,
``register_full_backward_hook``). Each registration returns a :class:`RemovableHandle`;
``handle.remove()`` detaches the hook, as in PyTorch. :mod:`minires.analysis` is built
on them.

This module holds what those registrations share: the table of hooks and the handle.
"""

import itertools

_next_hook_id = itertools.count()


class RemovableHandle:
    """Detaches one hook from the table it was added to, as torch.utils.hooks.RemovableHandle.

    Also a context manager: ``with model.register_forward_hook(hook): ...`` removes the
    hook when the block ends, even on an error.
    """

    def __init__(self, hooks: dict):
        self.id = next(_next_hook_id)
        self._hooks = hooks

    def remove(self):
        """Detaches the hook; removing it twice does nothing."""
        self._hooks.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *error):
        self.remove()


def add_hook(hooks: dict, hook, owner: str) -> RemovableHandle:
    """Adds ``hook`` to the table ``hooks`` (hooks run in the order they were added)."""
    if not callable(hook):
        raise TypeError(f"{owner}: the hook must be callable; got {type(hook).__name__}")
    handle = RemovableHandle(hooks)
    hooks[handle.id] = hook
    return handle
