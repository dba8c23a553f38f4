"""What the two paths of a block do: the branch beside the shortcut, the highway gate,
and VAN's alpha.

    residual_ratios   ||F(x)|| / ||shortcut(x)|| in each block that has both
    gate_statistics   the transform gate T(x) of each highway block
    van_alphas        the alpha of each VAN layer, and how far the net is from plain

The papers: "Deep Residual Learning for Image Recognition" and "Identity Connections in
Residual Nets Improve Noise Stability" (residual_ratios); "Highway Networks", "Training
Very Deep Networks" and "Weighted Skip Connections are Not Harmful for Deep Nets"
(gate_statistics); "Avoiding degradation in deep feed-forward networks by phasing out
skip-connections" (van_alphas).

As in activity.py: any minires model, host float64 NumPy results in the order of
``model.named_modules()``, hooks removed and buffers written back after the one forward
pass (none for van_alphas), the mode left alone, one read-back to the host per call.
The helpers shared with activity.py and stability.py are in modules.py.
"""


from minires import backend
from minires import functional as F
from minires.nn import (DenseResidualBlock, DenseVANBlock, ResidualBlock, ScaledResidualBlock,
                        SimplifiedBlock, VANBlock)
from minires.tensor import Tensor

from .modules import (HIGHWAY_TYPES, blocks, buffers_kept, check_images, check_model, forward_with_hooks,
                      highway_blocks, host_xp, l2_norm, recorded_once, recorder, require_found, to_host,
                      type_names, van_layers)


def residual_ratios(model, images) -> dict:
    """||F(x)|| / ||shortcut(x)|| in every block with a branch F and a shortcut.

        ratio[b] = ||F(x_b)|| / ||shortcut(x_b)||, norms over the whole batch

    F is the branch output (residual v1, VAN, scaled: ``branch``; pre-activation v2: its
    last convolution; dense residual and VAN: ``linear``; residual SimplifiedBlock: its
    ``conv``), and the shortcut is the ``shortcut`` module's output, or the block's input
    x where the shortcut is x itself. The weights a block puts on the two terms (VAN's
    1 - alpha, the scales and gates of ScaledResidualBlock) are not applied. A ratio well
    below 1: the shortcut dominates and the block is close to the identity. "Deep
    Residual Learning for Image Recognition" finds the residual responses of ResNets
    small; "Identity Connections in Residual Nets Improve Noise Stability" credits the
    identity's weight of 1, large beside the branch's small weights, for the noise
    stability of residual nets over plain ones. Highway and plain blocks are skipped.
    One forward pass without a graph.

    Returns:
        {"names": [str], "ratio": (B,)}
    """
    check_model("residual_ratios", model)
    check_images("residual_ratios", images)
    found = [(name, block) for name, block in blocks(model) if _residual_parts(block) is not None]
    require_found("residual_ratios", model, found, "block with a branch and a shortcut (ResidualBlock, "
                  "VANBlock, ScaledResidualBlock, residual SimplifiedBlock, DenseResidualBlock, DenseVANBlock)")
    branch_norms, shortcut_norms, hooks = [[] for _ in found], [[] for _ in found], []
    for index, (_, block) in enumerate(found):
        branch, shortcut = _residual_parts(block)
        hooks.append((branch, recorder(branch_norms[index], l2_norm)))
        if shortcut is None:                         # the shortcut is x, the block's input
            hooks.append((block, recorder(shortcut_norms[index], l2_norm, of_input=True)))
        else:
            hooks.append((shortcut, recorder(shortcut_norms[index], l2_norm)))
    with buffers_kept(model):
        forward_with_hooks(model, images, hooks)
    names = [name for name, _ in found]
    branch = [recorded_once("residual_ratios", name, values) for name, values in zip(names, branch_norms)]
    shortcut = [recorded_once("residual_ratios", name, values) for name, values in zip(names, shortcut_norms)]
    xp = backend.get_array_module(branch[0])
    return {"names": names, "ratio": to_host(xp.stack(branch) / xp.stack(shortcut))}


def gate_statistics(model, images) -> dict:
    """The transform gate T(x) = sigmoid(transform_gate(x)) of every highway block.

    A forward hook reads the output g of each block's ``transform_gate`` module and
    applies the sigmoid, T = 1 / (1 + exp(-g)), in (0, 1): T near 0 carries x, T near 1
    takes H(x). Over every value of the batch:

        mean[b] = mean of T,   std[b] = standard deviation of T (divided by the count)
        channel_mean[b] = (C,) mean of T over everything but the channel axis 1

    The gate of "Highway Networks"; "Training Very Deep Networks" plots its mean output
    block by block (negative gate biases start a block near the carry). "Weighted Skip
    Connections are Not Harmful for Deep Nets" argues the gate path must be as strong as
    H (gate="full") to learn when to carry. The spread of a block's channels is
    ``channel_mean[b].std()``. One forward pass without a graph.

    Returns:
        {"names": [str], "mean": (B,), "std": (B,), "channel_mean": [(C,) arrays]}
    """
    check_model("gate_statistics", model)
    check_images("gate_statistics", images)
    found = highway_blocks(model)
    require_found("gate_statistics", model, found, "highway block (" + type_names(HIGHWAY_TYPES) + ")")
    gates = [[] for _ in found]
    hooks = [(block.transform_gate, recorder(gates[index], _gate_summary))
             for index, (_, block) in enumerate(found)]
    with buffers_kept(model):
        forward_with_hooks(model, images, hooks)
    names = [name for name, _ in found]
    summaries = [recorded_once("gate_statistics", name, values) for name, values in zip(names, gates)]
    means, stds, channel_means = zip(*summaries)
    xp = backend.get_array_module(means[0])
    flat = to_host(xp.concatenate([xp.stack(means), xp.stack(stds)] + list(channel_means)))
    ends = host_xp.cumsum([len(names), len(names)] + [channel_mean.shape[0] for channel_mean in channel_means])
    pieces = host_xp.split(flat, ends[:-1])
    return {"names": names, "mean": pieces[0], "std": pieces[1], "channel_mean": pieces[2:]}


def van_alphas(model) -> dict:
    """The alpha (α) of every VAN layer, which phases its skip connection out.

    In "Avoiding degradation in deep feed-forward networks by phasing out
    skip-connections" a VAN layer computes ReLU(F(x) + (1 - alpha) x); alpha = 0 is a
    residual layer, alpha = 1 a plain one, and training is pushed towards alpha = 1.
    VAN layers are found as minires.optim.VANConstraint finds them: modules with an
    ``alpha`` Parameter and a ``lagrange_multiplier`` buffer.

        mean[l] = mean of alpha_l over its channels (or units)
        alpha_residual = (1/L) sum_l ||1 - alpha_l||^2   (VANConstraint.alpha_residual)

    No pass is run; the alphas are read back once and summed on the host.

    Returns:
        {"names": [str], "alpha": [(C,) arrays], "mean": (L,), "alpha_residual": float}
    """
    check_model("van_alphas", model)
    layers = van_layers(model)
    require_found("van_alphas", model, layers, "VAN layer (a module with an 'alpha' Parameter and a "
                  "'lagrange_multiplier' buffer, as VANBlock and DenseVANBlock)")
    arrays = [module.alpha.array for _, module in layers]
    xp = backend.get_array_module(arrays[0])
    flat = to_host(xp.concatenate([array.reshape(-1) for array in arrays]))
    ends = host_xp.cumsum([array.size for array in arrays])
    alphas = [piece.reshape(array.shape) for piece, array in zip(host_xp.split(flat, ends[:-1]), arrays)]
    residual = sum(float(((1.0 - alpha) ** 2).sum()) for alpha in alphas) / len(alphas)
    return {"names": [name for name, _ in layers], "alpha": alphas,
            "mean": host_xp.array([alpha.mean() for alpha in alphas]), "alpha_residual": residual}


# -- helpers ------------------------------------------------------------------------------

def _residual_parts(block):
    """(the module whose output is F(x), the shortcut module or None where the shortcut
    is the block's input x), or None for a block without a branch and a shortcut."""
    if isinstance(block, ResidualBlock) and block.preact:
        return block.conv2, block.shortcut
    if isinstance(block, (ResidualBlock, VANBlock, ScaledResidualBlock)):
        return block.branch, block.shortcut
    if isinstance(block, (DenseResidualBlock, DenseVANBlock)):
        return block.linear, None
    if isinstance(block, SimplifiedBlock) and block.residual:
        return block.conv, None
    return None


def _gate_summary(gate_input):
    """(mean, std, (C,) channel means) of T = sigmoid(gate_input), on the device."""
    xp = backend.get_array_module(gate_input)
    transform_gate = F.sigmoid(Tensor(gate_input)).array            # (N, C, H, W) or (N, C)
    other_axes = tuple(axis for axis in range(transform_gate.ndim) if axis != 1)
    return xp.mean(transform_gate), xp.std(transform_gate), xp.mean(transform_gate, axis=other_axes)
