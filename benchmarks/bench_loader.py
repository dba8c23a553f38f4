"""DataLoader: an epoch of augmented CIFAR-10 batches, minires against PyTorch, in one run.

    python benchmarks/bench_loader.py                        # the bundled sample, batch 128
    python benchmarks/bench_loader.py --data ../shared/data  # a CIFAR-10 folder or archive
    python benchmarks/bench_loader.py --workers 0 2 --repeats 7 --train-step
    python benchmarks/bench_loader.py --workers 0 2 --repeats 3 --train-step --net resnet20

What is timed is one pass over the loader: the augmentation of the usual CIFAR recipe
(pad 4 and crop 32, horizontal flip, to float CHW, normalise) and the batching, the
images already decoded in memory, as both minires's datasets and a PyTorch script that
keeps CIFAR-10 as an array hold them. minires transforms each batch as one array
(``ArrayDataset.batch``); with ``num_workers > 0`` worker threads prepare batches
ahead of the loop. PyTorch's DataLoader calls a Dataset's ``__getitem__`` once per
image (here the same recipe written with torch ops, as torchvision's transforms do on
tensors) and with ``num_workers > 0`` runs it in worker processes.

``--train-step`` times an epoch in which the loop also trains a net on each batch
(minires only; ``--net small``, a two-convolution net of about 15 ms a batch, or
``resnet20``, about 400 ms): there the workers prepare the next batches while the main
thread computes, and the most they can gain is the share of the epoch the loader took.

Each setting runs ``--repeats`` times after one warm-up pass; the median is printed,
and the ratio of minires's median to PyTorch's for the same number of workers. The
figures in benchmarks/RESULTS.md came from this script.

Needs PyTorch (``pip install torch==2.13.0``); minires itself never imports it.
"""

import argparse
import statistics
import time

import numpy as np
import torch
import torch.utils.data as torch_data

import minires as mr
from minires import nn, optim
from minires import functional as F
from minires.data import transforms

MEAN, STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)


class TorchCIFARRecipe(torch_data.Dataset):
    """uint8 (N, H, W, C) images with the CIFAR training recipe, one image per call,
    written with torch ops as torchvision's transforms compute it on tensors."""

    def __init__(self, images, labels):
        self.images, self.labels = torch.from_numpy(images), torch.from_numpy(labels)
        self.mean = torch.tensor(MEAN).view(3, 1, 1)
        self.std = torch.tensor(STD).view(3, 1, 1)

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, index):
        image = self.images[index].permute(2, 0, 1)                       # (C, H, W) uint8
        padded = torch.nn.functional.pad(image, (4, 4, 4, 4))             # (C, 40, 40)
        top, left = torch.randint(0, 9, (2,)).tolist()
        image = padded[:, top:top + 32, left:left + 32]
        if torch.rand(()) < 0.5:
            image = image.flip(2)
        image = image.float() / 255.0
        return (image - self.mean) / self.std, self.labels[index]


def minires_dataset(data_path):
    """The training images (uint8, in memory) with minires's CIFAR training transform."""
    recipe = transforms.cifar10_train_transform()
    if data_path is None:
        return mr.data.cifar10_sample(train=True, transform=recipe, progress=False)
    return mr.data.CIFAR10(data_path, train=True, transform=recipe)


def small_net():
    """A small CIFAR net for --train-step: about 15 ms a batch of 128."""
    return nn.Sequential(nn.Conv2d(3, 16, 3, stride=2, padding=1), nn.ReLU(),
                         nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 10))


def epoch_seconds(loader, step=None):
    start = time.perf_counter()
    for images, labels in loader:
        if step is not None:
            step(images, labels)
    return time.perf_counter() - start


def median_epoch(make_loader, repeats, step=None):
    loader = make_loader()
    epoch_seconds(loader, step)                                           # warm-up
    return statistics.median(epoch_seconds(loader, step) for _ in range(repeats))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="a CIFAR-10 folder or archive (default: the bundled sample)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--train-step", action="store_true", help="also time epochs that train a net")
    parser.add_argument("--net", choices=["small", "resnet20"], default="small", help="the net --train-step trains")
    args = parser.parse_args()

    dataset = minires_dataset(args.data)
    torch_dataset = TorchCIFARRecipe(dataset.data, dataset.targets.astype(np.int64))
    print(f"{len(dataset)} images, batch {args.batch_size}, median of {args.repeats} epochs")
    print("workers  minires (s)  PyTorch (s)  minires / PyTorch  minires speed-up over 0 workers")
    baseline = None
    for workers in args.workers:
        ours = median_epoch(lambda: mr.data.DataLoader(dataset, args.batch_size, shuffle=True, seed=0,
                                                       num_workers=workers), args.repeats)
        theirs = median_epoch(lambda: torch_data.DataLoader(torch_dataset, args.batch_size, shuffle=True,
                                                            num_workers=workers), args.repeats)
        baseline = ours if baseline is None else baseline
        print(f"{workers:7d}  {ours:11.3f}  {theirs:11.3f}  {ours / theirs:17.2f}x  {baseline / ours:.2f}x")

    if args.train_step:
        mr.manual_seed(0)
        model = small_net() if args.net == "small" else mr.models.cifar_net("residual", 20)
        optimizer = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

        def step(images, labels):
            optimizer.zero_grad()
            F.cross_entropy(model(images), labels).backward()
            optimizer.step()

        print(f"\nwith a training step of the {args.net} net per batch (minires only)")
        print("workers  epoch (s)  speed-up over 0 workers")
        baseline = None
        for workers in args.workers:
            seconds = median_epoch(lambda: mr.data.DataLoader(dataset, args.batch_size, shuffle=True, seed=0,
                                                              num_workers=workers), args.repeats, step)
            baseline = seconds if baseline is None else baseline
            print(f"{workers:7d}  {seconds:9.3f}  {baseline / seconds:.2f}x")


if __name__ == "__main__":
    main()
