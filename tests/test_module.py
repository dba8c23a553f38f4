"""Module, Parameter, Sequential: names and order, modes, devices, dtypes, state dicts, repr.

Most tests use one small network, built by ``build_net`` from either ``minires.nn`` or
``torch.nn`` (the two share the vocabulary), so PyTorch is the answer key for the names,
their order and the values a loaded state dict gives.
"""

import numpy as np
import pytest

import minires as mr
import minires.functional as F
from minires.nn import BatchNorm2d, Conv2d, Linear, Module, Parameter, ReLU, Sequential
from helpers import on_device, random_array

X_SHAPE = (2, 3, 6, 6)


def build_net(nn, parameter):
    """A Sequential stem, a custom block (conv without bias, batch norm) and a Sequential head."""
    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(4, 4, 3, padding=1, bias=False)
            self.bn = nn.BatchNorm2d(4)

        def forward(self, x):
            return self.bn(self.conv(x)).relu()

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU())
            self.block = Block()
            self.head = nn.Sequential(nn.Flatten(), nn.Linear(4 * 4 * 4, 2))
            self.scale = parameter()    # assigned last, listed first: own entries before children's

        def forward(self, x):
            return self.head(self.block(self.stem(x))) * self.scale

    return Net()


def mr_net(seed=0):
    mr.manual_seed(seed)
    return build_net(mr.nn, lambda: Parameter(mr.tensor(np.full(2, 1.5)))).double()


def torch_net(torch):
    return build_net(torch.nn, lambda: torch.nn.Parameter(torch.full((2,), 1.5)))


def build_sequential(nn):
    return nn.Sequential(nn.Conv2d(3, 4, 3, bias=False), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(),
                         nn.Linear(64, 5))


def forward(model, seed=0, device="cpu"):
    return model(on_device(random_array(X_SHAPE, seed=seed), device, requires_grad=False)).numpy()


def names(named_items):
    return [name for name, _ in named_items]


def all_tensors(model):
    return list(model.parameters()) + list(model.buffers())


def backward(model, dtype=mr.float64):
    (model(mr.tensor(random_array(X_SHAPE), dtype=dtype)) ** 2).sum().backward()


def assert_state_equal(actual, expected):
    assert list(actual) == list(expected)
    for name in expected:
        np.testing.assert_array_equal(actual[name], expected[name], err_msg=name)


STATE_NAMES = ["scale", "stem.0.weight", "stem.0.bias", "block.conv.weight", "block.bn.weight",
               "block.bn.bias", "block.bn.running_mean", "block.bn.running_var",
               "block.bn.num_batches_tracked", "head.1.weight", "head.1.bias"]
BUFFER_NAMES = ["block.bn.running_mean", "block.bn.running_var", "block.bn.num_batches_tracked"]


# --- What a module holds --------------------------------------------------------------

def test_names_and_order():
    net = mr_net()
    assert list(net.state_dict()) == STATE_NAMES
    assert names(net.named_parameters()) == [n for n in STATE_NAMES if n not in BUFFER_NAMES]
    assert names(net.named_buffers()) == BUFFER_NAMES
    assert names(net.named_children()) == ["stem", "block", "head"]
    assert list(net.children()) == [net.stem, net.block, net.head]
    assert names(net.named_modules()) == [
        "", "stem", "stem.0", "stem.1", "block", "block.conv", "block.bn", "head", "head.0", "head.1"]
    assert list(net.modules())[:3] == [net, net.stem, net.stem[0]]
    assert [p is q for p, q in zip(net.parameters(), [net.scale, net.stem[0].weight])] == [True, True]
    assert net.block.conv.bias is None              # bias=False: no "block.conv.bias" above
    # 2 + (4*3*9 + 4) + 4*4*9 + (4 + 4) + (64*2 + 2)
    assert net.num_parameters() == 396


# (our model, PyTorch's twin)
TWINS = [pytest.param(mr_net, torch_net, id="nested"),
         pytest.param(lambda: build_sequential(mr.nn), lambda torch: build_sequential(torch.nn),
                      id="sequential")]


@pytest.mark.parametrize("build_ours, build_theirs", TWINS)
def test_names_match_torch(build_ours, build_theirs, torch):
    ours, theirs = build_ours(), build_theirs(torch)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert names(ours.named_parameters()) == names(theirs.named_parameters())
    assert names(ours.named_buffers()) == names(theirs.named_buffers())
    assert names(ours.named_modules()) == names(theirs.named_modules())
    assert ours.num_parameters() == sum(p.numel() for p in theirs.parameters())


def test_a_shared_module_is_listed_once():
    net, linear = Module(), Linear(3, 2)
    net.first, net.again = linear, linear
    assert names(net.named_modules()) == ["", "first"]
    assert names(net.named_parameters()) == ["first.weight", "first.bias"]
    assert net.num_parameters() == 8


def shared_and_tied(nn):
    """The same Linear at 0 and at 2, and at 1 a Linear whose weight is the first's (tied)."""
    shared, tied = nn.Linear(3, 3), nn.Linear(3, 3)
    tied.weight = shared.weight
    return nn.Sequential(shared, tied, shared)


@pytest.mark.parametrize("listing", [
    pytest.param(lambda model: names(model.named_modules()), id="named_modules"),
    pytest.param(lambda model: names(model.named_parameters()), id="named_parameters"),
    pytest.param(lambda model: list(model.state_dict()), id="state_dict"),
    pytest.param(lambda model: sum(p.numel() for p in model.parameters()), id="count")])
def test_shared_and_tied_weights_are_listed_as_in_torch(listing, torch):
    assert listing(shared_and_tied(mr.nn)) == listing(shared_and_tied(torch.nn))


def test_parameter_and_plain_tensor_attributes():
    plain = mr.tensor(np.ones(4), requires_grad=True)
    parameter = Parameter(plain)
    assert isinstance(parameter, mr.Tensor) and Parameter(np.ones(2)).requires_grad
    assert parameter.array is plain.array             # wraps the data, does not copy it
    assert not Parameter(np.zeros(2), requires_grad=False).requires_grad
    net = Module()
    net.weight, net.constant = Parameter(np.ones(3)), plain   # a plain Tensor is not a parameter
    assert names(net.named_parameters()) == ["weight"]
    assert list(net.state_dict()) == ["weight"] and net.num_parameters() == 3


def test_register_buffer_and_forward_errors():
    net = Module()
    with pytest.raises(TypeError, match="register_buffer: 'table' must be a Tensor or None; got ndarray"):
        net.register_buffer("table", np.zeros(3))
    net.register_buffer("unused", None)
    net.register_buffer("count", mr.tensor(np.zeros(2)))
    assert list(net.state_dict()) == ["count"] and names(net.named_buffers()) == ["count"]
    assert list(net.parameters()) == []

    class NoForward(Module):
        pass
    with pytest.raises(NotImplementedError, match="NoForward must define forward"):
        NoForward()(mr.tensor(np.ones(2)))


# --- train() and eval() ---------------------------------------------------------------

def test_train_and_eval_reach_every_module():
    net = mr_net()
    assert net.eval() is net
    assert [m.training for m in net.modules()] == [False] * 10
    assert net.train() is net
    assert [m.training for m in net.modules()] == [True] * 10


def test_batch_norm_in_eval_uses_and_keeps_running_stats(device):
    bn = BatchNorm2d(3, dtype=mr.float64)
    mean, var = random_array(3, seed=1), random_array(3, seed=2, positive=True)
    weight, bias = random_array(3, seed=3), random_array(3, seed=4)
    bn.running_mean.array[...], bn.running_var.array[...] = mean, var
    bn.weight.array[...], bn.bias.array[...] = weight, bias
    bn.to(device)
    x = random_array((4, 3, 2, 2))
    y = bn.eval()(on_device(x, device, requires_grad=False)).numpy()
    channel = (slice(None), None, None)             # (C,) -> (C, 1, 1), broadcast over (N, C, H, W)
    expected = (x - mean[channel]) / np.sqrt(var[channel] + 1e-5) * weight[channel] + bias[channel]
    np.testing.assert_allclose(y, expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(bn.running_mean.numpy(), mean)          # eval leaves them
    assert bn.num_batches_tracked.numpy() == 0
    y_train = bn.train()(on_device(x, device, requires_grad=False)).numpy()
    assert not np.allclose(y_train, y)                                     # batch statistics
    assert not np.allclose(bn.running_mean.numpy(), mean)                  # updated in training
    assert bn.num_batches_tracked.numpy() == 1 and bn.num_batches_tracked.dtype == mr.int64


# --- Devices, dtypes, gradients -------------------------------------------------------

def test_to_moves_parameters_buffers_and_grads_in_place(device):
    net = mr_net()
    backward(net)
    before, tensors = net.state_dict(), all_tensors(net)
    assert net.to(device) is net
    assert [t is u for t, u in zip(tensors, all_tensors(net))] == [True] * 11   # the same objects
    assert {t.device for t in tensors} == {device}
    assert {p.grad.device for p in net.parameters()} == {device}
    assert net.block.bn.num_batches_tracked.dtype == mr.int64
    assert_state_equal(net.state_dict(), before)
    assert forward(net.eval(), device=device).shape == (2, 2)
    with pytest.raises(ValueError, match=r"unknown device 'tpu'; expected one of \["):
        net.to("tpu")
    assert {t.device for t in all_tensors(net)} == {device}                   # nothing moved


def test_double_float_and_zero_grad():
    mr.manual_seed(0)
    net = build_sequential(mr.nn)                   # float32, as PyTorch
    backward(net, mr.float32)
    assert net.double() is net
    assert {t.dtype for t in net.parameters()} == {p.grad.dtype for p in net.parameters()} == {mr.float64}
    assert [b.dtype for b in net.buffers()] == [mr.float64, mr.float64, mr.int64]
    assert net.float() is net
    assert {t.dtype for t in net.parameters()} == {p.grad.dtype for p in net.parameters()} == {mr.float32}
    assert [b.dtype for b in net.buffers()] == [mr.float32, mr.float32, mr.int64]
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


# --- state_dict and load_state_dict ---------------------------------------------------

def test_state_dict_values_are_host_copies(device):
    net = mr_net().to(device)
    state = net.state_dict()
    assert {type(value) for value in state.values()} == {np.ndarray}
    for value in state.values():
        value[...] = 7
    assert not np.any(net.state_dict()["block.conv.weight"] == 7)


def test_load_state_dict_round_trip(device):
    source, target = mr_net(seed=0), mr_net(seed=1).to(device)
    assert not np.array_equal(source.state_dict()["head.1.weight"], target.state_dict()["head.1.weight"])
    forward(source, seed=5)                         # running statistics away from 0 and 1
    tensors = all_tensors(target)
    assert target.load_state_dict(source.state_dict()) == mr.nn.IncompatibleKeys([], [])
    assert [t is u for t, u in zip(tensors, all_tensors(target))] == [True] * 11   # written in place
    assert {t.device for t in tensors} == {device}
    assert_state_equal(target.state_dict(), source.state_dict())
    # The same weights give the same outputs: bit for bit where NumPy computes (cpu, strict);
    # on a GPU, cuBLAS sums a matrix product in another order (seen: 1.7e-16 apart).
    same = np.testing.assert_array_equal if device != "cuda" else \
        (lambda actual, desired: np.testing.assert_allclose(actual, desired, rtol=1e-13, atol=1e-15))
    same(forward(target.eval(), device=device), forward(source.eval()))
    same(forward(target.train(), device=device), forward(source.train()))


def test_loading_torch_state_dict_gives_torch_outputs(torch):
    theirs, ours = torch_net(torch), mr_net()
    for seed in (5, 6):                             # running statistics away from 0 and 1
        theirs(torch.tensor(random_array(X_SHAPE, seed=seed)))
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    for training in (True, False):
        expected = theirs.train(training)(torch.tensor(random_array(X_SHAPE, seed=7))).detach().numpy()
        np.testing.assert_allclose(forward(ours.train(training), seed=7), expected, rtol=1e-10, atol=1e-10)
    assert ours.block.bn.num_batches_tracked.numpy() == 3


# (how the state dict is spoiled, what the error must say)
BAD_STATES = [
    pytest.param(lambda state: state.pop("block.conv.weight"), r"block\.conv\.weight: missing from the "
                 r"state dict \(the model expects shape \(4, 4, 3, 3\)\)", id="missing"),
    pytest.param(lambda state: state.update({"head.1.bias": np.zeros(3)}),
                 r"head\.1\.bias: the state dict has shape \(3,\), the model expects \(2,\)", id="misshaped"),
    pytest.param(lambda state: state.update({"head.2.weight": np.zeros(1)}),
                 r"head\.2\.weight: in the state dict but not in the model", id="unexpected"),
    pytest.param(lambda state: state.update({"head.1.bias": "abc"}),
                 r"head\.1\.bias: the state dict holds str 'abc', not numbers; the model expects an "
                 r"array of shape \(2,\)", id="string"),
    pytest.param(lambda state: state.update({"head.1.bias": None}),
                 r"head\.1\.bias: the state dict holds NoneType None, not numbers", id="none"),
    pytest.param(lambda state: state.update({"head.1.bias": np.array(["a", "b"])}),
                 r"head\.1\.bias: the state dict holds an array of <U1, not numbers", id="array-of-strings"),
    pytest.param(lambda state: state.update({"head.1.bias": np.array([None, 1.0], dtype=object)}),
                 r"head\.1\.bias: the state dict holds an array of object, not numbers", id="object-array"),
    pytest.param(lambda state: state.update({"head.1.bias": {"a": 1}}),
                 r"head\.1\.bias: the state dict holds dict \{'a': 1\}, not numbers", id="dict"),
]


@pytest.mark.parametrize("spoil, message", BAD_STATES)
def test_load_state_dict_errors_write_nothing(spoil, message):
    net, state = mr_net(seed=0), mr_net(seed=1).state_dict()
    spoil(state)
    before = net.state_dict()
    with pytest.raises(RuntimeError, match=r"load_state_dict: cannot load into Net:\n(.*\n)*  " + message):
        net.load_state_dict(state)
    assert_state_equal(net.state_dict(), before)


def test_non_strict_loading_of_float32_values():
    net, source = mr_net(seed=0), mr_net(seed=1).state_dict()
    state = {name: value.astype(np.float32) if value.dtype == np.float64 else value
             for name, value in source.items() if name != "block.conv.weight"}
    state["head.2.weight"] = np.zeros(1)
    before = net.block.conv.weight.numpy()
    result = net.load_state_dict(state, strict=False)
    assert isinstance(result, mr.nn.IncompatibleKeys)
    assert result.missing_keys == ["block.conv.weight"] and result.unexpected_keys == ["head.2.weight"]
    np.testing.assert_array_equal(net.block.conv.weight.numpy(), before)       # missing: left alone
    assert {p.dtype for p in net.parameters()} == {mr.float64}                # cast into float64
    np.testing.assert_array_equal(net.head[1].weight.numpy(), state["head.1.weight"].astype(np.float64))
    state["head.1.bias"] = np.zeros(3)                     # a wrong shape is an error even so
    with pytest.raises(RuntimeError, match=r"head\.1\.bias: the state dict has shape \(3,\)"):
        net.load_state_dict(state, strict=False)


# --- repr -----------------------------------------------------------------------------

def test_repr_names_children_and_counts_parameters():
    class Wrapper(Module):
        def __init__(self):
            super().__init__()
            self.conv = Conv2d(16, 32, 3)           # 32 * 16 * 3 * 3 + 32 = 4,640
            self.act = ReLU()
            self.tail = Sequential(Linear(1000, 1000))

    lines = repr(Wrapper()).split("\n")
    assert lines[0] == "Wrapper(  # 1,005,640 parameters"
    assert lines[1].startswith("  (conv): Conv2d(16, 32, ") and lines[1].endswith(")  # 4,640 parameters")
    assert lines[2] == "  (act): ReLU()"        # no parameters: no count
    assert lines[3] == "  (tail): Sequential(  # 1,001,000 parameters"
    assert lines[4].startswith("    (0): Linear(in_features=1000, out_features=1000)")
    assert lines[5:] == ["  )", ")"]


# --- Sequential -----------------------------------------------------------------------

def test_sequential_indexing_iteration_append_forward_and_errors():
    mr.manual_seed(0)
    first, second, third = Linear(3, 4, dtype=mr.float64), ReLU(), Linear(4, 2, dtype=mr.float64)
    seq = Sequential(first, second)
    assert len(seq) == 2 and seq[0] is first and seq[-1] is second and seq[-2] is first
    for index in (2, -3):
        with pytest.raises(IndexError, match=f"Sequential: index {index} out of range for 2 modules"):
            seq[index]
    assert seq.append(third) is seq
    assert list(seq) == [first, second, third] and len(seq) == 3
    assert names(seq.named_parameters()) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    x = on_device(random_array((5, 3)), "cpu", requires_grad=False)
    np.testing.assert_array_equal(seq(x).numpy(), third(first(x).relu()).numpy())
    with pytest.raises(TypeError, match="Sequential: argument 1 is a function, not a Module"):
        Sequential(ReLU(), F.relu)
    with pytest.raises(TypeError, match="Sequential.append: expected a Module; got Tensor"):
        Sequential().append(mr.tensor(np.ones(2)))
