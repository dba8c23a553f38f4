"""``minires.analysis``: what happens inside a net, measured on any minires model.

    from minires import analysis
    analysis.block_norms(model, images, labels)["activation_grad"]

Which modules are measured (modules.py):
    blocks                    (name, module) of every block, in model order
    weight_layers             (name, module) of every Conv2d and Linear, in model order
    (and the tuples of classes they look for: BLOCK_TYPES, HIGHWAY_TYPES)

Activity (activity.py):
    block_norms               ||x_l|| and ||dL/dx_l|| at the output of each block (or layer)
    weight_norms              ||W|| and ||dL/dW|| of each Conv2d and Linear weight
    dead_relu_fraction        the share of each block's ReLU outputs that are exactly 0
    block_outputs             the output of each block itself (where a ReLU cut the shortcut)

Blocks (block_measures.py):
    residual_ratios           ||F(x)|| / ||shortcut(x)|| in each block that has both
    gate_statistics           mean, spread and channel means of each highway block's gate T(x)
    van_alphas                the alpha of each VAN layer, and how far the net is from plain

Stability (stability.py):
    noise_stability           how much the output moves when one layer's weights get noise
    layer_cushion             ||A x|| / (||A||_F ||x||) of each layer, per example and its minimum
    operator_frobenius_norm   ||A||_F of the linear map a Conv2d or Linear applies to one example

Jacobian (jacobian.py):
    block_jacobian            d block(x) / dx at one example, a float64 matrix

The measurements return NumPy arrays on the host, read back once per call;
operator_frobenius_norm returns a 0-d array on the weight's device.
"""

from .activity import block_norms, block_outputs, dead_relu_fraction, weight_norms
from .block_measures import gate_statistics, residual_ratios, van_alphas
from .jacobian import block_jacobian
from .modules import BLOCK_TYPES, HIGHWAY_TYPES, blocks, weight_layers
from .stability import layer_cushion, noise_stability, operator_frobenius_norm

# __all__ names the functions; BLOCK_TYPES and HIGHWAY_TYPES are importable by name.
__all__ = [
    "blocks", "weight_layers",
    "block_norms", "weight_norms", "dead_relu_fraction", "block_outputs",
    "residual_ratios", "gate_statistics", "van_alphas",
    "noise_stability", "layer_cushion", "operator_frobenius_norm",
    "block_jacobian",
]
