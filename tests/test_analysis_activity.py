"""minires.analysis.activity and block_measures against answers computed without hooks:
each small net run block by block by hand (as CifarNet, MLPNet and SimplifiedNet chain
their blocks), with Tensor.retain_grad for the gradients; then what the functions must
leave alone (hooks, .grad, buffers, mode), one read-back on the strict device, the
errors, and what ``minires.analysis`` exports."""

import numpy as np
import pytest

import minires as mr
import minires.functional as F
from minires import models, nn
from minires import analysis
from minires.optim import VANConstraint
from helpers import on_device, random_array
from strict_device import count_synchronizations

LABELS = np.array([0, 3, 7, 9])


PLACEMENTS = ("bn_after_addition", "relu_before_addition", "relu_only_preactivation")
DENSE_BLOCKS = (nn.DensePlainBlock, nn.DenseResidualBlock, nn.DenseHighwayBlock, nn.DenseVANBlock)


def build(name, device="cpu"):
    """A small float64 net: "residual" (cifar_net, depth 8, width 4: 3 blocks),
    "highway_1x1" (1x1 gates, ReLU after), "mlp_van" (mlp_net, 3 blocks of 6 units),
    "simplified" (simplified_net, residual, 2 blocks)."""
    mr.manual_seed(0)
    if name.startswith("mlp_"):
        net = models.mlp_net(name[4:], 5, width=6, in_features=12)
    elif name == "simplified":
        net = models.simplified_net("residual", 4, width=4)
    elif name == "highway_1x1":
        net = models.cifar_net("highway", 8, width=4, gate="1x1", post_activation=True)
    elif name in PLACEMENTS:
        net = models.cifar_net("residual", 8, width=4, placement=name)
    else:
        net = models.cifar_net(name, 8, width=4)
    return net.double().to(device)


def images_for(net, device):
    shape = (4, 12) if isinstance(net, models.MLPNet) else (4, 3, 8, 8)
    return on_device(random_array(shape, seed=1), device, requires_grad=False)


def run_by_hand(net, images):
    """(logits, [(block, its input, its output)]): the forward pass, one block at a time."""
    if isinstance(net, models.MLPNet):
        x, stages = net.input_layer(net.flatten(images)), [net.blocks]
    elif isinstance(net, models.SimplifiedNet):
        x, stages = net.stem(images), [net.blocks]
    else:
        x, stages = net.stem(images), [net.stage1, net.stage2, net.stage3]
    steps = []
    for stage in stages:
        for block in stage:
            steps.append((block, x, block(x)))
            x = steps[-1][2]
    head = F.relu(net.bn(x)) if isinstance(net, models.MLPNet) else \
        net.pool(getattr(net, "final_activation", nn.Identity())(x))
    return net.fc(head), steps


def norm(tensor):
    return np.linalg.norm(tensor.numpy())


def assert_no_hooks(net):
    for module in net.modules():
        assert not (module._forward_pre_hooks or module._forward_hooks or module._backward_hooks)


@pytest.mark.parametrize("name", ["plain", "residual", "residual_v2", "highway", "van", "mlp_residual"])
def test_block_norms_match_a_hand_written_forward_and_backward(name, device):
    net = build(name, device)
    images = images_for(net, device)
    logits, steps = run_by_hand(net, images)
    for _, _, output in steps:
        output.retain_grad()
    F.cross_entropy(logits, LABELS).backward()
    net.zero_grad()
    result = analysis.block_norms(net, images, LABELS)
    assert result["names"] == [name for name, _ in analysis.blocks(net)] and len(result["names"]) == 3
    np.testing.assert_allclose(result["activation"], [norm(output) for _, _, output in steps], rtol=1e-12)
    np.testing.assert_allclose(result["activation_grad"], [norm(output.grad) for _, _, output in steps],
                               rtol=1e-10)
    assert all(parameter.grad is None for parameter in net.parameters())


def test_block_norms_of_weight_layers_match_their_outputs_by_hand():
    net = build("mlp_residual")
    images = images_for(net, "cpu")
    pre_activations = [net.input_layer(net.flatten(images))]               # (N, 6)
    x = pre_activations[0]
    for block in net.blocks:
        pre_activations.append(block.linear(F.relu(block.bn(x))))
        x = pre_activations[-1] + x                                        # DenseResidualBlock
    pre_activations.append(net.fc(F.relu(net.bn(x))))                      # the logits
    for value in pre_activations:
        value.retain_grad()
    F.cross_entropy(pre_activations[-1], LABELS).backward()
    net.zero_grad()
    result = analysis.block_norms(net, images, LABELS, modules=analysis.weight_layers(net))
    assert result["names"] == ["input_layer", "blocks.0.linear", "blocks.1.linear", "blocks.2.linear", "fc"]
    np.testing.assert_allclose(result["activation"], [norm(value) for value in pre_activations], rtol=1e-12)
    np.testing.assert_allclose(result["activation_grad"], [norm(value.grad) for value in pre_activations],
                               rtol=1e-10)


def test_block_norms_differentiate_the_loss_given():
    net = build("mlp_plain")
    images = images_for(net, "cpu")
    targets = mr.tensor(random_array((4, 10), seed=2), dtype=mr.float64)

    def half_squared_error(output, target):
        return ((output - target) ** 2).sum() / 2

    logits, steps = run_by_hand(net, images)
    for _, _, output in steps:
        output.retain_grad()
    half_squared_error(logits, targets).backward()
    net.zero_grad()
    result = analysis.block_norms(net, images, targets, loss=half_squared_error)
    np.testing.assert_allclose(result["activation_grad"], [norm(output.grad) for _, _, output in steps],
                               rtol=1e-10)
    default = analysis.block_norms(net, images, LABELS)["activation_grad"]
    assert not np.allclose(result["activation_grad"], default)          # not the cross-entropy's


def test_block_norms_explain_a_loss_that_is_not_one_value():
    net = build("mlp_plain")
    images = images_for(net, "cpu")
    with pytest.raises(TypeError, match="loss must be a function .output, labels."):
        analysis.block_norms(net, images, LABELS, loss="cross_entropy")
    with pytest.raises(ValueError, match=r"Tensor of one value; got a Tensor of shape \(4,\)"):
        analysis.block_norms(net, images, LABELS, loss=lambda output, labels: F.cross_entropy(
            output, labels, reduction="none"))
    with pytest.raises(ValueError, match="got float"):
        analysis.block_norms(net, images, LABELS, loss=lambda output, labels: 2.3)
    assert_no_hooks(net)
    assert all(parameter.grad is None for parameter in net.parameters())


@pytest.mark.parametrize("name", ["plain", "residual", "residual_v2", "highway", "mlp_van", "simplified"])
def test_block_outputs_are_the_outputs_of_a_hand_written_forward(name, device):
    net = build(name, device)
    images = images_for(net, device)
    with mr.no_grad():
        _, steps = run_by_hand(net, images)
    result = analysis.block_outputs(net, images)
    assert result["names"] == [name for name, _ in analysis.blocks(net)]
    assert len(result["outputs"]) == len(steps) == len(result["names"])
    for mine, (_, _, output) in zip(result["outputs"], steps):
        assert isinstance(mine, np.ndarray) and mine.dtype == np.float64 and mine.shape == output.shape
        np.testing.assert_array_equal(mine, output.numpy())


def test_block_outputs_of_modules_given_and_a_relu_after_the_addition():
    net = build("residual")
    images = images_for(net, "cpu")
    result = analysis.block_outputs(net, images, modules=[("stem", net.stem)] + analysis.blocks(net))
    assert result["names"] == ["stem", "stage1.0", "stage2.0", "stage3.0"]
    with mr.no_grad():
        np.testing.assert_array_equal(result["outputs"][0], net.stem(images).numpy())
    for output in result["outputs"][1:]:                 # v1 blocks end with a ReLU: no negative value
        assert output.min() == 0 and 0 < (output == 0).mean() < 1


def test_weight_norms_read_every_weight_and_its_grad(device):
    net = build("residual", device)
    images = images_for(net, device)
    F.cross_entropy(net(images), LABELS).backward()
    net.stage2[0].branch.conv1.weight.grad = None
    layers = [net.stem[0]] + [conv for stage in (net.stage1, net.stage2, net.stage3)
                              for conv in (stage[0].branch.conv1, stage[0].branch.conv2)] + [net.fc]
    result = analysis.weight_norms(net)
    assert result["names"][:3] == ["stem.0", "stage1.0.branch.conv1", "stage1.0.branch.conv2"]
    np.testing.assert_allclose(result["weight"], [norm(layer.weight) for layer in layers], rtol=1e-12)
    expected = [norm(layer.weight.grad) if layer.weight.grad is not None else np.nan for layer in layers]
    np.testing.assert_allclose(result["weight_grad"], expected, rtol=1e-12)
    assert np.isnan(result["weight_grad"][3]) and np.isfinite(result["weight_grad"]).sum() == 7


def test_weight_norms_of_the_layers_given_read_batch_norm_scales():
    net = build("residual")
    images = images_for(net, "cpu")
    F.cross_entropy(net(images), LABELS).backward()
    last_norms = [(name, module) for name, module in net.named_modules() if name.endswith("branch.bn2")]
    result = analysis.weight_norms(net, layers=last_norms)
    assert result["names"] == ["stage1.0.branch.bn2", "stage2.0.branch.bn2", "stage3.0.branch.bn2"]
    np.testing.assert_allclose(result["weight"], [norm(module.weight) for _, module in last_norms], rtol=1e-12)
    np.testing.assert_allclose(result["weight_grad"], [norm(module.weight.grad) for _, module in last_norms],
                               rtol=1e-12)
    with pytest.raises(ValueError, match="'stem.2' has no weight Parameter"):
        analysis.weight_norms(net, layers=[("stem.2", net.stem[2])])             # a ReLU
    with pytest.raises(TypeError, match="weight_norms: layers must be a non-empty list of .name, Module. pairs"):
        analysis.weight_norms(net, layers=[net.fc])


def zeros_by_hand(block, x):
    """(values at 0 after each ReLU of ``block``, values in all), from its layers called by hand."""
    counts = []
    placement = getattr(block, "placement", None) if isinstance(block, nn.ResidualBlock) else None
    if isinstance(block, nn.ResidualBlock) and block.preact:
        first = block.bn1(x)
        counts += [first.numpy() <= 0, block.bn2(block.conv1(F.relu(first))).numpy() <= 0]
    elif placement == "relu_before_addition":                                  # ReLU(F(x)) + x
        inner = block.branch.bn1(block.branch.conv1(x))
        counts += [inner.numpy() <= 0, block.branch(x).numpy() <= 0]
    elif placement == "relu_only_preactivation":                               # F(ReLU(x)) + x
        counts += [x.numpy() <= 0, block.branch.bn1(block.branch.conv1(F.relu(x))).numpy() <= 0]
    elif isinstance(block, DENSE_BLOCKS):                                       # W ReLU(BN(x)) + ...
        counts.append(block.bn(x).numpy() <= 0)
    else:
        for branch in [module for module in block.modules() if isinstance(module, nn.ResidualBranch)]:
            counts.append(branch.bn1(branch.conv1(x)).numpy() <= 0)            # the ReLU inside F
        if getattr(block, "post_activation", not isinstance(block, nn.HighwayBlock)):
            counts.append(block(x).numpy() == 0)                               # the ReLU at the output
    return sum(mask.sum() for mask in counts), sum(mask.size for mask in counts)


@pytest.mark.parametrize("name", ["plain", "residual", "residual_v2", "highway", "highway_1x1", "van",
                                  "scaled_residual", "mlp_plain", "mlp_highway", "simplified", *PLACEMENTS])
def test_dead_relu_fraction_counts_the_zeros_of_every_relu(name, device):
    net = build(name, device)
    images = images_for(net, device)
    _, steps = run_by_hand(net, images)
    with mr.no_grad():
        expected = [zeros / size for zeros, size in (zeros_by_hand(block, x) for block, x, _ in steps)]
    result = analysis.dead_relu_fraction(net, images)
    np.testing.assert_allclose(result["fraction"], expected, rtol=1e-15)
    assert 0.05 < min(expected) and max(expected) < 0.95


def ratio_by_hand(block, x):
    if isinstance(block, nn.ResidualBlock) and block.preact:
        activated = F.relu(block.bn1(x))
        branch = block.conv2(F.relu(block.bn2(block.conv1(activated))))
        return norm(branch) / norm(block.shortcut(activated if block.changes_shape else x))
    if isinstance(block, (nn.DenseResidualBlock, nn.DenseVANBlock)):
        return norm(block.linear(F.relu(block.bn(x)))) / norm(x)
    if isinstance(block, nn.SimplifiedBlock):
        return norm(block.conv(x)) / norm(x)
    return norm(block.branch(x)) / norm(block.shortcut(x))


@pytest.mark.parametrize("name", ["residual", "residual_v2", "van", "scaled_residual", "mlp_residual", "mlp_van",
                                  "simplified"])
def test_residual_ratios_divide_the_branch_by_the_shortcut(name, device):
    net = build(name, device)
    images = images_for(net, device)
    with mr.no_grad():
        _, steps = run_by_hand(net, images)
        expected = [ratio_by_hand(block, x) for block, x, _ in steps]
    result = analysis.residual_ratios(net, images)
    np.testing.assert_allclose(result["ratio"], expected, rtol=1e-12)


@pytest.mark.parametrize("name", ["highway", "highway_1x1", "mlp_highway"])
def test_gate_statistics_summarise_sigmoid_of_the_transform_gate(name, device):
    net = build(name, device)
    images = images_for(net, device)
    with mr.no_grad():
        _, steps = run_by_hand(net, images)
        gates = [F.sigmoid(block.transform_gate(F.relu(block.bn(x)) if isinstance(block, nn.DenseHighwayBlock)
                                                else x)).numpy() for block, x, _ in steps]
    result = analysis.gate_statistics(net, images)
    np.testing.assert_allclose(result["mean"], [gate.mean() for gate in gates], rtol=1e-12)
    np.testing.assert_allclose(result["std"], [gate.std() for gate in gates], rtol=1e-12)
    for mine, gate in zip(result["channel_mean"], gates):
        axes = (0,) if gate.ndim == 2 else (0, 2, 3)
        np.testing.assert_allclose(mine, gate.mean(axis=axes), rtol=1e-12)
    assert len(result["channel_mean"]) == 3 and 0.1 < result["mean"].min() < result["mean"].max() < 0.5


@pytest.mark.parametrize("name", ["van", "mlp_van"])
def test_van_alphas_and_their_residual_match_van_constraint(name, device):
    net = build(name, device)
    layers = [module for module in net.modules() if isinstance(module, (nn.VANBlock, nn.DenseVANBlock))]
    alphas = [np.random.default_rng(index).uniform(0, 1, layer.alpha.shape) for index, layer in enumerate(layers)]
    for layer, alpha in zip(layers, alphas):
        layer.alpha.data = mr.tensor(alpha, dtype=mr.float64, device=device)
    result = analysis.van_alphas(net)
    assert result["names"] == [name for name, module in net.named_modules() if module in layers]
    for mine, alpha in zip(result["alpha"], alphas):
        np.testing.assert_array_equal(mine, alpha)
    np.testing.assert_allclose(result["mean"], [alpha.mean() for alpha in alphas], rtol=1e-15)
    by_hand = sum(((1 - alpha) ** 2).sum() for alpha in alphas) / len(alphas)
    np.testing.assert_allclose(result["alpha_residual"], by_hand, rtol=1e-13)
    np.testing.assert_allclose(result["alpha_residual"], VANConstraint(net).alpha_residual(), rtol=1e-13)


CALLS = {   # each function with the net it needs
    "block_norms": ("van", lambda net, images: analysis.block_norms(net, images, LABELS)),
    "dead_relu_fraction": ("residual", analysis.dead_relu_fraction),
    "residual_ratios": ("residual_v2", analysis.residual_ratios),
    "gate_statistics": ("highway", analysis.gate_statistics),
    "weight_norms": ("residual", lambda net, images: analysis.weight_norms(net)),
    "van_alphas": ("van", lambda net, images: analysis.van_alphas(net)),
    "block_outputs": ("residual", analysis.block_outputs),
}


@pytest.mark.parametrize("function", list(CALLS))
def test_each_function_reads_back_to_the_host_once(function):
    net_name, call = CALLS[function]
    net = build(net_name, "strict")
    images = images_for(net, "strict")
    with count_synchronizations() as syncs:
        call(net, images)
    assert syncs.count <= 1


@pytest.mark.parametrize("mode", ["train", "eval"])
@pytest.mark.parametrize("function", list(CALLS))
def test_each_function_leaves_hooks_grads_buffers_and_mode_as_they_were(function, mode):
    net_name, call = CALLS[function]
    net = build(net_name).train(mode == "train")
    images = images_for(net, "cpu")
    F.cross_entropy(net(images), LABELS).backward()
    net.fc.weight.grad = None
    grads = {name: parameter.grad for name, parameter in net.named_parameters()}
    grad_values = {name: grad.numpy() for name, grad in grads.items() if grad is not None}
    state = net.state_dict()
    call(net, images)
    assert_no_hooks(net)
    assert all(module.training == (mode == "train") for module in net.modules())
    for name, parameter in net.named_parameters():
        assert parameter.grad is grads[name]
        if name in grad_values:
            np.testing.assert_array_equal(parameter.grad.numpy(), grad_values[name])
    for name, value in net.state_dict().items():
        np.testing.assert_array_equal(value, state[name], err_msg=name)


@pytest.mark.parametrize("function", [name for name in CALLS if name not in ("weight_norms", "van_alphas")])
def test_hooks_and_buffers_are_restored_when_the_forward_fails(function):
    net_name, call = CALLS[function]
    net = build(net_name)
    state = net.state_dict()
    with pytest.raises(ValueError, match="channels"):
        call(net, on_device(random_array((4, 5, 8, 8)), "cpu", requires_grad=False))   # 5 channels, not 3
    assert_no_hooks(net)
    for name, value in net.state_dict().items():
        np.testing.assert_array_equal(value, state[name], err_msg=name)


@pytest.mark.parametrize("function, name, message", [
    ("residual_ratios", "plain", "CifarNet has no block with a branch and a shortcut"),
    ("gate_statistics", "residual", "CifarNet has no highway block .HighwayBlock, DenseHighwayBlock"),
    ("van_alphas", "mlp_residual", "MLPNet has no VAN layer"),
])
def test_a_model_without_the_blocks_measured_is_a_value_error(function, name, message):
    net = build(name)
    with pytest.raises(ValueError, match=message):
        CALLS[function][1](net, images_for(net, "cpu"))


def test_bad_models_modules_and_images_are_explained():
    linear = nn.Sequential(nn.Flatten(), nn.Linear(12, 10)).double()
    images = images_for(build("mlp_plain"), "cpu")
    with pytest.raises(ValueError, match="Sequential has no blocks .PlainBlock"):
        analysis.block_norms(linear, images, LABELS)
    with pytest.raises(ValueError, match="Sequential has no blocks"):
        analysis.dead_relu_fraction(linear, images)
    with pytest.raises(ValueError, match="Sequential has no Conv2d or Linear layer"):
        analysis.weight_norms(nn.Sequential(nn.ReLU()))
    with pytest.raises(ValueError, match="'elsewhere' ran 0 times"):
        analysis.block_norms(linear, images, LABELS, modules=[("elsewhere", nn.Linear(12, 10))])
    with pytest.raises(TypeError, match="modules must be a non-empty list of .name, Module. pairs"):
        analysis.block_norms(linear, images, LABELS, modules=[linear[1]])
    with pytest.raises(TypeError, match="model must be a minires nn.Module; got str"):
        analysis.blocks("net")
    with pytest.raises(RuntimeError, match="inside minires.no_grad"), mr.no_grad():
        analysis.block_norms(build("mlp_plain"), images, LABELS)


@pytest.mark.parametrize("function", ["block_norms", "dead_relu_fraction", "residual_ratios", "gate_statistics",
                                      "block_outputs"])
def test_images_that_are_not_a_tensor_are_a_type_error(function):
    net_name, call = CALLS[function]
    net = build(net_name)
    with pytest.raises(TypeError, match=f"{function}: images must be a minires Tensor.*got ndarray"):
        call(net, random_array((4, 3, 8, 8)))


PUBLIC_FUNCTIONS = ["blocks", "weight_layers",
                    "block_norms", "weight_norms", "dead_relu_fraction", "block_outputs",
                    "residual_ratios", "gate_statistics", "van_alphas",
                    "noise_stability", "layer_cushion", "operator_frobenius_norm",
                    "block_jacobian"]


def test_the_package_exports_exactly_the_public_functions():
    from minires.analysis import activity, block_measures, jacobian, modules, stability
    assert sorted(analysis.__all__) == sorted(PUBLIC_FUNCTIONS)
    assert len(set(analysis.__all__)) == len(analysis.__all__)
    for name in PUBLIC_FUNCTIONS:        # what ``from minires.analysis import name`` finds
        assert callable(getattr(analysis, name, None)), name
    # Each public function defined in a file of the package is exported (none forgotten);
    # modules.py's other public names are helpers the files share, not part of the package.
    for module in (activity, block_measures, stability, jacobian):
        defined_here = [name for name, value in vars(module).items()
                        if callable(value) and not name.startswith("_")
                        and getattr(value, "__module__", None) == module.__name__]
        assert set(defined_here) <= set(PUBLIC_FUNCTIONS), module.__name__
    assert modules.blocks is analysis.blocks and modules.weight_layers is analysis.weight_layers
