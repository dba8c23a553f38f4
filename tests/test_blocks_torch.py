"""The blocks against PyTorch twins written from the papers' equations, in float64.

Each twin takes the minires block's state dict (as torch tensors) and recomputes the
block with torch.nn.functional; forward values, the input gradient and every
parameter's gradient must agree to 1e-10. Batch norm runs in training mode.
"""

import numpy as np
import pytest

import minires as mr
from minires import nn
from helpers import compare_with_torch_twin, random_array

TOLERANCE = 1e-10


def conv_bn(torch, y, weights, prefix, index, stride=1):
    """batch_norm(conv3x3(y)) with the weights prefix + "conv{index}.weight", "bn{index}.weight" ..."""
    f = torch.nn.functional
    y = f.conv2d(y, weights[f"{prefix}conv{index}.weight"], stride=stride, padding=1)
    return f.batch_norm(y, None, None, weights[f"{prefix}bn{index}.weight"], weights[f"{prefix}bn{index}.bias"],
                        training=True)


def branch(torch, x, weights, prefix, stride):
    """F(x) = BN(conv(ReLU(BN(conv(x)))))."""
    return conv_bn(torch, torch.relu(conv_bn(torch, x, weights, prefix, 1, stride)), weights, prefix, 2)


def option_a(torch, x, out_channels, stride):
    x = x[:, :, ::stride, ::stride]
    return torch.nn.functional.pad(x, (0, 0, 0, 0, 0, out_channels - x.shape[1]))


def option_b(torch, x, weights, prefix, stride):
    f = torch.nn.functional
    y = f.conv2d(x, weights[f"{prefix}0.weight"], stride=stride)
    return f.batch_norm(y, None, None, weights[f"{prefix}1.weight"], weights[f"{prefix}1.bias"], training=True)


def residual_v1(torch, x, w, shortcut):
    carried = option_a(torch, x, 4, 2) if shortcut == "A" else option_b(torch, x, w, "shortcut.", 2)
    return torch.relu(branch(torch, x, w, "branch.", 2) + carried)


def residual_v2(torch, x, w, shortcut):
    f = torch.nn.functional
    activated = torch.relu(f.batch_norm(x, None, None, w["bn1.weight"], w["bn1.bias"], training=True))
    h = f.conv2d(activated, w["conv1.weight"], stride=2, padding=1)
    h = torch.relu(f.batch_norm(h, None, None, w["bn2.weight"], w["bn2.bias"], training=True))
    h = f.conv2d(h, w["conv2.weight"], padding=1)
    carried = option_a(torch, activated, 4, 2) if shortcut == "A" else option_b(torch, activated, w, "shortcut.", 2)
    return h + carried


def highway_full(torch, x, w):
    gate = torch.sigmoid(branch(torch, x, w, "transform_gate.", 1))
    return branch(torch, x, w, "transform.", 1) * gate + x * (1 - gate)


def highway_1x1_post(torch, x, w):
    gate = torch.sigmoid(torch.nn.functional.conv2d(x, w["transform_gate.weight"], w["transform_gate.bias"]))
    return torch.relu(branch(torch, x, w, "transform.", 1) * gate + x * (1 - gate))


def van(torch, x, w):
    return torch.relu(branch(torch, x, w, "branch.", 2) + (1 - w["alpha"]).reshape(1, -1, 1, 1) * option_a(torch, x, 4, 2))


def scaled_learned(torch, x, w):
    return torch.relu(w["residual_scale"] * branch(torch, x, w, "branch.", 1) + w["shortcut_scale"] * x)


def dense_activation(torch, x, w):
    """a = ReLU(BN(x)), what every dense block starts with (VAN paper, Section 4.1)."""
    f = torch.nn.functional
    return torch.relu(f.batch_norm(x, None, None, w["bn.weight"], w["bn.bias"], training=True))


def dense_plain(torch, x, w):
    return torch.nn.functional.linear(dense_activation(torch, x, w), w["linear.weight"], w["linear.bias"])


def dense_residual(torch, x, w):
    return dense_plain(torch, x, w) + x


def dense_highway(torch, x, w):
    f = torch.nn.functional
    a = dense_activation(torch, x, w)
    gate = torch.sigmoid(f.linear(a, w["transform_gate.weight"], w["transform_gate.bias"]))
    return f.linear(a, w["transform.weight"], w["transform.bias"]) * gate + x * (1 - gate)


def dense_van(torch, x, w):
    return dense_plain(torch, x, w) + (1 - w["alpha"]) * x


CASES = {
    "residual_v1_A": (lambda: nn.ResidualBlock(2, 4, stride=2), (3, 2, 6, 6),
                      lambda t, x, w: residual_v1(t, x, w, "A")),
    "residual_v1_B": (lambda: nn.ResidualBlock(2, 4, stride=2, shortcut="B"), (3, 2, 6, 6),
                      lambda t, x, w: residual_v1(t, x, w, "B")),
    "residual_v2_A": (lambda: nn.ResidualBlock(2, 4, stride=2, preact=True), (3, 2, 6, 6),
                      lambda t, x, w: residual_v2(t, x, w, "A")),
    "residual_v2_B": (lambda: nn.ResidualBlock(2, 4, stride=2, preact=True, shortcut="B"), (3, 2, 6, 6),
                      lambda t, x, w: residual_v2(t, x, w, "B")),
    "highway_full": (lambda: nn.HighwayBlock(3, 3), (3, 3, 5, 5), highway_full),
    "highway_1x1_post": (lambda: nn.HighwayBlock(3, 3, gate="1x1", post_activation=True), (3, 3, 5, 5),
                         highway_1x1_post),
    "van": (lambda: nn.VANBlock(2, 4, stride=2), (3, 2, 6, 6), van),
    "scaled_learned": (lambda: nn.ScaledResidualBlock(3, 3), (3, 3, 5, 5), scaled_learned),
    "dense_plain": (lambda: nn.DensePlainBlock(5), (4, 5), dense_plain),
    "dense_residual": (lambda: nn.DenseResidualBlock(5), (4, 5), dense_residual),
    "dense_highway": (lambda: nn.DenseHighwayBlock(5), (4, 5), dense_highway),
    "dense_van": (lambda: nn.DenseVANBlock(5), (4, 5), dense_van),
}


@pytest.mark.parametrize("name", CASES)
def test_block_matches_pytorch_twin(name, torch):
    factory, shape, twin = CASES[name]
    mr.manual_seed(0)
    block = factory().double()
    for _, module in block.named_modules():            # alpha off 0, so it matters
        if hasattr(module, "alpha"):
            module.alpha.array[...] = np.linspace(0.1, 0.9, module.alpha.shape[0])
    compare_with_torch_twin(torch, block, random_array(shape, seed=1), twin, TOLERANCE)
