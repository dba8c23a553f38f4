"""Hooks against PyTorch on the same small nets: Tensor.register_hook and the three
module hooks (call order, arguments, replacement, removal), then the errors, and the
strict device (no host synchronisation added)."""

import numpy as np
import pytest

import minires as mr
from minires import nn
from helpers import on_device, random_array
from strict_device import count_synchronizations


def small_nets(torch):
    """The same Linear-ReLU-Linear net in both frameworks, float64, PyTorch's weights."""
    torch.manual_seed(0)
    theirs = torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.ReLU(), torch.nn.Linear(5, 3)).double()
    ours = nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.Linear(5, 3)).double()
    ours.load_state_dict({name: value.detach().numpy() for name, value in theirs.state_dict().items()})
    return ours, theirs


def as_numpy(value):
    """A Tensor of either framework, or None, as a NumPy array (None stays None)."""
    if value is None:
        return None
    return value.numpy() if isinstance(value, mr.Tensor) else value.detach().numpy()


def assert_same_records(ours, theirs):
    assert [record[0] for record in ours] == [record[0] for record in theirs]
    for mine, reference in zip(ours, theirs):
        for a, b in zip(mine[1:], reference[1:]):
            assert (a is None) == (b is None)
            if a is not None:
                np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-15)


def test_tensor_hook_sees_the_gradient_and_may_replace_it_like_torch(torch):
    records = {}
    for framework, make in (("ours", lambda x: mr.tensor(x, requires_grad=True)),
                            ("theirs", lambda x: torch.tensor(x, requires_grad=True))):
        x = make(random_array((2, 3)))
        h = x * 3.0
        seen = []
        h.register_hook(lambda grad: seen.append(("h first", as_numpy(grad))))
        h.register_hook(lambda grad: grad * 2.0)                         # doubles what flows on
        h.register_hook(lambda grad: seen.append(("h after the doubling", as_numpy(grad))))
        x.register_hook(lambda grad: seen.append(("x, a leaf", as_numpy(grad))))
        (h * h).sum().backward()
        records[framework] = seen + [("x.grad", as_numpy(x.grad))]
    assert_same_records(records["ours"], records["theirs"])


def test_a_removed_tensor_hook_is_not_called_like_torch(torch):
    for x in (mr.tensor([1.0, 2.0], requires_grad=True), torch.tensor([1.0, 2.0], requires_grad=True)):
        calls = []
        handle = x.register_hook(lambda grad: calls.append(1))
        handle.remove()
        handle.remove()                                                  # twice: nothing happens
        (x * 2.0).sum().backward()
        assert calls == []


def test_module_forward_hooks_order_arguments_and_replacement_like_torch(torch):
    data = random_array((2, 4))
    records = {}
    for framework, (model, x) in (("ours", (small_nets(torch)[0], mr.tensor(data))),
                                  ("theirs", (small_nets(torch)[1], torch.tensor(data)))):
        seen = []
        first, relu, last = model[0], model[1], model[2]
        first.register_forward_pre_hook(lambda module, args: seen.append(("pre 0", as_numpy(args[0]))))
        first.register_forward_hook(lambda module, args, output: seen.append(("post 0", as_numpy(args[0]),
                                                                             as_numpy(output))))
        relu.register_forward_pre_hook(lambda module, args: (args[0] * 2.0,))          # replaces the input
        relu.register_forward_hook(lambda module, args, output: seen.append(("post relu", as_numpy(args[0]),
                                                                            as_numpy(output))))
        handle = last.register_forward_hook(lambda module, args, output: output + 1.0)  # replaces the output
        outputs = [as_numpy(model(x))]
        handle.remove()
        outputs.append(as_numpy(model(x)))
        records[framework] = seen + [("outputs", *outputs)]
    assert_same_records(records["ours"], records["theirs"])


def test_full_backward_hooks_like_torch(torch):
    data = random_array((2, 4))
    records = {}
    for framework, (model, x) in (("ours", (small_nets(torch)[0], mr.tensor(data, requires_grad=True))),
                                  ("theirs", (small_nets(torch)[1], torch.tensor(data, requires_grad=True)))):
        seen = []

        def record(name):
            return lambda module, grad_input, grad_output: seen.append(
                (name, *[as_numpy(g) for g in grad_input], *[as_numpy(g) for g in grad_output]))

        for index in range(3):
            model[index].register_full_backward_hook(record(f"module {index}"))
        model[1].register_full_backward_hook(lambda module, grad_input, grad_output: (grad_input[0] * 0.5,))
        model[1].register_full_backward_hook(record("relu after the halving"))
        model(x).pow(2).sum().backward()
        records[framework] = seen + [("x.grad", as_numpy(x.grad))] + [
            (name, as_numpy(parameter.grad)) for name, parameter in model.named_parameters()]
    assert_same_records(records["ours"], records["theirs"])


@pytest.mark.filterwarnings("ignore:Full backward hook is firing")     # PyTorch's notice of this very case
def test_full_backward_hook_when_the_input_needs_no_grad_like_torch(torch):
    """The first layer of a net sees images: grad_input is (None,), and the hook still runs."""
    data = random_array((2, 4))
    records = {}
    for framework, (model, x) in (("ours", (small_nets(torch)[0], mr.tensor(data))),
                                  ("theirs", (small_nets(torch)[1], torch.tensor(data)))):
        seen = []
        model[0].register_full_backward_hook(lambda module, grad_input, grad_output: seen.append(
            ("first layer", as_numpy(grad_input[0]), as_numpy(grad_output[0]))))
        model(x).sum().backward()
        records[framework] = seen
    assert_same_records(records["ours"], records["theirs"])
    assert records["ours"][0][1] is None


def test_hooks_leave_the_values_and_gradients_unchanged(device):
    model = mr.models.cifar_net("residual", 8, width=4).double().to(device)
    x = on_device(random_array((2, 3, 8, 8)), device)
    model(x).sum().backward()
    expected = [parameter.grad.numpy() for parameter in model.parameters()]
    output = model(x).numpy()
    model.zero_grad()
    handles = []
    for module in model.modules():
        handles.append(module.register_forward_hook(lambda module, args, output: None))
        handles.append(module.register_full_backward_hook(lambda module, grad_input, grad_output: None))
    np.testing.assert_array_equal(model(x).numpy(), output)
    model(x).sum().backward()
    for parameter, grad in zip(model.parameters(), expected):
        np.testing.assert_array_equal(parameter.grad.numpy(), grad)
    for handle in handles:
        handle.remove()
    assert not any(module._forward_hooks or module._backward_hooks for module in model.modules())


def test_hooks_add_no_host_synchronisation():
    model = mr.models.cifar_net("residual", 8, width=4).double().to("strict")
    x = on_device(random_array((2, 3, 8, 8)), "strict", requires_grad=False)
    gradient_norms = []
    for module in model.modules():
        module.register_full_backward_hook(
            lambda module, grad_input, grad_output: gradient_norms.append((grad_output[0] ** 2).sum()))
        module.register_forward_hook(lambda module, args, output: None)
    with count_synchronizations() as syncs:
        logits = model(x)
        logits.register_hook(lambda grad: grad * 1.0)
        logits.sum().backward()
    assert syncs.count == 0 and len(gradient_norms) > 10
    assert all(norm.device == "strict" for norm in gradient_norms)


def test_a_handle_is_a_context_manager():
    model = nn.Linear(2, 2)
    calls = []
    with model.register_forward_hook(lambda module, args, output: calls.append(1)):
        model(mr.zeros(1, 2))
    model(mr.zeros(1, 2))
    assert calls == [1]


def test_hook_errors():
    with pytest.raises(RuntimeError, match=r"register_hook: this tensor \(shape \(2,\)\) does not require grad"):
        mr.zeros(2).register_hook(lambda grad: None)
    with pytest.raises(TypeError, match="register_forward_hook: the hook must be callable; got int"):
        nn.Linear(2, 2).register_forward_hook(3)
    x = mr.zeros(2, requires_grad=True)
    x.register_hook(lambda grad: mr.zeros(3))
    with pytest.raises(RuntimeError, match=r"register_hook returned shape \(3,\), dtype float32, device cpu; "
                                           r"it must return None or a Tensor of shape \(2,\)"):
        (x * 2.0).sum().backward()

    class TwoInputs(nn.Module):
        def forward(self, a, b):
            return a + b

    two = TwoInputs()
    two.register_full_backward_hook(lambda module, grad_input, grad_output: None)
    with pytest.raises(NotImplementedError, match=r"TwoInputs was called with 2 input tensors that require "
                                                  r"grad \(positions \[0, 1\]\)"):
        two(mr.zeros(2, requires_grad=True), mr.zeros(2, requires_grad=True))
    assert two(mr.zeros(2, requires_grad=True), mr.zeros(2)).shape == (2,)         # one needs grad: fine
    layer = nn.Linear(2, 2)
    layer.register_full_backward_hook(lambda module, grad_input, grad_output: (mr.zeros(5), ))
    with pytest.raises(RuntimeError, match=r"a full backward hook of Linear returned shape \(5,\) for input 0"):
        layer(mr.zeros(1, 2, requires_grad=True)).sum().backward()


def test_a_module_without_super_init_says_so():
    class Forgetful(nn.Module):
        def __init__(self):
            self.scale = 2.0

        def forward(self, x):
            return x * self.scale

    with pytest.raises(RuntimeError, match=r"Forgetful: call super\(\).__init__\(\) first thing in __init__"):
        Forgetful()(mr.zeros(2))
