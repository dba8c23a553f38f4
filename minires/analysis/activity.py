"""Activity inside a net, block by block: how large the outputs and gradients are, and
how many ReLUs are off.

    block_norms          ||x_l|| and ||dL/dx_l|| at the output x_l of each block (or layer)
    weight_norms         ||W|| and ||dL/dW|| of each convolution and linear layer
    dead_relu_fraction   the share of each block's ReLU outputs that are exactly 0
    block_outputs        the output of each block itself, for what the others do not measure

The papers: "Deep Residual Learning for Image Recognition" (plain nets train worse as
they deepen) and "Identity Mappings in Deep Residual Networks" (identity shortcuts carry
the gradient back unchanged; a ReLU after the addition cuts them).

Each works on any minires model and returns host float64 NumPy arrays, one value per
block or layer in the order of ``model.named_modules()``. Hooks are attached for one
pass and removed afterwards, even when the pass raises. The model's mode is used as it
is (after ``train()`` batch norm uses the batch's statistics, after ``eval()`` the
running ones) and left alone; so are its buffers: a training-mode forward moves batch
norm's running statistics, so they are copied before the pass and written back after.
Values stay 0-d arrays on the model's device until one ``xp.stack`` and one
``backend.to_numpy`` at the end: one synchronisation per call on a GPU. The helpers
shared with block_measures.py and stability.py are in modules.py.
"""

from minires import backend
from minires import functional as F
from minires.autograd import is_grad_enabled
from minires.nn import (DenseHighwayBlock, DensePlainBlock, DenseResidualBlock, DenseVANBlock, HighwayBlock,
                        Module, Parameter, ResidualBlock, ResidualBranch)
from minires.tensor import Tensor

from .modules import (BLOCK_TYPES, blocks, buffers_kept, check_images, check_model, forward_with_hooks,
                      host_xp, l2_norm, recorded_once, recorder, require_found, to_host, type_names,
                      weight_layers)

DENSE_TYPES = (DensePlainBlock, DenseResidualBlock, DenseHighwayBlock, DenseVANBlock)   # a = ReLU(BN(x)) first


def block_norms(model, images, labels, modules=None, loss=F.cross_entropy) -> dict:
    """The size of each block's output and of the loss's gradient there, from one
    forward and one backward pass.

    With x_l the output of block l over the whole batch and L = loss(model(images),
    labels) (by default F.cross_entropy, the mean over the batch):

        activation[l]      = ||x_l||      = sqrt(sum of x_l ** 2 over every value)
        activation_grad[l] = ||dL/dx_l||

    Plain nets train worse as they deepen ("Deep Residual Learning for Image
    Recognition"); with identity shortcuts dL/dx_l contains dL/dx_L itself ("Identity
    Mappings in Deep Residual Networks"), so ||dL/dx_l|| stays level across blocks.

    How: a forward hook on each module measures its output and puts a tensor hook on it,
    which measures the gradient when backward reaches it. The parameters' ``.grad`` are
    saved, set to None for the pass and put back after (the same Tensor objects), so the
    call leaves them as they were. The images are wrapped in a new leaf that requires
    grad (sharing their array): the outputs carry a graph even when every parameter is
    frozen, and the caller's images get no ``.grad``.

    Args:
        images: a Tensor on the model's device.
        labels: the second argument of ``loss``: (N,) class indices for the default
            cross-entropy, or the targets of another loss.
        modules: (name, module) pairs to measure instead of ``blocks(model)``, e.g.
            ``weight_layers(model)``; each must run once in the forward pass.
        loss: a function (model output, labels) -> the loss, a Tensor of one value;
            e.g. ``lambda output, targets: ((output - targets) ** 2).sum() / 2`` for a
            net fitted by squared error. The gradients are those of this loss.

    Returns:
        {"names": [str], "activation": (M,), "activation_grad": (M,)}, one value per
        module measured; activation_grad is NaN for a module whose output the loss does
        not depend on.
    """
    check_model("block_norms", model)
    check_images("block_norms", images)
    if not callable(loss):
        raise TypeError(f"block_norms: loss must be a function (output, labels) -> a one-value Tensor, "
                        f"as F.cross_entropy; got {type(loss).__name__}")
    modules = _modules_to_measure("block_norms", model, modules)
    if not is_grad_enabled():
        raise RuntimeError("block_norms: called inside minires.no_grad(), where no graph is recorded; "
                           "it needs one backward pass, so call it outside no_grad()")
    activations, gradients = [[] for _ in modules], [[] for _ in modules]
    handles, saved_grads = [], [(parameter, parameter.grad) for parameter in model.parameters()]

    def measuring_hook(index):
        def measure_gradient(grad):
            gradients[index].append(l2_norm(grad.array))

        def measure_output(module, args, output):
            activations[index].append(l2_norm(output.array))
            if output.requires_grad:
                handles.append(output.register_hook(measure_gradient))
        return measure_output

    try:
        with buffers_kept(model):
            for parameter, _ in saved_grads:
                parameter.grad = None
            for index, (_, module) in enumerate(modules):
                handles.append(module.register_forward_hook(measuring_hook(index)))
            # Integer images cannot require grad; float images (the usual case) do.
            inputs = Tensor(images.array, requires_grad=backend.is_floating(images.array.dtype))
            _checked_loss(loss(model(inputs), labels)).backward()
    finally:
        for handle in handles:
            handle.remove()
        for parameter, grad in saved_grads:
            parameter.grad = grad
    names = [name for name, _ in modules]
    activation = [recorded_once("block_norms", name, values) for name, values in zip(names, activations)]
    xp = backend.get_array_module(activation[0])
    gradient = [values[0] if len(values) == 1 else _nan_like(activation[0]) for values in gradients]
    both = to_host(xp.stack([xp.stack(activation), xp.stack(gradient)]))        # (2, L)
    return {"names": names, "activation": both[0], "activation_grad": both[1]}


def weight_norms(model, layers=None) -> dict:
    """||W|| and ||dL/dW|| of the ``.weight`` of every Conv2d and Linear (``weight_layers``).

        weight[p]      = sqrt(sum of W_p ** 2)
        weight_grad[p] = sqrt(sum of (dL/dW_p) ** 2), from the ``.grad`` already there
                         (NaN where ``.grad`` is None)

    No pass is run: call it after a backward. First layers whose gradients are orders
    below the last one's are what shortcuts cure ("Deep Residual Learning for Image
    Recognition", "Identity Mappings in Deep Residual Networks").

    Args:
        layers: (name, module) pairs to read instead of ``weight_layers(model)``, each
            with a ``.weight`` Parameter: e.g. the batch norms whose scale gamma is
            their weight, ``[(name, m) for name, m in model.named_modules()
            if name.endswith("bn2")]``.

    Returns:
        {"names": [str], "weight": (P,), "weight_grad": (P,)}
    """
    check_model("weight_norms", model)
    if layers is None:
        layers = weight_layers(model)
        require_found("weight_norms", model, layers, "Conv2d or Linear layer")
    else:
        layers = _modules_to_measure("weight_norms", model, layers, argument="layers")
        without = [name for name, module in layers if not isinstance(getattr(module, "weight", None), Parameter)]
        if without:
            raise ValueError(f"weight_norms: {', '.join(repr(name) for name in without)} "
                             f"{'has' if len(without) == 1 else 'have'} no weight Parameter to read "
                             "(a batch norm made with affine=False, or a layer without weights?)")
    weights = [module.weight for _, module in layers]
    xp = backend.get_array_module(weights[0].array)
    weight = [l2_norm(w.array) for w in weights]
    grad = [l2_norm(w.grad.array) if w.grad is not None else _nan_like(weight[0]) for w in weights]
    both = to_host(xp.stack([xp.stack(weight), xp.stack(grad)]))                # (2, P)
    return {"names": [name for name, _ in layers], "weight": both[0], "weight_grad": both[1]}


def dead_relu_fraction(model, images) -> dict:
    """The fraction of each block's ReLU outputs that are exactly 0 on this batch.

    Blocks apply ReLU through minires.nn.kernels.relu, not ReLU modules, so forward hooks
    read what goes into or comes out of each ReLU. Counted over every value of the batch
    (each example, channel and position):

    - where a ReLU's input is a module's output z (batch norm bn1 inside every
      ResidualBranch: the branch of plain, residual v1, VAN and scaled blocks, and both
      the transform H and a "full" transform gate of a highway block; bn1 and bn2 of a
      pre-activation block; bn1 and bn2 of a ReLU-before-addition block; the block's
      input x and bn1 of a ReLU-only pre-activation block; the transform Linear of a
      dense highway block): the values with z <= 0, whose ReLU output is 0;
    - where a block's output is a ReLU's (plain, residual v1 and BN after addition,
      VAN, scaled, simplified, the dense plain, residual and VAN blocks; highway with
      post_activation): the output values equal to 0.

        fraction[l] = (zeros counted in block l) / (values counted in block l)

    So a unit at 0 on half the batch counts half (not only units at 0 on every example).
    Where a block's output is a ReLU, each zero also cuts the identity path there (why
    "Identity Mappings in Deep Residual Networks" moves the ReLU before the addition).
    One forward pass without a graph.

    Returns:
        {"names": [str], "fraction": (L,)}
    """
    check_model("dead_relu_fraction", model)
    check_images("dead_relu_fraction", images)
    found = blocks(model)
    require_found("dead_relu_fraction", model, found, "blocks (" + type_names(BLOCK_TYPES) + ")")
    counts, hooks = [[] for _ in found], []
    for index, (_, block) in enumerate(found):
        relu_inputs, ends_with_relu = _relu_inputs(block)
        hooks += [(module, recorder(counts[index], _zeros_at_or_below, of_input))
                  for module, of_input in relu_inputs]
        if ends_with_relu:
            hooks.append((block, recorder(counts[index], _zeros)))
    with buffers_kept(model):
        forward_with_hooks(model, images, hooks)
    fractions = []
    for (name, block), block_counts in zip(found, counts):
        relu_inputs, ends_with_relu = _relu_inputs(block)
        if len(block_counts) != len(relu_inputs) + ends_with_relu:
            raise ValueError(f"dead_relu_fraction: block {name!r} ran {len(block_counts)} of "
                             f"{len(relu_inputs) + ends_with_relu} expected ReLU inputs; it measures "
                             "blocks that run once per forward pass")
        zeros = sum(zero_count for zero_count, _ in block_counts)                # 0-d, on the device
        fractions.append(zeros / sum(size for _, size in block_counts))
    xp = backend.get_array_module(fractions[0])
    return {"names": [name for name, _ in found], "fraction": to_host(xp.stack(fractions))}


def block_outputs(model, images, modules=None) -> dict:
    """The output of each block on this batch, itself: for what the other functions do
    not measure (where a ReLU after the addition set values to 0, the signs).

        outputs[l] = block l's output, the next block's input; (N, C, H, W) for a
                     convolutional block

    "Identity Mappings in Deep Residual Networks" asks where the identity path is cut:
    a block y = ReLU(x + F(x)) passes the gradient through its shortcut only where y > 0,
    so ``(outputs[l] > 0)`` is that block's mask, and ``(outputs[l] == 0).mean()`` the
    share it cuts (``dead_relu_fraction`` also counts the ReLU inside the branch).
    Every output is kept: for a big net and batch, mind the memory (a (64, 16, 32, 32)
    output is 1 M values). One forward pass without a graph.

    Args:
        images: a Tensor on the model's device.
        modules: (name, module) pairs whose outputs to return instead of ``blocks(model)``;
            each must run once in the forward pass.

    Returns:
        {"names": [str], "outputs": [arrays]}, float64 NumPy copies, each the shape of
        its module's output
    """
    check_model("block_outputs", model)
    check_images("block_outputs", images)
    modules = _modules_to_measure("block_outputs", model, modules)
    recorded = [[] for _ in modules]
    hooks = [(module, recorder(recorded[index], _copy)) for index, (_, module) in enumerate(modules)]
    with buffers_kept(model):
        forward_with_hooks(model, images, hooks)
    names = [name for name, _ in modules]
    outputs = [recorded_once("block_outputs", name, values) for name, values in zip(names, recorded)]
    xp = backend.get_array_module(outputs[0])
    flat = to_host(xp.concatenate([output.reshape(-1) for output in outputs]))   # every value, one read-back
    ends = host_xp.cumsum([output.size for output in outputs])
    pieces = host_xp.split(flat, ends[:-1])
    return {"names": names, "outputs": [piece.reshape(output.shape) for piece, output in zip(pieces, outputs)]}


# -- helpers ------------------------------------------------------------------------------

def _checked_loss(value):
    """The loss block_norms differentiates: a Tensor of one value, or a clear error."""
    if not isinstance(value, Tensor) or value.numel() != 1:
        found = f"a Tensor of shape {value.shape}" if isinstance(value, Tensor) else type(value).__name__
        raise ValueError(f"block_norms: loss must return the loss as a Tensor of one value; got {found} "
                         "(reduce it over the batch: a mean or a sum)")
    return value


def _copy(array):
    """A copy of a module's output, which later in-place work cannot change."""
    return array.copy()


def _modules_to_measure(function_name, model, modules, argument="modules"):
    """blocks(model) when ``modules`` is None, else ``modules`` checked: (name, Module) pairs
    (``argument`` names the caller's parameter in the message)."""
    if modules is None:
        found = blocks(model)
        require_found(function_name, model, found, "blocks (" + type_names(BLOCK_TYPES) + ")")
        return found
    modules = list(modules)
    if not modules or not all(isinstance(pair, tuple) and len(pair) == 2 and isinstance(pair[1], Module)
                              for pair in modules):
        raise TypeError(f"{function_name}: {argument} must be a non-empty list of (name, Module) pairs, "
                        "as blocks(model) or weight_layers(model) return")
    return modules


def _relu_inputs(block):
    """([(module, of_input)]: the modules of ``block`` whose output (or, with of_input, whose
    input) goes straight into a ReLU; whether the block's own output is a ReLU's): what
    dead_relu_fraction counts, block by block."""
    placement = getattr(block, "placement", None) if isinstance(block, ResidualBlock) else None
    if placement == "full_preactivation":
        return [(block.bn1, False), (block.bn2, False)], False      # ReLU(bn1(x)), ReLU(bn2(conv1(...)))
    if placement == "relu_before_addition":
        return [(block.branch.bn1, False), (block.branch.bn2, False)], False   # ReLU(F(x)) + x
    if placement == "relu_only_preactivation":
        return [(block, True), (block.branch.bn1, False)], False   # F(ReLU(x)) + x: x, then F's inner ReLU
    if isinstance(block, DENSE_TYPES):
        return [(block.bn, False)], False                         # a = ReLU(bn(x)), then the linear layer(s)
    branches = [(module.bn1, False) for module in block.modules() if isinstance(module, ResidualBranch)]
    if isinstance(block, HighwayBlock):
        return branches, block.post_activation
    return branches, True                                         # bn_after_addition too: ReLU(BN(F(x) + x))


def _zeros(array):
    """(how many values are 0, how many values): a 0-d device count and a Python int."""
    xp = backend.get_array_module(array)
    return xp.sum(array == 0), array.size


def _zeros_at_or_below(array):
    """(how many values are <= 0, whose ReLU is 0; how many values)."""
    xp = backend.get_array_module(array)
    return xp.sum(array <= 0), array.size


def _nan_like(value):
    """A 0-d NaN on ``value``'s device, in its dtype: a gradient that never came."""
    return backend.get_array_module(value).full((), float("nan"), dtype=value.dtype)
