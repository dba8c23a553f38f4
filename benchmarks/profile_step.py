"""Where minires's time goes in one training step, op by op.

    python benchmarks/profile_step.py                      # ResNet-20, batch 128, CPU
    python benchmarks/profile_step.py --depth 56 --batch-size 32 --steps 3
    python benchmarks/profile_step.py --device cuda
    python benchmarks/profile_step.py --reference-kernels   # the reference ops of F, not minires.fast

Runs a few training steps (forward, cross-entropy, backward, SGD with momentum and
weight decay) under Python's cProfile, then adds up, for each op (each Function
subclass of minires), the time inside its ``forward`` and inside its ``backward``
(cumulative time: helpers they call, such as im2col, count for the op). The optimiser
step and the rest of the step (the backward walk's own bookkeeping, module calls) are
shown beside them. cProfile adds a cost per Python call, so the shares matter more than
the absolute milliseconds; the total without the profiler is printed for comparison.

The steps run as ``minires train`` runs them: inside minires.fast.one_blas_thread(), in
a process that keeps freed memory for reuse (minires.fast.keep_freed_memory).
On CUDA the profile shows launch and Python time only (kernels run asynchronously);
it synchronises once per step, so the step total is right.
"""

import argparse
import cProfile
import pstats
import sys
import time

import numpy as np

import minires as mr
from minires import backend, models, optim
from minires import functional as F
from minires.autograd import Function


def all_function_classes():
    """Every Function subclass that minires defines (after its ops are imported)."""
    found, pending = [], [Function]
    while pending:
        cls = pending.pop()
        for subclass in cls.__subclasses__():
            found.append(subclass)
            pending.append(subclass)
    return found


def code_key(method):
    code = method.__code__
    return (code.co_filename, code.co_firstlineno, code.co_name)


def op_of_each_method():
    """{cProfile key of a forward/backward method: (op name, "forward" or "backward")}."""
    owners = {}
    for cls in all_function_classes():
        for pass_name in ("forward", "backward"):
            method = cls.__dict__.get(pass_name)       # only methods the class writes itself
            if method is not None:
                owners[code_key(method)] = (cls.__name__, pass_name)
    return owners


def make_step(depth, batch_size, device, fast=True):
    mr.manual_seed(0)
    model = models.cifar_net("residual", depth, fast=fast).to(device)
    optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    rng = np.random.default_rng(0)
    images = mr.tensor(rng.standard_normal((batch_size, 3, 32, 32)).astype(np.float32), device=device)
    labels = mr.tensor(rng.integers(0, 10, batch_size), device=device)

    def step():
        loss = F.cross_entropy(model(images), labels)
        model.zero_grad()
        loss.backward()
        optimizer.step()
        backend.synchronize(device)

    return step, optimizer


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--depth", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--steps", type=int, default=3, help="profiled steps (after one warm-up step)")
    parser.add_argument("--reference-kernels", dest="fast", action="store_false",
                        help="the reference ops of minires.functional instead of minires.fast's kernels")
    args = parser.parse_args(argv)
    mr.fast.keep_freed_memory()
    with mr.fast.one_blas_thread():
        return profile(args)


def profile(args):
    """Times and profiles the steps; prints the table."""
    step, optimizer = make_step(args.depth, args.batch_size, args.device, args.fast)
    step()                                                   # warm-up: first-touch allocations
    start = time.perf_counter()
    for _ in range(args.steps):
        step()
    unprofiled_ms = (time.perf_counter() - start) / args.steps * 1e3

    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(args.steps):
        step()
    profiler.disable()
    stats = pstats.Stats(profiler).stats     # {(file, line, name): (calls, prim calls, tottime, cumtime, callers)}

    owners = op_of_each_method()
    per_op = {}
    for key, (_, calls, _, cumulative, _) in stats.items():
        if key in owners:
            op, pass_name = owners[key]
            entry = per_op.setdefault(op, {"forward": 0.0, "backward": 0.0, "calls": 0})
            entry[pass_name] += cumulative / args.steps
            if pass_name == "forward":
                entry["calls"] += calls // args.steps
    optimizer_key = code_key(type(optimizer).step)
    optimizer_seconds = stats[optimizer_key][3] / args.steps if optimizer_key in stats else 0.0
    profiled_total = sum(row[2] for row in stats.values()) / args.steps     # all time, counted once
    ops_total = sum(entry["forward"] + entry["backward"] for entry in per_op.values())

    kernels = "minires.fast's kernels" if args.fast else "the reference ops"
    print(f"ResNet-{args.depth}, batch {args.batch_size}, device {args.device}, {kernels}: one step takes "
          f"{unprofiled_ms:.0f} ms without the profiler, {profiled_total * 1e3:.0f} ms under it "
          f"(mean of {args.steps} steps)")
    print(f"{'op':24s} {'calls':>5s} {'forward ms':>10s} {'backward ms':>11s} {'share':>6s}")
    for op, entry in sorted(per_op.items(), key=lambda item: -(item[1]["forward"] + item[1]["backward"])):
        seconds = entry["forward"] + entry["backward"]
        print(f"{op:24s} {entry['calls']:5d} {entry['forward'] * 1e3:10.1f} {entry['backward'] * 1e3:11.1f} "
              f"{seconds / profiled_total:6.1%}")
    print(f"{'optimizer step':24s} {'':5s} {optimizer_seconds * 1e3:10.1f} {'':11s} "
          f"{optimizer_seconds / profiled_total:6.1%}")
    rest = profiled_total - ops_total - optimizer_seconds
    print(f"{'everything else':24s} {'':5s} {rest * 1e3:10.1f} {'':11s} {rest / profiled_total:6.1%}"
          "   (graph walk, module calls, Tensor wrapping)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
