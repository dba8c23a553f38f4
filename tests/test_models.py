"""Tests for minires.models: cifar_net, simplified_net with to_plain / to_residual, mlp_net.

- parameter counts equal the ResNet paper's (Table 6, option A);
- every family builds, runs, and passes a whole-net float64 gradcheck at width 1;
- to_plain and to_residual give nets with equal outputs and gradients (1e-10);
- a state dict round trip gives identical outputs; a misshaped one is refused;
- errors for bad depths and families name what is valid.
"""

import numpy as np
import pytest

import minires as mr
from minires import models, nn
from helpers import call_with_parameters, on_device, random_array

# The ResNet paper, Table 6: parameters of the CIFAR-10 ResNets (option A shortcuts).
PUBLISHED_MILLIONS = {20: "0.27", 56: "0.85", 110: "1.7"}
EXACT_COUNTS = {20: 269_722, 56: 853_018, 110: 1_727_962}


@pytest.mark.parametrize("depth", PUBLISHED_MILLIONS)
def test_resnet_parameter_counts_match_the_paper(depth):
    count = models.cifar_net("residual", depth).num_parameters()
    published = PUBLISHED_MILLIONS[depth]
    digits = len(published.split(".")[1])
    print(f"ResNet-{depth}: {count:,} parameters = {count / 1e6:.{digits}f}M (paper: {published}M)")
    assert f"{count / 1e6:.{digits}f}" == published
    assert count == EXACT_COUNTS[depth]
    # Shortcuts add no parameters in option A: the plain net of the same depth has as many.
    assert models.cifar_net("plain", depth).num_parameters() == count


def test_stage_shapes_and_names():
    mr.manual_seed(0)
    net = models.cifar_net("residual", 14, width=4)
    x = mr.tensor(random_array((2, 3, 32, 32)), dtype=mr.float32)
    assert net.stem(x).shape == (2, 4, 32, 32)
    assert net.stage2(net.stage1(net.stem(x))).shape == (2, 8, 16, 16)
    assert net.stage3(net.stage2(net.stage1(net.stem(x)))).shape == (2, 16, 8, 8)
    assert net(x).shape == (2, 10)
    assert len(net.stage1) == 2 and net.stage2[0].branch.conv1.stride == (2, 2)
    names = list(net.state_dict())
    assert names[0] == "stem.0.weight" and names[-2:] == ["fc.weight", "fc.bias"]
    assert "stage3.1.branch.bn2.running_var" in names


@pytest.mark.parametrize("family", models.CIFAR_FAMILIES)
def test_every_family_builds_and_runs(family, device):
    mr.manual_seed(0)
    net = models.cifar_net(family, 8, width=2).to(device)
    x = mr.tensor(random_array((2, 3, 8, 8)), dtype=mr.float32, device=device)
    y = net(x)
    assert y.shape == (2, 10) and y.device == device
    y.sum().backward()
    assert all(parameter.grad is not None for parameter in net.parameters())


@pytest.mark.parametrize("family", models.CIFAR_FAMILIES)
def test_whole_net_gradcheck(family):
    """The gradient through every stage, shortcut and head, at width 1 (a few hundred weights)."""
    mr.manual_seed(0)
    net = models.cifar_net(family, 8, width=1).double()
    names = [name for name, _ in net.named_parameters()]
    values = [mr.Tensor(parameter.array.copy(), requires_grad=True) for parameter in net.parameters()]
    x = on_device(random_array((2, 3, 4, 4), seed=1), "cpu")
    assert mr.gradcheck(lambda x, *ws: call_with_parameters(net, dict(zip(names, ws)), x), x, *values)


def test_residual_v2_ends_with_batch_norm_and_relu():
    net = models.cifar_net("residual_v2", 8)
    assert isinstance(net.final_activation[0], nn.BatchNorm2d)
    assert isinstance(models.cifar_net("residual", 8).final_activation, nn.Identity)


def test_block_options_reach_every_block():
    net = models.cifar_net("residual", 14, shortcut="B", zero_init_last_bn=True)
    blocks = [block for block in net.modules() if isinstance(block, nn.ResidualBlock)]
    assert len(blocks) == 6
    assert all(np.all(block.branch.bn2.weight.numpy() == 0) for block in blocks)
    assert isinstance(net.stage2[0].shortcut, nn.Sequential)          # option B projection
    highway = models.cifar_net("highway", 8, gate="1x1", gate_bias=-2.0)
    assert np.all(highway.stage1[0].transform_gate.bias.numpy() == -2.0)
    with pytest.raises(TypeError, match="shortcut"):
        models.cifar_net("plain", 8, shortcut="B")                   # plain blocks have none


@pytest.mark.parametrize("family", ["residual", "van", "plain"])
def test_the_van_papers_four_stage_nets(family, device):
    """VAN paper, Section 4.2: four stages of n blocks, downsampling at the start of stages
    2, 3 and 4, depth 8n + 2 (26 for n = 3)."""
    mr.manual_seed(0)
    net = models.cifar_net(family, 26, width=4, stages=4).to(device)
    x = on_device(random_array((2, 3, 32, 32)), device, requires_grad=False).float()
    shapes = []
    h = net.stem(x)
    for stage in (net.stage1, net.stage2, net.stage3, net.stage4):
        h = stage(h)
        shapes.append(h.shape)
    assert shapes == [(2, 4, 32, 32), (2, 8, 16, 16), (2, 16, 8, 8), (2, 32, 4, 4)]
    assert [len(stage) for stage in (net.stage1, net.stage2, net.stage3, net.stage4)] == [3, 3, 3, 3]
    weighted = [module for module in net.modules() if isinstance(module, (nn.Conv2d, nn.Linear))
                and module.weight.shape[-1] != 1]                              # 1x1 shortcut convs aside
    assert len(weighted) == 26 and net(x).shape == (2, 10)
    assert "stages=4" in repr(net) and not hasattr(models.cifar_net(family, 8, width=4), "stage4")


@pytest.mark.parametrize("depth, nearest", [(26, "is 26"), (8, "is 10"), (30, "26 and 34")])
def test_bad_four_stage_depth_names_the_nearest_valid_ones(depth, nearest):
    if depth == 26:
        assert models.blocks_per_stage(26, stages=4) == 3
        return
    with pytest.raises(ValueError, match=f"with 4 stages, depth must be 8n \\+ 2.*{depth} is not.*{nearest}"):
        models.cifar_net("van", depth, stages=4)
    with pytest.raises(ValueError, match="stages must be 3 .* or 4 .*; got 5"):
        models.cifar_net("van", 10, stages=5)


@pytest.mark.parametrize("depth, nearest", [(21, "20 and 26"), (5, "is 8"), (57, "56 and 62"), (0, "is 8")])
def test_bad_depth_names_the_nearest_valid_ones(depth, nearest):
    with pytest.raises(ValueError, match=f"6n \\+ 2.*{depth} is not.*{nearest}"):
        models.cifar_net("residual", depth)


def test_bad_family_and_depth_type():
    with pytest.raises(ValueError, match="family must be one of.*highway"):
        models.cifar_net("dense", 20)
    with pytest.raises(TypeError, match="depth must be an int"):
        models.cifar_net("residual", 20.0)


# -- state dicts ----------------------------------------------------------------------------

def test_state_dict_round_trip_gives_identical_outputs():
    mr.manual_seed(0)
    net = models.cifar_net("van", 8, width=4)
    x = mr.tensor(random_array((4, 3, 8, 8)), dtype=mr.float32)
    net(x)                                                   # moves the running statistics
    net.eval()
    mr.manual_seed(1)
    copy = models.cifar_net("van", 8, width=4).eval()
    assert not np.array_equal(copy(x).numpy(), net(x).numpy())
    copy.load_state_dict(net.state_dict())
    np.testing.assert_array_equal(copy(x).numpy(), net(x).numpy())


def test_loading_a_misshaped_state_dict_names_entry_and_both_shapes():
    narrow = models.cifar_net("residual", 8, width=4)
    wide_state = models.cifar_net("residual", 8, width=8).state_dict()
    with pytest.raises(RuntimeError, match=r"stem\.0\.weight: the state dict has shape \(8, 3, 3, 3\), "
                                           r"the model expects \(4, 3, 3, 3\)"):
        narrow.load_state_dict(wide_state)
    del wide_state["fc.bias"]
    with pytest.raises(RuntimeError, match=r"fc\.bias: missing from the state dict.*\(10,\)"):
        models.cifar_net("residual", 8, width=8).load_state_dict(wide_state)


# -- simplified nets, to_plain and to_residual ------------------------------------------------

def _output_and_gradients(net, x_array):
    net.zero_grad()
    x = on_device(x_array, "cpu")
    y = net(x)
    y.backward(on_device(random_array(y.shape, seed=9), "cpu", requires_grad=False))
    return y.numpy(), x.grad.numpy(), {name: p.grad.numpy() for name, p in net.named_parameters()}


def _assert_same_function(net, other, x_array):
    y, x_grad, grads = _output_and_gradients(net, x_array)
    other_y, other_x_grad, other_grads = _output_and_gradients(other, x_array)
    np.testing.assert_allclose(other_y, y, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(other_x_grad, x_grad, rtol=1e-10, atol=1e-10)
    # W' = W +- I, so dL/dW' = dL/dW: every weight gradient agrees too.
    for name in grads:
        np.testing.assert_allclose(other_grads[name], grads[name], rtol=1e-10, atol=1e-10, err_msg=name)


def test_to_plain_and_to_residual_preserve_the_function():
    mr.manual_seed(0)
    residual = models.simplified_net("residual", 6, width=4).double()
    x_array = random_array((3, 3, 6, 6), seed=1)
    plain = models.to_plain(residual)
    assert plain.kind == "plain" and not any(block.residual for block in plain.blocks)
    _assert_same_function(residual, plain, x_array)
    back = models.to_residual(plain)
    _assert_same_function(residual, back, x_array)
    for name, value in residual.state_dict().items():
        np.testing.assert_allclose(back.state_dict()[name], value, rtol=0, atol=1e-15, err_msg=name)


def test_to_residual_of_a_plain_net_and_the_changed_entries(device):
    mr.manual_seed(0)
    plain = models.simplified_net("plain", 5, width=3).double().to(device)
    residual = models.to_residual(plain)
    assert residual.blocks[0].conv.weight.device == device
    x = on_device(random_array((2, 3, 5, 5)), device, requires_grad=False)
    np.testing.assert_allclose(residual(x).numpy(), plain(x).numpy(), rtol=1e-10, atol=1e-10)
    difference = plain.blocks[1].conv.weight.numpy() - residual.blocks[1].conv.weight.numpy()
    identity_kernel = np.zeros((3, 3, 3, 3))
    identity_kernel[:, :, 1, 1] = np.eye(3)                   # the ID entries [c, c, 1, 1]
    np.testing.assert_allclose(difference, identity_kernel, rtol=0, atol=1e-15)
    # The stem and the head are not touched; the original net is not modified.
    np.testing.assert_array_equal(residual.stem[0].weight.numpy(), plain.stem[0].weight.numpy())
    assert plain.kind == "plain" and not plain.blocks[0].residual


def test_conversion_errors():
    with pytest.raises(TypeError, match="batch norm sits between"):
        models.to_plain(models.cifar_net("residual", 8))
    with pytest.raises(ValueError, match="expects a residual net; this one is plain"):
        models.to_plain(models.simplified_net("plain", 4))
    with pytest.raises(ValueError, match="depth must be an int >= 3"):
        models.simplified_net("residual", 2)


def test_simplified_net_initialisations():
    mr.manual_seed(0)
    residual = models.simplified_net("residual", 4, width=32)
    plain = models.simplified_net("plain", 4, width=32)
    fan_in = fan_out = 32 * 9                                   # C_in = C_out = 32 in every block
    # Hardt-Ma for residual blocks: std 1 / (k^2 C_out); He for plain ones: sqrt(2 / fan_in).
    assert abs(residual.blocks[0].conv.weight.numpy().std() * fan_out - 1) < 0.05
    assert abs(plain.blocks[0].conv.weight.numpy().std() / np.sqrt(2 / fan_in) - 1) < 0.05
    assert np.all(residual.blocks[0].conv.bias.numpy() == 0)


# -- mlp_net -----------------------------------------------------------------------------------

@pytest.mark.parametrize("family", models.MLP_FAMILIES)
def test_mlp_net_shapes_and_parameter_count(family):
    net = models.mlp_net(family, 6, width=50)
    assert net(mr.tensor(random_array((5, 1, 28, 28)), dtype=mr.float32)).shape == (5, 10)
    batch_norm = 2 * 50                                          # weight and bias per unit
    per_block = {"plain": 50 * 50 + 50, "residual": 50 * 50 + 50,
                 "highway": 2 * (50 * 50 + 50), "van": 50 * 50 + 50 + 50}[family] + batch_norm
    assert net.num_parameters() == 784 * 50 + 50 + 4 * per_block + batch_norm + 50 * 10 + 10


def test_mlp_net_errors():
    with pytest.raises(ValueError, match="family must be one of"):
        models.mlp_net("residual_v2", 5)
    with pytest.raises(ValueError, match="depth must be an int >= 3"):
        models.mlp_net("plain", 2)


def test_the_blog_posts_highway_net_is_width_14():
    """"Weighted Skip Connections are Not Harmful for Deep Nets": every stage 0.875x as wide
    (16/32/64 -> 14/28/56), gates as powerful as H: about 2.6M parameters at depth 110."""
    net = models.cifar_net("highway", 110, width=14)
    assert net.num_parameters() == 2_646_976
    assert [net.stage1[0].transform.conv1.weight.shape[0], net.stage3[0].transform.conv1.weight.shape[0]] == [14, 56]
