"""minires.nn.utils.clip_grad_norm_ against torch.nn.utils.clip_grad_norm_."""

import numpy as np
import pytest

import minires as mr
from minires import backend
from minires.nn import Parameter
from minires.nn.utils import clip_grad_norm_
from helpers import random_array
from strict_device import count_synchronizations

SHAPES = [(3,), (2, 3), (4,), (2,)]


def grads():
    """Host gradients; the last parameter has none (it is skipped)."""
    return [random_array(shape, seed=index) for index, shape in enumerate(SHAPES[:-1])] + [None]


def mr_parameters(device, dtype=mr.float64):
    parameters = [Parameter(mr.tensor(np.zeros(shape), dtype=dtype, device=device)) for shape in SHAPES]
    for parameter, grad in zip(parameters, grads()):
        parameter.grad = None if grad is None else mr.Tensor(backend.to_device(grad.astype(dtype), device))
    return parameters


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, float("inf")])
@pytest.mark.parametrize("max_norm", [0.5, 100.0], ids=["clips", "leaves"])
def test_matches_torch(device, torch, norm_type, max_norm):
    parameters = mr_parameters(device)
    arrays = [parameter.grad for parameter in parameters]
    total = clip_grad_norm_(parameters, max_norm, norm_type)

    torch_parameters = [torch.nn.Parameter(torch.zeros(shape)) for shape in SHAPES]
    for parameter, grad in zip(torch_parameters, grads()):
        parameter.grad = None if grad is None else torch.tensor(grad)
    torch_total = torch.nn.utils.clip_grad_norm_(torch_parameters, max_norm, norm_type)

    assert isinstance(total, mr.Tensor) and total.shape == () and total.device == device
    np.testing.assert_allclose(total.item(), torch_total.item(), rtol=1e-13)
    assert parameters[-1].grad is None
    for parameter, array, torch_parameter in zip(parameters[:-1], arrays, torch_parameters):
        assert parameter.grad is array, "clipping must scale the gradients in place"
        np.testing.assert_allclose(parameter.grad.numpy(), torch_parameter.grad.numpy(), rtol=1e-13)
    clipped = max_norm < total.item()
    assert clipped == (max_norm == 0.5), "the cases should clip once and leave once"


def test_clipped_norm_is_max_norm_and_no_synchronisation():
    parameters = mr_parameters("strict", dtype=mr.float32)
    with count_synchronizations() as syncs:
        total = clip_grad_norm_(parameters, 0.5)
    assert syncs.count == 0
    assert total.dtype == mr.float32 and all(p.grad.dtype == mr.float32 for p in parameters[:-1])
    after = np.sqrt(sum(np.sum(p.grad.numpy().astype(float) ** 2) for p in parameters[:-1]))
    np.testing.assert_allclose(after, 0.5, rtol=1e-5)


def test_single_tensor_no_gradients_and_bad_norm_type():
    parameter = Parameter(mr.tensor(np.zeros(3)))
    assert clip_grad_norm_(parameter, 1.0).item() == 0.0
    parameter.grad = mr.Tensor(np.array([3.0, 4.0, 0.0]))
    assert clip_grad_norm_(parameter, 1.0).item() == 5.0
    np.testing.assert_allclose(parameter.grad, [0.6, 0.8, 0.0], rtol=1e-6)
    with pytest.raises(ValueError, match="norm_type must be positive"):
        clip_grad_norm_([parameter], 1.0, norm_type=0)
