"""The torch.nn surface of a PyTorch CIFAR script (issue 18), each piece against PyTorch:
loss modules, Module.apply / cuda / cpu / zero_grad(set_to_none), AdaptiveAvgPool2d,
ReLU(inplace=True), BatchNorm's num_batches_tracked, DataParallel and autograd.Variable.

The ops underneath (F.nll_loss, F.mse_loss, F.adaptive_avg_pool2d, F.pad's mode) have
their gradient checks in test_loss.py, test_pool.py and test_indexing.py.
"""

import numpy as np
import pytest

import minires as mr
from minires import backend, nn, optim
from minires.autograd import Variable
from helpers import random_array

CUDA = pytest.mark.skipif(not backend.cuda_available(), reason="CUDA is not usable here")


def copy_weights(module, torch_module, torch):
    """Loads ``module``'s parameters and buffers into its PyTorch twin."""
    torch_module.load_state_dict({name: torch.tensor(value) for name, value in module.state_dict().items()})


# --- loss modules ----------------------------------------------------------------------

# (name, constructor options, input shape, target given a shape: minires value, torch value)
def class_targets(torch, shape):
    target = np.random.default_rng(5).integers(0, shape[1], shape[0])
    return target, torch.tensor(target)


def log_probabilities(shape):
    logits = random_array(shape)
    return logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))


def regression_targets(torch, shape):
    target = random_array(shape, seed=7)
    return mr.tensor(target), torch.tensor(target)


LOSS_CASES = [pytest.param(name, {"reduction": reduction}, inputs, targets, id=f"{name}-{reduction}")
              for name, inputs, targets in [("CrossEntropyLoss", random_array, class_targets),
                                            ("NLLLoss", log_probabilities, class_targets),
                                            ("MSELoss", random_array, regression_targets)]
              for reduction in ("mean", "sum", "none")]


@pytest.mark.parametrize("name, options, inputs, targets", LOSS_CASES)
def test_loss_modules_match_torch(name, options, inputs, targets, torch):
    x = inputs((6, 4))
    target, torch_target = targets(torch, (6, 4))
    ours_x, theirs_x = mr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    criterion, torch_criterion = getattr(nn, name)(**options), getattr(torch.nn, name)(**options)
    loss, expected = criterion(ours_x, target), torch_criterion(theirs_x, torch_target)
    assert loss.shape == tuple(expected.shape) and loss.dtype == mr.float64
    np.testing.assert_allclose(loss.numpy(), expected.detach().numpy(), rtol=1e-12, atol=1e-12)
    weights = random_array(loss.shape, seed=9)
    loss.backward(mr.tensor(weights))
    expected.backward(torch.tensor(weights))
    np.testing.assert_allclose(ours_x.grad, theirs_x.grad.numpy(), rtol=1e-12, atol=1e-12)
    assert repr(criterion) == repr(torch_criterion)


# The training-script idiom, in float32: criterion(outputs, labels).item().
def test_cross_entropy_loss_in_a_training_step():
    model = nn.Linear(3, 2)
    criterion = nn.CrossEntropyLoss()
    loss = criterion(model(mr.tensor(random_array((4, 3)), dtype=mr.float32)), mr.tensor([0, 1, 1, 0]))
    loss.backward()
    assert loss.dtype == mr.float32 and isinstance(loss.item(), float) and model.weight.grad is not None


@pytest.mark.parametrize("build, message", [
    (lambda: nn.CrossEntropyLoss(weight=mr.ones(3)), "CrossEntropyLoss: class weights .* not supported"),
    (lambda: nn.CrossEntropyLoss(ignore_index=0), "CrossEntropyLoss: ignore_index=0 is not supported"),
    (lambda: nn.CrossEntropyLoss(label_smoothing=0.1), "CrossEntropyLoss: label_smoothing=0.1 is not supported"),
    (lambda: nn.CrossEntropyLoss(reduction="avg"), r"CrossEntropyLoss: reduction must be one of .* got 'avg'"),
    (lambda: nn.NLLLoss(size_average=False), "NLLLoss: size_average and reduce are deprecated"),
    (lambda: nn.NLLLoss(weight=mr.ones(3)), "NLLLoss: class weights"),
    (lambda: nn.MSELoss(reduce=False), "MSELoss: size_average and reduce are deprecated"),
    (lambda: nn.MSELoss(reduction="batchmean"), "MSELoss: reduction must be one of"),
])
def test_loss_options_minires_lacks_are_refused_by_name(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_loss_modules_pass_misuse_errors_through():
    with pytest.raises(IndexError, match="cross_entropy: target 3 is out of range for 3 classes"):
        nn.CrossEntropyLoss()(mr.zeros(2, 3), [0, 3])
    with pytest.raises(ValueError, match=r"mse_loss: input has shape \(2, 3\) but target has shape \(2,\)"):
        nn.MSELoss()(mr.zeros(2, 3), mr.zeros(2))


# --- Module.apply, cuda, cpu -------------------------------------------------------------

def nested(library):
    return library.nn.Sequential(library.nn.Linear(2, 3), library.nn.Sequential(library.nn.ReLU(),
                                                                                library.nn.Linear(3, 1)))


# apply visits children first, then the module itself, in torch's order, and returns self.
def test_apply_visits_modules_in_torchs_order(torch):
    ours, theirs = [], []
    model = nested(mr)
    assert model.apply(lambda module: ours.append(type(module).__name__)) is model
    nested(torch).apply(lambda module: theirs.append(type(module).__name__))
    assert ours == theirs == ["Linear", "ReLU", "Linear", "Sequential", "Sequential"]


def test_apply_initialises_weights():
    def init_weights(module):
        if isinstance(module, nn.Linear):
            nn.init.constant_(module.weight, 0.5)
    model = nested(mr).apply(init_weights)
    assert all(np.all(layer.weight.numpy() == 0.5) for layer in (model[0], model[1][1]))


def test_cpu_returns_self_and_cuda_refuses_another_gpu():
    model = nested(mr)
    assert model.cpu() is model and all(p.device == "cpu" for p in model.parameters())
    assert model.to(mr.device("cpu")) is model
    with pytest.raises(ValueError, match="minires uses one GPU"):
        model.cuda(1)
    with pytest.raises(ValueError, match="minires uses one GPU"):
        model.cuda("cuda:1")
    with pytest.raises(ValueError, match="Sequential.cuda: 'cpu' is not a GPU"):
        model.cuda("cpu")


@pytest.mark.skipif(backend.cuda_available(), reason="checks the message without a GPU")
def test_cuda_without_a_gpu_says_why():
    with pytest.raises(backend.CudaUnavailableError, match="device 'cuda' was requested"):
        nested(mr).cuda()


@CUDA
@pytest.mark.gpu
@pytest.mark.parametrize("device", [None, 0, "cuda:0", "cuda"])
def test_cuda_moves_the_module_to_the_gpu(device):
    model = nested(mr)
    assert model.cuda(device) is model
    assert all(p.device == "cuda" for p in model.parameters())
    assert model(mr.randn(4, 2).to("cuda:0")).device == "cuda"
    assert model.cpu() is model and all(p.device == "cpu" for p in model.parameters())


# --- zero_grad(set_to_none=) --------------------------------------------------------------

def step_twice(library, model, optimizer, set_to_none, x):
    """Two SGD steps, the first gradient zeroed between them (the second step then moves the
    weights by momentum and weight decay alone: the difference set_to_none makes)."""
    for _ in range(2):
        model(x).sum().backward()
        optimizer.step()
        target = optimizer if library is optim else model
        target.zero_grad(set_to_none=set_to_none)
        for parameter in model.parameters():
            assert (parameter.grad is None) == set_to_none
            if not set_to_none:
                assert np.all(np.asarray(parameter.grad) == 0) and parameter.grad.shape == tuple(parameter.shape)


@pytest.mark.parametrize("set_to_none", [True, False])
@pytest.mark.parametrize("zeroed_by", ["module", "optimizer"])
def test_zero_grad_set_to_none_steps_as_torch(set_to_none, zeroed_by, torch):
    x = random_array((4, 2))
    model, twin = nn.Linear(2, 3, dtype=mr.float64), torch.nn.Linear(2, 3)
    copy_weights(model, twin, torch)
    ours = optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=0.01)
    theirs = torch.optim.SGD(twin.parameters(), lr=0.1, momentum=0.9, weight_decay=0.01)
    step_twice(optim if zeroed_by == "optimizer" else nn, model, ours, set_to_none, mr.tensor(x))
    for _ in range(2):
        twin(torch.tensor(x)).sum().backward()
        theirs.step()
        (theirs if zeroed_by == "optimizer" else twin).zero_grad(set_to_none=set_to_none)
    model(mr.tensor(x)).sum().backward()       # a third step, after the zeroed gradients
    twin(torch.tensor(x)).sum().backward()
    ours.step()
    theirs.step()
    for name, value in model.state_dict().items():
        np.testing.assert_allclose(value, twin.state_dict()[name].numpy(), rtol=1e-12, atol=1e-14)


def test_zero_grad_defaults_to_none_and_leaves_missing_gradients_missing():
    model = nested(mr)
    model(mr.randn(2, 2)).sum().backward()
    model[0].bias.grad = None
    model.zero_grad(set_to_none=False)
    assert model[0].bias.grad is None and np.all(model[0].weight.grad.numpy() == 0)
    assert model[0].weight.grad.dtype == model[0].weight.dtype
    model.zero_grad()
    assert all(parameter.grad is None for parameter in model.parameters())


# --- AdaptiveAvgPool2d, ReLU(inplace=True) ---------------------------------------------------

@pytest.mark.parametrize("output_size", [1, (1, 1), 2, (3, 2), (None, 3)])
def test_adaptive_avg_pool_module_matches_torch(output_size, torch):
    x = random_array((2, 3, 5, 7))
    pool, torch_pool = nn.AdaptiveAvgPool2d(output_size), torch.nn.AdaptiveAvgPool2d(output_size)
    output, expected = pool(mr.tensor(x)), torch_pool(torch.tensor(x))
    assert output.shape == tuple(expected.shape)
    np.testing.assert_allclose(output.numpy(), expected.numpy(), rtol=1e-12, atol=1e-12)
    assert repr(pool) == repr(torch_pool)


# The CIFAR head: AdaptiveAvgPool2d((1, 1)) then flatten is GlobalAvgPool2d, in float32.
def test_adaptive_avg_pool_1_then_flatten_is_global_avg_pool():
    x = mr.tensor(random_array((2, 4, 8, 8)), dtype=mr.float32)
    pooled = nn.Flatten()(nn.AdaptiveAvgPool2d((1, 1))(x))
    assert pooled.dtype == mr.float32
    np.testing.assert_allclose(pooled.numpy(), nn.GlobalAvgPool2d()(x).numpy(), rtol=1e-6)


@pytest.mark.parametrize("fast", [True, False])
def test_relu_inplace_is_accepted_and_computes_out_of_place(fast, torch):
    x = random_array((3, 4))
    relu = nn.ReLU(inplace=True, fast=fast)
    ours_x = mr.tensor(x)
    output = relu(ours_x)
    np.testing.assert_array_equal(output.numpy(), torch.nn.ReLU(inplace=True)(torch.tensor(x)).numpy())
    np.testing.assert_array_equal(ours_x.numpy(), x)          # unlike PyTorch, x keeps its values
    assert repr(relu) == repr(torch.nn.ReLU(inplace=True)) == "ReLU(inplace=True)"
    assert repr(nn.ReLU()) == repr(torch.nn.ReLU()) and nn.ReLU(True).inplace
    with pytest.raises(TypeError, match="ReLU: inplace must be True or False; got 'yes'"):
        nn.ReLU(inplace="yes")


# --- BatchNorm's num_batches_tracked ------------------------------------------------------

def conv_bn(library):
    return library.nn.Sequential(library.nn.Conv2d(3, 4, 3, bias=False), library.nn.BatchNorm2d(4),
                                 library.nn.BatchNorm1d(2))


def test_batch_norm_state_has_torchs_num_batches_tracked(torch):
    ours, theirs = conv_bn(mr).state_dict(), conv_bn(torch).state_dict()
    assert list(ours) == list(theirs)
    for name in ("1.num_batches_tracked", "2.num_batches_tracked"):
        assert ours[name].dtype == np.int64 and ours[name].shape == () == tuple(theirs[name].shape)


# A checkpoint saved without num_batches_tracked (PyTorch before 0.4.1) loads with
# strict=True, as in PyTorch: the counts keep their values and are not reported missing.
def test_load_state_dict_without_num_batches_tracked_as_torch(torch):
    model, twin = conv_bn(mr), conv_bn(torch)
    model[1].num_batches_tracked.array[...] = 7
    twin[1].num_batches_tracked.fill_(7)
    saved = {name: value for name, value in conv_bn(mr).state_dict().items() if "num_batches" not in name}
    result = model.load_state_dict(saved, strict=True)
    expected = twin.load_state_dict({name: torch.tensor(value) for name, value in saved.items()}, strict=True)
    assert result.missing_keys == list(expected.missing_keys) == []
    assert result.unexpected_keys == list(expected.unexpected_keys) == []
    assert int(model[1].num_batches_tracked.item()) == int(twin[1].num_batches_tracked) == 7
    np.testing.assert_array_equal(model.state_dict()["0.weight"], saved["0.weight"])


def test_other_missing_batch_norm_entries_are_still_errors():
    saved = conv_bn(mr).state_dict()
    del saved["1.running_mean"]
    with pytest.raises(RuntimeError, match=r"1.running_mean: missing from the state dict"):
        conv_bn(mr).load_state_dict(saved)
    assert conv_bn(mr).load_state_dict(saved, strict=False).missing_keys == ["1.running_mean"]


# --- DataParallel -----------------------------------------------------------------------------

def test_data_parallel_calls_the_module_and_prefixes_state_keys(torch):
    module = nested(mr)
    model = nn.DataParallel(module)
    assert model.module is module
    x = mr.tensor(random_array((4, 2)), dtype=mr.float32)
    np.testing.assert_array_equal(model(x).numpy(), module(x).numpy())
    twin = torch.nn.DataParallel(nested(torch))
    assert list(model.state_dict()) == list(twin.state_dict())
    assert all(name.startswith("module.") for name in model.state_dict())
    model.load_state_dict({name: value.numpy() for name, value in twin.state_dict().items()})
    np.testing.assert_allclose(model(x).numpy(), twin(torch.tensor(x.numpy(), dtype=torch.float64)).detach().numpy(),
                               rtol=1e-6)
    assert model.num_parameters() == module.num_parameters()


@pytest.mark.parametrize("options", [{"device_ids": [0]}, {"device_ids": ["cuda:0"], "output_device": 0},
                                     {"device_ids": []}, {"output_device": mr.device("cuda:0")}])
def test_data_parallel_accepts_the_one_gpu(options):
    assert nn.DataParallel(nn.Linear(2, 2), **options).device_ids == options.get("device_ids")


@pytest.mark.parametrize("options, error, message", [
    ({"device_ids": [0, 1]}, ValueError, r"device_ids \[0, 1\] name 2 devices; minires uses one GPU"),
    ({"device_ids": [1]}, ValueError, "device_ids names GPU 1; minires uses one GPU"),
    ({"device_ids": ["cuda:1"]}, ValueError, "device_ids 'cuda:1' is not the one GPU"),
    ({"output_device": "cpu"}, ValueError, "output_device must name a GPU"),
])
def test_data_parallel_refuses_several_or_other_devices(options, error, message):
    with pytest.raises(error, match=message):
        nn.DataParallel(nn.Linear(2, 2), **options)
    with pytest.raises(TypeError, match="DataParallel: expected a Module to wrap; got function"):
        nn.DataParallel(lambda x: x)


# --- autograd.Variable --------------------------------------------------------------------------

@pytest.mark.parametrize("requires_grad", [False, True])
def test_variable_returns_a_tensor_sharing_the_data_as_torch(requires_grad, torch):
    data = mr.tensor([1.0, 2.0])
    variable = Variable(data, requires_grad=requires_grad)
    theirs = torch.autograd.Variable(torch.tensor([1.0, 2.0]), requires_grad=requires_grad)
    assert isinstance(variable, mr.Tensor) and variable is not data
    assert variable.requires_grad == theirs.requires_grad == requires_grad and not data.requires_grad
    assert variable.array is data.array                     # the same array, as torch shares storage
    assert variable.dtype == mr.float32 and theirs.dtype == torch.float64    # the fixture's default
    if requires_grad:
        (variable * 3.0).sum().backward()
        np.testing.assert_array_equal(variable.grad, [3.0, 3.0])


def test_variable_wants_a_tensor_as_torch(torch):
    with pytest.raises(TypeError, match="Variable: data has to be a Tensor; got list"):
        Variable([1.0, 2.0])
    with pytest.raises(TypeError):
        torch.autograd.Variable([1.0, 2.0])


def test_half_casts_floating_parameters_and_buffers_as_torch(torch):
    ours, theirs = mr.nn.BatchNorm2d(3).half(), torch.nn.BatchNorm2d(3).half()
    assert {str(p.dtype) for p in ours.parameters()} == {"float16"}
    assert [str(value.dtype) for value in ours.state_dict().values()] == \
        [str(value.dtype).replace("torch.", "") for value in theirs.state_dict().values()]
    x = mr.randn(2, 3, 4, 4).half()
    assert x.dtype == mr.float16 and ours(x).dtype == mr.float16
    model = mr.models.cifar_net("residual", 8, width=4).half()
    model(mr.randn(2, 3, 32, 32).half()).sum().backward()
    assert model.fc.weight.grad.dtype == mr.float16
