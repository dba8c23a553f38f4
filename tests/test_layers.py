"""minires.nn layers: gradients, PyTorch twins, default initialisation, device and dtype, errors, repr.

Layers with weights (Conv2d, Linear, BatchNorm1d, BatchNorm2d) are gradchecked with
respect to their input and every parameter; the layers without weights (activations,
dropout, pools, Flatten, Identity) with respect to their input. Each is then compared
with its torch.nn twin holding the same weights, in float64.
"""

import math
import re

import numpy as np
import pytest

import minires as mr
from minires import nn
from helpers import check_module_gradients, on_device, random_array
from strict_device import count_synchronizations

TOLERANCE = 1e-10


def assert_close(actual, expected, what=""):
    np.testing.assert_allclose(actual, expected, rtol=TOLERANCE, atol=TOLERANCE, err_msg=what)


# --- Gradients, by central differences, on every device ------------------------------

# (layer factory, input shape)
WEIGHTED_CASES = [
    pytest.param(lambda: nn.Conv2d(2, 3, 3), (2, 2, 5, 5), id="conv_bias"),
    pytest.param(lambda: nn.Conv2d(2, 3, 3, stride=2, padding=1, bias=False), (2, 2, 5, 5), id="conv_s2_p1"),
    pytest.param(lambda: nn.Conv2d(2, 3, (2, 3), stride=(2, 1), padding=(1, 0)), (1, 2, 4, 5),
                 id="conv_rect"),
    pytest.param(lambda: nn.Linear(5, 3), (4, 5), id="linear_bias"),
    pytest.param(lambda: nn.Linear(5, 3, bias=False), (2, 4, 5), id="linear_3d"),
]
# (layer factory, input shape); each runs in training and in evaluation
BATCH_NORM_CASES = [
    pytest.param(lambda: nn.BatchNorm1d(3), (6, 3), id="bn1d"),
    pytest.param(lambda: nn.BatchNorm1d(3, affine=False), (6, 3), id="bn1d_no_affine"),
    pytest.param(lambda: nn.BatchNorm2d(3), (2, 3, 3, 3), id="bn2d"),
    pytest.param(lambda: nn.BatchNorm2d(3, affine=False), (2, 3, 3, 3), id="bn2d_no_affine"),
    pytest.param(lambda: nn.BatchNorm2d(3, momentum=0.5, track_running_stats=False), (2, 3, 3, 3),
                 id="bn2d_no_running_stats"),
]
MODES = [pytest.param(True, id="training"), pytest.param(False, id="eval")]


@pytest.mark.parametrize("make_layer, x_shape", WEIGHTED_CASES)
def test_gradients(make_layer, x_shape, device):
    layer = make_layer()
    names = check_module_gradients(layer, random_array(x_shape), device)
    assert names == (["weight", "bias"] if layer.bias is not None else ["weight"])


@pytest.mark.parametrize("training", MODES)
@pytest.mark.parametrize("make_layer, x_shape", BATCH_NORM_CASES)
def test_batch_norm_gradients(make_layer, x_shape, training, device):
    layer = make_layer().double().to(device)
    for step in range(3):                                  # running statistics away from 0 and 1
        layer(on_device(random_array(x_shape, seed=10 + step) * 2 + 1, device, requires_grad=False))
    layer.train(training)
    names = check_module_gradients(layer, random_array(x_shape), device)
    assert names == (["weight", "bias"] if layer.affine else [])


S2_P1 = {"kernel_size": 3, "stride": 2, "padding": 1}
# (layer class, options, torch.nn name (None: AdaptiveAvgPool2d(1) then Flatten), input shape)
STATELESS_CASES = [
    pytest.param(nn.ReLU, {}, "ReLU", (3, 4), id="relu"),
    pytest.param(nn.Sigmoid, {}, "Sigmoid", (3, 4), id="sigmoid"),
    pytest.param(nn.MaxPool2d, {"kernel_size": 2}, "MaxPool2d", (2, 3, 4, 4), id="max_pool"),
    pytest.param(nn.MaxPool2d, S2_P1, "MaxPool2d", (1, 2, 5, 5), id="max_pool_s2_p1"),
    pytest.param(nn.AvgPool2d, {"kernel_size": 2}, "AvgPool2d", (2, 3, 4, 4), id="avg_pool"),
    pytest.param(nn.AvgPool2d, S2_P1, "AvgPool2d", (1, 2, 5, 5), id="avg_pool_s2_p1"),
    pytest.param(nn.GlobalAvgPool2d, {}, None, (2, 3, 4, 5), id="global_avg_pool"),
    pytest.param(nn.Flatten, {}, "Flatten", (2, 3, 2, 2), id="flatten"),
    pytest.param(nn.Flatten, {"start_dim": 0, "end_dim": 2}, "Flatten", (2, 3, 2, 2), id="flatten_0_2"),
    pytest.param(nn.Identity, {}, "Identity", (3, 4), id="identity"),
]


@pytest.mark.parametrize("layer_class, options, torch_name, x_shape", STATELESS_CASES)
def test_stateless_gradients(layer_class, options, torch_name, x_shape, device):
    # away from ReLU's kink at 0; normal draws leave no ties for the max pools
    assert check_module_gradients(layer_class(**options), random_array(x_shape, away_from_zero=True),
                                  device) == []


@pytest.mark.parametrize("training", MODES)
def test_dropout_gradients(training, device):
    layer = nn.Dropout(0.4).train(training)

    def seeded_dropout(x):
        mr.manual_seed(0)                                  # the same mask on every call
        return layer(x)

    assert mr.gradcheck(seeded_dropout, on_device(random_array((4, 5)), device))


# --- PyTorch ------------------------------------------------------------------------

def torch_twin(torch, layer):
    """The torch.nn layer matching ``layer``, holding a copy of its parameters."""
    if isinstance(layer, nn.Conv2d):
        twin = torch.nn.Conv2d(layer.in_channels, layer.out_channels, layer.kernel_size, layer.stride,
                               layer.padding, bias=layer.bias is not None)
    elif isinstance(layer, nn.Linear):
        twin = torch.nn.Linear(layer.in_features, layer.out_features, bias=layer.bias is not None)
    else:
        twin_class = torch.nn.BatchNorm1d if isinstance(layer, nn.BatchNorm1d) else torch.nn.BatchNorm2d
        twin = twin_class(layer.num_features, layer.eps, layer.momentum, layer.affine,
                          layer.track_running_stats)
    with torch.no_grad():
        for name, parameter in layer.named_parameters():
            getattr(twin, name).copy_(torch.tensor(parameter.numpy()))
    return twin


def randomise_parameters(layer):
    """Gives every parameter random values (batch norm starts with weight 1 and bias 0)."""
    for index, parameter in enumerate(layer.parameters()):
        parameter.array[...] = random_array(parameter.shape, seed=40 + index)
    return layer


def compare_step(torch, layer, twin, x_array, seed, what):
    """One forward and backward of both; the outputs and all gradients agree."""
    x, torch_x = on_device(x_array, "cpu"), torch.tensor(x_array, requires_grad=True)
    layer.zero_grad()
    twin.zero_grad()
    output, expected = layer(x), twin(torch_x)
    assert_close(output.numpy(), expected.detach().numpy(), f"{what}: output")
    weights = random_array(output.shape, seed=seed)
    output.backward(mr.tensor(weights, dtype=mr.float64))
    expected.backward(torch.tensor(weights))
    assert_close(x.grad, torch_x.grad.numpy(), f"{what}: input gradient")
    theirs = dict(twin.named_parameters())
    assert [name for name, _ in layer.named_parameters()] == list(theirs)
    for name, parameter in layer.named_parameters():
        assert_close(parameter.grad, theirs[name].grad.numpy(), f"{what}: gradient of {name}")


@pytest.mark.parametrize("make_layer, x_shape", WEIGHTED_CASES)
def test_matches_torch(make_layer, x_shape, torch):
    layer = make_layer().double()
    compare_step(torch, layer, torch_twin(torch, layer), random_array(x_shape), seed=99, what="step")


@pytest.mark.parametrize("make_layer, x_shape", BATCH_NORM_CASES)
def test_batch_norm_matches_torch_over_three_steps_then_eval(make_layer, x_shape, torch):
    layer = randomise_parameters(make_layer().double())
    twin = torch_twin(torch, layer)
    for step in range(3):
        batch = random_array(x_shape, seed=20 + step) * (step + 1) + step
        compare_step(torch, layer, twin, batch, seed=step, what=f"training step {step}")
    if layer.track_running_stats:
        assert_close(layer.running_mean.numpy(), twin.running_mean.numpy(), "running_mean")
        assert_close(layer.running_var.numpy(), twin.running_var.numpy(), "running_var")
        assert layer.num_batches_tracked.item() == twin.num_batches_tracked.item() == 3
    else:
        assert layer.running_mean is None and twin.running_mean is None
    layer.eval()
    twin.eval()
    compare_step(torch, layer, twin, random_array(x_shape, seed=30), seed=3, what="eval")


@pytest.mark.parametrize("layer_class, options, torch_name, x_shape", STATELESS_CASES)
def test_stateless_matches_torch(layer_class, options, torch_name, x_shape, torch):
    twin = (getattr(torch.nn, torch_name)(**options) if torch_name is not None
            else torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten()))
    compare_step(torch, layer_class(**options), twin, random_array(x_shape), seed=5, what=torch_name)


@pytest.mark.parametrize("p", [0.2, 0.7])
def test_dropout_is_identity_in_eval_and_zeroes_p_in_training(p, device):
    x = random_array(100_000, positive=True)
    layer, x_tensor = nn.Dropout(p), on_device(x, device, requires_grad=False)
    assert layer.eval()(x_tensor) is x_tensor
    mr.manual_seed(1)
    y = layer.train()(x_tensor).numpy()
    kept = y != 0
    assert abs(1 - kept.mean() - p) < 0.01                # standard error <= 0.0016
    np.testing.assert_allclose(y[kept], x[kept] / (1 - p), rtol=1e-15)


# --- Default initialisation: PyTorch's ----------------------------------------------

# (layer, fan_in, which parameter): many values each, so the sample std is within ~0.5%
INIT_CASES = [
    pytest.param(lambda: nn.Linear(1000, 500), 1000, "weight", id="linear_weight"),
    pytest.param(lambda: nn.Linear(10, 20_000), 10, "bias", id="linear_bias"),
    pytest.param(lambda: nn.Conv2d(64, 128, 3), 64 * 9, "weight", id="conv_weight"),
    pytest.param(lambda: nn.Conv2d(2, 20_000, 3), 2 * 9, "bias", id="conv_bias"),
]


@pytest.mark.parametrize("make_layer, fan_in, name", INIT_CASES)
def test_default_init_is_uniform_on_one_over_sqrt_fan_in(make_layer, fan_in, name):
    mr.manual_seed(0)
    values = getattr(make_layer(), name).numpy().astype(np.float64)
    bound = 1 / math.sqrt(fan_in)
    assert np.abs(values).max() <= bound
    assert np.abs(values).max() > 0.99 * bound           # and fills the interval
    assert abs(values.std() / (bound / math.sqrt(3)) - 1) < 0.02   # U(-b, b) has std b / sqrt(3)
    assert abs(values.mean()) < 0.02 * bound


@pytest.mark.parametrize("layer_class", [nn.BatchNorm1d, nn.BatchNorm2d])
def test_batch_norm_init(layer_class):
    layer = layer_class(5)
    for name, value in [("weight", 1), ("bias", 0), ("running_mean", 0), ("running_var", 1)]:
        np.testing.assert_array_equal(getattr(layer, name).numpy(), np.full(5, value), err_msg=name)
    count = layer.num_batches_tracked
    assert count.dtype == np.int64 and count.shape == () and count.item() == 0
    buffers = ["running_mean", "running_var", "num_batches_tracked"]
    assert [name for name, _ in layer.named_buffers()] == buffers


# --- device= and dtype= -------------------------------------------------------------

LAYER_FACTORIES = [
    pytest.param(lambda **kw: nn.Conv2d(2, 3, 3, **kw), id="conv"),
    pytest.param(lambda **kw: nn.Linear(4, 3, **kw), id="linear"),
    pytest.param(lambda **kw: nn.BatchNorm1d(3, **kw), id="bn1d"),
    pytest.param(lambda **kw: nn.BatchNorm2d(3, **kw), id="bn2d"),
]


@pytest.mark.parametrize("options, device, dtype", [
    pytest.param({"device": "strict", "dtype": mr.float64}, "strict", np.float64, id="strict_float64"),
    pytest.param({}, None, np.float32, id="default"),                  # None: minires.get_device()
])
@pytest.mark.parametrize("make_layer", LAYER_FACTORIES)
def test_device_and_dtype_arguments(make_layer, options, device, dtype):
    layer = make_layer(**options)
    for name, tensor in list(layer.named_parameters()) + list(layer.named_buffers()):
        assert tensor.device == (device or mr.get_device()), name
        assert tensor.dtype == (np.int64 if name == "num_batches_tracked" else dtype), name
    assert all(parameter.requires_grad for parameter in layer.parameters())


# --- Errors -------------------------------------------------------------------------

def ones(*shape):
    return mr.tensor(np.ones(shape), dtype=mr.float32)


CONV_KERNEL = "Conv2d: kernel_size must be an int or a pair of ints; got "
BATCH_NORM_SHAPE = "{}: expected an input of shape {}; got {}"
# (call, error, the message's beginning, matched literally)
ERROR_CASES = [
    pytest.param(lambda: nn.Conv2d(0, 4, 3), ValueError, "Conv2d: in_channels must be a positive int; got 0",
                 id="conv_zero_channels"),
    pytest.param(lambda: nn.Conv2d(3.0, 4, 3), ValueError,
                 "Conv2d: in_channels must be a positive int; got 3.0", id="conv_float_channels"),
    pytest.param(lambda: nn.Conv2d(3, 4, 0), ValueError, "Conv2d: kernel_size must be at least 1; got 0",
                 id="conv_kernel_0"),
    pytest.param(lambda: nn.Conv2d(3, 4, (3,)), TypeError, CONV_KERNEL + "(3,)", id="conv_kernel_1_tuple"),
    pytest.param(lambda: nn.Conv2d(3, 4, 2.5), TypeError, CONV_KERNEL + "2.5", id="conv_kernel_float"),
    pytest.param(lambda: nn.BatchNorm2d(3)(ones(4, 3)), ValueError,
                 BATCH_NORM_SHAPE.format("BatchNorm2d", "(N, C, H, W)", "(4, 3)"), id="bn2d_2d_input"),
    pytest.param(lambda: nn.BatchNorm2d(3)(ones(4, 5, 2, 2)), ValueError,
                 "BatchNorm2d: the input has 5 channels but the layer was built for 3", id="bn2d_channels"),
    pytest.param(lambda: nn.BatchNorm1d(3)(ones(4, 3, 2, 2)), ValueError,
                 BATCH_NORM_SHAPE.format("BatchNorm1d", "(N, C)", "(4, 3, 2, 2)"), id="bn1d_4d_input"),
    pytest.param(lambda: nn.Dropout(1), ValueError, "Dropout: p must be a probability in [0, 1); got 1",
                 id="dropout_1"),
    pytest.param(lambda: nn.Dropout(-0.1), ValueError, "Dropout: p must be a probability in [0, 1); got -0.1",
                 id="dropout_negative"),
    pytest.param(lambda: nn.Linear(4, 3)(ones(2, 5)), ValueError,
                 "linear: input (2, 5) does not fit weight (3, 4)", id="linear_features"),
]


@pytest.mark.parametrize("call, error, message", ERROR_CASES)
def test_bad_arguments_give_a_clear_error(call, error, message):
    with pytest.raises(error, match=re.escape(message)):
        call()


def test_dropout_accepts_a_numpy_probability_as_f_dropout_does():
    assert nn.Dropout(np.float32(0.5)).p == 0.5


# --- repr ---------------------------------------------------------------------------

@pytest.mark.parametrize("args, options", [
    ((3, 16, 3), {"padding": 1, "bias": False}),
    ((3, 16, 3), {}),
    ((16, 32, (1, 3)), {"stride": 2}),
    ((8, 8, 5), {"stride": (2, 1), "padding": (2, 0)}),
])
def test_conv_repr_matches_torch(args, options, torch):
    layer = nn.Conv2d(*args, **options)
    assert layer.extra_repr() == torch.nn.Conv2d(*args, **options).extra_repr()
    assert repr(layer) == f"{torch.nn.Conv2d(*args, **options)!r}  # {layer.num_parameters():,} parameters"


def test_repr_text():
    assert repr(nn.Conv2d(3, 16, 3, padding=1, bias=False)) == (
        "Conv2d(3, 16, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), bias=False)  # 432 parameters")
    assert repr(nn.Linear(4, 3)) == "Linear(in_features=4, out_features=3)  # 15 parameters"


def test_linear_repr_without_bias_matches_torch(torch):
    # with a bias PyTorch adds ", bias=True", which minires leaves out
    assert nn.Linear(4, 3, bias=False).extra_repr() == torch.nn.Linear(4, 3, bias=False).extra_repr()


# --- Synchronisations ---------------------------------------------------------------

def test_conv_batch_norm_relu_training_step_makes_no_synchronisation():
    conv = nn.Conv2d(3, 4, 3, padding=1, bias=False, device="strict")
    batch_norm, relu = nn.BatchNorm2d(4, device="strict"), nn.ReLU()
    x = mr.tensor(random_array((2, 3, 5, 5)), dtype=mr.float32, device="strict")
    with count_synchronizations() as syncs:
        loss = relu(batch_norm(conv(x))).sum()
        loss.backward()
    assert syncs.count == 0
    for parameter in [conv.weight, batch_norm.weight, batch_norm.bias]:
        assert parameter.grad is not None and parameter.grad.device == "strict"
    assert batch_norm.num_batches_tracked.numpy() == 1
