"""The Jacobian of one block, d block(x) / dx, computed exactly by autograd.

    block_jacobian   (out_numel, in_numel) float64 matrix of a block at one example

The matrix that "Identity Mappings in Deep Residual Networks" (He et al., 2016, eq. 5)
reasons about: with an identity shortcut and nothing after the addition it is the
identity plus the branch's Jacobian, so the gradient at a later block reaches an earlier
one directly, not only through the branches.
It runs on the block's device and moves its result to the host once.
"""

import copy

from minires import backend
from minires.tensor import Tensor


def block_jacobian(block, x):
    """d block(x) / dx for one example, by autograd in float64: (out_numel, in_numel).

    Row k is the gradient of output entry k (C order) w.r.t. x: one backward per row
    through the graph of one forward. A float64 copy of the block runs, in the block's
    mode, so the block itself (dtype, batch norm statistics) is untouched.

    Eq. 5 of "Identity Mappings in Deep Residual Networks", dL/dx_l = dL/dx_L (1 +
    d/dx_l sum of the branches), holds when an identity shortcut has nothing after the
    addition (the pre-activation block, y = x + G(x)): then J = I + dG/dx::

        J = block_jacobian(ResidualBlock(4, 4, preact=True), x)        # x: (1, 4, 5, 5)
        G = block_jacobian(branch_alone, x)      # a Module computing the branch G only
        numpy.allclose(J - numpy.eye(len(J)), G)                       # True

    After a ReLU (v1: y = ReLU(F(x) + x)) the rows are masked instead:
    J = diag(m) (I + dF/dx), m = (F(x) + x > 0) flattened.

    Args:
        block: any minires Module of one input.
        x: an array or Tensor of shape (1, ...): one example; an array goes to the
            block's device (a Tensor is used where it is).

    Shape:
        x: (1, C, H, W) -> (C_out * OH * OW, C * H * W)
    """
    x_array = x.array if isinstance(x, Tensor) else x
    if not backend.is_array(x_array) or x_array.ndim < 1 or x_array.shape[0] != 1:
        got = tuple(x_array.shape) if backend.is_array(x_array) else type(x).__name__
        raise ValueError(f"block_jacobian: x must hold one example, an array or Tensor of shape (1, ...), "
                         f"e.g. x[:1]; got {got}")
    parameters = list(block.parameters())
    if not isinstance(x, Tensor) and parameters:
        x_array = backend.to_device(x_array, parameters[0].device)
    work = copy.deepcopy(block).double()
    for parameter in work.parameters():
        parameter.requires_grad = False                      # only dy/dx is wanted
    x64 = Tensor(x_array.astype(backend.float64), requires_grad=True)
    y = work(x64)
    xp = backend.get_array_module(y.array)
    one_hot_rows = xp.eye(y.numel(), dtype=backend.float64)                 # (out_numel, out_numel)
    jacobian = xp.zeros((y.numel(), x64.numel()), dtype=backend.float64)   # (out_numel, in_numel)
    for row in range(y.numel()):
        y.backward(one_hot_rows[row].reshape(y.shape), retain_graph=True)
        jacobian[row] = x64.grad.array.reshape(-1)           # (1, C, H, W) -> (C*H*W,)
        x64.grad = None
    return backend.to_numpy(jacobian)                        # the one transfer
