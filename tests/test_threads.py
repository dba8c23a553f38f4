"""minires.fast.threads: the batch split into parts, one per CPU thread, and the BLAS thread limit."""

import threading
import time

import numpy as np
import pytest
from threadpoolctl import ThreadpoolController, threadpool_info

import minires as mr
from minires import fast
from minires.fast import threads
from helpers import input_in_layout, on_device, random_array


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
    assert threads.batch_parts(x.array) == [slice(0, 8)]


def test_results_come_back_in_order_and_errors_are_raised(num_threads, monkeypatch):
    monkeypatch.setattr(threads, "MIN_VALUES_PER_PART", 1)
    num_threads(4)
    parts = threads.batch_parts(np.zeros(8))
    assert threads.run_parts(lambda part: part.start, parts) == [0, 2, 4, 6]

    def fails(part):
        raise ValueError(f"part {part.start}")
    with pytest.raises(ValueError, match="part"):
        threads.run_parts(fails, parts)


def test_large_parts_are_split_further_in_a_multiple_of_the_thread_count(num_threads):
    """A convolution keeps its parts small enough for the cache (conv_taps.MAX_VALUES_PER_PART)."""
    num_threads(2)
    stage_1 = np.zeros((128, 16, 32, 32))                           # 2**21 values
    assert len(threads.batch_parts(stage_1, max_values_per_part=2**19)) == 4
    assert len(threads.batch_parts(stage_1, max_values_per_part=2**18)) == 8
    assert len(threads.batch_parts(stage_1, max_values_per_part=2**21)) == 2
    assert len(threads.batch_parts(np.zeros((3, 2**20)), max_values_per_part=2**10)) == 3   # at most one image a part


def test_element_wise_passes_split_only_large_arrays(num_threads):
    num_threads(2)
    assert len(threads.elementwise_parts(np.zeros((128, 16, 32, 32)))) == 2
    assert len(threads.elementwise_parts(np.zeros((128, 64, 8, 8)))) == 1        # 2**19 values: not worth it
    assert threads.elementwise_parts(np.zeros(())) == [...]                       # a 0-d array is one part


def test_the_calling_thread_takes_the_first_run_of_parts(num_threads, monkeypatch):
    monkeypatch.setattr(threads, "MIN_VALUES_PER_PART", 1)
    num_threads(2)
    parts = threads.batch_parts(np.zeros(8), max_values_per_part=2)              # 4 parts of 2
    assert len(parts) == 4
    names = threads.run_parts(lambda part: (part.start, threading.current_thread().name), parts)
    assert [start for start, _ in names] == [0, 2, 4, 6]
    assert names[0][1] == names[1][1] == threading.current_thread().name     # the first run: here
    assert names[2][1] == names[3][1] != threading.current_thread().name     # the second: the pool
    num_threads(1)                                                             # one thread: no pool at all
    assert threads.run_parts(lambda part: part.start, parts) == [0, 2, 4, 6]


def test_a_failing_part_is_raised_after_the_other_threads_are_done(num_threads, monkeypatch):
    monkeypatch.setattr(threads, "MIN_VALUES_PER_PART", 1)
    num_threads(2)
    finished = []

    def first_fails(part):
        if part.start == 0:
            raise ValueError("part 0")
        time.sleep(0.05)
        finished.append(part.start)
    with pytest.raises(ValueError, match="part 0"):
        threads.run_parts(first_fails, [slice(0, 1), slice(1, 2)])
    assert finished == [1]


def test_set_num_threads_refuses_what_is_not_a_count():
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(ValueError, match="set_num_threads: expected an int of at least 1"):
            threads.set_num_threads(bad)


def test_minires_exports_the_thread_count(num_threads):
    num_threads(3)
    assert mr.get_num_threads() == fast.get_num_threads() == 3
    mr.set_num_threads(2)
    assert threads.get_num_threads() == 2


@pytest.mark.parametrize("layout", ["contiguous", "channels_last", "strided"])
def test_split_element_wise_kernels_equal_the_unsplit_ones(layout, num_threads, monkeypatch):
    """The fast ReLU (forward and backward) and batch norm in evaluation split their batch:
    the values are exactly the same."""
    x = input_in_layout(random_array((6, 4, 5, 3), seed=1), layout)
    running_mean, running_var = random_array(4, seed=2), np.abs(random_array(4, seed=3)) + 0.5
    weight, bias = random_array(4, seed=4), random_array(4, seed=5)
    monkeypatch.setattr(threads, "ELEMENTWISE_MIN_VALUES_PER_PART", 1)
    results = []
    for count in (1, 4):
        num_threads(count)
        assert len(threads.elementwise_parts(x)) == count
        relu_input = mr.tensor(x, requires_grad=True)
        relu = fast.relu(relu_input)
        relu.backward(mr.tensor(random_array(x.shape, seed=6)))       # the gradient channels-first
        norm = fast.batch_norm(mr.tensor(x), running_mean, running_var, mr.tensor(weight), mr.tensor(bias))
        results.append((relu.numpy(), relu_input.grad, norm.numpy()))
    for single, split in zip(*results):
        np.testing.assert_array_equal(split, single)
    assert fast.relu(mr.tensor(np.float64(-2.0))).item() == 0.0               # a 0-d input is one part


@pytest.mark.parametrize("stride", [1, 2])
def test_a_split_convolution_equals_the_unsplit_one(stride, num_threads, monkeypatch):
    """Every image's output and input gradient are its own; the weight gradient is the
    sum of the parts'. Splitting changes nothing but the order of that last sum."""
    inputs = [random_array((5, 6, 9, 9), seed=1), random_array((4, 6, 3, 3), seed=2), random_array(4, seed=3)]
    monkeypatch.setattr(threads, "MIN_VALUES_PER_PART", 1)
    results = []
    for count in (1, 3):
        num_threads(count)
        assert len(threads.batch_parts(inputs[0])) == count
        tensors = [mr.tensor(a, requires_grad=True) for a in inputs]
        output = fast.conv2d(*tensors, stride=stride, padding=1)
        output.backward(mr.tensor(random_array(output.shape, seed=4)))
        results.append([output.numpy()] + [t.grad for t in tensors])
    for single, split in zip(*results):
        np.testing.assert_allclose(split, single, rtol=1e-12, atol=1e-12)


# --- BLAS's threads: limited to one while minires's threads run, given back after ----------

def blas_threads():
    """{library: num_threads} of the BLAS libraries loaded (threadpoolctl)."""
    return {library["filepath"]: library["num_threads"] for library in threadpool_info()
            if library["user_api"] == "blas"}


@pytest.fixture
def blas_at_two_threads(num_threads):
    """BLAS at 2 threads per call (as the user may have set it), minires at 2 threads; both put back after.
    With BLAS at 1 already, a limit to 1 would show nothing: such tests skip."""
    limit = ThreadpoolController().limit(limits=2, user_api="blas")
    try:
        before = blas_threads()
        if not before or set(before.values()) == {1}:
            pytest.skip(f"BLAS runs one thread here already ({before}): a limit to 1 would not show")
        num_threads(2)
        yield before
    finally:
        limit.restore_original_limits()


def test_blas_runs_one_thread_inside_run_parts_and_gets_its_threads_back(blas_at_two_threads, monkeypatch):
    monkeypatch.setattr(threads, "MIN_VALUES_PER_PART", 1)
    parts = threads.batch_parts(np.zeros(4))
    assert len(parts) == 2
    seen_inside = threads.run_parts(lambda part: blas_threads(), parts)
    assert all(set(seen.values()) == {1} for seen in seen_inside), seen_inside
    assert blas_threads() == blas_at_two_threads


def test_a_split_convolution_gives_blas_its_threads_back(blas_at_two_threads, monkeypatch):
    monkeypatch.setattr(threads, "MIN_VALUES_PER_PART", 1)
    output = fast.conv2d(mr.tensor(random_array((4, 6, 5, 5)), requires_grad=True),
                         mr.tensor(random_array((2, 6, 3, 3))), padding=1)
    assert blas_threads() == blas_at_two_threads
    output.sum().backward()
    assert blas_threads() == blas_at_two_threads


def test_one_blas_thread_limits_inside_the_block_only(blas_at_two_threads):
    with threads.one_blas_thread():
        assert set(blas_threads().values()) == {1}
    assert blas_threads() == blas_at_two_threads


def test_nested_blocks_restore_only_at_the_outermost_exit(blas_at_two_threads, monkeypatch):
    monkeypatch.setattr(threads, "MIN_VALUES_PER_PART", 1)
    with threads.one_blas_thread():
        with threads.one_blas_thread():
            assert set(blas_threads().values()) == {1}
        assert set(blas_threads().values()) == {1}, "the inner block gave BLAS its threads back"
        threads.run_parts(lambda part: None, threads.batch_parts(np.zeros(4)))   # run_parts nests too
        assert set(blas_threads().values()) == {1}, "run_parts gave BLAS its threads back"
    assert blas_threads() == blas_at_two_threads


def test_an_exception_still_restores(blas_at_two_threads, monkeypatch):
    with pytest.raises(RuntimeError, match="inside"):
        with threads.one_blas_thread():
            raise RuntimeError("inside")
    assert blas_threads() == blas_at_two_threads
    monkeypatch.setattr(threads, "MIN_VALUES_PER_PART", 1)

    def fails(part):
        raise RuntimeError(f"part {part.start}")
    with pytest.raises(RuntimeError, match="part"):
        threads.run_parts(fails, threads.batch_parts(np.zeros(4)))
    assert blas_threads() == blas_at_two_threads
    with threads.one_blas_thread():                       # and the next block limits again
        assert set(blas_threads().values()) == {1}


def test_with_one_minires_thread_blas_keeps_its_threads(blas_at_two_threads, num_threads):
    """Nothing is split then, so BLAS may use every core itself."""
    num_threads(1)
    with threads.one_blas_thread():
        assert blas_threads() == blas_at_two_threads


def test_batch_norm_sums_run_with_one_blas_thread_outside_any_part(blas_at_two_threads, monkeypatch):
    """The whole of a fast kernel runs with BLAS at one thread, not only its parts: batch
    norm's matrix-vector sums run between parts, and BLAS threads woken there would keep
    spinning while the next kernel's parts run."""
    from minires.fast import norm_rows
    seen = []
    real_channel_sums = norm_rows.channel_sums

    def recording_channel_sums(xp, rows, C):
        seen.append(blas_threads())
        return real_channel_sums(xp, rows, C)
    monkeypatch.setattr(norm_rows, "channel_sums", recording_channel_sums)
    x = mr.tensor(random_array((4, 3, 5, 5)), requires_grad=True)
    fast.batch_norm(x, None, None, training=True).sum().backward()
    assert seen and all(set(threads_seen.values()) == {1} for threads_seen in seen), seen
    assert blas_threads() == blas_at_two_threads
