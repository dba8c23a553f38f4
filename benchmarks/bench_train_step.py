"""One training step of a CIFAR ResNet, minires against PyTorch, in the same run.

    python benchmarks/bench_train_step.py                       # ResNet-20 and 56, batch 128 and 32
    python benchmarks/bench_train_step.py --depths 20 --batch-sizes 128 --repeats 5
    python benchmarks/bench_train_step.py --device cuda         # minires on CuPy, PyTorch on CUDA
    python benchmarks/bench_train_step.py --depths 20 --batch-sizes 128 --with-reference

A training step is what ``minires.train.train_one_epoch`` does per batch: forward,
cross-entropy, backward, SGD (lr 0.1, momentum 0.9, weight decay 5e-4). Both nets are
the ResNet paper's CIFAR net with option-A shortcuts, float32; the script checks that
their parameter counts agree. minires computes with its fast kernels (minires.fast,
the default of its nets) inside ``minires.fast.one_blas_thread()``, as its training
loop does, and its process keeps freed memory for reuse
(``minires.fast.keep_freed_memory()``), as ``minires train`` does; ``--no-keep-freed-memory``
leaves the allocator as a library user's process has it. ``--with-reference`` adds rows
for the same net computing with the reference ops of minires.functional
(``cifar_net(..., fast=False)``), without the BLAS limit, as the training loop runs such
a net. Each framework is timed alternately, step after step, after
warm-up steps, so that both see the same machine state. The times printed are each
framework's median; the ratio is the median of the ratios of each pair of steps timed
one after the other, which follows a machine whose speed drifts (a shared, virtual
one) better than the ratio of the two medians. "Eval forward" is the forward pass
alone in evaluation mode under no_grad.

Peak memory is measured in a fresh process per framework: once the model, the
optimiser and the batch exist, a few training steps run, and the growth of the peak
over what was held before them is reported. On the CPU the peak is Linux's peak
resident set size, reset first (writing 5 to /proc/self/clear_refs). On CUDA it is
what each framework's caching allocator holds at its peak: CuPy's memory pool
(``total_bytes()``, which only grows while nothing frees the pool's blocks) against
PyTorch's ``max_memory_reserved()``. Both count what the allocator keeps, not only
live arrays. (The CUDA branch has not run on a GPU yet.)

Needs PyTorch (``pip install torch==2.13.0``); minires itself never imports it.
"""

import argparse
import contextlib
import statistics
import subprocess
import sys
import time

import numpy as np
import torch
import torch.nn as torch_nn
import torch.nn.functional as torch_F

import minires as mr
from minires import backend, models, optim
from minires import functional as F


# ----------------------------------------------------------------------------------
# The same net in PyTorch: the ResNet paper's CIFAR net, option-A shortcuts
# ----------------------------------------------------------------------------------

class TorchBasicBlock(torch_nn.Module):
    """conv3x3-BN-ReLU-conv3x3-BN, plus the shortcut, then ReLU (ResNet v1)."""

    def __init__(self, in_channels, out_channels, stride):
        super().__init__()
        self.conv1 = torch_nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.bn1 = torch_nn.BatchNorm2d(out_channels)
        self.conv2 = torch_nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.bn2 = torch_nn.BatchNorm2d(out_channels)
        self.stride, self.extra_channels = stride, out_channels - in_channels

    def forward(self, x):
        branch = self.bn2(self.conv2(torch_F.relu(self.bn1(self.conv1(x)))))
        shortcut = x[:, :, ::self.stride, ::self.stride]            # option A: subsample...
        if self.extra_channels:                                       # ...and pad channels with zeros
            half = self.extra_channels // 2
            shortcut = torch_F.pad(shortcut, (0, 0, 0, 0, half, self.extra_channels - half))
        return torch_F.relu(branch + shortcut)


class TorchCifarResNet(torch_nn.Module):
    def __init__(self, depth, width=16, num_classes=10):
        super().__init__()
        blocks = models.blocks_per_stage(depth)
        self.stem = torch_nn.Sequential(torch_nn.Conv2d(3, width, 3, 1, 1, bias=False),
                                        torch_nn.BatchNorm2d(width), torch_nn.ReLU())
        layers, in_channels = [], width
        for channels, stride in [(width, 1), (2 * width, 2), (4 * width, 2)]:
            for index in range(blocks):
                layers.append(TorchBasicBlock(in_channels, channels, stride if index == 0 else 1))
                in_channels = channels
        self.blocks = torch_nn.Sequential(*layers)
        self.fc = torch_nn.Linear(in_channels, num_classes)

    def forward(self, x):
        x = self.blocks(self.stem(x))                   # (N, 4 * width, 8, 8)
        return self.fc(x.mean(dim=(2, 3)))              # (N, num_classes)


# ----------------------------------------------------------------------------------
# One step of each framework
# ----------------------------------------------------------------------------------

class MiniresStep:
    def __init__(self, depth, batch_size, device, seed=0, fast=True):
        mr.manual_seed(seed)
        self.device = device
        self.model = models.cifar_net("residual", depth, fast=fast).to(device)
        self.optimizer = optim.SGD(self.model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
        rng = np.random.default_rng(seed)
        self.images = mr.tensor(rng.standard_normal((batch_size, 3, 32, 32)).astype(np.float32), device=device)
        self.labels = mr.tensor(rng.integers(0, 10, batch_size), device=device)

    def num_parameters(self):
        return self.model.num_parameters()

    def synchronize(self):
        backend.synchronize(self.device)

    def train_step(self):
        self.model.train()
        loss = F.cross_entropy(self.model(self.images), self.labels)
        self.model.zero_grad()
        loss.backward()
        self.optimizer.step()
        self.synchronize()

    def eval_forward(self):
        self.model.eval()
        with mr.no_grad():
            self.model(self.images)
        self.synchronize()


class TorchStep:
    def __init__(self, depth, batch_size, device, seed=0):
        torch.manual_seed(seed)
        self.device = device
        self.model = TorchCifarResNet(depth).to(device)
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
        rng = np.random.default_rng(seed)
        self.images = torch.tensor(rng.standard_normal((batch_size, 3, 32, 32)).astype(np.float32), device=device)
        self.labels = torch.tensor(rng.integers(0, 10, batch_size), device=device)

    def num_parameters(self):
        return sum(p.numel() for p in self.model.parameters())

    def synchronize(self):
        if self.device == "cuda":
            torch.cuda.synchronize()

    def train_step(self):
        self.model.train()
        loss = torch_F.cross_entropy(self.model(self.images), self.labels)
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        self.synchronize()

    def eval_forward(self):
        self.model.eval()
        with torch.no_grad():
            self.model(self.images)
        self.synchronize()


class MiniresReferenceStep(MiniresStep):
    """The same net computing with the reference ops of minires.functional."""

    def __init__(self, depth, batch_size, device, seed=0):
        super().__init__(depth, batch_size, device, seed, fast=False)


FRAMEWORKS = {"minires": MiniresStep, "minires-reference": MiniresReferenceStep, "torch": TorchStep}


def tuned_for(framework):
    """How minires's training loop runs a net: one_blas_thread() for the fast kernels."""
    return mr.fast.one_blas_thread() if framework == "minires" else contextlib.nullcontext()


def seconds_of(function):
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def alternating_medians(ours, theirs, what, warmup, repeats):
    """ours.<what>() and theirs.<what>(), timed one after the other ``repeats`` times:
    (median seconds of ours, median seconds of theirs, median of the pairs' ratios)."""
    for _ in range(warmup):
        getattr(ours, what)()
        getattr(theirs, what)()
    our_times, their_times = [], []
    for _ in range(repeats):
        our_times.append(seconds_of(getattr(ours, what)))
        their_times.append(seconds_of(getattr(theirs, what)))
    ratios = [our / their for our, their in zip(our_times, their_times)]
    return statistics.median(our_times), statistics.median(their_times), statistics.median(ratios)


def peak_memory_in_a_fresh_process(framework, depth, batch_size, device, keep_freed_memory, steps=3):
    """MiB that the peak resident size grows by over ``steps`` training steps, in a new interpreter."""
    command = [sys.executable, __file__, "--memory-of", framework, "--depths", str(depth),
               "--batch-sizes", str(batch_size), "--device", device, "--repeats", str(steps)]
    if not keep_freed_memory:
        command.append("--no-keep-freed-memory")
    result = subprocess.run(command, check=True, capture_output=True, text=True)
    return float(result.stdout.strip().splitlines()[-1])


def memory_status_mib(field):
    """VmRSS (resident now) or VmHWM (peak resident) of this process, in MiB (Linux)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024                  # the kernel reports kB
    raise RuntimeError(f"/proc/self/status has no {field}: peak memory needs Linux")


def cuda_memory_held_mib(framework, peak):
    """MiB held by a framework's CUDA caching allocator: now, or at its peak (PyTorch)."""
    if framework == "torch":
        held = torch.cuda.max_memory_reserved() if peak else torch.cuda.memory_reserved()
    else:
        import cupy                                  # minires's CUDA arrays come from CuPy's default pool
        held = cupy.get_default_memory_pool().total_bytes()          # only grows: its own peak
    return held / 2**20


def measure_memory(framework, depth, batch_size, device, steps):
    with tuned_for(framework):
        measure_memory_in_scope(framework, depth, batch_size, device, steps)


def measure_memory_in_scope(framework, depth, batch_size, device, steps):
    step = FRAMEWORKS[framework](depth, batch_size, device)
    if device == "cuda":
        step.synchronize()
        if framework == "torch":
            torch.cuda.reset_peak_memory_stats()
        before = cuda_memory_held_mib(framework, peak=False)
        for _ in range(steps):
            step.train_step()
        step.synchronize()
        print(f"{cuda_memory_held_mib(framework, peak=True) - before:.1f}")
        return
    with open("/proc/self/clear_refs", "w") as clear_refs:
        clear_refs.write("5")                                       # peak resident := resident now
    before = memory_status_mib("VmRSS")
    for _ in range(steps):
        step.train_step()
    print(f"{memory_status_mib('VmHWM') - before:.1f}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--depths", type=int, nargs="+", default=[20, 56])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[128, 32])
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=15, help="timed steps per framework (median)")
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory processes")
    parser.add_argument("--no-keep-freed-memory", dest="keep_freed_memory", action="store_false",
                        help="leave the C allocator as it is (minires train keeps freed memory)")
    parser.add_argument("--with-reference", action="store_true",
                        help="also time the net computing with the reference ops (fast=False)")
    parser.add_argument("--memory-of", choices=sorted(FRAMEWORKS), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.keep_freed_memory and args.device == "cpu":
        mr.fast.keep_freed_memory()               # as `minires train` does in its own process
    if args.memory_of:
        return measure_memory(args.memory_of, args.depths[0], args.batch_sizes[0], args.device, args.repeats)

    print(f"device {args.device}; minires {mr.__version__}, numpy {np.__version__}, torch {torch.__version__}, "
          f"torch threads {torch.get_num_threads()}; warm-up {args.warmup}, median of {args.repeats}; "
          f"freed memory {'kept' if args.keep_freed_memory else 'not kept'}")
    header = (f"{'net':10s} {'batch':>5s} {'what':18s} {'minires ms':>10s} {'torch ms':>9s} "
              f"{'minires img/s':>13s} {'torch img/s':>11s} {'ratio':>6s}")
    print(header)
    for depth in args.depths:
        for batch_size in args.batch_sizes:
            ours = MiniresStep(depth, batch_size, args.device)
            theirs = TorchStep(depth, batch_size, args.device)
            if ours.num_parameters() != theirs.num_parameters():
                raise SystemExit(f"ResNet-{depth}: minires has {ours.num_parameters():,} parameters, "
                                 f"the PyTorch twin {theirs.num_parameters():,}: not the same net")
            compared = [("", "minires", ours)]
            if args.with_reference:
                compared.append((" (ref)", "minires-reference", MiniresReferenceStep(depth, batch_size, args.device)))
            for suffix, framework, step in compared:
                for what, label in (("train_step", "train step"), ("eval_forward", "eval forward")):
                    with tuned_for(framework):
                        our_seconds, their_seconds, ratio = alternating_medians(step, theirs, what, args.warmup,
                                                                                args.repeats)
                    label += suffix
                    print(f"ResNet-{depth:<3d} {batch_size:5d} {label:18s} {our_seconds * 1e3:10.0f} "
                          f"{their_seconds * 1e3:9.0f} {batch_size / our_seconds:13.0f} "
                          f"{batch_size / their_seconds:11.0f} {ratio:5.2f}x", flush=True)
            if not args.no_memory:
                ours_mib = peak_memory_in_a_fresh_process("minires", depth, batch_size, args.device,
                                                          args.keep_freed_memory)
                theirs_mib = peak_memory_in_a_fresh_process("torch", depth, batch_size, args.device,
                                                            args.keep_freed_memory)
                print(f"ResNet-{depth:<3d} {batch_size:5d} {'peak memory':18s} {ours_mib:8.0f} MiB "
                      f"{theirs_mib:7.0f} MiB {'':25s} {ours_mib / max(theirs_mib, 1e-9):5.2f}x", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
