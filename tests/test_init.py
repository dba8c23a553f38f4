"""minires.nn.init and minires.manual_seed: seeding, the distributions drawn, in-place writes, errors.

Initialisation draws on the host, from the Generator that manual_seed seeds, so a seed
fixes a model's weights on every device. The distributions are checked on tensors of
~300,000 values, where a sample std is within ~0.2% of the true one; the tests allow 2%.

Fans, as in PyTorch: a convolution weight (C_out, C_in, KH, KW) has fan_in = C_in*KH*KW
and fan_out = C_out*KH*KW; a linear weight (out_features, in_features) has fan_in =
in_features and fan_out = out_features.
"""

import contextlib
import math
import re

import numpy as np
import pytest

import minires as mr
import minires.functional as F
from minires import nn
from minires.nn import init

BIG_SHAPE = (256, 128, 3, 3)
FAN_IN, FAN_OUT = 128 * 9, 256 * 9


def empty(shape=BIG_SHAPE, device="cpu", dtype=mr.float64):
    """A Parameter of zeros to initialise."""
    return nn.Parameter(mr.tensor(np.zeros(shape), dtype=dtype, device=device))


def assert_relative(actual, expected, tolerance=0.02, what=""):
    assert abs(actual / expected - 1) < tolerance, f"{what}: {actual} not within {tolerance:.0%} of {expected}"


# --- manual_seed --------------------------------------------------------------------

def cifar_state(seed):
    mr.manual_seed(seed)
    return mr.models.cifar_net("residual", 8).state_dict()


@contextlib.contextmanager
def default_device(device):
    """minires.set_device(device) inside the block, then the device there was before."""
    previous = mr.get_device()
    mr.set_device(device)
    try:
        yield
    finally:
        mr.set_device(previous)


def test_manual_seed_makes_a_model_reproducible():
    first, second = cifar_state(3), cifar_state(3)
    assert list(first) == list(second)
    for name in first:
        np.testing.assert_array_equal(first[name], second[name], err_msg=name)


def test_another_seed_gives_other_weights():
    first, other = cifar_state(3), cifar_state(4)
    random_weights = [name for name, value in first.items() if value.ndim >= 2]   # conv and fc weights
    assert len(random_weights) >= 8
    for name in random_weights:
        assert not np.array_equal(first[name], other[name]), name


def test_a_model_built_on_a_device_has_the_weights_built_on_cpu():
    with default_device("cpu"):
        on_cpu = cifar_state(3)
    with default_device("strict"):
        mr.manual_seed(3)
        model = mr.models.cifar_net("residual", 8)
    assert {parameter.device for parameter in model.parameters()} == {"strict"}
    on_strict = model.state_dict()                                 # host copies
    for name in on_cpu:
        np.testing.assert_array_equal(on_strict[name], on_cpu[name], err_msg=name)


def test_a_layer_built_on_a_device_has_the_weights_built_on_cpu():
    mr.manual_seed(7)
    on_cpu = nn.Conv2d(3, 4, 3, device="cpu", dtype=mr.float32).state_dict()
    mr.manual_seed(7)
    on_strict = nn.Conv2d(3, 4, 3, device="strict", dtype=mr.float32).state_dict()
    for name in on_cpu:
        np.testing.assert_array_equal(on_strict[name], on_cpu[name], err_msg=name)


def test_manual_seed_seeds_dropout(device):
    x = mr.tensor(np.ones((20, 30)), device=device)

    def mask(seed):
        mr.manual_seed(seed)
        return F.dropout(x, 0.5).numpy() != 0

    first = mask(5)
    np.testing.assert_array_equal(mask(5), first)
    assert not np.array_equal(mask(6), first)


@pytest.mark.parametrize("seed", [-1, 1.5, True, "3"])
def test_manual_seed_refuses_what_is_not_a_non_negative_int(seed):
    message = f"manual_seed: the seed must be a non-negative int; got {seed!r}"
    with pytest.raises(ValueError, match=re.escape(message)):
        mr.manual_seed(seed)


def test_manual_seed_accepts_a_numpy_integer():
    mr.manual_seed(np.int64(3))
    first = mr.models.cifar_net("residual", 8).state_dict()
    np.testing.assert_array_equal(first["stem.0.weight"], cifar_state(3)["stem.0.weight"])


# --- Kaiming (He) initialisation ----------------------------------------------------

# (mode, nonlinearity, a, expected std): gain sqrt(2) for ReLU, sqrt(2 / (1 + a^2)) for a leaky one
KAIMING_CASES = [
    pytest.param("fan_in", "relu", 0.0, math.sqrt(2 / FAN_IN), id="fan_in_relu"),
    pytest.param("fan_out", "relu", 0.0, math.sqrt(2 / FAN_OUT), id="fan_out_relu"),
    pytest.param("fan_in", "leaky_relu", 0.2, math.sqrt(2 / 1.04 / FAN_IN), id="fan_in_leaky_0.2"),
    pytest.param("fan_out", "leaky_relu", math.sqrt(5), math.sqrt(2 / 6 / FAN_OUT), id="fan_out_leaky_sqrt5"),
    pytest.param("fan_in", "leaky_relu", 0.0, math.sqrt(2 / FAN_IN), id="fan_in_leaky_0"),
]


@pytest.mark.parametrize("mode, nonlinearity, a, std", KAIMING_CASES)
def test_kaiming_normal_std(mode, nonlinearity, a, std):
    mr.manual_seed(0)
    values = init.kaiming_normal_(empty(), a=a, mode=mode, nonlinearity=nonlinearity).numpy()
    assert_relative(values.std(), std, what="std")
    assert abs(values.mean()) < 0.01 * std                         # 5 standard errors: 0.009 std


@pytest.mark.parametrize("mode, nonlinearity, a, std", KAIMING_CASES)
def test_kaiming_uniform_bound_and_std(mode, nonlinearity, a, std):
    mr.manual_seed(0)
    values = init.kaiming_uniform_(empty(), a=a, mode=mode, nonlinearity=nonlinearity).numpy()
    bound = std * math.sqrt(3)                                     # U(-b, b) has std b / sqrt(3)
    assert np.abs(values).max() <= bound
    assert np.abs(values).max() > 0.999 * bound
    assert_relative(values.std(), std, what="std")


def test_kaiming_normal_default_is_leaky_relu_fan_in():
    mr.manual_seed(0)
    values = init.kaiming_normal_(empty()).numpy()                 # a=0: gain sqrt(2)
    assert_relative(values.std(), math.sqrt(2 / FAN_IN))


def test_fans_of_a_linear_weight():
    mr.manual_seed(0)
    values = init.kaiming_normal_(empty((300, 1000)), mode="fan_out", nonlinearity="relu").numpy()
    assert_relative(values.std(), math.sqrt(2 / 300))


@pytest.mark.parametrize("nonlinearity, param", [
    ("linear", None), ("conv2d", None), ("sigmoid", None), ("tanh", None), ("relu", None),
    ("leaky_relu", None), ("leaky_relu", 0.2), ("leaky_relu", 0), ("leaky_relu", math.sqrt(5)),
])
def test_calculate_gain_matches_torch(nonlinearity, param, torch):
    expected = torch.nn.init.calculate_gain(nonlinearity, param)
    assert init.calculate_gain(nonlinearity, param) == pytest.approx(expected, rel=1e-15)


# --- Hardt and Ma ---------------------------------------------------------------------

@pytest.mark.parametrize("shape, fan_out", [
    pytest.param((64, 128, 3, 3), 64 * 9, id="conv"),            # fan_out = C_out * KH * KW, not C_in * ...
    pytest.param((500, 600), 500, id="linear"),                    # fan_out = out_features
])
def test_hardt_ma_normal_std_is_one_over_k2_times_output_channels(shape, fan_out):
    mr.manual_seed(0)
    values = init.hardt_ma_normal_(empty(shape)).numpy()
    assert_relative(values.std(), 1 / fan_out, what="std")        # 1 / (k^2 C_out), not 1 / sqrt(...)
    assert abs(values.mean()) < 0.02 / fan_out


# --- The simple fills ---------------------------------------------------------------

def test_uniform_values():
    mr.manual_seed(0)
    values = init.uniform_(empty(), -3.0, 5.0).numpy()
    assert values.min() >= -3.0 and values.max() < 5.0
    assert values.min() < -2.99 and values.max() > 4.99
    assert abs(values.mean() - 1.0) < 0.02
    assert_relative(values.std(), 8 / math.sqrt(12), what="std")


def test_normal_values():
    mr.manual_seed(0)
    values = init.normal_(empty(), mean=2.0, std=0.5).numpy()
    assert abs(values.mean() - 2.0) < 0.005
    assert_relative(values.std(), 0.5, what="std")


def test_uniform_and_normal_are_seeded():
    mr.manual_seed(1)
    first = init.normal_(empty((4, 5))).numpy(), init.uniform_(empty((4, 5))).numpy()
    mr.manual_seed(1)
    np.testing.assert_array_equal(init.normal_(empty((4, 5))).numpy(), first[0])
    np.testing.assert_array_equal(init.uniform_(empty((4, 5))).numpy(), first[1])


# (fill, the value every element gets, or None for a random fill)
FILLS = [
    pytest.param(lambda t: init.constant_(t, 2.5), 2.5, id="constant"),
    pytest.param(init.zeros_, 0.0, id="zeros"),
    pytest.param(init.ones_, 1.0, id="ones"),
    pytest.param(lambda t: init.uniform_(t, -1.0, 1.0), None, id="uniform"),
    pytest.param(lambda t: init.normal_(t, 0.0, 1.0), None, id="normal"),
    pytest.param(init.kaiming_normal_, None, id="kaiming_normal"),
    pytest.param(init.kaiming_uniform_, None, id="kaiming_uniform"),
    pytest.param(init.hardt_ma_normal_, None, id="hardt_ma_normal"),
]


@pytest.mark.parametrize("fill, value", FILLS)
def test_fills_in_place_keeping_dtype_and_device(fill, value, device):
    mr.manual_seed(0)
    tensor = nn.Parameter(mr.tensor(np.full((6, 5, 2, 2), 7.0), dtype=mr.float32, device=device))
    array = tensor.array
    assert fill(tensor) is tensor
    assert tensor.array is array                                    # the same array, overwritten
    assert tensor.dtype == np.float32 and tensor.device == device
    values = tensor.numpy()
    if value is None:
        assert not np.any(values == 7.0) and len(np.unique(values)) == values.size
    else:
        np.testing.assert_array_equal(values, np.full((6, 5, 2, 2), value, dtype=np.float32))


def test_fills_a_float64_tensor_in_float64():
    mr.manual_seed(0)
    tensor = init.normal_(empty((100,)), 0.0, 1.0)
    assert tensor.dtype == np.float64
    assert not np.array_equal(tensor.numpy(), tensor.numpy().astype(np.float32))   # not float32 values


# --- Errors -------------------------------------------------------------------------

@pytest.mark.parametrize("initialise", [init.kaiming_normal_, init.kaiming_uniform_, init.hardt_ma_normal_],
                         ids=["kaiming_normal", "kaiming_uniform", "hardt_ma_normal"])
def test_fans_of_a_1d_tensor_name_the_shape(initialise):
    with pytest.raises(ValueError, match=r"at least 2 dimensions; got shape \(5,\)"):
        initialise(empty((5,)))


@pytest.mark.parametrize("initialise", [init.kaiming_normal_, init.kaiming_uniform_])
def test_bad_mode(initialise):
    with pytest.raises(ValueError, match="init: mode must be 'fan_in' or 'fan_out'; got 'fan_avg'"):
        initialise(empty((3, 4)), mode="fan_avg")


def test_unknown_nonlinearity():
    with pytest.raises(ValueError, match="calculate_gain: unknown nonlinearity 'selu'; use linear"):
        init.calculate_gain("selu")
    with pytest.raises(ValueError, match="unknown nonlinearity 'gelu'"):
        init.kaiming_normal_(empty((3, 4)), nonlinearity="gelu")
