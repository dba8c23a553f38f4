"""Grouped convolution (issue 18): F.conv2d and minires.fast's conv2d with groups=, against
torch and by central differences, on every device."""

import numpy as np
import pytest

import minires as mr
import minires.functional as F
from minires import fast
from helpers import on_device

CONVOLUTIONS = {"reference": F.conv2d, "fast": fast.conv2d}
CASES = [(2, 4, 6, 1, 1), (4, 4, 4, 1, 1), (3, 6, 3, 2, 0), (1, 3, 5, 1, 1)]   # groups, C_in, C_out, stride, padding


@pytest.mark.parametrize("kernel", CONVOLUTIONS)
@pytest.mark.parametrize("groups, c_in, c_out, stride, padding", CASES)
def test_grouped_convolution_and_its_gradients_match_torch(torch, device, kernel, groups, c_in, c_out, stride, padding):
    rng = np.random.default_rng(groups)
    x, weight = rng.standard_normal((2, c_in, 7, 7)), rng.standard_normal((c_out, c_in // groups, 3, 3))
    bias = rng.standard_normal(c_out)
    theirs = [torch.tensor(a, requires_grad=True) for a in (x, weight, bias)]
    expected = torch.nn.functional.conv2d(*theirs, stride=stride, padding=padding, groups=groups)
    inputs = [on_device(a, device) for a in (x, weight, bias)]
    out = CONVOLUTIONS[kernel](*inputs, stride=stride, padding=padding, groups=groups)
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), rtol=1e-12, atol=1e-12)
    grad_output = rng.standard_normal(tuple(expected.shape))
    expected.backward(torch.tensor(grad_output))
    out.backward(on_device(grad_output, device, requires_grad=False))
    for ours, reference in zip(inputs, theirs):
        np.testing.assert_allclose(ours.grad.numpy(), reference.grad.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kernel", CONVOLUTIONS)
def test_grouped_convolution_by_central_differences(kernel):
    rng = np.random.default_rng(3)
    x = mr.tensor(rng.standard_normal((1, 4, 4, 4)), requires_grad=True)
    weight = mr.tensor(rng.standard_normal((4, 1, 3, 3)), requires_grad=True)          # depthwise
    bias = mr.tensor(rng.standard_normal(4), requires_grad=True)
    assert mr.gradcheck(lambda *a: CONVOLUTIONS[kernel](*a, padding=1, groups=4), x, weight, bias)


@pytest.mark.parametrize("groups, weight_shape, message", [
    (3, (6, 2, 3, 3), r"groups=3 must divide the input channels \(4\) and the output channels \(6\)"),
    (2, (6, 4, 3, 3), r"with groups=2, the weight must be \(C_out, C_in // groups, KH, KW\) = \(6, 2, ...\); "
                      r"got \(6, 4, 3, 3\)"),
    (0, (6, 4, 3, 3), "groups must be an int >= 1; got 0"),
])
def test_grouped_convolution_errors(torch, groups, weight_shape, message):
    x, weight = mr.zeros(1, 4, 5, 5), mr.zeros(*weight_shape)
    for convolution in CONVOLUTIONS.values():
        with pytest.raises(ValueError, match=message):
            convolution(x, weight, groups=groups)
    with pytest.raises((RuntimeError, ValueError)):                        # torch refuses them too
        torch.nn.functional.conv2d(torch.zeros(1, 4, 5, 5), torch.zeros(*weight_shape), groups=groups)


@pytest.mark.parametrize("fast", [True, False])
def test_the_conv2d_layer_takes_groups_as_torch_does(torch, fast):
    torch.manual_seed(0)                                         # the same weights in every run
    theirs = torch.nn.Conv2d(4, 6, 3, padding=1, groups=2)
    ours = mr.nn.Conv2d(4, 6, 3, padding=1, groups=2, fast=fast).double()
    assert ours.weight.shape == tuple(theirs.weight.shape) == (6, 2, 3, 3)
    ours.load_state_dict({name: value.detach().numpy() for name, value in theirs.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((2, 4, 5, 5))
    # atol: an output near 0 is a difference of sums that rounds differently in the two orders
    np.testing.assert_allclose(ours(mr.tensor(x)).numpy(), theirs(torch.tensor(x)).detach().numpy(),
                               rtol=1e-12, atol=1e-14)
    assert "groups=2" in repr(ours)
    bound = 1 / np.sqrt(2 * 9)                                   # fan_in of one group, as torch
    assert np.abs(mr.nn.Conv2d(4, 6, 3, groups=2).bias.numpy()).max() <= bound


def test_the_conv2d_layer_refuses_what_it_cannot_do():
    with pytest.raises(ValueError, match=r"groups=4 must divide in_channels \(6\)"):
        mr.nn.Conv2d(6, 8, 3, groups=4)
    with pytest.raises(ValueError, match="dilation must be 1"):
        mr.nn.Conv2d(3, 8, 3, dilation=2)
    with pytest.raises(ValueError, match="padding_mode must be 'zeros'"):
        mr.nn.Conv2d(3, 8, 3, padding_mode="reflect")
