"""threads: the batch split into parts, one per CPU thread, and the BLAS thread limit."""

import numpy as np
import pytest
from threadpoolctl import threadpool_info

import minires as mr
import minires.functional as F
from helpers import on_device, random_array
from minires import threads


@pytest.fixture
def num_threads():
    """Lets a test change the thread count; puts the original back afterwards."""
    original = threads.get_num_threads()
    yield threads.set_num_threads
    threads.set_num_threads(original)


def test_parts_cover_the_batch_evenly(num_threads, monkeypatch):
    monkeypatch.setattr(threads, "MIN_VALUES_PER_PART", 1)
    num_threads(3)
    assert threads.batch_parts(np.zeros((10, 2))) == [slice(0, 3), slice(3, 6), slice(6, 10)]
    assert threads.batch_parts(np.zeros((2, 2))) == [slice(0, 1), slice(1, 2)]     # never an empty part
    num_threads(1)
    assert threads.batch_parts(np.zeros((10, 2))) == [slice(0, 10)]


def test_small_arrays_are_not_split(num_threads):
    """A part must carry more work than handing it to a thread costs."""
    num_threads(2)
    assert threads.batch_parts(np.zeros((4, 4, 8, 8))) == [slice(0, 4)]
    assert len(threads.batch_parts(np.zeros((128, 16, 32, 32)))) == 2


def test_device_arrays_are_never_split(num_threads, monkeypatch):
    monkeypatch.setattr(threads, "MIN_VALUES_PER_PART", 1)
    num_threads(4)
    x = on_device(random_array((8, 3)), "strict")
    assert threads.batch_parts(x.data) == [slice(0, 8)]


def test_results_come_back_in_order_and_errors_are_raised(num_threads, monkeypatch):
    monkeypatch.setattr(threads, "MIN_VALUES_PER_PART", 1)
    num_threads(4)
    parts = threads.batch_parts(np.zeros(8))
    assert threads.run_parts(lambda part: part.start, parts) == [0, 2, 4, 6]

    def fails(part):
        raise ValueError(f"part {part.start}")
    with pytest.raises(ValueError, match="part"):
        threads.run_parts(fails, parts)


def test_set_num_threads_refuses_what_is_not_a_count():
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(ValueError, match="set_num_threads: expected an int of at least 1"):
            threads.set_num_threads(bad)


@pytest.mark.parametrize("stride", [1, 2])
def test_a_split_convolution_equals_the_unsplit_one(stride, num_threads, monkeypatch):
    """Every image's output and input gradient are its own; the weight gradient is the
    sum of the parts'. Splitting changes nothing but the order of that last sum."""
    inputs = [random_array((5, 3, 9, 9), seed=1), random_array((4, 3, 3, 3), seed=2), random_array(4, seed=3)]
    monkeypatch.setattr(threads, "MIN_VALUES_PER_PART", 1)
    results = []
    for count in (1, 3):
        num_threads(count)
        tensors = [mr.tensor(a, requires_grad=True) for a in inputs]
        output = F.conv2d(*tensors, stride=stride, padding=1)
        output.backward(mr.tensor(random_array(output.shape, seed=4)))
        results.append([output.numpy()] + [t.grad for t in tensors])
    for single, split in zip(*results):
        np.testing.assert_allclose(split, single, rtol=1e-12, atol=1e-12)


def blas_threads():
    return {library["internal_api"]: library["num_threads"] for library in threadpool_info()
            if library["user_api"] == "blas"}


def test_blas_runs_one_thread_per_call_while_minires_splits(num_threads, monkeypatch):
    monkeypatch.setattr(threads, "MIN_VALUES_PER_PART", 1)
    num_threads(1)                                   # no splitting: BLAS has its own threads
    before = blas_threads()
    num_threads(2)
    F.conv2d(mr.tensor(random_array((4, 2, 5, 5))), mr.tensor(random_array((2, 2, 3, 3))), padding=1)
    assert set(blas_threads().values()) == {1}
    num_threads(1)                                   # and they come back
    assert blas_threads() == before
