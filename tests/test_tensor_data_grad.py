""".data and .grad are Tensors, x[i] = v and x += y change tensors outside the graph in
place: each against PyTorch on the same inputs, and the errors for misuse."""

import numpy as np
import pytest

import minires as mr
from helpers import on_device, random_array
from strict_device import StrictArray


def test_data_is_a_tensor_sharing_the_array_outside_the_graph(device, torch):
    ours = on_device(random_array((2, 3)), device)                     # requires grad
    theirs = torch.tensor(random_array((2, 3)), requires_grad=True)
    for data in (ours.data, theirs.data):
        assert not data.requires_grad and data.grad_fn is None and data.is_leaf
    assert isinstance(ours.data, mr.Tensor) and ours.data.array is ours.array
    assert ours.data.size() == tuple(theirs.data.size()) and ours.data.size(1) == 3
    assert ours.data.numel() == theirs.data.numel() == 6
    ours.data.mul_(2.0)
    theirs.data.mul_(2.0)                                              # reaches the tensor itself
    np.testing.assert_array_equal(ours.numpy(), 2.0 * random_array((2, 3)))
    np.testing.assert_array_equal(theirs.detach().numpy(), 2.0 * random_array((2, 3)))


def test_assigning_data_replaces_the_array_like_torch(device, torch):
    ours, theirs = on_device(np.zeros(3), device), torch.zeros(3, requires_grad=True)
    ours.data = on_device(np.arange(4.0), device, requires_grad=False)
    theirs.data = torch.arange(4.0)
    assert ours.shape == tuple(theirs.shape) == (4,) and ours.requires_grad and theirs.requires_grad
    np.testing.assert_array_equal(ours.numpy(), theirs.detach().numpy())
    with pytest.raises(TypeError, match=r"data: expected a Tensor .* got list"):
        ours.data = [1.0, 2.0]
    with pytest.raises(TypeError, match="must stay floating-point; got int64"):
        ours.data = mr.tensor([1, 2])


def test_grad_is_a_tensor_outside_the_graph_like_torch(device, torch):
    x = random_array((2, 3))
    ours, theirs = on_device(x, device), torch.tensor(x, requires_grad=True)
    (ours * ours).sum().backward()
    (theirs * theirs).sum().backward()
    for grad in (ours.grad, theirs.grad):
        assert not grad.requires_grad and grad.grad_fn is None
    assert isinstance(ours.grad, mr.Tensor) and ours.grad.device == device
    assert ours.grad.size() == tuple(theirs.grad.size()) and ours.grad.dtype == mr.float64
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-15)
    if device == "strict":
        assert isinstance(ours.grad.array, StrictArray)
    ours.grad.zero_()                                                    # in place, as in PyTorch
    assert not ours.grad.numpy().any()


def test_a_second_backward_adds_into_the_same_grad_tensor(device):
    x = on_device(np.ones(3), device)
    (2.0 * x).sum().backward()
    first = x.grad
    (3.0 * x).sum().backward()
    assert x.grad is first                                               # accumulated in place
    np.testing.assert_array_equal(x.grad.numpy(), np.full(3, 5.0))


def test_grad_assignment_checks_like_torch(torch):
    ours, theirs = mr.zeros(3, requires_grad=True), torch.zeros(3, dtype=torch.float32, requires_grad=True)
    ours.grad, theirs.grad = mr.ones(3), torch.ones(3, dtype=torch.float32)
    np.testing.assert_array_equal(ours.grad.numpy(), theirs.grad.numpy())
    ours.grad, theirs.grad = None, None
    assert ours.grad is None and theirs.grad is None
    with pytest.raises(TypeError):
        theirs.grad = np.ones(3)
    with pytest.raises(TypeError, match=r"grad: expected a Tensor or None; got ndarray"):
        ours.grad = np.ones(3)
    with pytest.raises(RuntimeError):
        theirs.grad = torch.ones(4, dtype=torch.float32)
    with pytest.raises(RuntimeError, match=r"grad: the gradient must match the tensor: shape \(3,\), "
                                         r"dtype float32, device cpu; got shape \(4,\)"):
        ours.grad = mr.ones(4)
    with pytest.raises(RuntimeError):
        theirs.grad = torch.ones(3, dtype=torch.float64)
    with pytest.raises(RuntimeError, match=r"dtype float32, device cpu; got shape \(3,\), dtype float64"):
        ours.grad = mr.ones(3, dtype=mr.float64)


def test_a_manual_sgd_step_through_data_and_grad_matches_torch(torch):
    """The step of many old scripts: p.data -= lr * p.grad, p.grad.zero_()."""
    weight, x = random_array((3, 4)), random_array((5, 4))
    ours, theirs = mr.tensor(weight, requires_grad=True), torch.tensor(weight, requires_grad=True)
    for _ in range(2):
        (mr.tensor(x) @ ours.t()).relu().sum().backward()
        (torch.tensor(x) @ theirs.t()).relu().sum().backward()
        for parameter in (ours, theirs):
            parameter.data -= 0.1 * parameter.grad
            parameter.grad.zero_()
    np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), rtol=1e-14)
    assert ours.requires_grad and ours.is_leaf


SETITEM_CASES = [
    ("a slice", (slice(None), 1), 7.0),
    ("a boolean mask", "mask", 0.0),
    ("an integer tensor", "rows", "row"),
    ("everything", Ellipsis, "full"),
]


@pytest.mark.parametrize("name, index, value", SETITEM_CASES, ids=[case[0] for case in SETITEM_CASES])
def test_setitem_like_torch(name, index, value, device, torch):
    data = random_array((3, 4))
    ours, theirs = on_device(data, device, requires_grad=False), torch.tensor(data)
    our_index, their_index = index, index
    if index == "mask":
        our_index, their_index = ours > 0, theirs > 0
    elif index == "rows":
        our_index = mr.tensor([2, 0], device=device)
        their_index = torch.tensor([2, 0])
    our_value, their_value = value, value
    if value in ("row", "full"):
        shape = (4,) if value == "row" else (3, 4)
        our_value = on_device(random_array(shape, seed=1), device, requires_grad=False)
        their_value = torch.tensor(random_array(shape, seed=1))
    array = ours.array
    ours[our_index] = our_value
    theirs[their_index] = their_value
    assert ours.array is array
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_setitem_through_data_changes_a_parameter(torch):
    ours, theirs = mr.nn.Parameter(mr.zeros(2, 3)), torch.nn.Parameter(torch.zeros(2, 3))
    ours.data[...] = mr.ones(2, 3)
    theirs.data[...] = torch.ones(2, 3)
    np.testing.assert_array_equal(ours.numpy(), theirs.detach().numpy())


def test_setitem_errors():
    with pytest.raises(RuntimeError, match=r"__setitem__: minires has no in-place ops on tensors that "
                                           r"require grad, outside no_grad\(\)"):
        mr.zeros(3, requires_grad=True)[0] = 1.0
    with pytest.raises(RuntimeError, match=r"__setitem__: minires has no in-place ops on tensors in the "
                                           r"autograd graph"):
        (mr.zeros(3, requires_grad=True) * 2)[0] = 1.0
    with pytest.raises(RuntimeError, match=r"__setitem__: the operand requires grad"):
        mr.zeros(3)[0] = mr.ones((), requires_grad=True)
    with pytest.raises(ValueError, match=r"__setitem__: cannot set float32 tensor of shape \(2, 3\) at"):
        mr.zeros(2, 3)[0] = mr.ones(4)
    with pytest.raises(IndexError, match=r"__setitem__: cannot set float32 tensor of shape \(2, 3\) at 5"):
        mr.zeros(2, 3)[5] = 1.0
    with pytest.raises(mr.backend.DeviceMismatchError, match=r"__setitem__: tensor on cpu, value on strict"):
        mr.zeros(3)[0] = mr.ones((), device="strict")
    with mr.no_grad():                                                 # a parameter under no_grad: fine
        parameter = mr.zeros(3, requires_grad=True)
        parameter[1] = 5.0
    assert parameter.tolist() == [0.0, 5.0, 0.0]


@pytest.mark.parametrize("op", ["+=", "-=", "*=", "/="])
def test_augmented_assignment_outside_the_graph_is_in_place_like_torch(op, device, torch):
    data, other = random_array((2, 3)), random_array((3,), seed=1)
    ours, theirs = on_device(data, device, requires_grad=False), torch.tensor(data)
    our_alias, their_alias = ours, theirs
    our_other, their_other = on_device(other, device, requires_grad=False), torch.tensor(other)
    namespace = {"ours": ours, "theirs": theirs, "our_other": our_other, "their_other": their_other}
    exec(f"ours {op} our_other\ntheirs {op} their_other", namespace)
    assert namespace["ours"] is our_alias and namespace["theirs"] is their_alias
    np.testing.assert_allclose(our_alias.numpy(), their_alias.numpy(), rtol=1e-15)


def test_augmented_assignment_on_a_graph_tensor_gives_torchs_values_and_gradients(device, torch):
    """`out += shortcut` in a residual block: a new tensor in minires, in place in PyTorch;
    the same output and gradients."""
    data = random_array((2, 3))
    ours, theirs = on_device(data, device), torch.tensor(data, requires_grad=True)
    results = []
    for x in (ours, theirs):
        out = x * 2.0
        out += x.relu()                                                  # graph tensor += graph tensor
        out *= 0.5
        out.sum().backward()
        results.append((out, x.grad))
    (our_out, our_grad), (their_out, their_grad) = results
    np.testing.assert_allclose(our_out.numpy(), their_out.detach().numpy(), rtol=1e-15)
    np.testing.assert_allclose(our_grad.numpy(), their_grad.numpy(), rtol=1e-15)


def test_augmented_assignment_with_a_graph_operand_stays_in_the_graph(torch):
    """total += loss, where total needs no grad but loss does: the gradient still flows."""
    ours, theirs = mr.tensor([1.0, 2.0], requires_grad=True), torch.tensor([1.0, 2.0], requires_grad=True)
    our_total, their_total = mr.zeros(()), torch.zeros(())
    our_total += (ours * ours).sum()
    their_total += (theirs * theirs).sum()
    our_total.backward()
    their_total.backward()
    np.testing.assert_array_equal(ours.grad.numpy(), theirs.grad.numpy())


def test_augmented_assignment_on_a_leaf_that_requires_grad_refuses_like_torch(torch):
    with pytest.raises(RuntimeError):
        theirs = torch.zeros(3, requires_grad=True)
        theirs += 1.0
    ours = mr.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"add_: minires has no in-place ops on tensors that require grad"):
        ours += 1.0
    with mr.no_grad():                                                 # an optimiser's update: in place
        alias = ours
        ours -= 0.5
    assert ours is alias and ours.tolist() == [-0.5, -0.5, -0.5]
