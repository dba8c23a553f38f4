"""Tests for the blocks (minires.nn.blocks, block_variants, dense_blocks, shortcuts).

- every block: float64 gradcheck w.r.t. its input and every parameter, on each device;
- every parameter gets a non-zero gradient (no dead weights);
- the identities the families are built on: zeroBN makes a residual block its
  shortcut, a VAN block with alpha = 0 is the residual block and with alpha = 1 the
  plain block, a highway gate of -30 carries x and of +30 gives H(x);
- option-A shortcut values; errors for bad options.
PyTorch twins of the blocks are in test_blocks_torch.py.
"""

import numpy as np
import pytest

import minires as mr
from minires import nn
from helpers import call_with_parameters, check_module_gradients, on_device, random_array

# name -> (factory, input shape); small sizes: gradcheck perturbs every weight.
BLOCK_CASES = {
    "plain": (lambda: nn.PlainBlock(3, 3), (2, 3, 5, 5)),
    "plain_stride2": (lambda: nn.PlainBlock(2, 4, stride=2), (2, 2, 5, 5)),
    "residual_identity": (lambda: nn.ResidualBlock(3, 3), (2, 3, 5, 5)),
    "residual_A": (lambda: nn.ResidualBlock(2, 4, stride=2), (2, 2, 5, 5)),
    "residual_B": (lambda: nn.ResidualBlock(2, 4, stride=2, shortcut="B"), (2, 2, 5, 5)),
    "residual_v2_identity": (lambda: nn.ResidualBlock(3, 3, preact=True), (2, 3, 5, 5)),
    "residual_v2_A": (lambda: nn.ResidualBlock(2, 4, stride=2, preact=True), (2, 2, 5, 5)),
    "residual_v2_B": (lambda: nn.ResidualBlock(2, 4, stride=2, preact=True, shortcut="B"), (2, 2, 5, 5)),
    "highway_full": (lambda: nn.HighwayBlock(3, 3), (2, 3, 4, 4)),
    "highway_1x1_post": (lambda: nn.HighwayBlock(3, 3, gate="1x1", post_activation=True), (2, 3, 4, 4)),
    "highway_narrow_B": (lambda: nn.HighwayBlock(2, 4, stride=2, width_factor=0.75, shortcut="B"), (2, 2, 4, 4)),
    "van_identity": (lambda: nn.VANBlock(3, 3), (2, 3, 5, 5)),
    "van_A": (lambda: nn.VANBlock(2, 4, stride=2), (2, 2, 5, 5)),
    "scaled_learned": (lambda: nn.ScaledResidualBlock(3, 3), (2, 3, 4, 4)),
    "scaled_constant_A": (lambda: nn.ScaledResidualBlock(2, 4, stride=2, variant="constant"), (2, 2, 4, 4)),
    "scaled_gating": (lambda: nn.ScaledResidualBlock(3, 3, variant="shortcut_gating", gate_bias=0.0),
                      (2, 3, 4, 4)),
    "scaled_conv1x1": (lambda: nn.ScaledResidualBlock(2, 4, stride=2, variant="conv1x1"), (2, 2, 4, 4)),
    "simplified_plain": (lambda: nn.SimplifiedBlock(3, residual=False), (2, 3, 4, 4)),
    "simplified_residual": (lambda: nn.SimplifiedBlock(3, residual=True), (2, 3, 4, 4)),
    "dense_plain": (lambda: nn.DensePlainBlock(6), (4, 6)),
    "dense_residual": (lambda: nn.DenseResidualBlock(6), (4, 6)),
    "dense_highway": (lambda: nn.DenseHighwayBlock(6), (4, 6)),
    "dense_van": (lambda: nn.DenseVANBlock(6), (4, 6)),
}


def build(name, seed=0):
    mr.manual_seed(seed)
    factory, shape = BLOCK_CASES[name]
    block = factory()
    # Move alpha off 0 so that the VAN gradient w.r.t. alpha sees both paths.
    for module in block.modules():
        if isinstance(module, (nn.VANBlock, nn.DenseVANBlock)):
            module.alpha.array[...] = 0.3
    return block, shape


@pytest.mark.parametrize("name", BLOCK_CASES)
def test_block_gradcheck_in_training(name, device):
    block, shape = build(name)
    checked = check_module_gradients(block, random_array(shape, seed=1), device)
    assert checked == [name for name, _ in block.named_parameters()] and checked


@pytest.mark.parametrize("name", ["residual_B", "residual_v2_B", "highway_full", "van_A", "plain"])
def test_block_gradcheck_in_eval(name, device):
    block, shape = build(name)
    block.double()
    block(on_device(random_array(shape, seed=2), "cpu", requires_grad=False))   # running stats move
    block.eval()
    check_module_gradients(block, random_array(shape, seed=1), device)


def test_dropout_shortcut_gradcheck(device):
    """The dropout variant draws a new mask per call: gradcheck re-seeds before each one."""
    mr.manual_seed(0)
    block = nn.ScaledResidualBlock(2, 4, stride=2, variant="dropout", dropout_p=0.5).double().to(device)
    names = [name for name, _ in block.named_parameters()]

    def fn(x, *values):
        mr.manual_seed(5)
        return call_with_parameters(block, dict(zip(names, values)), x)

    values = [mr.Tensor(p.array.copy(), requires_grad=True) for p in block.parameters()]
    assert mr.gradcheck(fn, on_device(random_array((2, 2, 4, 4), seed=1), device), *values)


@pytest.mark.parametrize("name", BLOCK_CASES)
def test_every_parameter_gets_a_gradient(name):
    block, shape = build(name)
    block.double()
    x = on_device(random_array(shape, seed=1), "cpu")
    (block(x) * on_device(random_array(block(x).shape, seed=3), "cpu", False)).sum().backward()
    assert np.abs(x.grad.numpy()).sum() > 0
    for parameter_name, parameter in block.named_parameters():
        assert parameter.grad is not None and np.abs(parameter.grad.numpy()).sum() > 0, parameter_name


# -- the identities ---------------------------------------------------------------------

def test_zero_init_last_bn_makes_v1_block_relu_of_x():
    mr.manual_seed(0)
    block = nn.ResidualBlock(4, 4, zero_init_last_bn=True).double()
    x = on_device(random_array((3, 4, 5, 5)), "cpu")
    np.testing.assert_array_equal(block(x).numpy(), np.maximum(x.numpy(), 0))   # exactly ReLU(x)
    assert np.all(block.branch.bn2.weight.numpy() == 0)


def test_zero_init_last_bn_makes_v2_block_the_identity():
    mr.manual_seed(0)
    block = nn.ResidualBlock(4, 4, preact=True, zero_init_last_bn=True).double()
    x = on_device(random_array((3, 4, 5, 5)), "cpu")
    y = block(x)
    np.testing.assert_array_equal(y.numpy(), x.numpy())                          # exactly x
    # ... and it can still learn: the zeroed last convolution gets a gradient. (Zeroing
    # bn2's gamma instead would leave ReLU at 0 and every weight of the branch without one.)
    assert np.all(block.conv2.weight.numpy() == 0) and np.all(block.bn2.weight.numpy() == 1)
    (y * on_device(random_array(y.shape, seed=4), "cpu", False)).sum().backward()
    assert np.abs(block.conv2.weight.grad.numpy()).sum() > 0


def test_without_zero_init_the_block_is_not_the_identity():
    mr.manual_seed(0)
    block = nn.ResidualBlock(4, 4, preact=True).double()
    x = on_device(random_array((3, 4, 5, 5)), "cpu")
    assert np.abs(block(x).numpy() - x.numpy()).max() > 0.1


def _outputs_and_input_grads(block, x_array):
    x = on_device(x_array, "cpu")
    y = block(x)
    y.backward(on_device(random_array(y.shape, seed=7), "cpu", False))
    return y.numpy(), x.grad.numpy()


@pytest.mark.parametrize("alpha, twin_factory", [
    (0.0, lambda: nn.ResidualBlock(2, 4, stride=2)),
    (1.0, lambda: nn.PlainBlock(2, 4, stride=2)),
])
def test_van_block_at_alpha_0_is_residual_and_at_1_is_plain(alpha, twin_factory):
    mr.manual_seed(0)
    van = nn.VANBlock(2, 4, stride=2).double()
    mr.manual_seed(1)
    twin = twin_factory().double()
    missing, unexpected = twin.load_state_dict(van.state_dict(), strict=False)
    assert missing == [] and sorted(unexpected) == ["alpha", "lagrange_multiplier"]
    van.alpha.array[...] = alpha
    x = random_array((3, 2, 6, 6))
    van_y, van_grad = _outputs_and_input_grads(van, x)
    twin_y, twin_grad = _outputs_and_input_grads(twin, x)
    np.testing.assert_allclose(van_y, twin_y, rtol=0, atol=1e-12)
    np.testing.assert_allclose(van_grad, twin_grad, rtol=0, atol=1e-12)


@pytest.mark.parametrize("alpha, twin_class", [(0.0, nn.DenseResidualBlock), (1.0, nn.DensePlainBlock)])
def test_dense_van_block_at_alpha_0_and_1(alpha, twin_class):
    mr.manual_seed(0)
    van = nn.DenseVANBlock(5).double()
    twin = twin_class(5).double()
    twin.load_state_dict(van.state_dict(), strict=False)
    van.alpha.array[...] = alpha
    x = random_array((4, 5))
    for got, expected in zip(_outputs_and_input_grads(van, x), _outputs_and_input_grads(twin, x)):
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)


def test_van_initial_alpha_and_lagrange_multiplier():
    block = nn.VANBlock(3, 5, stride=2)
    assert block.alpha.shape == (5,) and np.all(block.alpha.numpy() == 0) and block.alpha.requires_grad
    assert np.all(block.lagrange_multiplier.numpy() == -1) and not block.lagrange_multiplier.requires_grad
    assert "lagrange_multiplier" in block.state_dict()
    assert "lagrange_multiplier" not in dict(block.named_parameters())


@pytest.mark.parametrize("gate", ["full", "1x1"])
def test_highway_gate_bias_sets_carry_or_transform(gate):
    x = on_device(random_array((2, 3, 4, 4)), "cpu")
    mr.manual_seed(0)
    carrying = nn.HighwayBlock(3, 3, gate=gate, gate_bias=-30.0).double()
    np.testing.assert_allclose(carrying(x).numpy(), x.numpy(), rtol=0, atol=1e-10)    # T ~ 0: y = x
    mr.manual_seed(0)
    transforming = nn.HighwayBlock(3, 3, gate=gate, gate_bias=30.0).double()
    np.testing.assert_allclose(transforming(x).numpy(), transforming.transform(x).numpy(), rtol=0, atol=1e-10)


def test_highway_default_gate_bias_is_minus_one_and_width_factor_sets_hidden_width():
    block = nn.HighwayBlock(8, 8, width_factor=0.875)
    assert np.all(block.transform_gate.bn2.bias.numpy() == -1.0)
    assert block.transform.conv1.weight.shape == (7, 8, 3, 3)
    assert block.transform_gate.conv2.weight.shape == (8, 7, 3, 3)
    assert np.all(nn.HighwayBlock(8, 8, gate="1x1").transform_gate.bias.numpy() == -1.0)


@pytest.mark.parametrize("post_activation", [False, True])
def test_highway_zero_init_last_bn_starts_as_the_gated_carry(post_activation):
    """zeroBN ("Weighted Skip Connections are Not Harmful"): H's last BN at gamma 0, so
    H(x) = 0 and y = x (1 - T(x)), then ReLU with post_activation; the gradient still
    reaches H's weights (through gamma, whose gradient is not 0)."""
    x = on_device(random_array((2, 3, 4, 4)), "cpu")
    mr.manual_seed(0)
    block = nn.HighwayBlock(3, 3, post_activation=post_activation, zero_init_last_bn=True).double()
    assert not block.transform.bn2.weight.numpy().any()
    gate = mr.functional.sigmoid(block.transform_gate(x)).numpy()
    expected = x.numpy() * (1.0 - gate)
    np.testing.assert_allclose(block(x).numpy(), np.maximum(expected, 0.0) if post_activation else expected,
                               rtol=1e-12, atol=1e-15)
    block(x).sum().backward()
    assert np.abs(block.transform.bn2.weight.grad.numpy()).sum() > 0
    check_module_gradients(block, random_array((2, 3, 4, 4)), "cpu")


def test_simplified_residual_block_is_plain_block_with_identity_added():
    mr.manual_seed(0)
    residual = nn.SimplifiedBlock(3, residual=True).double()
    plain = nn.SimplifiedBlock(3, residual=False).double()
    plain.load_state_dict(residual.state_dict())
    plain.conv.weight.array[:, :, 1, 1] += np.eye(3)
    x = on_device(random_array((2, 3, 5, 5)), "cpu")
    np.testing.assert_allclose(plain(x).numpy(), residual(x).numpy(), rtol=0, atol=1e-12)


# -- shortcuts and errors ---------------------------------------------------------------------

def test_option_a_shortcut_subsamples_and_pads_zero_channels(device):
    x = on_device(random_array((2, 3, 5, 5)), device)
    y = nn.ShortcutA(3, 8, stride=2)(x).numpy()
    assert y.shape == (2, 8, 3, 3)
    np.testing.assert_array_equal(y[:, :3], x.numpy()[:, :, ::2, ::2])
    assert np.all(y[:, 3:] == 0)


def test_make_shortcut_kinds():
    assert isinstance(nn.make_shortcut("A", 4, 4, 1), nn.Identity)
    assert isinstance(nn.make_shortcut("B", 4, 4, 1), nn.Identity)
    assert isinstance(nn.make_shortcut("A", 4, 8, 2), nn.ShortcutA)
    projection = nn.make_shortcut("B", 4, 8, 2)
    assert isinstance(projection[0], nn.Conv2d) and projection[0].kernel_size == (1, 1)
    assert isinstance(projection[1], nn.BatchNorm2d)


@pytest.mark.parametrize("build_bad, message", [
    (lambda: nn.ResidualBlock(4, 8, stride=2, shortcut="C"), "shortcut must be one of"),
    (lambda: nn.ShortcutA(8, 4, stride=1), "option A can only add channels"),
    (lambda: nn.HighwayBlock(4, 4, gate="3x3"), "gate must be one of"),
    (lambda: nn.HighwayBlock(4, 4, width_factor=0), "width_factor must be positive"),
    (lambda: nn.ScaledResidualBlock(4, 4, variant="half"), "variant must be one of"),
    (lambda: nn.ScaledResidualBlock(4, 4, variant="dropout", shortcut_scale=0.5), "apply to the"),
    (lambda: nn.ScaledResidualBlock(4, 4, variant="dropout", dropout_p=1.0), "dropout_p"),
])
def test_bad_block_options_raise_clear_errors(build_bad, message):
    with pytest.raises(ValueError, match=message):
        build_bad()


def test_scaled_residual_variants_initial_scales():
    learned = nn.ScaledResidualBlock(4, 4)
    assert isinstance(learned.residual_scale, nn.Parameter) and learned.residual_scale.item() == 0.5
    assert learned.shortcut_scale.item() == 0.5
    constant = nn.ScaledResidualBlock(4, 4, variant="constant")
    assert (constant.residual_scale, constant.shortcut_scale) == (1.0, 0.5)
    assert "residual_scale" not in dict(constant.named_parameters())
    gating = nn.ScaledResidualBlock(4, 4, variant="shortcut_gating")
    assert np.all(gating.gate.bias.numpy() == -6.0)


@pytest.mark.parametrize("variant, options, expected", [
    # Each variant's equation, written with the block's own branch F and numbers.
    ("constant", dict(residual_scale=0.5, shortcut_scale=0.25), lambda b, f, x: np.maximum(0.5 * f + 0.25 * x, 0)),
    ("shortcut_gating", dict(gate_bias=-30.0), lambda b, f, x: np.maximum(f + x, 0)),      # 1 - g = 1
    ("shortcut_gating", dict(gate_bias=30.0), lambda b, f, x: np.maximum(f, 0)),          # 1 - g = 0
    ("conv1x1", {}, lambda b, f, x: np.maximum(f + b.shortcut(mr.tensor(x)).numpy(), 0)),
])
def test_scaled_residual_variant_equations(variant, options, expected):
    mr.manual_seed(0)
    block = nn.ScaledResidualBlock(3, 3, variant=variant, **options).double()
    x = random_array((2, 3, 4, 4))
    branch = block.branch(mr.tensor(x)).numpy()
    np.testing.assert_allclose(block(mr.tensor(x)).numpy(), expected(block, branch, x), rtol=0, atol=1e-10)


def test_dropout_shortcut_in_training_and_eval():
    """The old name "dropout" is the dropout shortcut: m x in training (m in {0, 1}, not
    rescaled), (1 - p) x in evaluation."""
    mr.manual_seed(0)
    block = nn.ScaledResidualBlock(3, 3, variant="dropout", dropout_p=0.5).double()
    x = mr.tensor(np.abs(random_array((4, 3, 6, 6))) + 1.0)
    block.eval()
    np.testing.assert_allclose(block(x).numpy(), np.maximum(block.branch(x).numpy() + 0.5 * x.numpy(), 0),
                               atol=1e-12)
    block.train()
    mr.manual_seed(1)
    y = block(x).numpy()
    mr.manual_seed(1)
    kept = 0.5 * mr.functional.dropout(x, 0.5, training=True).numpy()  # the same mask: m x
    assert np.any(kept == 0) and np.all((kept == 0) | (kept == x.numpy()))
    np.testing.assert_allclose(y, np.maximum(block.branch(x).numpy() + kept, 0), atol=1e-12)
