"""What ``minires train --track`` costs: training epochs with and without a Tracker.

    python benchmarks/bench_tracking.py                                  # ResNet-20, grad-norms every 20 steps
    python benchmarks/bench_tracking.py --depth 56 --kinds grad-norms,activations --every 20
    python benchmarks/bench_tracking.py --kinds noise-stability --every 100 --steps 200

Each repeat trains ``--steps`` steps of a CIFAR ResNet on the bundled sample (batch 128,
the fast kernels, one BLAS thread, freed memory kept, as ``minires train`` runs) once
without tracking and once with a Tracker of ``--kinds`` every ``--every`` steps,
alternately, from the same weights; the overhead printed is the median over repeats
of (tracked time / untracked time - 1). The figures in benchmarks/RESULTS.md came
from this script. minires only: PyTorch has no such tracker to compare with.
"""

import argparse
import copy
import itertools
import statistics
import time

import minires as mr
from minires import fast, optim, tracking
from minires import functional as F
from minires.data import transforms


def train_steps(model, batches, tracker):
    """One SGD step per batch; the tracker (or None) after each, as the training loop does."""
    optimizer = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    model.train()
    start = time.perf_counter()
    with fast.one_blas_thread():
        for images, labels in batches:
            loss = F.cross_entropy(model(images), labels)
            model.zero_grad()
            loss.backward()
            optimizer.step()
            if tracker is not None:
                tracker.after_step(1, images, labels)
            loss.item()                                       # the loop's one read-back per step
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--depth", type=int, default=20)
    parser.add_argument("--kinds", default="grad-norms", help="what to track, as --track takes it")
    parser.add_argument("--every", type=int, default=20, help="steps between records (--track-every)")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    kinds = tracking.parse_kinds(args.kinds)

    fast.keep_freed_memory()                  # this benchmark owns its process, as `minires train` does
    mr.manual_seed(0)
    data = mr.data.cifar10_sample(train=True, transform=transforms.cifar10_train_transform(), progress=False)
    loader = mr.data.DataLoader(data, args.batch_size, shuffle=True, seed=0, drop_last=True)
    batches = list(itertools.islice(itertools.cycle(list(loader)), args.steps))
    start_model = mr.models.cifar_net("residual", args.depth)
    train_steps(copy.deepcopy(start_model), batches[:2], None)               # warm-up

    plain_times, tracked_times = [], []
    for _ in range(args.repeats):
        plain_times.append(train_steps(copy.deepcopy(start_model), batches, None))
        model = copy.deepcopy(start_model)
        tracker = tracking.Tracker(model, kinds, args.every)
        tracked_times.append(train_steps(model, batches, tracker))
    overheads = [tracked / plain - 1.0 for plain, tracked in zip(plain_times, tracked_times)]
    print(f"ResNet-{args.depth}, batch {args.batch_size}, {args.steps} steps, --track {','.join(kinds)} "
          f"--track-every {args.every} ({len(tracker.records)} records), {args.repeats} repeats")
    print(f"untracked {statistics.median(plain_times):.2f} s, tracked {statistics.median(tracked_times):.2f} s, "
          f"overhead {100 * statistics.median(overheads):.1f}% "
          f"(from {100 * min(overheads):.1f}% to {100 * max(overheads):.1f}%)")


if __name__ == "__main__":
    main()
