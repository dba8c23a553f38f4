"""The fast kernels: three ops of minires.functional computed another way, for speed.

``minires.functional`` (``F``) holds each op as the lessons derive it. This package
holds faster ways to compute three of them, each the same op with the same
signature, tested equal to its reference (forward and every gradient, float64, to
1e-10, many shapes, on every device) and gradchecked on its own:

    kernel                 computes the same as    faster because
    conv_taps.conv2d       F.conv2d                channels-last, one matrix product per kernel
                                                   tap, no im2col matrix; the batch split
                                                   across the CPU's threads
    norm_rows.batch_norm   F.batch_norm            per-channel sums as matrix-vector products
                                                   on channel rows; one pass fewer
    relu_split.relu        F.relu                  the batch split across the CPU's threads;
                                                   its output kept instead of a mask

and what they share:

- layout.py: channels-last storage of (N, C, H, W) arrays, which the kernels keep from
  one layer to the next;
- threads.py: a batch split into parts, one per CPU thread; ``set_num_threads``;
- threads.one_blas_thread: BLAS at one thread per call while a fast kernel runs (its
  threads split the batch); minires's training loop holds it for each epoch; BLAS gets
  its threads back after;
- host_memory.py: freed memory kept for reuse, for the rest of a process; only the
  processes minires owns (``minires train``, the benchmarks) turn it on, since it
  cannot be undone.

Who uses them: the layers of ``minires.nn`` (``Conv2d``, ``BatchNorm2d``, ``ReLU``
and the blocks) compute with these kernels unless built with ``fast=False``, or
after ``model.use_fast_kernels(False)``; see minires/nn/kernels.py, the one place
where that choice is made. ``minires train`` records the choice in config.json.
How much faster, measured against PyTorch in the same run: benchmarks/RESULTS.md.
"""

from minires.fast.conv_taps import conv2d
from minires.fast.norm_rows import batch_norm
from minires.fast.relu_split import relu
from minires.fast.host_memory import keep_freed_memory
from minires.fast.threads import get_num_threads, one_blas_thread, set_num_threads

__all__ = ["conv2d", "batch_norm", "relu", "get_num_threads", "set_num_threads",
           "one_blas_thread", "keep_freed_memory"]
