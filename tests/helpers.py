"""Helpers shared by the op tests: random inputs, gradient checks, PyTorch comparisons."""

from dataclasses import dataclass
from typing import Callable

import numpy as np

import minires as mr


def random_array(shape, seed=0, positive=False, away_from_zero=False):
    """A float64 host array of standard normal numbers (|x| + 0.1 when positive)."""
    values = np.random.default_rng(seed).standard_normal(shape)
    if positive:
        values = np.abs(values) + 0.1
    if away_from_zero:
        values = values + 0.1 * np.sign(values)
    return values


def on_device(array, device, requires_grad=True):
    """A float64 leaf Tensor holding a copy of ``array`` on ``device``."""
    return mr.tensor(array, dtype=mr.float64, device=device, requires_grad=requires_grad)


@dataclass
class OpCase:
    """One op under test: the minires function, its PyTorch twin, and input shapes.

    ``fn`` and ``torch_fn`` take the inputs positionally (minires Tensors, torch
    tensors); ``torch_fn`` is None when PyTorch has no matching op.
    """

    name: str
    fn: Callable
    torch_fn: Callable | None
    shapes: list
    positive: bool = False
    away_from_zero: bool = False

    def host_inputs(self):
        return [random_array(shape, seed=index, positive=self.positive,
                             away_from_zero=self.away_from_zero)
                for index, shape in enumerate(self.shapes)]

    def __str__(self):
        return self.name


def check_gradients(fn, inputs, device):
    """gradcheck of ``fn`` on ``device``, and every output and gradient on that device."""
    tensors = [on_device(array, device) for array in inputs]
    output = fn(*tensors)
    assert output.device == device, f"output came back on {output.device}, expected {device}"
    output.backward(mr.tensor(np.ones(output.shape), dtype=output.dtype, device=device))
    for index, tensor in enumerate(tensors):
        assert tensor.grad is not None, f"input {index} got no gradient"
        assert isinstance(tensor.grad, mr.Tensor) and tensor.grad.grad_fn is None
        assert tensor.grad.device == device, (
            f"the gradient of input {index} came back on {tensor.grad.device}")
        assert tensor.grad.shape == tensor.shape and tensor.grad.dtype == tensor.dtype
    assert mr.gradcheck(fn, *[on_device(array, device) for array in inputs])


def compare_with_torch(torch, fn, torch_fn, inputs, tolerance=1e-10):
    """Forward values and the gradients of every input agree with PyTorch in float64."""
    ours = [on_device(array, "cpu") for array in inputs]
    theirs = [torch.tensor(array, dtype=torch.float64, requires_grad=True) for array in inputs]
    output, expected = fn(*ours), torch_fn(*theirs)
    np.testing.assert_allclose(output.numpy(), expected.detach().numpy(), rtol=tolerance, atol=tolerance)
    weights = random_array(output.shape, seed=99)
    output.backward(mr.tensor(weights, dtype=mr.float64))
    expected.backward(torch.tensor(weights, dtype=torch.float64))
    for index, (mine, reference) in enumerate(zip(ours, theirs)):
        np.testing.assert_allclose(mine.grad, reference.grad.numpy(), rtol=tolerance, atol=tolerance,
                                   err_msg=f"gradient of input {index}")


def call_with_parameters(module, named_values, *inputs):
    """module(*inputs) with each named parameter replaced by the given Tensor, then restored.

    gradcheck hands its function float64 copies of every input; to check a module's
    gradient with respect to its own weights, those copies must be what the module
    computes with. ``named_values`` maps dotted names ("branch.conv1.weight") to Tensors.
    """
    owners = dict(module.named_modules())
    saved = []
    for name, value in named_values.items():
        owner_name, _, attribute = name.rpartition(".")
        owner = owners[owner_name]
        saved.append((owner, attribute, getattr(owner, attribute)))
        setattr(owner, attribute, value)
    try:
        return module(*inputs)
    finally:
        for owner, attribute, original in saved:
            setattr(owner, attribute, original)


def check_module_gradients(module, input_array, device, **gradcheck_options):
    """gradcheck of ``module`` in float64 on ``device`` w.r.t. its input and every parameter.

    Returns the names of the parameters checked. BatchNorm layers stay in the module's
    mode (training updates their running statistics on every call, which the output
    in training mode does not depend on).
    """
    module.double().to(device)
    names = [name for name, _ in module.named_parameters()]
    values = [mr.Tensor(parameter.array.copy(), requires_grad=True) for _, parameter in module.named_parameters()]

    def fn(x, *parameter_values):
        return call_with_parameters(module, dict(zip(names, parameter_values)), x)

    assert mr.gradcheck(fn, on_device(input_array, device), *values, **gradcheck_options)
    return names


def input_in_layout(x, layout):
    """The same (N, C, H, W) values in another memory layout."""
    if layout == "channels_last":
        return np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    if layout == "strided":                      # every other pixel of a larger array
        larger = np.zeros(x.shape[:2] + (2 * x.shape[2], 2 * x.shape[3]))
        larger[:, :, ::2, ::2] = x
        return larger[:, :, ::2, ::2]
    return np.ascontiguousarray(x)


def compare_with_torch_twin(torch, block, x_array, twin, tolerance=1e-10):
    """Forward, input gradient and every parameter's gradient of a float64 minires block and its
    PyTorch twin agree; ``twin(torch, x, weights)`` gets the block's state dict as torch
    tensors. Returns the names of the parameters checked."""
    x = on_device(x_array, "cpu")
    y = block(x)
    torch_weights = {name: torch.tensor(value, requires_grad=True)
                     for name, value in block.state_dict().items() if value.dtype == np.float64}
    torch_x = torch.tensor(x_array, requires_grad=True)
    expected = twin(torch, torch_x, torch_weights)
    np.testing.assert_allclose(y.numpy(), expected.detach().numpy(), rtol=tolerance, atol=tolerance)

    weights_out = random_array(y.shape, seed=2)
    y.backward(on_device(weights_out, "cpu", requires_grad=False))
    expected.backward(torch.tensor(weights_out))
    np.testing.assert_allclose(x.grad, torch_x.grad.numpy(), rtol=tolerance, atol=tolerance)
    checked = []
    for parameter_name, parameter in block.named_parameters():
        reference = torch_weights[parameter_name].grad
        assert reference is not None, f"the twin does not use {parameter_name}"
        np.testing.assert_allclose(parameter.grad, reference.numpy(), rtol=tolerance, atol=tolerance,
                                   err_msg=parameter_name)
        checked.append(parameter_name)
    return checked
