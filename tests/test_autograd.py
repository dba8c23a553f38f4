"""The engine: topological order, accumulation, freeing the graph, no_grad, errors."""

import weakref

import numpy as np
import pytest

import minires as mr
import minires.functional as F
from helpers import on_device
from strict_device import count_synchronizations


def test_a_node_used_twice_gets_both_gradients(device):
    # y = x*x + x: dy/dx = 2x + 1. Needs the topological order: x's gradient is the
    # sum over both uses before it is final.
    x = on_device(np.array([3.0]), device)
    h = x * x
    y = (h + h * 0.0 + x).sum()
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), [7.0])


def test_deep_chain_of_ten_thousand_ops_does_not_recurse():
    x = mr.tensor(1.0, dtype=mr.float64, requires_grad=True)
    y = x
    for _ in range(10_000):
        y = y * 1.0001
    y.backward()
    assert x.grad.item() == pytest.approx(1.0001 ** 10_000, rel=1e-9)


def test_second_backward_accumulates_and_none_resets():
    x = mr.tensor([1.0, 2.0], requires_grad=True)
    y = (x * 3.0).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_array_equal(x.grad, [6.0, 6.0])
    x.grad = None
    (x * 3.0).sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 3.0])


def test_graph_is_freed_after_backward():
    x = mr.tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp() * 2.0).sum()
    intermediate = weakref.ref(y.grad_fn.inputs[0])         # the output of `* 2.0`
    assert intermediate() is not None
    y.backward()
    assert intermediate() is None                           # nothing holds it any more
    assert y.grad_fn.saved is None and y.grad_fn.inputs is None
    with pytest.raises(RuntimeError, match="a second time.*retain_graph=True"):
        y.backward()


def test_retain_graph_keeps_saved_arrays():
    x = mr.tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp() * 2.0).sum()
    y.backward(retain_graph=True)
    assert y.grad_fn.inputs is not None
    y.backward()
    np.testing.assert_allclose(x.grad, 4.0 * np.exp([1.0, 2.0]), rtol=1e-6)


def test_leaf_gradients_do_not_share_memory():
    # add's backward hands the same array to both inputs; each leaf must own a copy.
    a = mr.tensor([1.0, 2.0], requires_grad=True)
    b = mr.tensor([3.0, 4.0], requires_grad=True)
    (a + b).sum().backward()
    a.grad *= 0.0
    np.testing.assert_array_equal(b.grad, [1.0, 1.0])


def test_only_leaves_keep_grad_unless_retain_grad():
    x = mr.tensor([1.0, 2.0], requires_grad=True)
    h = x * 2.0
    kept = x * 3.0
    kept.retain_grad()
    (h + kept).sum().backward()
    assert h.grad is None
    np.testing.assert_array_equal(kept.grad, [1.0, 1.0])


def test_no_grad_builds_no_graph():
    x = mr.tensor([1.0, 2.0], requires_grad=True)
    with mr.no_grad():
        y = x * 2.0
        assert not mr.is_grad_enabled()
    assert mr.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None

    @mr.no_grad()
    def evaluate(t):
        return t.exp()

    assert evaluate(x).grad_fn is None


def test_no_grad_restores_the_mode_after_an_exception():
    with pytest.raises(ZeroDivisionError):
        with mr.no_grad():
            1 / 0
    assert mr.is_grad_enabled()


def test_inputs_without_grad_get_no_gradient():
    x = mr.tensor([1.0, 2.0], requires_grad=True)
    constant = mr.tensor([5.0, 6.0])
    (x * constant).sum().backward()
    assert constant.grad is None
    np.testing.assert_array_equal(x.grad, [5.0, 6.0])


def test_backward_on_a_non_scalar_without_grad_names_the_shape():
    x = mr.tensor(np.ones((3, 4)), requires_grad=True)
    with pytest.raises(RuntimeError, match=r"backward: grad can be omitted only .* shape \(3, 4\)"):
        (x * 2.0).backward()


def test_backward_with_an_explicit_grad():
    x = mr.tensor([1.0, 2.0], requires_grad=True)
    (x * 2.0).backward(mr.tensor([1.0, 10.0]))
    np.testing.assert_array_equal(x.grad, [2.0, 20.0])
    with pytest.raises(ValueError, match=r"grad has shape \(3,\), but the tensor has shape \(2,\)"):
        (x * 2.0).backward(np.ones(3))
    with pytest.raises(mr.DeviceMismatchError, match="backward: grad is on cpu but the tensor is on strict"):
        (x.to("strict") * 2.0).backward(np.ones(2))


def test_backward_without_requires_grad():
    with pytest.raises(RuntimeError, match="does not require grad"):
        mr.tensor([1.0]).sum().backward()


class WrongShapeBackward(mr.Function):
    def forward(self, xp, x):
        return x * 2.0

    def backward(self, grad_output):
        return (grad_output.sum(),)


def test_a_backward_returning_the_wrong_shape_is_reported():
    x = mr.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"WrongShapeBackward.backward returned a gradient of shape \(\) "
                                           r"for input 0 of shape \(2,\)"):
        WrongShapeBackward.apply(x).sum().backward()


class ToHostBackward(mr.Function):
    def forward(self, xp, x):
        return x * 2.0

    def backward(self, grad_output):
        return (mr.backend.to_numpy(grad_output),)


def test_a_backward_returning_the_wrong_device_is_reported():
    x = on_device(np.ones(2), "strict")
    with pytest.raises(RuntimeError, match="ToHostBackward.backward returned a gradient for input 0 on cpu"):
        ToHostBackward.apply(x).sum().backward()


def test_custom_function_with_options():
    class Scale(mr.Function):
        def __init__(self, factor):
            self.factor = factor

        def forward(self, xp, x):
            return x * self.factor

        def backward(self, grad_output):
            return (grad_output * self.factor,)

    x = mr.tensor([1.0, 2.0], dtype=mr.float64, requires_grad=True)
    assert mr.gradcheck(lambda t: Scale.apply(t, factor=3.0), x)


def test_forward_and_backward_make_no_host_synchronisation():
    # The CUDA rule for a training step: no device-to-host copy inside forward and
    # backward. The strict stand-in counts them.
    x = on_device(np.random.default_rng(0).standard_normal((4, 3)), "strict")
    w = on_device(np.random.default_rng(1).standard_normal((3, 5)), "strict")
    with count_synchronizations() as syncs:
        h = (x @ w).relu() + F.maximum(x @ w, 0.5).sigmoid()
        h = F.pad(h.permute(1, 0), (1, 1)).reshape(-1, 2)[1:].tanh()
        loss = (h.amax(dim=1) + h.max(dim=1).values + h.topk(1).values.sum() + h.mean(dim=1, keepdim=True).exp().sum()).log().mean()
        loss.backward()
    assert syncs.count == 0
    assert x.grad is not None and w.grad is not None
