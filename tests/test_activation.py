"""tanh, sigmoid, relu."""

import numpy as np
import pytest

import minires as mr
from helpers import OpCase, check_gradients, compare_with_torch, on_device

CASES = [
    OpCase("tanh", lambda a: a.tanh(), lambda a: a.tanh(), [(3, 4)]),
    OpCase("sigmoid", lambda a: a.sigmoid(), lambda a: a.sigmoid(), [(3, 4)]),
    OpCase("relu", lambda a: a.relu(), lambda a: a.relu(), [(3, 4)], away_from_zero=True),
    OpCase("relu_4d", lambda a: a.relu(), lambda a: a.relu(), [(2, 3, 2, 2)], away_from_zero=True),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_gradients(case, device):
    check_gradients(case.fn, case.host_inputs(), device)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_matches_torch(case, torch):
    compare_with_torch(torch, case.fn, case.torch_fn, case.host_inputs())


def test_sigmoid_is_stable_for_large_inputs(device):
    x = mr.tensor([-1000.0, -80.0, 0.0, 80.0, 1000.0], device=device, requires_grad=True)
    with np.errstate(all="raise"):                   # any overflow would raise here on the CPU
        y = x.sigmoid()
        y.sum().backward()
    values = y.numpy()
    assert np.all(np.isfinite(values)) and values[0] == 0.0 and values[-1] == 1.0
    assert np.all(np.isfinite(x.grad.numpy()))


def test_sigmoid_extremes_match_torch(torch):
    data = np.array([-700.0, -30.0, 30.0, 700.0])
    compare_with_torch(torch, lambda a: a.sigmoid(), lambda a: a.sigmoid(), [data])


def test_relu_gradient_at_zero_is_zero_like_torch(torch):
    x = on_device(np.array([-1.0, 0.0, 2.0]), "cpu")
    x.relu().sum().backward()
    reference = torch.tensor([-1.0, 0.0, 2.0], requires_grad=True)
    reference.relu().sum().backward()
    np.testing.assert_array_equal(x.grad, reference.grad.numpy())
