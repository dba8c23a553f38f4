"""Matrix product with NumPy's (and PyTorch's) rules for 1-D and batched inputs."""

from minires.autograd import Function
from minires.functional.shape_utils import broadcast_shape, sum_to_shape


class MatMul(Function):
    """a @ b.

    Shapes follow numpy.matmul: (..., M, K) @ (..., K, N) -> (..., M, N), the batch
    dimensions (...) broadcasting; a 1-D ``a`` (K,) acts as (1, K) and a 1-D ``b``
    (K,) as (K, 1), the added dimension removed from the result.

    For matrices, y = a b gives dL/da = dL/dy b^T and dL/db = a^T dL/dy.
    """

    def forward(self, xp, a, b):
        if not hasattr(a, "ndim") or not hasattr(b, "ndim") or a.ndim == 0 or b.ndim == 0:
            raise ValueError(
                "matmul: both inputs need at least one dimension; got shapes "
                f"{getattr(a, 'shape', 'a number')} and {getattr(b, 'shape', 'a number')}")
        inner_a = a.shape[-1]
        inner_b = b.shape[-2] if b.ndim >= 2 else b.shape[0]
        if inner_a != inner_b:
            which = "second-to-last" if b.ndim >= 2 else "only"
            raise ValueError(
                f"matmul: shapes {tuple(a.shape)} and {tuple(b.shape)} do not fit: the last dimension "
                f"of a ({inner_a}) must equal the {which} dimension of b ({inner_b})")
        broadcast_shape("matmul (batch dimensions)", tuple(a.shape[:-2]), tuple(b.shape[:-2]))
        self.save_for_backward(a, b)
        return xp.matmul(a, b)

    def backward(self, grad_output):
        a, b = self.saved
        xp = self.xp
        # Treat 1-D inputs as matrices, as forward did, and give grad_output the
        # dimensions that forward removed: then one formula covers every case.
        a_matrix = a.reshape(1, -1) if a.ndim == 1 else a          # (K,) -> (1, K)
        b_matrix = b.reshape(-1, 1) if b.ndim == 1 else b          # (K,) -> (K, 1)
        grad = grad_output
        if b.ndim == 1:
            grad = xp.expand_dims(grad, -1)                        # (..., M) -> (..., M, 1)
        if a.ndim == 1:
            grad = xp.expand_dims(grad, -2)                        # (..., N) -> (..., 1, N)
        grad_a = grad_b = None
        if self.needs_input_grad[0]:
            grad_a = xp.matmul(grad, xp.swapaxes(b_matrix, -1, -2))  # (..., M, N) @ (..., N, K)
            grad_a = sum_to_shape(grad_a, a_matrix.shape).reshape(a.shape)
        if self.needs_input_grad[1]:
            grad_b = xp.matmul(xp.swapaxes(a_matrix, -1, -2), grad)  # (..., K, M) @ (..., M, N)
            grad_b = sum_to_shape(grad_b, b_matrix.shape).reshape(b.shape)
        return grad_a, grad_b


def matmul(a, b):
    """Matrix product a @ b (see MatMul for the shape rules)."""
    return MatMul.apply(a, b)
