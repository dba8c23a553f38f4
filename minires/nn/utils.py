"""Utilities on a model's gradients, as torch.nn.utils: clip_grad_norm_."""

from minires import backend
from minires.tensor import Tensor


def clip_grad_norm_(parameters, max_norm, norm_type=2.0) -> Tensor:
    """Scales all gradients down together so that their total norm is at most max_norm.

    As torch.nn.utils.clip_grad_norm_. The total norm treats every gradient of every
    parameter as one long vector:

        total_norm = (sum over gradients g of ||g||_p ** p) ** (1 / p)     (p = norm_type)
                   = max over gradients of max |g|                           (p = inf)
        g <- g * min(max_norm / (total_norm + 1e-6), 1)     for every gradient g

    The 1e-6 keeps the division finite when all gradients are 0. The multiplication
    runs even when the factor is 1: deciding whether to skip it would mean reading the
    norm back from the GPU (a synchronisation) at every step. For the same reason the
    norm is returned as a 0-d Tensor on the gradients' device, as PyTorch returns a
    tensor; call ``.item()`` when you want the number (for logging, say).

    Clipping keeps the direction of the full gradient and bounds the step's length,
    a guard against the rare huge gradients of deep nets early in training.

    Args:
        parameters: an iterable of Parameters (model.parameters()), or one Tensor.
            Those whose grad is None are skipped.
        max_norm: the largest total norm allowed.
        norm_type: p, a positive number or float("inf").

    Returns:
        the total norm before clipping, a 0-d Tensor (0.0 when no parameter has a gradient).
    """
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    max_norm, norm_type = float(max_norm), float(norm_type)   # Python floats keep float32 float32
    if not norm_type > 0:
        raise ValueError(f"clip_grad_norm_: norm_type must be positive or float('inf'); got {norm_type}")
    grads = [parameter.grad.array for parameter in parameters if parameter.grad is not None]
    if not grads:
        return Tensor(backend.host_array(0.0))
    xp = backend.get_array_module(*grads)         # a clear error for gradients on two devices
    if norm_type == float("inf"):
        norms = [xp.max(xp.abs(grad)) for grad in grads]
        total_norm = xp.max(xp.stack(norms))
    else:
        norms = [xp.sum(xp.abs(grad) ** norm_type) ** (1.0 / norm_type) for grad in grads]
        total_norm = xp.sum(xp.stack(norms) ** norm_type) ** (1.0 / norm_type)
    total_norm = backend.ensure_array(total_norm)  # NumPy gives a scalar; CuPy a 0-d array
    clip_coef = xp.minimum(max_norm / (total_norm + 1e-6), 1.0)
    for grad in grads:
        grad *= clip_coef.astype(grad.dtype)       # in place: the arrays the parameters hold
    return Tensor(total_norm)
