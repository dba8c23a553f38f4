"""Sequential: modules applied one after the other, as torch.nn.Sequential."""

import operator

from minires.nn.module import Module


class Sequential(Module):
    """Calls its modules in order, each on the output of the one before.

    The modules are the attributes "0", "1", ..., so parameters are named
    "0.weight", "1.running_mean" and so on, as in PyTorch. Index it (``seq[0]``,
    ``seq[-1]``), take its len(), or iterate over it.
    """

    def __init__(self, *modules):
        super().__init__()
        for index, module in enumerate(modules):
            if not isinstance(module, Module):
                raise TypeError(f"Sequential: argument {index} is a {type(module).__name__}, not a Module")
            self.add_module(str(index), module)

    def __len__(self):
        return sum(1 for _ in self.named_children())

    def __iter__(self):
        return self.children()

    def __getitem__(self, index):
        modules = list(self.children())
        index = operator.index(index)         # ints, NumPy ints; TypeError for anything else
        if not -len(modules) <= index < len(modules):
            raise IndexError(f"Sequential: index {index!r} out of range for {len(modules)} modules")
        return modules[index]

    def append(self, module):
        """Adds ``module`` at the end; returns self."""
        if not isinstance(module, Module):
            raise TypeError(f"Sequential.append: expected a Module; got {type(module).__name__}")
        self.add_module(str(len(self)), module)
        return self

    def forward(self, x):
        for module in self.children():
            x = module(x)
        return x
