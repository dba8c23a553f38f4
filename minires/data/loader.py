"""DataLoader: batches of a dataset as tensors on a device, in a reproducible order."""

import collections
import math
from concurrent.futures import ThreadPoolExecutor

import numpy

from minires import backend
from minires.tensor import Tensor


class DataLoader:
    """Iterates over a dataset in batches, as torch.utils.data.DataLoader.

    Each pass over the loader is one epoch. Epoch e (counting from 0) draws its
    shuffling and then its augmentation from one Generator,
    ``numpy.random.default_rng([seed, e])``, so the whole sequence of batches follows
    from the seed and the epoch number, and nothing else.

    The epoch counter advances when a pass starts (when ``iter(loader)`` is called):
    a state_dict taken after an epoch's loop names the next epoch, and a loader
    restored from it with :meth:`load_state_dict` continues the exact sequence. A
    pass left half-way still counts as an epoch; resuming inside an epoch is not
    supported (restart that epoch from a state_dict taken before it).

    With ``num_workers > 0``, worker threads prepare the batches (indexing and
    augmentation, ``dataset.batch_from_choices``) a few batches ahead, while the main
    thread draws each batch's random choices (``dataset.draw``) from the epoch's one
    Generator, in order, as ``num_workers=0`` draws them: the batches are the very
    same, whatever the threads' timing. Threads rather than processes: the work is
    NumPy copies, which release the GIL, and threads share the dataset's arrays
    instead of copying them into every process. Measure before you use them: a batch
    of 128 in-memory CIFAR images takes about 1.2 ms to prepare, and on a 2-core CPU
    two threads made epochs no faster, often slower (benchmarks/bench_loader.py and
    benchmarks/RESULTS.md have the figures and the reason).

    Args:
        dataset: an ArrayDataset or Subset (anything with len() and batch(indices, rng)).
        batch_size: images per batch.
        shuffle: a new random order each epoch (training); False keeps the dataset's order.
        drop_last: drop the last batch when it is smaller than batch_size.
        seed: the seed of the order and augmentation, an int >= 0; None draws one from
            minires's host generator, so that minires.manual_seed makes it reproducible.
        device: where the batches go ("cpu", "cuda", ...); None is minires's default.
        num_workers: threads preparing batches; 0 prepares each in the main thread when
            it is asked for.
        pin_memory: accepted for PyTorch's scripts, without effect: batches are copied to
            the device from ordinary host memory.
        prefetch_factor: batches prepared ahead per worker (PyTorch's name; default 2).

    Yields:
        (images, labels): Tensors, float32 (B, C, H, W) and int64 (B,).

    Example::

        loader = DataLoader(train_set, batch_size=128, shuffle=True, seed=0)
        for epoch in range(epochs):
            for images, labels in loader:        # epoch 0, 1, ...: a new order each time
                ...
    """

    def __init__(self, dataset, batch_size=1, shuffle=False, drop_last=False, seed=None, device=None,
                 num_workers=0, pin_memory=False, prefetch_factor=2):
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be a positive int; got {batch_size!r}")
        if isinstance(num_workers, bool) or not isinstance(num_workers, int) or num_workers < 0:
            raise ValueError(f"DataLoader: num_workers must be an int >= 0 (0: no worker threads); "
                             f"got {num_workers!r}")
        if isinstance(prefetch_factor, bool) or not isinstance(prefetch_factor, int) or prefetch_factor < 1:
            raise ValueError(f"DataLoader: prefetch_factor must be a positive int; got {prefetch_factor!r}")
        if not hasattr(dataset, "batch"):
            raise TypeError(f"DataLoader: expects a minires dataset with .batch(indices, rng) "
                            f"(ArrayDataset, ImageFolder, CIFAR10...); got {type(dataset).__name__}")
        if num_workers > 0 and not hasattr(dataset, "batch_from_choices"):
            raise TypeError(f"DataLoader: num_workers > 0 needs a dataset with .draw(indices, rng) and "
                            f".batch_from_choices(indices, choices) (ArrayDataset, Subset...); "
                            f"{type(dataset).__name__} has not; use num_workers=0")
        if len(dataset) == 0:
            raise ValueError("DataLoader: the dataset is empty")
        self.dataset, self.batch_size = dataset, batch_size
        self.shuffle, self.drop_last = bool(shuffle), bool(drop_last)
        self.seed = int(backend.host_generator().integers(2**31)) if seed is None else _check_seed(seed)
        self.device = device
        self.num_workers, self.pin_memory, self.prefetch_factor = num_workers, bool(pin_memory), prefetch_factor
        self.epoch = 0

    def __len__(self):
        """The number of batches in one epoch."""
        batches = len(self.dataset) / self.batch_size
        return math.floor(batches) if self.drop_last else math.ceil(batches)

    def __iter__(self):
        # A plain method (not a generator function), so that the epoch is fixed and the
        # counter advances at iter(loader), not at the first next().
        epoch = self.epoch
        self.epoch += 1
        if self.num_workers > 0:
            return self._batches_in_threads(epoch)
        return self._batches(epoch)

    def _epoch_order(self, epoch):
        """The epoch's Generator, after it drew the order, and each batch's indices."""
        rng = numpy.random.default_rng([self.seed, epoch])
        size = len(self.dataset)
        order = rng.permutation(size) if self.shuffle else numpy.arange(size)     # (size,)
        starts = range(0, len(self) * self.batch_size, self.batch_size)
        return rng, [order[start:start + self.batch_size] for start in starts]  # (B,) each

    def _batches(self, epoch):
        rng, batches = self._epoch_order(epoch)
        for indices in batches:
            yield self._tensors(self.dataset.batch(indices, rng))

    def _batches_in_threads(self, epoch):
        """As _batches, with the pixels made by worker threads. The random choices are drawn
        here, batch after batch from the one Generator, in the order _batches draws them."""
        rng, batches = self._epoch_order(epoch)
        pool = ThreadPoolExecutor(max_workers=self.num_workers, thread_name_prefix="minires-DataLoader")
        pending = collections.deque()                     # futures of the batches under way, in order
        try:
            for indices in batches:
                choices = self.dataset.draw(indices, rng)
                pending.append(pool.submit(self.dataset.batch_from_choices, indices, choices))
                if len(pending) > self.num_workers * self.prefetch_factor:
                    yield self._tensors(pending.popleft().result())
            while pending:
                yield self._tensors(pending.popleft().result())
        finally:                                          # also when the loop over the loader stops early
            pool.shutdown(wait=False, cancel_futures=True)

    def _tensors(self, batch):
        # minires's datasets make new arrays for each batch (transforming and indexing
        # copy): the tensors take them as they are, with no copy on the host. A view
        # (a dataset whose batch slices its own array) is copied, so that changing a
        # batch in place never changes the dataset.
        device = self.device if self.device is not None else backend.get_device()
        images, labels = (array if array.flags.owndata else array.copy() for array in batch)  # (B, C, H, W), (B,)
        return Tensor(backend.to_device(images, device)), Tensor(backend.to_device(labels, device))

    def state_dict(self) -> dict:
        """{"epoch", "seed"} as plain ints: all a resumed run needs to continue the sequence."""
        return {"epoch": self.epoch, "seed": self.seed}

    def load_state_dict(self, state):
        """Continues the sequence of the loader whose :meth:`state_dict` gave ``state``."""
        if not isinstance(state, dict) or not {"epoch", "seed"} <= set(state):
            raise ValueError(f"DataLoader.load_state_dict: expects the dict of state_dict(), with "
                             f"'epoch' and 'seed'; got {state!r}")
        epoch = int(state["epoch"])
        if epoch < 0:
            raise ValueError(f"DataLoader.load_state_dict: the epoch must be >= 0; got {epoch}")
        self.epoch, self.seed = epoch, _check_seed(state["seed"])

    def __repr__(self):
        return (f"DataLoader({type(self.dataset).__name__} of {len(self.dataset)}, "
                f"batch_size={self.batch_size}, shuffle={self.shuffle}, drop_last={self.drop_last}, "
                f"seed={self.seed}, epoch={self.epoch}, num_workers={self.num_workers})")


def _check_seed(seed) -> int:
    """The seed as a Python int, which numpy.random.default_rng needs to be >= 0."""
    seed = backend.scalar_value(seed)                      # numpy.int64(3) -> 3
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"DataLoader: the seed must be an int >= 0; got {seed!r}")
    return seed
