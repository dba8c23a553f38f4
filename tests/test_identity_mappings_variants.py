"""The units of "Identity Mappings in Deep Residual Networks" (He, Zhang, Ren and Sun, 2016):
the five activation placements of its Table 2 (nn.ResidualBlock's ``placement``) and the
shortcuts of its Table 1 (nn.ScaledResidualBlock's ``variant``).

- each block: float64 central-difference gradcheck w.r.t. its input and every
  parameter, on each device; every parameter gets a gradient; fast kernels = references;
- the identities: full_preactivation is residual_v2, original is residual, zeroBN
  starts relu_only_preactivation as x, exclusive_gating is the highway 1x1 gate with
  ReLU after the combine, the old variant names build the paper's variants;
- the nets: each placement and variant at depth 8 builds and trains a step, ResNet-110
  has the paper's 1.7M parameters.
PyTorch twins of these blocks are in test_identity_mappings_torch.py, the command line
in test_identity_mappings_cli.py.
"""

import re

import numpy as np
import pytest

import minires as mr
from minires import models, nn, optim
from helpers import check_module_gradients, on_device, random_array

PLACEMENTS = ("original", "bn_after_addition", "relu_before_addition", "relu_only_preactivation",
              "full_preactivation")
NEW_PLACEMENTS = ("bn_after_addition", "relu_before_addition", "relu_only_preactivation")
VARIANTS = ("learned", "constant_scaling", "exclusive_gating", "shortcut_only_gating", "conv1x1_shortcut",
            "dropout_shortcut")


def placement_block(placement, shape_change, **options):
    """(block, input shape): the identity case 3 -> 3, or stride 2 and 2 -> 4 with option A or B."""
    if shape_change is None:
        return nn.ResidualBlock(3, 3, placement=placement, **options), (2, 3, 4, 4)
    return nn.ResidualBlock(2, 4, stride=2, shortcut=shape_change, placement=placement, **options), (2, 2, 5, 5)


# name -> a factory of (block, input shape); small sizes: gradcheck perturbs every weight.
BLOCK_CASES = {
    **{f"{placement}_{case or 'identity'}": (lambda placement=placement, case=case: placement_block(placement, case))
       for placement in PLACEMENTS for case in (None, "A", "B")},
    "constant_scaling_both_half": (lambda: (nn.ScaledResidualBlock(3, 3, variant="constant_scaling", residual_scale=0.5,
                                                                   shortcut_scale=0.5), (2, 3, 4, 4))),
    "exclusive_gating_identity": (lambda: (nn.ScaledResidualBlock(3, 3, variant="exclusive_gating", gate_bias=0.0),
                                           (2, 3, 4, 4))),
    "exclusive_gating_A": (lambda: (nn.ScaledResidualBlock(2, 4, stride=2, variant="exclusive_gating",
                                                           gate_bias=-1.0), (2, 2, 5, 5))),
    "exclusive_gating_B": (lambda: (nn.ScaledResidualBlock(2, 4, stride=2, variant="exclusive_gating", gate_bias=0.5,
                                                           shortcut="B"), (2, 2, 5, 5))),
    "shortcut_only_gating_B": (lambda: (nn.ScaledResidualBlock(2, 4, stride=2, variant="shortcut_only_gating",
                                                               gate_bias=0.0, shortcut="B"), (2, 2, 5, 5))),
    "conv1x1_shortcut_identity": (lambda: (nn.ScaledResidualBlock(3, 3, variant="conv1x1_shortcut"), (2, 3, 4, 4))),
}


def build(name, seed=0):
    mr.manual_seed(seed)
    return BLOCK_CASES[name]()


@pytest.mark.parametrize("name", BLOCK_CASES)
def test_gradcheck_in_training(name, device):
    block, shape = build(name)
    checked = check_module_gradients(block, random_array(shape, seed=1), device)
    assert checked == [parameter_name for parameter_name, _ in block.named_parameters()] and checked


@pytest.mark.parametrize("placement", NEW_PLACEMENTS)
def test_gradcheck_in_eval(placement, device):
    """With running statistics in place of the batch's, as at test time."""
    block, shape = placement_block(placement, "B")
    block.double()
    block(on_device(random_array(shape, seed=2), "cpu", requires_grad=False))   # running stats move
    block.eval()
    check_module_gradients(block, random_array(shape, seed=1), device)


def test_dropout_shortcut_is_a_scale_of_expectation_one_half():
    """Training: m x with m in {0, 1}, not rescaled (about half the values kept, each
    exactly x's); evaluation: 0.5 x, the expectation (Identity Mappings, Section 3)."""
    mr.manual_seed(0)
    block = nn.ScaledResidualBlock(4, 4, variant="dropout_shortcut", dropout_p=0.5).double()
    x = on_device(np.abs(random_array((8, 4, 6, 6), seed=1)) + 1.0, "cpu", requires_grad=False)
    with mr.no_grad():
        branch_train = block.branch(x).numpy()          # batch statistics: the same in both calls
        block.eval()
        evaluated = block(x).numpy()
        expected_eval = np.maximum(block.branch(x).numpy() + 0.5 * x.numpy(), 0.0)
    np.testing.assert_allclose(evaluated, expected_eval, rtol=1e-12)
    mr.manual_seed(3)
    mask = mr.functional.dropout(on_device(np.ones(x.shape), "cpu", False), 0.5, training=True).numpy() / 2.0
    assert set(np.unique(mask)) == {0.0, 1.0} and 0.4 < mask.mean() < 0.6
    block.train()
    with mr.no_grad():
        mr.manual_seed(3)
        np.testing.assert_allclose(block(x).numpy(), np.maximum(branch_train + mask * x.numpy(), 0.0), rtol=1e-12)


@pytest.mark.parametrize("name", BLOCK_CASES)
def test_every_parameter_gets_a_gradient(name):
    block, shape = build(name)
    block.double()
    x = on_device(random_array(shape, seed=1), "cpu")
    y = block(x)
    (y * on_device(random_array(y.shape, seed=3), "cpu", False)).sum().backward()
    assert np.abs(x.grad.numpy()).sum() > 0
    for parameter_name, parameter in block.named_parameters():
        assert parameter.grad is not None and np.abs(parameter.grad.numpy()).sum() > 0, parameter_name


@pytest.mark.parametrize("name", [f"{placement}_B" for placement in NEW_PLACEMENTS] + ["exclusive_gating_B"])
def test_fast_kernels_equal_the_references(name):
    outputs = []
    for fast in (True, False):
        block, shape = build(name)
        block.double().use_fast_kernels(fast)
        x = on_device(random_array(shape, seed=1), "cpu")
        y = block(x)
        y.backward(on_device(random_array(y.shape, seed=3), "cpu", False))
        outputs.append([y.numpy(), x.grad.numpy()] + [p.grad.numpy() for p in block.parameters()])
    for fast_value, reference in zip(*outputs):
        np.testing.assert_allclose(fast_value, reference, rtol=0, atol=1e-10)


# -- what each unit is ------------------------------------------------------------------

def _forward_and_grad(block, x_array):
    x = on_device(x_array, "cpu")
    y = block(x)
    y.backward(on_device(random_array(y.shape, seed=7), "cpu", False))
    return y.numpy(), x.grad.numpy()


@pytest.mark.parametrize("shortcut", ["A", "B"])
def test_full_preactivation_is_preact_true(shortcut):
    mr.manual_seed(0)
    by_placement = nn.ResidualBlock(2, 4, stride=2, shortcut=shortcut, placement="full_preactivation").double()
    mr.manual_seed(0)
    by_flag = nn.ResidualBlock(2, 4, stride=2, shortcut=shortcut, preact=True).double()
    assert list(by_placement.state_dict()) == list(by_flag.state_dict())
    assert by_placement.preact and repr(by_placement) == repr(by_flag)
    x = random_array((3, 2, 6, 6))
    for got, expected in zip(_forward_and_grad(by_placement, x), _forward_and_grad(by_flag, x)):
        np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("placement, family", [("full_preactivation", "residual_v2"), ("original", "residual")])
def test_the_placement_nets_are_the_nets_residual_and_residual_v2_build(placement, family):
    """Same modules, names and function: a saved residual_v2 loads into the placement net."""
    mr.manual_seed(0)
    existing = models.cifar_net(family, 8, width=4).double()
    mr.manual_seed(1)
    by_placement = models.cifar_net("residual", 8, width=4, placement=placement).double()
    assert by_placement.load_state_dict(existing.state_dict()) == ([], [])
    assert by_placement.num_parameters() == existing.num_parameters()
    x = random_array((2, 3, 8, 8))
    for got, expected in zip(_forward_and_grad(by_placement, x), _forward_and_grad(existing, x)):
        np.testing.assert_array_equal(got, expected)


def test_pre_activation_nets_end_with_the_activation_their_blocks_lack():
    """The blocks of both pre-activation units end without ReLU, so the net adds one before the pool."""
    assert type(models.cifar_net("residual", 8, placement="relu_only_preactivation").final_activation) is nn.ReLU
    full = models.cifar_net("residual", 8, placement="full_preactivation").final_activation
    assert [type(module) for module in full] == [nn.BatchNorm2d, nn.ReLU]
    for placement in ("original", "bn_after_addition", "relu_before_addition"):
        assert type(models.cifar_net("residual", 8, placement=placement).final_activation) is nn.Identity


def test_relu_before_addition_only_adds_to_x():
    """y = x + ReLU(...): y >= x everywhere, and y = x where the branch's BN output is <= 0."""
    block, shape = placement_block("relu_before_addition", None)
    block.double()
    x = random_array(shape, seed=1)
    y = block(on_device(x, "cpu", False)).numpy()
    assert np.all(y >= x) and np.mean(y == x) > 0.2


def test_bn_after_addition_normalizes_the_sum():
    """Before its ReLU, each channel of the sum has mean beta and (biased) std gamma."""
    block, shape = placement_block("bn_after_addition", "A")
    block.double()
    block.bn_after_addition.bias.array[...] = [-1.0, 0.0, 1.0, 2.0]
    recorded = []
    block.bn_after_addition.register_forward_hook(lambda module, args, output: recorded.append(output.numpy()))
    y = block(on_device(random_array(shape, seed=1), "cpu", False)).numpy()
    normalized = recorded[0]
    np.testing.assert_allclose(normalized.mean(axis=(0, 2, 3)), [-1.0, 0.0, 1.0, 2.0], atol=1e-12)
    np.testing.assert_allclose(normalized.std(axis=(0, 2, 3)), 1.0, atol=1e-4)
    np.testing.assert_array_equal(y, np.maximum(normalized, 0))
    assert not hasattr(block.branch, "bn2") and not block.branch.last_bn


def test_relu_only_preactivation_is_x_plus_the_branch_of_relu_x():
    block, shape = placement_block("relu_only_preactivation", None)
    block.double()
    x = on_device(random_array(shape, seed=1), "cpu", False)
    expected = x.numpy() + block.branch(mr.functional.relu(x)).numpy()
    np.testing.assert_allclose(block(x).numpy(), expected, rtol=0, atol=1e-12)


def test_zero_init_last_bn_starts_relu_only_preactivation_as_x():
    mr.manual_seed(0)
    block = nn.ResidualBlock(4, 4, placement="relu_only_preactivation", zero_init_last_bn=True).double()
    x = on_device(random_array((3, 4, 5, 5)), "cpu")
    y = block(x)
    np.testing.assert_array_equal(y.numpy(), x.numpy())                           # exactly x
    (y * on_device(random_array(y.shape, seed=4), "cpu", False)).sum().backward()
    assert np.abs(block.branch.bn2.weight.grad.numpy()).sum() > 0                 # and it can learn


@pytest.mark.parametrize("old, new", [("constant", "constant_scaling"), ("shortcut_gating", "shortcut_only_gating"),
                                      ("conv1x1", "conv1x1_shortcut"), ("dropout", "dropout_shortcut")])
def test_old_variant_names_build_the_papers_variants(old, new):
    mr.manual_seed(0)
    by_old = nn.ScaledResidualBlock(2, 4, stride=2, variant=old).double()
    mr.manual_seed(0)
    by_new = nn.ScaledResidualBlock(2, 4, stride=2, variant=new).double()
    assert by_old.variant == new and repr(by_old) == repr(by_new)
    assert list(by_old.state_dict()) == list(by_new.state_dict())
    x = random_array((3, 2, 6, 6))
    mr.manual_seed(3)
    old_values = _forward_and_grad(by_old, x)
    mr.manual_seed(3)
    for got, expected in zip(old_values, _forward_and_grad(by_new, x)):
        np.testing.assert_array_equal(got, expected)


def test_constant_scaling_scales():
    block = nn.ScaledResidualBlock(3, 3, variant="constant_scaling")
    assert (block.residual_scale, block.shortcut_scale) == (1.0, 0.5)              # 0.5 on the shortcut only
    both = nn.ScaledResidualBlock(3, 3, variant="constant_scaling", residual_scale=0.5)
    assert (both.residual_scale, both.shortcut_scale) == (0.5, 0.5)                # 0.5 on both
    block.double()
    x = on_device(random_array((2, 3, 4, 4)), "cpu", False)
    np.testing.assert_allclose(block(x).numpy(), np.maximum(block.branch(x).numpy() + 0.5 * x.numpy(), 0),
                               rtol=0, atol=1e-12)


def test_exclusive_gating_is_the_highway_1x1_gate_with_relu_after_the_combine():
    mr.manual_seed(0)
    gated = nn.ScaledResidualBlock(2, 4, stride=2, variant="exclusive_gating", gate_bias=-2.0, shortcut="B").double()
    highway = nn.HighwayBlock(2, 4, stride=2, gate="1x1", gate_bias=0.0, post_activation=True, shortcut="B").double()
    renamed = {"branch": "transform", "gate": "transform_gate", "shortcut": "carry"}
    state = {renamed[name.split(".")[0]] + name[name.index("."):]: value for name, value in gated.state_dict().items()}
    assert highway.load_state_dict(state) == ([], [])
    assert gated.num_parameters() == highway.num_parameters()
    x = random_array((3, 2, 6, 6))
    for got, expected in zip(_forward_and_grad(gated, x), _forward_and_grad(highway, x)):
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("variant", ["exclusive_gating", "shortcut_only_gating"])
def test_gate_bias_is_b_g(variant):
    block = nn.ScaledResidualBlock(3, 3, variant=variant)
    assert np.all(block.gate.bias.numpy() == -6.0)                                # the paper's best
    mr.manual_seed(0)
    carrying = nn.ScaledResidualBlock(3, 3, variant=variant, gate_bias=-30.0).double()    # g ~ 0
    x = on_device(random_array((2, 3, 4, 4)), "cpu", False)
    branch = carrying.branch(x).numpy()
    expected = np.maximum(x.numpy() + (branch if variant == "shortcut_only_gating" else 0), 0)
    np.testing.assert_allclose(carrying(x).numpy(), expected, rtol=0, atol=1e-10)
    mr.manual_seed(0)
    transforming = nn.ScaledResidualBlock(3, 3, variant=variant, gate_bias=30.0).double()  # g ~ 1
    np.testing.assert_allclose(transforming(x).numpy(), np.maximum(branch, 0), rtol=0, atol=1e-10)


# -- errors -----------------------------------------------------------------------------

@pytest.mark.parametrize("options, message", [
    ({"placement": "pre"}, "placement must be one of ('original', 'bn_after_addition'"),
    ({"placement": "original", "preact": True}, "preact=True is placement='full_preactivation'"),
    ({"placement": "bn_after_addition", "zero_init_last_bn": True},
     "zero_init_last_bn cannot start a 'bn_after_addition' block"),
    ({"placement": "relu_before_addition", "zero_init_last_bn": True},
     "zero_init_last_bn cannot start a 'relu_before_addition' block"),
])
def test_bad_placements(options, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        nn.ResidualBlock(3, 3, **options)


@pytest.mark.parametrize("options, message", [
    ({"variant": "gating"}, "variant must be one of ('learned', 'constant_scaling'"),
    ({"variant": "exclusive_gating", "residual_scale": 0.5}, "residual_scale and shortcut_scale apply to the "
                                                              "'learned' and 'constant_scaling' variants, not "
                                                              "'exclusive_gating'"),
    ({"variant": "dropout", "dropout_p": 1.0}, "dropout_p must be in [0, 1); got 1.0"),
])
def test_bad_variants(options, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        nn.ScaledResidualBlock(3, 3, **options)


# -- the nets ---------------------------------------------------------------------------

NETS = ([("residual", {"placement": placement}) for placement in PLACEMENTS]
        + [("scaled_residual", {"variant": variant}) for variant in VARIANTS]
        + [("scaled_residual", {"variant": "constant_scaling", "residual_scale": 0.5})])


@pytest.mark.parametrize("family, options", NETS, ids=[str(options) for _, options in NETS])
def test_each_net_builds_at_depth_8_and_trains_a_step(family, options):
    mr.manual_seed(0)
    net = models.cifar_net(family, 8, width=4, **options)
    images = mr.tensor(random_array((8, 3, 32, 32), seed=1), dtype=mr.float32)
    optimizer = optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    before = [parameter.numpy().copy() for parameter in net.parameters()]
    logits = net(images)
    assert logits.shape == (8, 10)
    mr.functional.cross_entropy(logits, list(range(8))).backward()
    optimizer.step()
    after = [parameter.numpy() for parameter in net.parameters()]
    assert all(np.all(np.isfinite(value)) for value in after)
    assert sum(not np.array_equal(old, new) for old, new in zip(before, after)) == len(before)


@pytest.mark.parametrize("family, options, parameters", [
    ("residual", {}, 1_727_962),                                              # the paper's 1.7M
    *[("residual", {"placement": placement}, 1_727_962) for placement in NEW_PLACEMENTS + ("original",)],
    ("residual", {"placement": "full_preactivation"}, 1_727_994),          # BN input widths, the last BN
    ("residual_v2", {}, 1_727_994),
    ("scaled_residual", {"variant": "constant_scaling"}, 1_727_962),
    ("scaled_residual", {"variant": "dropout_shortcut"}, 1_727_962),
    ("scaled_residual", {"variant": "learned"}, 1_727_962 + 2 * 54),           # two scalars per block
    # a 1x1 gate, C_in * C_out weights and C_out biases, on each of the 54 blocks: 96,224
    ("scaled_residual", {"variant": "exclusive_gating"}, 1_727_962 + 96_224),
    ("scaled_residual", {"variant": "shortcut_only_gating"}, 1_727_962 + 96_224),
    ("scaled_residual", {"variant": "conv1x1_shortcut"}, 1_727_962 + 94_208),  # no biases
])
def test_resnet_110_parameter_counts(family, options, parameters):
    net = models.cifar_net(family, 110, **options)
    assert net.num_parameters() == parameters
    assert round(parameters / 1e6, 1) in (1.7, 1.8)
