"""minires.analysis.stability and jacobian: noise stability, layer cushion and block Jacobians, each
checked against a computation written out here (explicit matrices, our own noise
draws, central differences), in float64."""

import copy

import numpy as np
import pytest

import minires as mr
from minires import nn
from minires.analysis import block_jacobian, layer_cushion, noise_stability, operator_frobenius_norm, weight_layers
from helpers import random_array
from strict_device import count_synchronizations


def small_net(kind, depth=5):
    mr.manual_seed(0)
    return mr.models.simplified_net(kind, depth, width=4).double()


def dense_net():
    mr.manual_seed(1)
    return mr.models.mlp_net("residual", 4, width=6, in_features=12).double()


IMAGES = random_array((3, 3, 8, 8), seed=1)
VECTORS = random_array((4, 12), seed=2)
NETS = {"plain": (lambda: small_net("plain"), IMAGES), "residual": (lambda: small_net("residual"), IMAGES),
        "dense": (dense_net, VECTORS)}


# -- noise stability -------------------------------------------------------------------

def direct_noise_stability(net, images, draws, seed, relative_scale=None, std=None, output_of=None):
    """(L, draws) relative changes, the noise drawn here with the recipe of the docstring."""
    net = copy.deepcopy(net)
    features = {}
    if output_of is not None:
        getattr(net, output_of).register_forward_hook(lambda module, args, output: features.update(y=output))

    def output():
        with mr.no_grad():
            logits = net(mr.tensor(images)).numpy()
        return features["y"].numpy() if output_of is not None else logits

    clean = output()
    changes = np.zeros((len(weight_layers(net)), draws))
    for index, (_, layer) in enumerate(weight_layers(net)):
        original = layer.weight.numpy()
        for draw in range(draws):
            z = np.random.default_rng([seed, index, draw]).standard_normal(original.shape)
            if std is None:
                noise = (z / np.linalg.norm(z)) * (relative_scale * np.linalg.norm(original))
            else:
                noise = std * z
            layer.weight.array[...] = original + noise
            changes[index, draw] = np.linalg.norm(output() - clean) / np.linalg.norm(clean)
        layer.weight.array[...] = original
    return changes


@pytest.mark.parametrize("kind", NETS)
def test_noise_stability_matches_a_direct_evaluation(kind):
    make, images = NETS[kind]
    net = make()
    result = noise_stability(net, images, relative_scale=0.05, draws=2, seed=3)
    expected = direct_noise_stability(net, images, draws=2, seed=3, relative_scale=0.05)
    assert result["names"] == [name for name, _ in weight_layers(net)]
    np.testing.assert_allclose(result["per_draw"], expected, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(result["relative_change"], expected.mean(axis=1), rtol=1e-12)


def test_noise_stability_with_absolute_noise_on_the_features():
    net = small_net("residual")
    result = noise_stability(net, IMAGES, std=0.01, draws=2, output_of=net.blocks)
    expected = direct_noise_stability(net, IMAGES, draws=2, seed=0, std=0.01, output_of="blocks")
    np.testing.assert_allclose(result["per_draw"], expected, rtol=1e-12, atol=1e-15)
    assert result["relative_change"][-1] == 0.0            # the fc layer comes after the features


def test_noise_stability_leaves_the_weights_bit_identical():
    net = small_net("plain")
    arrays = [parameter.array for parameter in net.parameters()]
    before = [array.copy() for array in arrays]
    noise_stability(net, IMAGES, relative_scale=0.5, draws=2)
    for array, parameter, saved in zip(arrays, net.parameters(), before):
        assert parameter.array is array and np.array_equal(array, saved)


def test_noise_stability_restores_the_weights_after_an_error():
    net = small_net("residual")
    before = [parameter.numpy() for parameter in net.parameters()]
    calls = []

    def fail_on_the_second_forward(module, args, output):
        calls.append(1)
        if len(calls) == 2:                               # the first forward with noise
            raise RuntimeError("stop")

    with net.register_forward_hook(fail_on_the_second_forward):
        with pytest.raises(RuntimeError, match="stop"):
            noise_stability(net, IMAGES, relative_scale=0.5, draws=1)
    for parameter, saved in zip(net.parameters(), before):
        assert np.array_equal(parameter.numpy(), saved)


def test_noise_stability_draws_are_reproducible():
    net = small_net("plain")
    first = noise_stability(net, IMAGES, relative_scale=0.1, draws=2, seed=5)["per_draw"]
    again = noise_stability(net, IMAGES, relative_scale=0.1, draws=2, seed=5)["per_draw"]
    other = noise_stability(net, IMAGES, relative_scale=0.1, draws=2, seed=6)["per_draw"]
    assert np.array_equal(first, again)
    assert not np.allclose(first, other)
    assert not np.allclose(first[:, 0], first[:, 1])      # each draw its own noise


@pytest.mark.parametrize("options, message", [
    (dict(relative_scale=0.0), "relative_scale must be a finite number > 0"),
    (dict(relative_scale=-1.0), "relative_scale must be a finite number > 0"),
    (dict(std=float("inf")), "std must be a finite number > 0"),
    (dict(), "exactly one of them"),
    (dict(relative_scale=0.1, std=0.1), "exactly one of them"),
    (dict(relative_scale=0.1, draws=0), "draws must be an int >= 1"),
    (dict(relative_scale=0.1, seed=-1), "seed must be a non-negative int"),
])
def test_noise_stability_rejects_bad_input(options, message):
    with pytest.raises(ValueError, match=message):
        noise_stability(small_net("plain"), IMAGES, **options)


@pytest.mark.parametrize("measure", [lambda model: noise_stability(model, VECTORS, relative_scale=0.1),
                                     lambda model: layer_cushion(model, VECTORS)])
def test_a_model_without_weight_layers_is_an_error(measure):
    with pytest.raises(ValueError, match="no Conv2d or Linear"):
        measure(nn.Sequential(nn.ReLU()))


# -- layer cushion -----------------------------------------------------------------------

def conv_as_matrix(conv, image_shape):
    """The (OC*OH*OW, C*H*W) matrix of a bias-free convolution: its columns are the
    convolution of each basis image."""
    size = int(np.prod(image_shape))
    basis = np.eye(size).reshape((size,) + image_shape)                   # (C*H*W, C, H, W)
    with mr.no_grad():
        columns = mr.functional.conv2d(mr.tensor(basis), conv.weight, None, conv.stride, conv.padding,
                                       groups=conv.groups).numpy()       # (C*H*W, OC, OH, OW)
    return columns.reshape(size, -1).T


def hand_cushion(matrix, inputs, identity=False):
    """(N,) ||A x_n|| / (||A||_F ||x_n||), x_n the rows of ``inputs``; A x_n + x_n with identity."""
    mapped = inputs @ matrix.T + (inputs if identity else 0.0)
    return np.linalg.norm(mapped, axis=1) / (np.linalg.norm(matrix) * np.linalg.norm(inputs, axis=1))


def test_layer_cushion_of_linear_layers_by_hand():
    mr.manual_seed(2)
    model = nn.Sequential(nn.Linear(12, 5), nn.ReLU(), nn.Linear(5, 3)).double()
    first, second = model[0].weight.numpy(), model[2].weight.numpy()
    hidden = np.maximum(VECTORS @ first.T + model[0].bias.numpy(), 0.0)    # the second layer's input
    result = layer_cushion(model, VECTORS)
    assert result["names"] == ["0", "2"]
    np.testing.assert_allclose(result["per_sample"][0], hand_cushion(first, VECTORS), rtol=1e-12)
    np.testing.assert_allclose(result["per_sample"][1], hand_cushion(second, hidden), rtol=1e-12)
    np.testing.assert_allclose(result["cushion"], result["per_sample"].min(axis=1), rtol=0)


@pytest.mark.parametrize("stride, padding, groups", [(1, 1, 1), (2, 1, 1), (1, 0, 1), (2, 2, 2)])
def test_layer_cushion_of_a_convolution_by_its_matrix(stride, padding, groups):
    mr.manual_seed(3)
    conv = nn.Conv2d(4, 6, kernel_size=3, stride=stride, padding=padding, groups=groups).double()
    images = random_array((3, 4, 7, 6), seed=4)
    matrix = conv_as_matrix(conv, images.shape[1:])
    norm = operator_frobenius_norm(conv, images.shape)
    np.testing.assert_allclose(float(norm), np.linalg.norm(matrix), rtol=1e-12)
    result = layer_cushion(conv, images)
    np.testing.assert_allclose(result["per_sample"][0], hand_cushion(matrix, images.reshape(3, -1)), rtol=1e-12)


def test_layer_cushion_reads_a_residual_layer_as_w_plus_i_with_the_norm_of_w():
    net = small_net("residual", depth=3)
    block = net.blocks[0]
    with mr.no_grad():
        block_input = net.stem(mr.tensor(IMAGES)).numpy()                # (N, 4, 8, 8)
    matrix = conv_as_matrix(block.conv, block_input.shape[1:])
    flat = block_input.reshape(len(block_input), -1)
    paper = layer_cushion(net, IMAGES)["per_sample"][1]
    bare = layer_cushion(net, IMAGES, include_identity=False)["per_sample"][1]
    np.testing.assert_allclose(paper, hand_cushion(matrix, flat, identity=True), rtol=1e-12)
    np.testing.assert_allclose(bare, hand_cushion(matrix, flat), rtol=1e-12)
    # The plain copy has the same numerator, ||(W + I) x||, but ||A||_F of W + I.
    plain = layer_cushion(mr.models.to_plain(net), IMAGES)["per_sample"][1]
    plain_matrix = conv_as_matrix(mr.models.to_plain(net).blocks[0].conv, block_input.shape[1:])
    np.testing.assert_allclose(plain * np.linalg.norm(plain_matrix), paper * np.linalg.norm(matrix), rtol=1e-12)


def test_layer_cushion_skips_examples_whose_input_is_zero():
    model = nn.Sequential(nn.Linear(12, 5)).double()
    vectors = VECTORS.copy()
    vectors[1] = 0.0
    result = layer_cushion(model, vectors)
    assert np.isnan(result["per_sample"][0, 1])
    assert result["cushion"][0] == np.nanmin(result["per_sample"][0])


# -- block Jacobian ----------------------------------------------------------------------

def finite_difference_jacobian(block, x, eps=1e-6):
    """(out_numel, in_numel) by central differences, one input entry at a time."""
    columns = []
    for index in range(x.size):
        step = np.zeros(x.size)
        step[index] = eps
        with mr.no_grad():
            plus = block(mr.tensor(x + step.reshape(x.shape))).numpy()
            minus = block(mr.tensor(x - step.reshape(x.shape))).numpy()
        columns.append(((plus - minus) / (2 * eps)).reshape(-1))
    return np.stack(columns, axis=1)


class PreactBranch(nn.Module):
    """G(x) of a pre-activation ResidualBlock, from the block's own layers."""

    def __init__(self, block):
        super().__init__()
        self.block = block

    def forward(self, x):
        block = self.block
        return block.conv2(mr.functional.relu(block.bn2(block.conv1(mr.functional.relu(block.bn1(x))))))


@pytest.mark.parametrize("make", [lambda: nn.SimplifiedBlock(2, residual=True),
                                  lambda: nn.ResidualBlock(2, 2, preact=True),
                                  lambda: nn.ResidualBlock(2, 3, stride=2)])
def test_block_jacobian_matches_central_differences(make):
    mr.manual_seed(4)
    block = make().double()
    x = random_array((1, 2, 4, 4), seed=5)
    jacobian = block_jacobian(block, x)
    assert jacobian.shape == (block(mr.tensor(x)).numel(), x.size) and jacobian.dtype == np.float64
    np.testing.assert_allclose(jacobian, finite_difference_jacobian(block, x), atol=1e-7)


def test_eq5_identity_plus_the_branch_for_a_preactivation_block():
    mr.manual_seed(5)
    block = nn.ResidualBlock(3, 3, preact=True).double()
    x = random_array((1, 3, 4, 4), seed=6)
    jacobian = block_jacobian(block, x)
    np.testing.assert_allclose(jacobian - np.eye(x.size), block_jacobian(PreactBranch(block), x), atol=1e-12)


def test_a_relu_after_the_addition_masks_the_rows():
    mr.manual_seed(6)
    block = nn.ResidualBlock(3, 3).double()                 # v1: y = ReLU(F(x) + x)
    x = random_array((1, 3, 4, 4), seed=7)
    with mr.no_grad():
        mask = (block.branch(mr.tensor(x)).numpy() + x > 0).reshape(-1, 1)
    expected = mask * (np.eye(x.size) + block_jacobian(block.branch, x))
    np.testing.assert_allclose(block_jacobian(block, x), expected, atol=1e-12)


def test_a_pre_activation_dense_block_keeps_the_identity_whole():
    """y = x + W ReLU(BN(x)) + b, batch norm in evaluation at its start (mean 0, var 1):
    dy/dx = I + W diag(mask / sqrt(1 + eps)), the identity untouched by any mask."""
    mr.manual_seed(6)
    dense = nn.DenseResidualBlock(5).double().eval()
    v = random_array((1, 5), seed=8)
    scale = 1.0 / np.sqrt(1.0 + dense.bn.eps)
    mask = (v * scale > 0).reshape(-1)
    expected = np.eye(5) + dense.linear.weight.numpy() * (mask * scale)
    np.testing.assert_allclose(block_jacobian(dense, v), expected, atol=1e-12)


def test_block_jacobian_leaves_the_block_alone():
    block = nn.ResidualBlock(2, 2)                           # float32, batch norm in training mode
    state = {name: np.array(value, copy=True) for name, value in block.state_dict().items()}
    jacobian = block_jacobian(block, random_array((1, 2, 4, 4), seed=9).astype(np.float32))
    assert jacobian.dtype == np.float64
    for name, value in block.state_dict().items():
        assert value.dtype == state[name].dtype and np.array_equal(value, state[name]), name


@pytest.mark.parametrize("x", [random_array((2, 2, 4, 4)), np.zeros(()), [1.0, 2.0]])
def test_block_jacobian_wants_one_example(x):
    with pytest.raises(ValueError, match="one example"):
        block_jacobian(nn.SimplifiedBlock(2, residual=True), x)


# -- devices -----------------------------------------------------------------------------

def test_on_every_device_with_one_transfer(device):
    net = small_net("residual")
    x = random_array((1, 4, 4, 4), seed=10)
    expected = (noise_stability(net, IMAGES, relative_scale=0.1, draws=2)["per_draw"],
                layer_cushion(net, IMAGES)["per_sample"], block_jacobian(net.blocks[0], x))
    net.to(device)
    measures = [lambda: noise_stability(net, IMAGES, relative_scale=0.1, draws=2)["per_draw"],
                lambda: layer_cushion(net, IMAGES)["per_sample"], lambda: block_jacobian(net.blocks[0], x)]
    for measure, reference in zip(measures, expected):
        with count_synchronizations() as syncs:
            result = measure()
        assert isinstance(result, np.ndarray)
        np.testing.assert_allclose(result, reference, rtol=1e-10, atol=1e-13)
        if device == "strict":
            assert syncs.count == 1                          # the result's one trip to the host
