"""F.conv2d (im2col, the reference) and minires.fast's conv2d (channels-last, tap by tap):
against the loop reference, float64 finite differences, PyTorch and each other, on every
device. tests/test_fast.py holds the fast kernel to the reference on random shapes."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minires as mr
import minires.functional as F
from minires.fast import conv_taps
from helpers import check_gradients, compare_with_torch, input_in_layout, on_device, random_array
from reference_ops import conv2d_backward_loops, conv2d_loops
from strict_device import StrictArray, count_synchronizations

# (x shape, weight shape, stride, padding, with bias)
CASES = [
    ((1, 1, 5, 5), (1, 1, 3, 3), 1, 1, True),              # batch 1, one channel, "same" padding
    ((2, 3, 7, 6), (4, 3, 3, 3), 2, 1, True),              # odd sizes, stride 2
    ((2, 2, 7, 7), (3, 2, 5, 5), 1, 2, False),             # kernel 5, padding 2, no bias
    ((2, 4, 5, 7), (3, 4, 1, 1), 2, 0, True),              # kernel 1 (a projection shortcut), stride 2
    ((1, 16, 3, 3), (2, 16, 1, 1), 1, 0, True),            # 16 input channels
    ((1, 1, 5, 4), (16, 1, 3, 3), 1, 2, False),            # 16 output channels, padding 2
    ((2, 2, 8, 7), (2, 2, 3, 2), (2, 1), (1, 0), True),    # pairs, a non-square kernel
    ((1, 2, 3, 3), (2, 2, 3, 3), 1, 0, True),              # the kernel covers the whole input
    ((1, 2, 3, 18), (3, 2, 3, 3), 1, 1, True),             # rows of 18 pixels: per-row weight gradient
    ((2, 2, 4, 35), (3, 2, 3, 3), 2, 1, False),            # ... and with stride 2 (OW 18)
]


def case_id(case):
    x_shape, weight_shape, stride, padding, with_bias = case
    return f"x{x_shape}-w{weight_shape}-s{stride}-p{padding}-{'bias' if with_bias else 'nobias'}"


def case_inputs(case):
    x_shape, weight_shape, stride, padding, with_bias = case
    inputs = [random_array(x_shape, seed=0), random_array(weight_shape, seed=1)]
    if with_bias:
        inputs.append(random_array(weight_shape[:1], seed=2))
    return inputs


def conv2d_taps_only(x, weight, bias=None, stride=1, padding=0):
    """The fast conv2d with its im2col forward for few input channels turned off, so that
    the tests run the tap-by-tap forward at every channel count as well."""
    few_input_channels = conv_taps.FEW_INPUT_CHANNELS
    conv_taps.FEW_INPUT_CHANNELS = 0
    try:
        return conv_taps.conv2d(x, weight, bias, stride=stride, padding=padding)
    finally:
        conv_taps.FEW_INPUT_CHANNELS = few_input_channels


def fast_conv2d(x, weight, bias=None, stride=1, padding=0):
    return conv_taps.conv2d(x, weight, bias, stride=stride, padding=padding)


# The fast kernel (as it runs, and with taps only) and the reference: every test below
# runs on all three.
FAST_CONVOLUTIONS = [fast_conv2d, conv2d_taps_only]
CONVOLUTIONS = FAST_CONVOLUTIONS + [F.conv2d]
convolution_param = pytest.mark.parametrize("conv", CONVOLUTIONS, ids=lambda conv: conv.__name__)
# both public ops (their errors name "conv2d")
public_convolution_param = pytest.mark.parametrize("conv", [F.conv2d, conv_taps.conv2d],
                                                   ids=["reference", "fast"])


def conv_with(stride, padding, functional):
    """fn(x, weight[, bias]) for check_gradients and compare_with_torch."""
    return lambda x, weight, bias=None: functional(x, weight, bias, stride=stride, padding=padding)


@pytest.mark.parametrize("case", CASES, ids=case_id)
@convolution_param
def test_gradients(case, device, conv):
    stride, padding = case[2], case[3]
    check_gradients(conv_with(stride, padding, conv), case_inputs(case), device)


@pytest.mark.parametrize("case", CASES, ids=case_id)
@convolution_param
def test_matches_loop_reference(case, device, conv):
    stride, padding = case[2], case[3]
    inputs = case_inputs(case)
    tensors = [on_device(array, device) for array in inputs]
    output = conv(*tensors[:2], *tensors[2:], stride=stride, padding=padding)
    expected = conv2d_loops(*inputs[:2], *inputs[2:], stride=stride, padding=padding)
    np.testing.assert_allclose(output.numpy(), expected, rtol=1e-12, atol=1e-12)

    grad_output = random_array(output.shape, seed=5)
    output.backward(on_device(grad_output, device, requires_grad=False))
    expected_grads = conv2d_backward_loops(inputs[0], inputs[1], grad_output, stride, padding)
    for name, tensor, expected_grad in zip(("x", "weight", "bias"), tensors, expected_grads):
        np.testing.assert_allclose(tensor.grad.numpy(), expected_grad,
                                   rtol=1e-12, atol=1e-12, err_msg=f"gradient of {name}")


@pytest.mark.parametrize("case", CASES, ids=case_id)
@convolution_param
def test_matches_torch(case, torch, conv):
    stride, padding = case[2], case[3]
    compare_with_torch(torch, conv_with(stride, padding, conv),
                       conv_with(stride, padding, torch.nn.functional.conv2d), case_inputs(case))


@convolution_param
@settings(max_examples=40, deadline=None)
@given(batch=st.integers(1, 3), in_channels=st.integers(1, 4), out_channels=st.integers(1, 4),
       height=st.integers(1, 9), width=st.integers(1, 9), kernel_h=st.integers(1, 5),
       kernel_w=st.integers(1, 5), stride=st.tuples(st.integers(1, 3), st.integers(1, 3)),
       padding=st.tuples(st.integers(0, 2), st.integers(0, 2)), with_bias=st.booleans(),
       seed=st.integers(0, 2**16))
def test_random_shapes_match_loop_reference(conv, batch, in_channels, out_channels, height, width,
                                            kernel_h, kernel_w, stride, padding, with_bias, seed):
    """Any shape where the kernel fits the padded input: forward and all three gradients."""
    if kernel_h > height + 2 * padding[0] or kernel_w > width + 2 * padding[1]:
        with pytest.raises(ValueError, match="larger than the padded input"):
            conv(mr.tensor(np.zeros((batch, in_channels, height, width))),
                     mr.tensor(np.zeros((out_channels, in_channels, kernel_h, kernel_w))), padding=padding)
        return
    x = random_array((batch, in_channels, height, width), seed=seed)
    weight = random_array((out_channels, in_channels, kernel_h, kernel_w), seed=seed + 1)
    bias = random_array((out_channels,), seed=seed + 2) if with_bias else None
    tensors = [on_device(array, "cpu") for array in (x, weight, bias) if array is not None]
    output = conv(*tensors[:2], *tensors[2:], stride=stride, padding=padding)
    np.testing.assert_allclose(output.numpy(), conv2d_loops(x, weight, bias, stride, padding),
                               rtol=1e-12, atol=1e-12)
    grad_output = random_array(output.shape, seed=seed + 3)
    output.backward(mr.tensor(grad_output, dtype=mr.float64))
    for tensor, expected in zip(tensors, conv2d_backward_loops(x, weight, grad_output, stride, padding)):
        np.testing.assert_allclose(tensor.grad, expected, rtol=1e-12, atol=1e-12)


@convolution_param
def test_float32_stays_float32(device, conv):
    x = mr.tensor(random_array((2, 3, 6, 6)), dtype=mr.float32, device=device, requires_grad=True)
    weight = mr.tensor(random_array((4, 3, 3, 3), seed=1), dtype=mr.float32, device=device, requires_grad=True)
    output = conv(x, weight, padding=1)
    output.sum().backward()
    assert output.dtype == mr.float32 and x.grad.dtype == mr.float32 and weight.grad.dtype == mr.float32
    expected = conv2d_loops(x.numpy().astype(np.float64), weight.numpy().astype(np.float64), padding=1)
    np.testing.assert_allclose(output.numpy(), expected, rtol=1e-4, atol=1e-4)


@convolution_param
def test_no_synchronisation_and_stays_on_device(conv):
    x = on_device(random_array((2, 3, 6, 6)), "strict")
    weight = on_device(random_array((4, 3, 3, 3), seed=1), "strict")
    bias = on_device(random_array((4,), seed=2), "strict")
    with count_synchronizations() as syncs:
        output = conv(x, weight, bias, stride=2, padding=1)
        output.sum().backward()
    assert syncs.count == 0
    assert all(isinstance(t.grad.array, StrictArray) for t in (x, weight, bias))


@convolution_param
def test_loops_run_over_kernel_taps_only(monkeypatch, conv):
    """The Python-level work is the same for a tiny and a large input: no loops over
    images or pixels. Counted as the number of slicing operations on device arrays."""
    counted = []
    original_getitem = StrictArray.__getitem__
    monkeypatch.setattr(StrictArray, "__getitem__",
                        lambda self, index: counted.append(1) or original_getitem(self, index))

    def count_for(x_shape):
        counted.clear()
        x = on_device(random_array(x_shape), "strict")
        weight = on_device(random_array((2, x_shape[1], 3, 3), seed=1), "strict")
        conv(x, weight, stride=1, padding=1).sum().backward()
        return len(counted)

    small, large = count_for((1, 2, 4, 4)), count_for((8, 2, 16, 16))
    assert small == large
    assert small <= 8 * 3 * 3          # a handful of slices per kernel tap


# (x shape, weight shape, keyword arguments, message the error must contain)
BAD_INPUTS = [
    ((8, 3, 32, 32), (32, 16, 3, 3), {}, r"input has 3 channels but weight expects 16 \(input \(8, 3, 32, 32\)"),
    ((3, 32, 32), (16, 3, 3, 3), {}, r"expected a 4-D input \(N, C_in, H, W\); got shape \(3, 32, 32\)"),
    ((2, 3, 8, 8), (16, 3, 3), {}, r"expected a 4-D weight"),
    ((1, 1, 3, 3), (1, 1, 5, 5), {}, r"kernel \(5x5\) is larger than the padded input \(3x3"),
    ((1, 1, 3, 3), (1, 1, 5, 3), {"padding": (0, 1)}, r"kernel \(5x3\) is larger than the padded input \(3x5"),
    ((1, 1, 4, 4), (1, 1, 3, 3), {"stride": 0}, r"conv2d: stride must be at least 1"),
    ((1, 1, 4, 4), (1, 1, 3, 3), {"padding": -1}, r"conv2d: padding must be at least 0"),
    ((1, 1, 4, 4), (1, 1, 3, 3), {"stride": (1, 2, 3)}, r"conv2d: stride must be an int or a pair"),
]


@pytest.mark.parametrize("x_shape, weight_shape, options, message", BAD_INPUTS)
@public_convolution_param
def test_bad_input_is_refused_clearly(x_shape, weight_shape, options, message, conv):
    x, weight = mr.tensor(np.zeros(x_shape)), mr.tensor(np.zeros(weight_shape))
    with pytest.raises((ValueError, TypeError), match=message):
        conv(x, weight, **options)


@convolution_param
def test_padded_kernel_that_just_fits_is_accepted(conv):
    output = conv(mr.tensor(np.ones((1, 1, 3, 3))), mr.tensor(np.ones((1, 1, 5, 5))), padding=1)
    assert output.shape == (1, 1, 1, 1) and output.item() == 9.0


@public_convolution_param
def test_bias_and_dtype_errors(conv):
    x, weight = mr.tensor(np.zeros((1, 2, 4, 4))), mr.tensor(np.zeros((3, 2, 3, 3)))
    with pytest.raises(ValueError, match=r"bias must have shape \(3,\).*got \(2,\)"):
        conv(x, weight, mr.tensor(np.zeros(2)))
    with pytest.raises(TypeError, match="conv2d: expected inputs of one floating dtype; got x float32, weight float64"):
        conv(x.float(), weight)


@convolution_param
def test_device_mismatch_is_refused(conv):
    x = on_device(random_array((1, 1, 4, 4)), "cpu")
    weight = on_device(random_array((1, 1, 3, 3)), "strict")
    with pytest.raises(mr.DeviceMismatchError, match="Conv2d"):     # Conv2dIm2col or Conv2dTaps
        conv(x, weight)


@pytest.mark.parametrize("layout", ["channels_first", "channels_last", "strided"])
@pytest.mark.parametrize("stride, padding", [(1, 1), (2, 1), (1, 0)])
@pytest.mark.parametrize("in_channels", [conv_taps.FEW_INPUT_CHANNELS, conv_taps.FEW_INPUT_CHANNELS + 1])
@pytest.mark.parametrize("fast", FAST_CONVOLUTIONS, ids=lambda conv: conv.__name__)
def test_fast_kernel_matches_the_im2col_reference(fast, in_channels, layout, stride, padding, device):
    """The fast conv2d (channels-last) against F.conv2d: values and all three gradients, with
    few input channels and more, whatever the memory layout of the input and of the
    incoming gradient."""
    x = random_array((3, in_channels, 9, 8), seed=7)
    weight, bias = random_array((5, in_channels, 3, 3), seed=8), random_array((5,), seed=9)
    results = []
    for conv in (fast, F.conv2d):
        tensors = [on_device(input_in_layout(x, layout), device), on_device(weight, device), on_device(bias, device)]
        output = conv(*tensors, stride=stride, padding=padding)
        grad_output = input_in_layout(random_array(output.shape, seed=10), layout)
        output.backward(on_device(grad_output, device, requires_grad=False))
        results.append([output.numpy()] + [t.grad.numpy() for t in tensors])
    for name, fast_result, reference in zip(("output", "x grad", "weight grad", "bias grad"), *results):
        np.testing.assert_allclose(fast_result, reference, rtol=1e-12, atol=1e-12, err_msg=name)


def test_fast_kernel_returns_a_channels_last_view():
    """Shape (N, C_out, OH, OW) as always; in memory each pixel's channels lie side by side."""
    output = conv_taps.conv2d(mr.tensor(random_array((2, 3, 5, 5))), mr.tensor(random_array((4, 3, 3, 3))), padding=1)
    assert output.shape == (2, 4, 5, 5)
    assert output.array.transpose(0, 2, 3, 1).flags.c_contiguous
