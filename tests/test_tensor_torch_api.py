"""Tensor methods PyTorch scripts use, each against PyTorch: size, view, t, eq ...,
expand_as, tolist, __index__, the in-place methods, and to/cuda/cpu."""

import numpy as np
import pytest

import minires as mr
from helpers import check_gradients, compare_with_torch, on_device, random_array


def test_size_like_torch(torch):
    data = np.zeros((2, 3, 4))
    ours, theirs = mr.tensor(data), torch.tensor(data)
    assert ours.size() == tuple(theirs.size()) and isinstance(ours.size(), tuple)
    for dim in (0, 1, 2, -1, -3):
        assert ours.size(dim) == theirs.size(dim) and isinstance(ours.size(dim), int)
    assert mr.tensor(1.0).size() == tuple(torch.tensor(1.0).size()) == ()
    with pytest.raises(IndexError, match=r"size: dim 3 is out of range for a tensor of shape \(2, 3, 4\)"):
        ours.size(3)


def test_view_like_torch(device, torch):
    data = random_array((2, 3, 4))
    for shape in [(6, 4), (-1,), (2, -1), ((4, 6),)]:
        ours = on_device(data, device).view(*shape)
        theirs = torch.tensor(data).view(*shape)
        assert ours.shape == tuple(theirs.shape)
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    x = mr.tensor(np.zeros((2, 3)))
    assert x.view(x.size(0), -1).shape == (2, 3)
    with pytest.raises(TypeError, match=r"view: expected a shape; got dtype\('float32'\)"):
        x.view(mr.float32)


def test_view_and_expand_as_gradients(device, torch):
    check_gradients(lambda a: a.view(3, 4) * 2.0, [random_array((2, 6))], device)
    check_gradients(lambda a, b: a.expand_as(b) * b, [random_array((3, 1)), random_array((2, 3, 4))], device)
    compare_with_torch(torch, lambda a, b: a.expand_as(b) * b, lambda a, b: a.expand_as(b) * b,
                       [random_array((3, 1)), random_array((2, 3, 4))])


def test_expand_as_refuses_sizes_that_are_not_1():
    with pytest.raises(ValueError, match=r"\(2, 3\) and \(3, 3\) cannot be broadcast"):
        mr.tensor(np.ones((2, 3))).expand_as(mr.tensor(np.ones((3, 3))))


def test_t_like_torch(device, torch):
    for shape in [(), (3,), (2, 3)]:
        data = random_array(shape)
        ours, theirs = on_device(data, device).t(), torch.tensor(data).t()
        assert ours.shape == tuple(theirs.shape)
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    check_gradients(lambda a: a.t() * 2.0, [random_array((2, 3))], device)
    with pytest.raises(ValueError, match=r"t\(\) expects a tensor with at most 2 dimensions"):
        mr.tensor(np.ones((2, 2, 2))).t()


@pytest.mark.parametrize("name", ["eq", "ne", "lt", "le", "gt", "ge"])
def test_comparison_methods_like_torch(name, device, torch):
    a, b = np.array([[1.0, 2.0, 3.0]]), np.array([[2.0], [3.0]])
    x, y = on_device(a, device), on_device(b, device)
    for ours, theirs in [(getattr(x, name)(y), getattr(torch.tensor(a), name)(torch.tensor(b))),
                         (getattr(x, name)(2.0), getattr(torch.tensor(a), name)(2.0))]:
        assert ours.dtype == mr.bool_ and ours.shape == tuple(theirs.shape) and ours.device == device
        assert not ours.requires_grad
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_tolist_item_int_float_like_torch(torch):
    for data in [[[1, 2], [3, 4]], [1.5, -2.0], 7, 2.5]:
        ours, theirs = mr.tensor(data), torch.tensor(data)
        assert ours.tolist() == theirs.tolist()
        assert type(ours.tolist()) is type(theirs.tolist())
    assert int(mr.tensor([3.7])) == int(torch.tensor([3.7])) == 3
    assert float(mr.tensor(2)) == 2.0 and isinstance(mr.tensor([5]).item(), int)


def test_tolist_on_a_device(device):
    assert on_device(np.array([1.0, 2.0]), device).tolist() == [1.0, 2.0]


def test_index_lets_an_integer_tensor_index_a_list_like_torch(torch):
    names = ["plane", "car", "bird"]
    for index in [mr.tensor(2), mr.tensor([1]), mr.tensor(1).max()]:
        assert names[index] == names[int(index)]
    assert names[mr.tensor(2)] == names[torch.tensor(2)]
    assert list(range(mr.tensor(3))) == [0, 1, 2]
    for bad, torch_bad in [(mr.tensor(1.0), torch.tensor(1.0)), (mr.tensor([1, 2]), torch.tensor([1, 2]))]:
        with pytest.raises(TypeError, match="only integer tensors of a single element can be converted"):
            names[bad]
        with pytest.raises(TypeError, match="only integer tensors of a single element"):
            names[torch_bad]


# -- in place -------------------------------------------------------------------------

INPLACE_CALLS = [
    ("add_", (np.array([1.0, -2.0, 0.5]),), {}),
    ("add_", (2.0,), {"alpha": 3}),
    ("sub_", (np.array([[1.0], [2.0]]),), {}),
    ("sub_", (1.0,), {"alpha": 0.5}),
    ("mul_", (np.array([2.0, 3.0, -1.0]),), {}),
    ("mul_", (0.5,), {}),
    ("div_", (4.0,), {}),
    ("div_", (np.array([2.0, 4.0, 8.0]),), {}),
    ("clamp_", (), {"min": -0.5}),
    ("clamp_", (), {"min": -0.5, "max": 0.5}),
    ("clamp_", (), {"max": 0.1}),
    ("fill_", (3.0,), {}),
    ("zero_", (), {}),
    ("copy_", (np.array([7.0, 8.0, 9.0]),), {}),
    ("copy_", (np.array(7.0),), {}),
]


@pytest.mark.parametrize("name, args, kwargs", INPLACE_CALLS, ids=[call[0] for call in INPLACE_CALLS])
def test_inplace_methods_like_torch(name, args, kwargs, device, torch):
    data = random_array((2, 3))
    ours, theirs = on_device(data, device, requires_grad=False), torch.tensor(data)
    our_args = [on_device(a, device, requires_grad=False) if isinstance(a, np.ndarray) else a for a in args]
    their_args = [torch.tensor(a) if isinstance(a, np.ndarray) else a for a in args]
    array = ours.array
    assert getattr(ours, name)(*our_args, **kwargs) is ours                  # returns self
    getattr(theirs, name)(*their_args, **kwargs)
    assert ours.array is array and ours.dtype == mr.float64 and ours.device == device
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-15)


def test_inplace_keeps_dtype_and_refuses_float_into_int_like_torch(torch):
    counts, torch_counts = mr.tensor([1, 2]), torch.tensor([1, 2])
    counts.add_(mr.tensor([3, 4])).mul_(2)
    torch_counts.add_(torch.tensor([3, 4])).mul_(2)
    assert counts.tolist() == torch_counts.tolist() and counts.dtype == mr.int64
    with pytest.raises(TypeError, match="add_: the result cannot be stored in this int64 tensor"):
        counts.add_(1.5)
    with pytest.raises(RuntimeError):
        torch_counts.add_(1.5)
    with pytest.raises(TypeError, match="div_: the result cannot be stored in this int64 tensor"):
        counts.div_(2)
    half = mr.tensor([1.0, 2.0]).add_(mr.tensor([1.0], dtype=mr.float64))    # float64 into float32
    assert half.dtype == mr.float32 and half.tolist() == [2.0, 3.0]


def test_inplace_refuses_an_operand_that_would_enlarge_the_tensor():
    with pytest.raises(ValueError, match=r"mul_: an operand of shape \(3, 2\) does not fit in place"):
        mr.tensor(np.ones(2)).mul_(mr.tensor(np.ones((3, 2))))
    with pytest.raises(ValueError, match=r"copy_: shapes \(2,\) and \(3,\) cannot be broadcast"):
        mr.tensor(np.ones(2)).copy_(mr.tensor(np.ones(3)))
    with pytest.raises(ValueError, match="clamp_: give min, max or both"):
        mr.tensor([1.0]).clamp_()


def test_inplace_on_a_parameter_needs_no_grad():
    weight = mr.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"mul_: minires has no in-place ops on tensors that require grad, "
                                           r"outside no_grad\(\) .* `with minires.no_grad\(\):`"):
        weight.mul_(0.5)
    assert weight.tolist() == [1.0, 2.0]                                     # unchanged
    with mr.no_grad():
        assert weight.mul_(0.5).sub_(mr.tensor([0.5, 0.5])) is weight       # as torch allows
    assert weight.tolist() == [0.0, 0.5] and weight.requires_grad


def test_inplace_on_a_graph_tensor_is_refused_with_the_reason():
    y = mr.tensor([1.0, 2.0], requires_grad=True) * 2.0
    for call in (lambda: y.add_(1.0), lambda: y.zero_(), lambda: y.copy_(mr.tensor([0.0, 0.0]))):
        with pytest.raises(RuntimeError, match=r"no in-place ops on tensors in the autograd graph; "
                                               r"this one was computed by <Mul>"):
            call()
    with mr.no_grad(), pytest.raises(RuntimeError, match="autograd graph"):
        y.fill_(0.0)


def test_inplace_device_rules():
    x = mr.tensor([1.0, 2.0], device="strict")
    with pytest.raises(mr.backend.DeviceMismatchError, match="add_: tensor on strict, operand on cpu"):
        x.add_(mr.tensor([1.0, 1.0]))
    assert x.copy_(mr.tensor([5.0, 6.0])).tolist() == [5.0, 6.0]             # copy_ moves, as torch's
    assert x.fill_(mr.tensor(2.0, device="strict")).tolist() == [2.0, 2.0]


def test_an_sgd_step_written_with_inplace_methods_matches_torch(torch):
    data, gradient = random_array((3,)), random_array((3,), seed=1)
    ours = mr.tensor(data, dtype=mr.float64, requires_grad=True)
    theirs = torch.tensor(data, requires_grad=True)
    (ours * mr.tensor(gradient)).sum().backward()
    (theirs * torch.tensor(gradient)).sum().backward()
    with mr.no_grad():
        ours.add_(ours.grad, alpha=-0.1)
    with torch.no_grad():
        theirs.add_(theirs.grad, alpha=-0.1)
    np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), rtol=1e-15)


# -- devices and dtypes ---------------------------------------------------------------

def test_to_accepts_devices_dtypes_and_both_like_torch(torch):
    x = mr.tensor([1.5, -2.5], requires_grad=True)
    assert x.to("cpu") is x and x.to("cpu:0") is x and x.to(mr.device("cpu")) is x and x.cpu() is x
    assert x.to(mr.float32) is x
    for ours, theirs in [(x.to(mr.float64), torch.float64),
                         (x.to("cpu", mr.float64), torch.float64),
                         (x.to(dtype=mr.float64, device="cpu"), torch.float64),
                         (x.to(mr.int64), torch.int64)]:
        expected = torch.tensor([1.5, -2.5], dtype=torch.float32, requires_grad=True).to(theirs)
        assert str(ours.dtype) == str(expected.dtype).replace("torch.", "")
        assert ours.tolist() == expected.tolist() and ours.requires_grad == expected.requires_grad
    assert x.to(mr.tensor([1], dtype=mr.int64)).dtype == mr.int64    # another tensor's dtype
    x.to("cpu", mr.float64).sum().backward()
    assert x.grad.dtype == mr.float32


def test_to_moves_to_a_device_named_with_an_index(device):
    x = on_device(random_array((2,)), "cpu")
    name = device if device == "cpu" else f"{device}:0"
    y = x.to(name)
    assert y.device == device and y.to(mr.device(name)) is y
    y.sum().backward()
    assert x.grad.device == "cpu"


def test_to_and_cuda_errors():
    x = mr.tensor([1.0])
    with pytest.raises(ValueError, match="minires uses one GPU, so the only index it accepts is 0"):
        x.to("cuda:1")
    with pytest.raises(ValueError, match="minires uses one GPU"):
        x.cuda(1)
    with pytest.raises(TypeError, match="is not a dtype"):
        x.to(3.5)
    with pytest.raises(TypeError, match="to: expected a device, a dtype, or both; got 3 arguments"):
        x.to("cpu", mr.float32, mr.float64)


@pytest.mark.gpu
@pytest.mark.skipif(not mr.backend.cuda_available(), reason="CUDA is not usable here")
def test_cuda_and_cpu_round_trip():
    x = mr.tensor([1.0, 2.0], requires_grad=True)
    for y in (x.cuda(), x.cuda(0), x.to("cuda:0"), x.to(mr.device("cuda", 0))):
        assert y.device == "cuda" and y.cpu().device == "cpu"
    (x.cuda() * 3.0).sum().backward()
    assert x.grad.device == "cpu"


def test_views_and_slices_share_memory_where_numpy_does():
    """What the README and Tensor.view's docstring say: a contiguous view and a basic
    slice share memory, so an in-place change shows through, as in PyTorch."""
    x = mr.zeros(3, 4)
    x[:, :2].fill_(5.0)
    x.view(12)[4:].fill_(7.0)
    np.testing.assert_array_equal(x.numpy()[0], [5.0, 5.0, 0.0, 0.0])
    np.testing.assert_array_equal(x.numpy()[1:], np.full((2, 4), 7.0))
