"""Counts the files and functions of minires that one small training step runs through.

    python tools/count_reference_path.py                # the reference path: use_fast_kernels(False)
    python tools/count_reference_path.py --fast         # the fast kernels of minires.fast
    python tools/count_reference_path.py --list         # and name each file and function
    python tools/count_reference_path.py --ops          # F.conv2d, F.batch_norm, F.relu called directly
    PYTHONPATH=/tmp/minires_head python tools/count_reference_path.py   # another copy of minires

The step: Conv2d(8, 8, 3, padding=1, bias=False), BatchNorm2d(8), ReLU, the residual
sum ``y + x``, the mean over H and W, cross-entropy, zero_grad, backward and an SGD
step (lr 0.1, momentum 0.9), on a float32 batch (4, 8, 6, 6) with labels [0, 1, 2, 3].
It runs twice and the second step is counted, so that one-time imports and caches
do not count. With ``--ops`` the step calls the ops of minires.functional itself, on
Parameters, without the layers: the path a learner follows from F.conv2d.

What is counted: the 'call' events of ``sys.setprofile`` (in every thread, since the
fast kernels hand parts of a batch to a pool of threads) whose code lies in a file of
the minires package that is imported; the distinct files, the distinct named
functions (by file and ``co_qualname``, leaving out comprehensions, lambdas and other
names with "<"), every distinct code object, and the calls.

A minires without ``use_fast_kernels`` (before the fast kernels had their own
package) runs its only path; the script says so.
"""

import argparse
import pathlib
import sys
import threading

import numpy as np

import minires as mr
import minires.functional as F
from minires import nn, optim

PACKAGE = pathlib.Path(mr.__file__).resolve().parent


class Step(nn.Module):
    """conv -> batch norm -> relu, plus the input, then the mean over H and W: (N, C) scores."""

    def __init__(self, channels=8):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.norm = nn.BatchNorm2d(channels)
        self.relu = nn.ReLU()

    def forward(self, x):
        y = self.relu(self.norm(self.conv(x)))     # (N, C, H, W)
        return (y + x).mean(dim=(2, 3))            # (N, C, H, W) -> (N, C)


class CallCounter:
    """Records the code objects of minires that are called while ``recording`` is True."""

    def __init__(self):
        self.recording = False
        self.calls = 0
        self.code_objects = set()
        self.in_package = {}          # code object -> its file relative to PACKAGE, or None

    def profile(self, frame, event, arg):
        if event != "call" or not self.recording:
            return
        code = frame.f_code
        relative = self.in_package.get(code, False)
        if relative is False:
            path = pathlib.Path(code.co_filename).resolve()
            relative = path.relative_to(PACKAGE).as_posix() if path.is_relative_to(PACKAGE) else None
            self.in_package[code] = relative
        if relative is not None:
            self.calls += 1
            self.code_objects.add(code)

    def files(self):
        return sorted({self.in_package[code] for code in self.code_objects})

    def functions(self):
        """(file, qualified name) of each named function called, as 'nn/layers.py: Conv2d.forward'."""
        named = set()
        for code in self.code_objects:
            name = getattr(code, "co_qualname", code.co_name)     # co_qualname from Python 3.11
            if "<" not in name:
                named.add((self.in_package[code], name))
        return sorted(named)


class OpsStep(nn.Module):
    """The same step written with F.* calls on Parameters: what F.conv2d and friends touch."""

    def __init__(self, channels=8):
        super().__init__()
        rng = np.random.default_rng(1)
        self.weight = nn.Parameter(mr.tensor(rng.standard_normal((channels, channels, 3, 3)) * 0.1,
                                             dtype=mr.float32))
        self.gamma = nn.Parameter(mr.tensor(np.ones(channels), dtype=mr.float32))
        self.beta = nn.Parameter(mr.tensor(np.zeros(channels), dtype=mr.float32))

    def forward(self, x):
        y = F.conv2d(x, self.weight, padding=1)
        y = F.relu(F.batch_norm(y, None, None, self.gamma, self.beta, training=True))
        return (y + x).mean(dim=(2, 3))            # (N, C, H, W) -> (N, C)


def training_step(model, optimizer, x, labels):
    optimizer.zero_grad()
    loss = F.cross_entropy(model(x), labels)
    loss.backward()
    optimizer.step()
    return loss


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast", action="store_true", help="count the fast kernels' path instead of the reference")
    parser.add_argument("--list", action="store_true", help="list the files and functions too")
    parser.add_argument("--ops", action="store_true", help="call F.conv2d, F.batch_norm and F.relu directly")
    args = parser.parse_args(argv)

    mr.manual_seed(0)
    model = OpsStep() if args.ops else Step()
    if args.ops:
        path = "F.conv2d, F.batch_norm, F.relu called directly (whatever F.* is in this minires)"
    elif hasattr(model, "use_fast_kernels"):
        model.use_fast_kernels(args.fast)
        path = "fast kernels, use_fast_kernels(True)" if args.fast else "reference, use_fast_kernels(False)"
    else:
        path = "the only one (this minires has no use_fast_kernels; the call is skipped)"
    optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    batch = np.random.default_rng(0).standard_normal((4, 8, 6, 6)).astype(np.float32)
    x = mr.tensor(batch)
    labels = mr.tensor(np.array([0, 1, 2, 3]))

    counter = CallCounter()
    threading.setprofile(counter.profile)       # threads started from now on, such as a pool's
    sys.setprofile(counter.profile)
    try:
        training_step(model, optimizer, x, labels)      # the first step: imports, caches, the pool
        counter.recording = True
        loss = training_step(model, optimizer, x, labels)
        counter.recording = False
    finally:
        sys.setprofile(None)
        threading.setprofile(None)

    files, functions = counter.files(), counter.functions()
    print(f"minires {getattr(mr, '__version__', '?')} from {PACKAGE}")
    print(f"path: {path}")
    print(f"one training step (the second of two, loss {float(loss.data):.4f}) runs, inside minires/:")
    print(f"  files               {len(files):5d}")
    print(f"  named functions     {len(functions):5d}")
    print(f"  code objects (all)  {len(counter.code_objects):5d}")
    print(f"  calls               {counter.calls:5d}")
    if args.list:
        print("\nfiles, with the named functions called in each:")
        for file in files:
            names = [name for function_file, name in functions if function_file == file]
            print(f"  {file} ({len(names)})")
            for name in names:
                print(f"      {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
