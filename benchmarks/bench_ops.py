"""Each op of a ResNet, forward and backward, minires against PyTorch in the same run.

    python benchmarks/bench_ops.py                  # batch 128, float32, on the CPU
    python benchmarks/bench_ops.py --batch-size 32 --repeats 11
    python benchmarks/bench_ops.py --device cuda    # minires on CuPy, PyTorch on CUDA

The shapes are those of a CIFAR ResNet-20: conv2d 3x3 at the three stages (16 channels
at 32x32, 32 at 16x16, 64 at 8x8) and the stride-2 convolution that enters stage 2,
batch norm in training mode, ReLU, max and average pooling, global average pooling,
and cross-entropy. "forward" is the op alone; "backward" is the backward pass of
(op(inputs) * upstream).sum(), timed without the forward, with the same random upstream
gradient in both frameworks. Times are medians of alternating runs, after warm-up.

conv2d, batch_norm and relu are timed twice: with minires's fast kernels
(minires.fast, what its nets use by default) and, in the rows marked "(reference)",
with the reference ops of minires.functional they are tested equal to. Each framework
gets its activations in the memory layout its own nets use: PyTorch contiguous NCHW (its
default), minires channels-last, the layout its fast conv2d returns (see
minires/fast/layout.py). minires runs inside minires.fast.one_blas_thread(), as its
training loop does, in a process that keeps freed memory for reuse
(minires.fast.keep_freed_memory), as ``minires train`` does.

Needs PyTorch (``pip install torch==2.13.0``); minires itself never imports it.
"""

import argparse
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn.functional as torch_F

import minires as mr
from minires import backend
from minires import fast
from minires import functional as F


def conv_case(batch, in_channels, out_channels, size, stride, convolution=fast.conv2d):
    kind = "conv2d (reference)" if convolution is F.conv2d else "conv2d"
    name = f"{kind} {in_channels}->{out_channels} {size}x{size} s{stride}"
    shapes = [(batch, in_channels, size, size), (out_channels, in_channels, 3, 3)]
    return (name, shapes,
            lambda x, w: convolution(x, w, stride=stride, padding=1),
            lambda x, w: torch_F.conv2d(x, w, stride=stride, padding=1))


def channels_last(array):
    """A 4-D (N, C, H, W) array as a channels-last view with the same values; others as they are."""
    if array.ndim != 4:
        return array
    return np.ascontiguousarray(array.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)


def cases(batch):
    """(name, input shapes, minires op, PyTorch op) for each op of a ResNet-20."""
    feature = (batch, 16, 32, 32)
    channels = feature[1]
    return [
        conv_case(batch, 16, 16, 32, 1),
        conv_case(batch, 32, 32, 16, 1),
        conv_case(batch, 64, 64, 8, 1),
        conv_case(batch, 16, 32, 32, 2),
        conv_case(batch, 16, 16, 32, 1, F.conv2d),
        conv_case(batch, 32, 32, 16, 1, F.conv2d),
        conv_case(batch, 64, 64, 8, 1, F.conv2d),
        ("batch_norm (training) 16x32x32", [feature, (channels,), (channels,)],
         lambda x, g, b: fast.batch_norm(x, None, None, g, b, training=True),
         lambda x, g, b: torch_F.batch_norm(x, None, None, g, b, training=True)),
        ("batch_norm (reference) 16x32x32", [feature, (channels,), (channels,)],
         lambda x, g, b: F.batch_norm(x, None, None, g, b, training=True),
         lambda x, g, b: torch_F.batch_norm(x, None, None, g, b, training=True)),
        ("relu 16x32x32", [feature], fast.relu, torch_F.relu),
        ("relu (reference) 16x32x32", [feature], F.relu, torch_F.relu),
        ("max_pool2d 2x2 16x32x32", [feature],
         lambda x: F.max_pool2d(x, 2), lambda x: torch_F.max_pool2d(x, 2)),
        ("avg_pool2d 2x2 16x32x32", [feature],
         lambda x: F.avg_pool2d(x, 2), lambda x: torch_F.avg_pool2d(x, 2)),
        ("global_avg_pool2d 64x8x8", [(batch, 64, 8, 8)],
         F.global_avg_pool2d, lambda x: x.mean(dim=(2, 3))),
    ]


class Runner:
    """Runs one op of one framework on fixed inputs: forward, or backward alone."""

    def __init__(self, framework, op, arrays, upstream, device):
        self.framework, self.op, self.device = framework, op, device
        if framework == "minires":     # the activation and its gradient channels-last, the weights as given
            arrays = [channels_last(arrays[0])] + list(arrays[1:])
            self.inputs = [mr.tensor(a, device=device, requires_grad=True) for a in arrays]
            self.upstream = mr.tensor(channels_last(np.asarray(upstream)), device=device)
        else:
            self.inputs = [torch.tensor(a, device=device, requires_grad=True) for a in arrays]
            self.upstream = torch.tensor(upstream, device=device)

    def synchronize(self):
        if self.framework == "minires":
            backend.synchronize(self.device)
        elif self.device == "cuda":
            torch.cuda.synchronize()

    def forward(self):
        output = self.op(*self.inputs)
        self.synchronize()
        return output

    def backward_seconds(self):
        """Seconds of the backward pass alone (the forward is run, then the clock starts)."""
        for tensor in self.inputs:
            tensor.grad = None
        loss = (self.op(*self.inputs) * self.upstream).sum()
        self.synchronize()
        start = time.perf_counter()
        loss.backward()
        self.synchronize()
        return time.perf_counter() - start


def forward_seconds(runner):
    start = time.perf_counter()
    runner.forward()
    return time.perf_counter() - start


def cross_entropy_runners(batch, device, rng):
    logits = rng.standard_normal((batch, 10)).astype(np.float32)
    labels = rng.integers(0, 10, batch)
    ours = Runner("minires", lambda x: F.cross_entropy(x, mr.tensor(labels, device=device)), [logits],
                  np.float32(1.0), device)
    theirs = Runner("torch", lambda x: torch_F.cross_entropy(x, torch.tensor(labels, device=device)), [logits],
                    np.float32(1.0), device)
    return ours, theirs


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=11)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    print(f"device {args.device}; batch {args.batch_size}, float32; minires {mr.__version__}, numpy "
          f"{np.__version__}, torch {torch.__version__} ({torch.get_num_threads()} threads); "
          f"warm-up {args.warmup}, median of {args.repeats}")
    print(f"{'op':34s} {'pass':8s} {'minires ms':>10s} {'torch ms':>9s} {'ratio':>6s}")
    pairs = []
    for name, shapes, our_op, their_op in cases(args.batch_size):
        arrays = [rng.standard_normal(shape).astype(np.float32) for shape in shapes]
        with torch.no_grad():
            output_shape = tuple(their_op(*[torch.tensor(a) for a in arrays]).shape)
        upstream = rng.standard_normal(output_shape).astype(np.float32)
        pairs.append((name, Runner("minires", our_op, arrays, upstream, args.device),
                      Runner("torch", their_op, arrays, upstream, args.device)))
    pairs.append(("cross_entropy 10 classes", *cross_entropy_runners(args.batch_size, args.device, rng)))
    fast.keep_freed_memory()
    with fast.one_blas_thread():
        time_pairs(pairs, args.warmup, args.repeats)
    return 0


def time_pairs(pairs, warmup, repeats):
    """Times each (name, minires runner, PyTorch runner), alternating, and prints a row per pass."""
    for name, ours, theirs in pairs:
        for label, measure in (("forward", forward_seconds), ("backward", Runner.backward_seconds)):
            for _ in range(warmup):
                measure(ours), measure(theirs)
            our_times, their_times = [], []
            for _ in range(repeats):
                our_times.append(measure(ours))
                their_times.append(measure(theirs))
            our_ms, their_ms = statistics.median(our_times) * 1e3, statistics.median(their_times) * 1e3
            print(f"{name:34s} {label:8s} {our_ms:10.2f} {their_ms:9.2f} {our_ms / their_ms:5.2f}x", flush=True)


if __name__ == "__main__":
    sys.exit(main())
