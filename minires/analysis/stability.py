"""Noise stability and layer cushion: how a net answers small changes to its weights.

    noise_stability           how much the output moves when one layer's weights get noise
    layer_cushion             ||A x|| / (||A||_F ||x||) of each layer on the data's inputs
    operator_frobenius_norm   ||A||_F of the linear map a Conv2d or Linear applies

The measurements of "Identity Connections in Residual Nets Improve Noise Stability"
(Yu and Tomasi, Section 5), after "Stronger Generalization Bounds for Deep Nets via a
Compression Approach" (Arora, Ge, Neyshabur and Zhang, 2018). The Jacobian of a block
is in jacobian.py; weight_layers and forward_with_hooks come from modules.py.
Each function computes on the model's device and moves its result to the host once.
Notation: W a layer's weight, A its linear map (for a convolution, the matrix that
applies it to a whole image), x a layer's input, N the examples, L the layers.
"""

import math

from minires import backend
from minires.autograd import no_grad
from minires.nn import Conv2d, Linear, SimplifiedBlock
from minires.tensor import Tensor

from .modules import check_model, forward_with_hooks, host_xp, recorded_once, weight_layers


# -- noise stability -------------------------------------------------------------------

def noise_stability(model, images, relative_scale=None, draws=3, seed=0, layers=None, std=None,
                    output_of=None):
    """How much the output moves when one layer's weights get Gaussian noise.

    Yu and Tomasi (Section 5), after Arora et al., measure noise stability by how much
    the output changes when noise is added to the weights of one layer. For each layer
    l alone and each draw d, with f(X) the output for all ``images`` at once ((N,
    classes) logits by default) and ||.||_F the norm over all its entries:

        rho_{l,d} = ||f(X; W_l + noise) - f(X; W_l)||_F / ||f(X; W_l)||_F

    ``relative_change[l]`` is the mean over the draws. The noise starts as float64
    standard normals on the host, z = numpy.random.default_rng([seed, l, d])
    .standard_normal(W_l.shape), l the position in ``names``, scaled in one of two ways:

    - relative_scale: noise = (z / ||z||_F) * (relative_scale * ||W_l||_F), so that
      ||noise||_F = relative_scale * ||W_l||_F (the product taken on W_l's device, in
      its dtype);
    - std: noise = std * z, each entry N(0, std^2) whatever the layer's size.

    A residual SimplifiedBlock's W_l lacks the ID entries' 1, so relative_scale gives
    it less noise than its plain copy (models.to_plain) gets; std gives both the same
    perturbed function. The model runs under no_grad in the mode it is in (call
    ``model.eval()`` first: in training mode dropout draws new masks and batch norm
    updates its running statistics at every forward). The weights are restored bit
    for bit after every draw, also when an error stops the measurement.

    Args:
        model: any minires Module.
        images: an array or Tensor (N, ...): an array goes to the model's device, in its dtype.
        relative_scale, std: the size of the noise (see above); one of them, > 0.
        draws: noise draws per layer (>= 1).
        seed: a non-negative int; the same seed gives the same noise.
        layers: [(name, module)] with a ``weight``; default weight_layers(model).
        output_of: a sub-module of ``model``, run once per forward, whose output is
            measured instead of the model's (e.g. ``net.blocks`` for the features).

    Returns:
        {"names": [L names], "relative_change": (L,), "per_draw": (L, draws)}.
    """
    layers = _checked_layers("noise_stability", model, layers, need_linear_map=False)
    _check_noise_size(relative_scale, std)
    if isinstance(draws, bool) or not isinstance(draws, int) or draws < 1:
        raise ValueError(f"noise_stability: draws must be an int >= 1; got {draws!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"noise_stability: seed must be a non-negative int; got {seed!r}")
    x = _model_input(model, images)
    changes = []                                     # one 0-d device array per (layer, draw)
    with no_grad():
        clean = _output(model, x, output_of)
        xp = backend.get_array_module(clean)
        clean_norm = xp.linalg.norm(clean)
        for index, (_, module) in enumerate(layers):
            for draw in range(draws):
                noise = _weight_noise(module.weight.array, relative_scale, std, [seed, index, draw])
                noisy = _perturbed_output(model, x, output_of, module.weight, noise)
                changes.append(xp.linalg.norm(noisy - clean) / clean_norm)
    per_draw = backend.to_numpy(xp.stack(changes)).reshape(len(layers), draws)   # the one transfer
    return {"names": [name for name, _ in layers], "relative_change": per_draw.mean(axis=1),
            "per_draw": per_draw}


def _check_noise_size(relative_scale, std):
    if (relative_scale is None) == (std is None):
        raise ValueError("noise_stability: give the size of the noise as relative_scale "
                         "(||noise||_F = relative_scale * ||W||_F) or as std (each entry N(0, std^2)), "
                         f"exactly one of them; got relative_scale={relative_scale!r}, std={std!r}")
    name, value = ("relative_scale", relative_scale) if std is None else ("std", std)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < math.inf:
        raise ValueError(f"noise_stability: {name} must be a finite number > 0; got {value!r}")


def _weight_noise(weight, relative_scale, std, seed):
    """The noise for one draw (see noise_stability), on ``weight``'s device, in its dtype."""
    z = backend.host_random_normal(weight.shape, seed)                       # float64, on the host
    device = backend.device_of(weight)
    if std is not None:
        return backend.to_device((std * z).astype(weight.dtype), device)
    unit = backend.to_device((z / host_xp.linalg.norm(z)).astype(weight.dtype), device)   # ||unit||_F = 1
    xp = backend.get_array_module(weight)
    return unit * (relative_scale * xp.linalg.norm(weight))


def _perturbed_output(model, x, output_of, weight, noise):
    """The output with ``noise`` added to ``weight`` in place; the weight is restored after."""
    original = weight.array.copy()
    try:
        weight.array[...] = original + noise
        return _output(model, x, output_of)
    finally:
        weight.array[...] = original                  # the same bits, in the same array


def _output(model, x, output_of):
    """The model's output array, or that of ``output_of`` during the model's forward."""
    if output_of is None:
        return model(x).array
    captured = []

    def keep_output(module, args, output):
        captured.append(output.array)

    with output_of.register_forward_hook(keep_output):
        model(x)
    if len(captured) != 1:
        raise ValueError(f"noise_stability: output_of ({type(output_of).__name__}) ran {len(captured)} "
                         "times in one forward of the model; pass a sub-module that runs exactly once")
    return captured[0]


# -- layer cushion ----------------------------------------------------------------------

def layer_cushion(model, images, layers=None, include_identity=True):
    """Arora et al.'s layer cushion of every weight layer, on the given images.

    Arora et al. define the cushion mu_l of layer l as the largest number with
    mu_l ||A_l||_F ||x|| <= ||A_l x|| for every input x the layer gets from the data;
    Yu and Tomasi (Section 5, Fig. 3) plot its per-sample values. Per example n:

        cushion_l(n) = ||A_l x_n|| / (||A_l||_F ||x_n||),   cushion_l = min over n

    x_n is the layer's input (in the paper's nets, the previous layer's output after
    its ReLU), caught by a forward hook; A_l x_n is the layer's output minus its bias.
    As ||A x|| <= ||A||_2 ||x|| <= ||A||_F ||x||, it lies in [0, 1] (but see below). An
    all-zero x_n constrains nothing: its value is NaN, which the min skips.

    ||A_l||_F is the norm of the operator on one whole example, not of the kernel. For
    Linear on (N, F) it is ||W||_F. For Conv2d, kernel entry W[o, c, i, j] fills one
    matrix entry per output position where its tap (i, j) reads a pixel, not padding:
    ||A||_F^2 = sum of W[o, c, i, j]^2 rows(i) cols(j), rows(i) the output rows at which
    tap i lands inside the image. Without padding that is OH OW ||W||_F^2; with it the
    border taps count less (3x3, stride 1, padding 1: rows = (H - 1, H, H - 1)).

    With ``include_identity``, a layer whose block adds the layer's input to its output
    (SimplifiedBlock with residual=True) is read as the paper reads
    residual nets: the plain layer W + I in the numerator, ||(W + I) x_n||, but W alone
    in ||A_l||_F, the ID entries' 1 removed (Section 5: the term is to measure change in
    the coefficients). Its cushion may exceed 1, and is larger than that of its plain
    copy (models.to_plain), whose ||A||_F holds the 1s. False: the bare ||W x_n||.

    Args:
        model: any minires Module; it runs once, under no_grad, in the mode it is in.
        images: an array or Tensor (N, ...): an array goes to the model's device, in its dtype.
        layers: [(name, Conv2d or Linear)], each run once per forward; default weight_layers(model).

    Returns:
        {"names": [L names], "cushion": (L,), "per_sample": (L, N)}.
    """
    layers = _checked_layers("layer_cushion", model, layers, need_linear_map=True)
    adds_input = _layers_adding_their_input(model) if include_identity else set()
    calls = {id(module): [] for _, module in layers}       # id(layer) -> [(input, output)] arrays

    def keep_input_and_output(module, args, output):
        calls[id(module)].append((args[0].array, output.array))

    hooks = [(module, keep_input_and_output) for _, module in layers]
    forward_with_hooks(model, _model_input(model, images), hooks)
    rows = []
    for name, module in layers:
        layer_input, layer_output = recorded_once("layer_cushion", name, calls[id(module)])
        mapped = _without_bias(module, layer_output)                        # A x_n
        if id(module) in adds_input:
            mapped = mapped + layer_input                                    # (W + I) x_n
        rows.append(_per_sample_cushion(mapped, layer_input, operator_frobenius_norm(module, layer_input.shape)))
    xp = backend.get_array_module(rows[0])
    per_sample = backend.to_numpy(xp.stack(rows))                           # (L, N), the one transfer
    cushion = host_xp.fmin.reduce(per_sample, axis=1)          # fmin skips NaN (NaN only if all are)
    return {"names": [name for name, _ in layers], "cushion": cushion, "per_sample": per_sample}


def operator_frobenius_norm(module, input_shape):
    """||A||_F of the linear map (bias left out) that a Conv2d or Linear applies to one
    example of an input of shape ``input_shape`` (see layer_cushion); a 0-d device array."""
    weight = module.weight.array
    xp = backend.get_array_module(weight)
    if isinstance(module, Linear):
        rows = math.prod(input_shape[1:-1])                     # (N, ..., F): W acts on each row
        return xp.linalg.norm(weight) * math.sqrt(rows)
    rows = _taps_inside(input_shape[2], module.kernel_size[0], module.stride[0], module.padding[0])
    cols = _taps_inside(input_shape[3], module.kernel_size[1], module.stride[1], module.padding[1])
    uses = backend.to_device(host_xp.outer(rows, cols).astype(weight.dtype), backend.device_of(weight))  # (KH, KW)
    return xp.sqrt((weight * weight * uses).sum())              # (OC, C, KH, KW) * (KH, KW)


def _taps_inside(size, kernel_size, stride, padding):
    """For each tap i of a kernel: at how many output positions it reads an input pixel."""
    out_size = (size + 2 * padding - kernel_size) // stride + 1
    first_read = host_xp.arange(out_size) * stride - padding                # (OUT,): tap 0's pixel
    read = first_read[None, :] + host_xp.arange(kernel_size)[:, None]       # (K, OUT): tap i's pixel
    return ((read >= 0) & (read < size)).sum(axis=1)                      # (K,)


def _without_bias(module, output):
    """A x: the layer's output with its bias taken off."""
    if module.bias is None:
        return output
    if isinstance(module, Conv2d):
        return output - module.bias.array.reshape(1, -1, 1, 1)          # (OC,) -> (1, OC, 1, 1)
    return output - module.bias.array                                     # (..., OUT) - (OUT,)


def _per_sample_cushion(mapped, layer_input, operator_norm):
    """(N,) ||A x_n|| / (||A||_F ||x_n||), NaN where x_n = 0."""
    xp = backend.get_array_module(mapped)
    count = layer_input.shape[0]
    mapped_norms = xp.linalg.norm(mapped.reshape(count, -1), axis=1)        # (N, ...) -> (N,)
    input_norms = xp.linalg.norm(layer_input.reshape(count, -1), axis=1)    # (N,)
    nonzero = input_norms > 0
    ratio = mapped_norms / (operator_norm * xp.where(nonzero, input_norms, 1.0))
    return xp.where(nonzero, ratio, xp.nan)


def _layers_adding_their_input(model):
    """ids of the layers whose block adds the layer's own input to its output (one-layer
    residual blocks, whose identity can be folded into the weight as W + I)."""
    ids = set()
    for module in model.modules():
        if isinstance(module, SimplifiedBlock) and module.residual:
            ids.add(id(module.conv))
    return ids


# -- argument checks --------------------------------------------------------------------

def _checked_layers(op_name, model, layers, need_linear_map):
    """The layers to measure, as a list; a ValueError that says what was expected."""
    check_model(op_name, model)
    layers = weight_layers(model) if layers is None else list(layers)
    if not layers:
        raise ValueError(f"{op_name}: no weight layers to measure: {type(model).__name__} has no Conv2d or "
                         "Linear; pass a model that has some, or layers=[(name, module), ...]")
    for name, module in layers:
        if need_linear_map and not isinstance(module, (Conv2d, Linear)):
            raise ValueError(f"{op_name}: layer {name!r} is a {type(module).__name__}; expected Conv2d or Linear")
        if not isinstance(getattr(module, "weight", None), Tensor):
            raise ValueError(f"{op_name}: layer {name!r} ({type(module).__name__}) has no weight Tensor")
    return layers


def _model_input(model, images):
    """``images`` as a Tensor: an array goes to the model's device, in its dtype."""
    if isinstance(images, Tensor):
        return images
    weight = next(iter(model.parameters()))          # there is one: the model has a weight layer
    array = images if backend.is_array(images) else host_xp.asarray(images)
    return Tensor(backend.to_device(array, weight.device).astype(weight.dtype, copy=False))
