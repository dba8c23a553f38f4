"""to_device and cast: data and gradients cross devices and dtypes, and come back."""

import numpy as np
import pytest

import minires as mr
import minires.functional as F
from helpers import input_in_layout, on_device, random_array


@pytest.mark.parametrize("target", ["cpu", "strict"])
def test_to_device_gradients(device, target):
    x = on_device(random_array((3, 2)), device)
    y = x.to(target)
    assert y.device == target
    (y * y).sum().backward()
    assert x.grad.device == device
    np.testing.assert_allclose(x.grad.numpy(), 2 * random_array((3, 2)))
    assert mr.gradcheck(lambda t: (t.to(target) * 3.0).exp(), on_device(random_array((3, 2)), device))


def test_to_device_keeps_values_and_dtype(device):
    data = random_array((2, 3))
    y = on_device(data, "cpu", requires_grad=False).to(device)
    assert y.dtype == mr.float64
    np.testing.assert_array_equal(y.numpy(), data)


@pytest.mark.parametrize("layout", ["channels_last", "strided"])
def test_to_device_keeps_the_memory_layout(device, layout):
    """As torch's .to(): a channels-last batch arrives channels-last, there and back (CuPy's
    own copy, and the strict stand-in's, would make it C-contiguous); a strided view
    arrives dense, in its axes' order."""
    data = input_in_layout(random_array((2, 3, 4, 5)), layout)
    there = on_device(data, "cpu", requires_grad=False).to(device)
    back = there.to("cpu") if device != "cpu" else there.to("strict").to("cpu")
    for moved in (there, back):
        np.testing.assert_array_equal(moved.numpy(), data)
        assert moved.array.transpose(0, 2, 3, 1).flags.c_contiguous == (layout == "channels_last")
        assert moved.array.flags.c_contiguous == (layout == "strided")


def test_cast_gradients_come_back_in_the_input_dtype(device):
    x = on_device(random_array((4,)), device)                    # float64
    y = F.cast(x, mr.float32)
    assert y.dtype == mr.float32 and y.device == device
    (y * 2.0).sum().backward()
    assert x.grad.dtype == mr.float64
    np.testing.assert_array_equal(x.grad.numpy(), np.full(4, 2.0))


def test_cast_matches_torch(torch):
    data = random_array((3,))
    ours = on_device(data, "cpu")
    theirs = torch.tensor(data, requires_grad=True)
    out, expected = ours.float() * 3.0, theirs.float() * 3.0
    np.testing.assert_array_equal(out.numpy(), expected.detach().numpy())
    out.sum().backward()
    expected.sum().backward()
    np.testing.assert_array_equal(ours.grad, theirs.grad.numpy())


def test_cast_to_an_integer_dtype_leaves_the_graph_like_torch(torch):
    x = on_device(np.array([1.7, -2.5]), "cpu")
    y = F.cast(x, mr.int64)
    expected = torch.tensor([1.7, -2.5], requires_grad=True).to(torch.int64)
    assert y.dtype == mr.int64 and not y.requires_grad and y.grad_fn is None
    assert y.tolist() == expected.tolist() and not expected.requires_grad


def test_unknown_device():
    with pytest.raises(ValueError, match=r"unknown device 'tpu'; expected one of \['cpu', 'cuda', 'strict'\]"):
        on_device(np.ones(2), "cpu").to("tpu")
