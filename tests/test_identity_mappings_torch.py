"""The units of "Identity Mappings in Deep Residual Networks" against PyTorch twins, in float64.

Each twin is written from the paper's equation for its row (Table 2: where BN and ReLU
go; Table 1: what multiplies the shortcut) with torch.nn.functional. It takes the minires
block's state dict as torch tensors; forward values, the input gradient and every
parameter's gradient must agree to 1e-10. Batch norm runs in training mode. The tests
skip when PyTorch is not installed.
"""

import numpy as np
import pytest

import minires as mr
from minires import functional as F
from minires import nn
from helpers import compare_with_torch_twin as compare, on_device, random_array

TOLERANCE = 1e-10


def bn(torch, y, w, name):
    """Batch norm in training mode with the weights ``name``.weight and ``name``.bias."""
    return torch.nn.functional.batch_norm(y, None, None, w[f"{name}.weight"], w[f"{name}.bias"], training=True)


def conv3x3(torch, y, w, name, stride=1):
    return torch.nn.functional.conv2d(y, w[f"{name}.weight"], stride=stride, padding=1)


def shortcut(torch, x, w, option, out_channels, stride):
    """x itself, or option A (strided, zero channels appended) or B (1x1 conv, BN) when the shape changes."""
    if option is None:
        return x
    if option == "A":
        x = x[:, :, ::stride, ::stride]
        return torch.nn.functional.pad(x, (0, 0, 0, 0, 0, out_channels - x.shape[1]))
    return bn(torch, torch.nn.functional.conv2d(x, w["shortcut.0.weight"], stride=stride), w, "shortcut.1")


def inner(torch, x, w, stride):
    """W2 ReLU(BN(W1 x)), the weights named as in ResidualBranch."""
    return conv3x3(torch, torch.relu(bn(torch, conv3x3(torch, x, w, "branch.conv1", stride), w, "branch.bn1")),
                   w, "branch.conv2")


# Table 2, x_{l+1} from x_l = x; h(x) the shortcut.

def original(torch, x, w, option, out_channels, stride):
    """ReLU(BN(W2 ReLU(BN(W1 x))) + h(x))."""
    return torch.relu(bn(torch, inner(torch, x, w, stride), w, "branch.bn2")
                      + shortcut(torch, x, w, option, out_channels, stride))


def bn_after_addition(torch, x, w, option, out_channels, stride):
    """ReLU(BN(W2 ReLU(BN(W1 x)) + h(x)))."""
    added = inner(torch, x, w, stride) + shortcut(torch, x, w, option, out_channels, stride)
    return torch.relu(bn(torch, added, w, "bn_after_addition"))


def relu_before_addition(torch, x, w, option, out_channels, stride):
    """h(x) + ReLU(BN(W2 ReLU(BN(W1 x))))."""
    return (shortcut(torch, x, w, option, out_channels, stride)
            + torch.relu(bn(torch, inner(torch, x, w, stride), w, "branch.bn2")))


def relu_only_preactivation(torch, x, w, option, out_channels, stride):
    """h(x) + BN(W2 ReLU(BN(W1 ReLU(x)))); the shortcut takes ReLU(x) when the shape changes."""
    activated = torch.relu(x)
    carried = shortcut(torch, activated if option else x, w, option, out_channels, stride)
    return carried + bn(torch, inner(torch, activated, w, stride), w, "branch.bn2")


def full_preactivation(torch, x, w, option, out_channels, stride):
    """h(x) + W2 ReLU(BN(W1 ReLU(BN(x)))); the shortcut takes ReLU(BN(x)) when the shape changes."""
    activated = torch.relu(bn(torch, x, w, "bn1"))
    branch = conv3x3(torch, torch.relu(bn(torch, conv3x3(torch, activated, w, "conv1", stride), w, "bn2")), w, "conv2")
    return shortcut(torch, activated if option else x, w, option, out_channels, stride) + branch


TABLE_2 = {"original": original, "bn_after_addition": bn_after_addition,
           "relu_before_addition": relu_before_addition, "relu_only_preactivation": relu_only_preactivation,
           "full_preactivation": full_preactivation}


# Table 1, all on the original unit: F = BN(W2 ReLU(BN(W1 x))), ReLU after the addition.

def branch(torch, x, w, stride):
    return bn(torch, inner(torch, x, w, stride), w, "branch.bn2")


def gate(torch, x, w, stride):
    """g(x) = sigmoid(1x1 conv(x) + b_g)."""
    return torch.sigmoid(torch.nn.functional.conv2d(x, w["gate.weight"], w["gate.bias"], stride=stride))


def constant_scaling(residual_scale, shortcut_scale):
    def twin(torch, x, w, option, out_channels, stride):
        return torch.relu(residual_scale * branch(torch, x, w, stride)
                          + shortcut_scale * shortcut(torch, x, w, option, out_channels, stride))
    return twin


def exclusive_gating(torch, x, w, option, out_channels, stride):
    """ReLU(g(x) F(x) + (1 - g(x)) h(x))."""
    g = gate(torch, x, w, stride)
    return torch.relu(g * branch(torch, x, w, stride) + (1 - g) * shortcut(torch, x, w, option, out_channels, stride))


def shortcut_only_gating(torch, x, w, option, out_channels, stride):
    """ReLU(F(x) + (1 - g(x)) h(x))."""
    g = gate(torch, x, w, stride)
    return torch.relu(branch(torch, x, w, stride) + (1 - g) * shortcut(torch, x, w, option, out_channels, stride))


def conv1x1_shortcut(torch, x, w, option, out_channels, stride):
    """ReLU(F(x) + W_s x), W_s a 1x1 convolution with the block's stride."""
    projected = torch.nn.functional.conv2d(x, w["shortcut.weight"], stride=stride)
    return torch.relu(branch(torch, x, w, stride) + projected)


def learned(torch, x, w, option, out_channels, stride):
    return torch.relu(w["residual_scale"] * branch(torch, x, w, stride)
                      + w["shortcut_scale"] * shortcut(torch, x, w, option, out_channels, stride))


# name -> (block factory, input shape, twin, shortcut option or None, out_channels, stride)
CASES = {}
for _placement, _twin in TABLE_2.items():
    CASES[f"{_placement}_identity"] = (lambda p=_placement: nn.ResidualBlock(3, 3, placement=p), (3, 3, 5, 5),
                                       _twin, None, 3, 1)
    for _option in ("A", "B"):
        CASES[f"{_placement}_{_option}"] = (
            lambda p=_placement, o=_option: nn.ResidualBlock(2, 4, stride=2, shortcut=o, placement=p),
            (3, 2, 6, 6), _twin, _option, 4, 2)
CASES.update({
    "constant_scaling_shortcut_only": (lambda: nn.ScaledResidualBlock(3, 3, variant="constant_scaling"),
                                       (3, 3, 5, 5), constant_scaling(1.0, 0.5), None, 3, 1),
    "constant_scaling_both_A": (lambda: nn.ScaledResidualBlock(2, 4, stride=2, variant="constant_scaling",
                                                               residual_scale=0.5, shortcut_scale=0.5),
                                (3, 2, 6, 6), constant_scaling(0.5, 0.5), "A", 4, 2),
    "exclusive_gating_identity": (lambda: nn.ScaledResidualBlock(3, 3, variant="exclusive_gating", gate_bias=-1.0),
                                  (3, 3, 5, 5), exclusive_gating, None, 3, 1),
    "exclusive_gating_A": (lambda: nn.ScaledResidualBlock(2, 4, stride=2, variant="exclusive_gating", gate_bias=0.0),
                           (3, 2, 6, 6), exclusive_gating, "A", 4, 2),
    "exclusive_gating_B": (lambda: nn.ScaledResidualBlock(2, 4, stride=2, variant="exclusive_gating", gate_bias=0.0,
                                                          shortcut="B"), (3, 2, 6, 6), exclusive_gating, "B", 4, 2),
    "shortcut_only_gating_identity": (lambda: nn.ScaledResidualBlock(3, 3, variant="shortcut_only_gating",
                                                                     gate_bias=0.0),
                                      (3, 3, 5, 5), shortcut_only_gating, None, 3, 1),
    "shortcut_only_gating_A": (lambda: nn.ScaledResidualBlock(2, 4, stride=2, variant="shortcut_only_gating",
                                                              gate_bias=-1.0),
                               (3, 2, 6, 6), shortcut_only_gating, "A", 4, 2),
    "conv1x1_shortcut_stride2": (lambda: nn.ScaledResidualBlock(2, 4, stride=2, variant="conv1x1_shortcut"),
                                 (3, 2, 6, 6), conv1x1_shortcut, None, 4, 2),
    "learned_B": (lambda: nn.ScaledResidualBlock(2, 4, stride=2, variant="learned", residual_scale=0.7,
                                                 shortcut_scale=0.3, shortcut="B"), (3, 2, 6, 6), learned, "B", 4, 2),
})


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("fast", [True, False], ids=["fast", "reference"])
def test_block_matches_pytorch_twin(name, fast, torch):
    factory, shape, twin, option, out_channels, stride = CASES[name]
    mr.manual_seed(0)
    block = factory().double().use_fast_kernels(fast)
    checked = compare(torch, block, random_array(shape, seed=1),
                      lambda t, x, w: twin(t, x, w, option, out_channels, stride))
    assert checked == [parameter_name for parameter_name, _ in block.named_parameters()] and checked


@pytest.mark.parametrize("option", [None, "A"])
def test_dropout_shortcut_matches_pytorch_twin(option, torch):
    """ReLU(F(x) + m h(x)), m in {0, 1} (no 1/(1 - p) rescaling), and ReLU(F(x) + 0.5 h(x)) in
    evaluation: the twin gets minires's mask, drawn again from the same seed."""
    mr.manual_seed(0)
    block = (nn.ScaledResidualBlock(3, 3, variant="dropout_shortcut", dropout_p=0.5) if option is None else
             nn.ScaledResidualBlock(2, 4, stride=2, variant="dropout_shortcut", dropout_p=0.5)).double()
    shape, out_channels, stride = ((3, 3, 5, 5), 3, 1) if option is None else ((3, 2, 6, 6), 4, 2)
    x_array = random_array(shape, seed=1)
    mr.manual_seed(5)
    carried_shape = block.shortcut(on_device(x_array, "cpu", False)).shape
    kept = F.dropout(on_device(np.ones(carried_shape), "cpu", False), 0.5, training=True).numpy()  # 0 or 2
    mr.manual_seed(5)                       # the block draws the same mask: nothing else in it is random

    def twin(torch, x, w):
        return torch.relu(branch(torch, x, w, stride)
                          + torch.tensor(kept / 2.0) * shortcut(torch, x, w, option, out_channels, stride))

    assert set(np.unique(kept)) == {0.0, 2.0}                 # F.dropout's m / (1 - p); the block uses m
    compare(torch, block, x_array, twin)
