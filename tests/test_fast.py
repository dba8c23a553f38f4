"""minires.fast: every fast kernel computes exactly what its reference in minires.functional does.

The references (F.conv2d, F.batch_norm, F.relu) are the answer keys: tests/test_conv.py,
test_norm.py and test_activation.py hold them to loops, finite differences and PyTorch.
Here each fast kernel is held to its reference in float64, to 1e-10, forward and every
gradient (and batch norm's running statistics), on shapes drawn by hypothesis, in three
input layouts, on every device, run in one part and split into parts across threads.
Each kernel is also gradchecked on its own, and no Function shares a module's name.
"""

import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import minires as mr
import minires.functional as F
from minires import fast, nn
from minires.autograd import Function
from minires.fast import conv_taps, norm_rows, relu_split, threads
from helpers import check_gradients, input_in_layout, on_device, random_array

TOLERANCE = 1e-10
LAYOUTS = ["contiguous", "channels_last", "strided"]
# The device and split fixtures hold for every example hypothesis draws in one test.
EXAMPLES = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(params=["one_part", "split"])
def split(request, monkeypatch):
    """"one_part": one thread. "split": 3 threads, and every CPU array split however small;
    a convolution's parts hold at most 64 values, so its batch is cut into more parts than threads."""
    original = threads.get_num_threads()
    if request.param == "split":
        monkeypatch.setattr(threads, "MIN_VALUES_PER_PART", 1)
        monkeypatch.setattr(threads, "ELEMENTWISE_MIN_VALUES_PER_PART", 1)
        monkeypatch.setattr(conv_taps, "MAX_VALUES_PER_PART", 64)
        threads.set_num_threads(3)
    else:
        threads.set_num_threads(1)
    yield request.param
    threads.set_num_threads(original)


@pytest.fixture(params=["as_shipped", "taps_only"])
def conv_path(request, monkeypatch):
    """"as_shipped": im2col forward for C_in <= FEW_INPUT_CHANNELS, per-row weight gradients for
    rows of STACKED_ROW_MIN pixels. "taps_only": the tap-by-tap forward and per-row products always."""
    if request.param == "taps_only":
        monkeypatch.setattr(conv_taps, "FEW_INPUT_CHANNELS", 0)
        monkeypatch.setattr(conv_taps, "STACKED_ROW_MIN", 1)
    return request.param


def tensor_in_layout(x, layout, device, requires_grad=True):
    """x (N, C, H, W) as a float64 leaf Tensor on ``device`` whose array has ``layout``.
    "strided" wraps every other pixel of a larger device array, so the op gets a strided view."""
    if layout != "strided":
        return on_device(input_in_layout(x, layout), device, requires_grad)
    larger = np.zeros(x.shape[:2] + (2 * x.shape[2], 2 * x.shape[3]))
    larger[:, :, ::2, ::2] = x
    view = on_device(larger, device, requires_grad=False).array[:, :, ::2, ::2]   # (N, C, H, W), strided
    return mr.Tensor(view, requires_grad=requires_grad)


def run(op, x, others, layout, grad_layout, device, seed, **options):
    """op(x, *others, **options) on ``device``, then backward with a random gradient in
    ``grad_layout``; returns [output, grad of x, grads of others...] on the host."""
    x_tensor = tensor_in_layout(x, layout, device) if x.ndim == 4 else on_device(x, device)
    tensors = [None if a is None else on_device(a, device) for a in others]
    output = op(x_tensor, *tensors, **options)
    grad_output = random_array(output.shape, seed=seed)
    if output.ndim == 4:
        output.backward(tensor_in_layout(grad_output, grad_layout, device, requires_grad=False))
    else:
        output.backward(on_device(grad_output, device, requires_grad=False))
    return [output.numpy(), x_tensor.grad.numpy()] + [None if t is None or t.grad is None else t.grad.numpy() for t in tensors]


def assert_all_close(fast_results, reference_results, names):
    for name, actual, expected in zip(names, fast_results, reference_results):
        assert (actual is None) == (expected is None), name
        if expected is not None:
            np.testing.assert_allclose(actual, expected, rtol=TOLERANCE, atol=TOLERANCE, err_msg=name)


# --- The fast kernels equal the references, on random shapes -------------------------

@EXAMPLES
@given(batch=st.integers(1, 5), in_channels=st.integers(1, 6), out_channels=st.integers(1, 4),
       kernel=st.tuples(st.integers(1, 4), st.integers(1, 4)),
       stride=st.tuples(st.integers(1, 3), st.integers(1, 3)),
       padding=st.tuples(st.integers(0, 2), st.integers(0, 2)),
       extra=st.tuples(st.integers(0, 5), st.integers(0, 20)), with_bias=st.booleans(),
       layout=st.sampled_from(LAYOUTS), grad_layout=st.sampled_from(LAYOUTS), seed=st.integers(0, 2**16))
def test_conv2d_equals_reference(device, split, conv_path, batch, in_channels, out_channels, kernel,
                                 stride, padding, extra, with_bias, layout, grad_layout, seed):
    # the input is at least as large as the kernel, once padded: H + 2 PH >= KH
    height, width = (max(1, k - 2 * p + e) for k, p, e in zip(kernel, padding, extra))
    x = random_array((batch, in_channels, height, width), seed=seed)
    weight = random_array((out_channels, in_channels) + kernel, seed=seed + 1)
    bias = random_array(out_channels, seed=seed + 2) if with_bias else None
    results = [run(conv2d, x, [weight, bias], layout, grad_layout, device, seed + 3, stride=stride, padding=padding)
               for conv2d in (fast.conv2d, F.conv2d)]
    assert_all_close(*results, ["output", "grad x", "grad weight", "grad bias"])


def running_stats(channels, seed, device):
    """Fresh running (mean, var) Tensors; not 0 and 1, so that an update shows."""
    return (on_device(random_array(channels, seed=seed), device, requires_grad=False),
            on_device(random_array(channels, seed=seed + 1, positive=True), device, requires_grad=False))


@EXAMPLES
@given(shape=st.one_of(st.tuples(st.integers(2, 6), st.integers(1, 5)),
                       st.tuples(st.integers(2, 4), st.integers(1, 5), st.integers(1, 5), st.integers(1, 5))),
       mode=st.sampled_from(["training", "training_without_running_stats", "evaluation"]),
       affine=st.booleans(), momentum=st.sampled_from([0.0, 0.1, 0.7, 1.0]), eps=st.sampled_from([1e-5, 1e-2]),
       layout=st.sampled_from(LAYOUTS), grad_layout=st.sampled_from(LAYOUTS), seed=st.integers(0, 2**16))
def test_batch_norm_equals_reference(device, split, shape, mode, affine, momentum, eps, layout, grad_layout, seed):
    channels = shape[1]
    x = random_array(shape, seed=seed) + 3.0                  # a mean away from 0: centering matters
    weight_and_bias = [random_array(channels, seed=seed + 1), random_array(channels, seed=seed + 2)] \
        if affine else [None, None]
    results, statistics = [], []
    for batch_norm in (fast.batch_norm, F.batch_norm):
        stats = (None, None) if mode == "training_without_running_stats" else running_stats(channels, seed + 3, device)

        def op(x, weight, bias):
            return batch_norm(x, *stats, weight, bias, training=mode != "evaluation", momentum=momentum, eps=eps)
        results.append(run(op, x, weight_and_bias, layout, grad_layout, device, seed + 5))
        statistics.append([None if stat is None else stat.numpy() for stat in stats])
    assert_all_close(*results, ["output", "grad x", "grad weight", "grad bias"])
    assert_all_close(*statistics, ["running_mean", "running_var"])
    if mode == "training" and momentum > 0:                   # the update really happened
        assert not np.allclose(statistics[0][0], running_stats(channels, seed + 3, "cpu")[0].numpy())


@EXAMPLES
@given(shape=st.lists(st.integers(1, 5), min_size=0, max_size=4).map(tuple), with_zeros=st.booleans(),
       layout=st.sampled_from(LAYOUTS), grad_layout=st.sampled_from(LAYOUTS), seed=st.integers(0, 2**16))
def test_relu_equals_reference(device, split, shape, with_zeros, layout, grad_layout, seed):
    x = random_array(shape, seed=seed)
    if with_zeros:                                            # at 0 both give the gradient 0
        x = np.where(np.abs(x) < 0.5, 0.0, x)
    results = [run(relu, x, [], layout, grad_layout, device, seed + 1) for relu in (fast.relu, F.relu)]
    assert_all_close(*results, ["output", "grad x"])


def test_split_fixture_really_splits(split, monkeypatch):
    """The tests above split their CPU arrays into several parts under "split": count them."""
    parts_seen = {}
    for module in (conv_taps, norm_rows, relu_split):
        def counting_run_parts(work_on_part, parts, name=module.__name__):
            parts_seen.setdefault(name, []).append(len(parts))
            return threads.run_parts(work_on_part, parts)
        monkeypatch.setattr(module, "run_parts", counting_run_parts)
    x = on_device(random_array((4, 3, 5, 5)), "cpu")
    y = fast.conv2d(x, on_device(random_array((2, 3, 3, 3)), "cpu"), padding=1)
    y = fast.batch_norm(y, *running_stats(2, 0, "cpu"), training=False)
    fast.relu(y).sum().backward()
    assert sorted(parts_seen) == sorted(m.__name__ for m in (conv_taps, norm_rows, relu_split))
    counts = [count for counts in parts_seen.values() for count in counts]
    assert len(counts) == 5                                   # conv forward and backward, norm, relu twice
    if split == "split":
        assert min(counts) >= 2, parts_seen
        assert max(parts_seen[conv_taps.__name__]) == 4, "more parts than threads: one image a part"
    else:
        assert set(counts) == {1}, parts_seen


# --- Each fast kernel on its own: central differences, on every device -----------------

CONV_GRADCHECK_CASES = [
    pytest.param((2, 3, 5, 5), (2, 3, 3, 3), 1, 1, 4, id="im2col_forward"),
    pytest.param((2, 3, 5, 5), (2, 3, 3, 3), 1, 1, 0, id="taps_forward"),
    pytest.param((2, 5, 5, 4), (3, 5, 3, 2), 2, 1, 4, id="stride_2_taps"),
    pytest.param((1, 5, 3, 3), (2, 5, 1, 1), 1, 1, 4, id="padding_beyond_the_kernel"),
]


@pytest.mark.parametrize("x_shape, weight_shape, stride, padding, few_input_channels", CONV_GRADCHECK_CASES)
def test_conv2d_gradcheck(x_shape, weight_shape, stride, padding, few_input_channels, device, split, monkeypatch):
    monkeypatch.setattr(conv_taps, "FEW_INPUT_CHANNELS", few_input_channels)
    inputs = [random_array(x_shape), random_array(weight_shape, seed=1), random_array(weight_shape[:1], seed=2)]
    check_gradients(lambda x, w, b: fast.conv2d(x, w, b, stride=stride, padding=padding), inputs, device)


@pytest.mark.parametrize("shape", [(5, 3), (2, 3, 2, 3)])
@pytest.mark.parametrize("mode", ["training", "training_without_running_stats", "evaluation"])
def test_batch_norm_gradcheck(shape, mode, device, split):
    eval_stats = running_stats(shape[1], 10, device)          # evaluation only reads them

    def batch_norm(x, weight, bias):
        # training updates the running stats in place, and gradcheck calls this many times
        stats = {"training": running_stats(shape[1], 10, device), "evaluation": eval_stats}.get(mode, (None, None))
        return fast.batch_norm(x, *stats, weight, bias, training=mode != "evaluation")

    inputs = [random_array(shape), random_array(shape[1], seed=1), random_array(shape[1], seed=2)]
    check_gradients(batch_norm, inputs, device)


@pytest.mark.parametrize("shape", [(7,), (3, 4), (2, 3, 4, 5)])
def test_relu_gradcheck(shape, device, split):
    check_gradients(fast.relu, [random_array(shape, away_from_zero=True)], device)


# --- Names --------------------------------------------------------------------------

def classes_in(package, base):
    """{name: class} of the subclasses of ``base`` in ``package`` and its imported submodules.

    The submodules come from sys.modules, not from the package's attributes: ``F.dropout``
    is the function, which hides the module minires/functional/dropout.py."""
    modules = [module for name, module in sys.modules.items()
               if name == package.__name__ or name.startswith(package.__name__ + ".")]
    return {value.__name__: value for module in modules for value in vars(module).values()
            if isinstance(value, type) and issubclass(value, base) and value is not base}


def test_no_function_is_named_like_a_module():
    """F.relu's Function is ReLUMask, not ReLU: nn.ReLU is the module a reader should find."""
    functions = {**classes_in(F, Function), **classes_in(fast, Function)}
    modules = classes_in(nn, nn.Module)
    # the walks found what they must, so an empty intersection means something
    assert {"Conv2dIm2col", "Conv2dTaps", "BatchNorm", "BatchNormRows", "ReLUMask", "ReLUSplit",
            "DropoutMask", "MaxPool2dWindows"} <= set(functions)
    assert {"Conv2d", "BatchNorm2d", "ReLU", "Dropout", "MaxPool2d", "Linear", "ResidualBlock"} <= set(modules)
    assert not set(functions) & set(modules), f"Functions named like modules: {set(functions) & set(modules)}"
