"""Tensor: creation, dtypes, devices, conversions, methods."""

import numpy as np
import pytest

import minires as mr
from helpers import on_device


def test_dtypes_follow_torch_tensor():
    assert mr.tensor([1.0, 2.0]).dtype == mr.float32
    assert mr.tensor(1.5).dtype == mr.float32
    assert mr.tensor([1, 2]).dtype == mr.int64
    assert mr.tensor([True]).dtype == mr.bool_
    assert mr.tensor(np.zeros(2)).dtype == mr.float64               # arrays keep their dtype
    assert mr.tensor([1, 2], dtype=mr.float64).dtype == mr.float64
    assert mr.tensor([1.0], dtype="float64").dtype == mr.float64


def test_tensor_copies_its_data():
    data = np.zeros(3)
    t = mr.tensor(data)
    data[0] = 5.0
    assert t.numpy()[0] == 0.0


def test_integer_tensors_cannot_require_grad():
    with pytest.raises(TypeError, match="only floating-point tensors can require gradients; this one is int64"):
        mr.tensor([1, 2], requires_grad=True)
    with pytest.raises(TypeError, match="int64"):
        mr.tensor([1, 2]).requires_grad_()


def test_bad_data_is_refused():
    with pytest.raises(TypeError, match="cannot make a tensor"):
        mr.tensor(["a", "b"])
    with pytest.raises(TypeError, match="Tensor wraps an array"):
        mr.Tensor([1.0, 2.0])
    with pytest.raises(TypeError, match="is not a dtype"):
        mr.tensor([1.0], dtype="no-such-type")


def test_properties(device):
    t = on_device(np.ones((2, 3)), device)
    assert t.shape == (2, 3) and t.ndim == 2 and t.dim() == 2 and t.numel() == 6 and len(t) == 2
    assert t.device == device and t.dtype == mr.float64 and t.is_leaf
    assert (t * 2.0).is_leaf is False


def test_numpy_item_and_bool(device):
    t = on_device(np.array([[1.5]]), device)
    assert isinstance(t.numpy(), np.ndarray) and t.item() == 1.5 and bool(t)
    with pytest.raises(ValueError, match=r"item\(\) needs a tensor with one element"):
        on_device(np.ones(2), device).item()
    with pytest.raises(ValueError, match="ambiguous"):
        bool(on_device(np.ones(2), device))


def test_numpy_asarray_works_on_cpu_and_refuses_devices():
    np.testing.assert_array_equal(np.asarray(mr.tensor([1.0, 2.0])), [1.0, 2.0])
    with pytest.raises(TypeError, match=r"cannot become a NumPy array implicitly; call .numpy\(\)"):
        np.asarray(on_device(np.ones(2), "strict"))


def test_to_moves_data_and_gradient_flows_back():
    x = mr.tensor([1.0, 2.0], requires_grad=True)
    y = x.to("strict")
    assert y.device == "strict" and x.to("cpu") is x
    (y * 3.0).sum().backward()
    assert x.grad.device == "cpu" and x.grad.__class__ is mr.Tensor
    np.testing.assert_array_equal(x.grad, [3.0, 3.0])


def test_tensor_on_a_device_and_back():
    t = mr.tensor([1.0, 2.0], device="strict")
    assert t.device == "strict"
    assert mr.tensor(t).device == "strict"                  # device arrays keep their device
    assert mr.tensor(t, device="cpu").device == "cpu"
    with pytest.raises(ValueError, match="unknown device 'gpu'"):
        mr.tensor([1.0], device="gpu")


def test_float_and_double_are_differentiable():
    x = mr.tensor([1.0, 2.0], dtype=mr.float64, requires_grad=True)
    y = x.float()
    assert y.dtype == mr.float32 and x.double() is x
    (y * 2.0).sum().backward()
    assert x.grad.dtype == mr.float64


def test_detach_shares_data_but_leaves_the_graph():
    x = mr.tensor([1.0, 2.0], requires_grad=True)
    d = (x * 2.0).detach()
    assert not d.requires_grad and d.grad_fn is None


def test_comparisons_give_boolean_tensors(device):
    x = on_device(np.array([1.0, 2.0, 3.0]), device)
    assert (x > 1.5).dtype == mr.bool_ and (x > 1.5).device == device
    np.testing.assert_array_equal((x == 2.0).numpy(), [False, True, False])
    np.testing.assert_array_equal((x <= x).numpy(), [True, True, True])
    assert {x: 1}[x] == 1                                     # still hashable by identity


def test_repr():
    assert repr(mr.tensor([1.0, 2.0])) == "tensor([1., 2.])"
    assert "requires_grad=True" in repr(mr.tensor([1.0], requires_grad=True))
    assert "grad_fn=<Mul>" in repr(mr.tensor([1.0], requires_grad=True) * 2.0)
    assert "device='strict'" in repr(mr.tensor([1.0], device="strict"))
    assert "dtype=float64" in repr(mr.tensor([1.0], dtype=mr.float64))


def test_rpow_needs_a_positive_base():
    x = mr.tensor([1.0])
    with pytest.raises(TypeError, match="positive Python number"):
        (-2.0) ** x
