"""linear: x @ weight^T + bias for 1-D, 2-D and 3-D inputs, with and without bias; shape and dtype errors."""

import re

import numpy as np
import pytest

import minires as mr
import minires.functional as F
from helpers import check_gradients, compare_with_torch, on_device, random_array

IN_FEATURES, OUT_FEATURES = 4, 3
# (input shape, with bias): one sample (in,), a batch (N, in), a batch of sequences (B, N, in)
CASES = [
    pytest.param((IN_FEATURES,), True, id="vector_bias"),
    pytest.param((IN_FEATURES,), False, id="vector"),
    pytest.param((5, IN_FEATURES), True, id="batch_bias"),
    pytest.param((5, IN_FEATURES), False, id="batch"),
    pytest.param((2, 5, IN_FEATURES), True, id="batch3d_bias"),
    pytest.param((2, 5, IN_FEATURES), False, id="batch3d"),
]


def host_inputs(x_shape, with_bias):
    """x, weight (out_features, in_features) and, when asked, bias (out_features,)."""
    inputs = [random_array(x_shape, seed=0), random_array((OUT_FEATURES, IN_FEATURES), seed=1)]
    return inputs + [random_array((OUT_FEATURES,), seed=2)] if with_bias else inputs


# Central differences in float64 for x, weight and bias, on every device.
@pytest.mark.parametrize("x_shape, with_bias", CASES)
def test_gradients(x_shape, with_bias, device):
    check_gradients(F.linear, host_inputs(x_shape, with_bias), device)


# The NumPy answer: x @ weight.T + bias, of shape (*, out_features).
@pytest.mark.parametrize("x_shape, with_bias", CASES)
def test_matches_numpy(x_shape, with_bias, device):
    inputs = host_inputs(x_shape, with_bias)
    output = F.linear(*[on_device(array, device) for array in inputs])
    expected = inputs[0] @ inputs[1].T + (inputs[2] if with_bias else 0.0)
    assert output.shape == x_shape[:-1] + (OUT_FEATURES,)
    np.testing.assert_allclose(output.numpy(), expected, rtol=1e-13, atol=1e-13)


# Values and gradients equal torch.nn.functional.linear's (same argument order) to 1e-10.
@pytest.mark.parametrize("x_shape, with_bias", CASES)
def test_matches_torch(x_shape, with_bias, torch):
    compare_with_torch(torch, F.linear, torch.nn.functional.linear, host_inputs(x_shape, with_bias))


# A weight that is not (out_features, in_features): a vector, or a stack of matrices.
@pytest.mark.parametrize("weight_shape", [(IN_FEATURES,), (2, OUT_FEATURES, IN_FEATURES)])
def test_weight_must_be_2d(weight_shape, device):
    x, weight = on_device(np.ones((5, IN_FEATURES)), device), on_device(np.ones(weight_shape), device)
    with pytest.raises(ValueError, match=r"linear: expected a 2-D weight \(out_features, in_features\); "
                                         r"got shape " + re.escape(str(weight_shape))):
        F.linear(x, weight)


# The input's last dimension must be in_features; the message names both shapes.
def test_in_features_mismatch(device):
    x, weight = on_device(np.ones((5, 6)), device), on_device(np.ones((3, 4)), device)
    with pytest.raises(ValueError, match=r"linear: input \(5, 6\) does not fit weight \(3, 4\): "
                                         r".*in_features = 4"):
        F.linear(x, weight)


# A 0-d input has no feature dimension at all.
def test_scalar_input(device):
    x, weight = on_device(np.ones(()), device), on_device(np.ones((3, 4)), device)
    with pytest.raises(ValueError, match=r"linear: input \(\) does not fit weight \(3, 4\)"):
        F.linear(x, weight)


# One bias per output: a wrong length, and a (1, out) bias that would broadcast silently.
@pytest.mark.parametrize("bias_shape", [(IN_FEATURES,), (1, OUT_FEATURES)])
def test_bias_shape(bias_shape, device):
    x, weight, _ = [on_device(array, device) for array in host_inputs((5, IN_FEATURES), True)]
    bias = on_device(np.ones(bias_shape), device)
    with pytest.raises(ValueError, match=r"linear: bias must have shape \(3,\), one value per output; "
                                         r"got " + re.escape(str(bias_shape))):
        F.linear(x, weight, bias)


# PyTorch refuses mixed dtypes; so does linear, rather than promote float32 to float64.
def test_mixed_dtypes_are_refused(device):
    x = mr.tensor(np.ones((5, IN_FEATURES)), dtype=mr.float32, device=device)
    weight = on_device(np.ones((OUT_FEATURES, IN_FEATURES)), device)
    with pytest.raises(TypeError, match="linear: expected inputs of one floating dtype; got x float32, weight float64"):
        F.linear(x, weight)
