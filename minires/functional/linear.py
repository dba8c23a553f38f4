"""The fully connected layer's op: linear(x, weight, bias) = x @ weight^T + bias."""

from minires.functional.arith import add
from minires.functional.matmul import matmul
from minires.functional.shape import transpose
from minires.functional.shape_utils import check_float_dtypes, shape_of


def linear(x, weight, bias=None):
    """x @ weight^T + bias, as torch.nn.functional.linear.

    The weight is stored (out_features, in_features), PyTorch's layout: row k holds
    the weights of output k. Written with matmul, transpose and add, whose backward
    passes give dL/dx = dL/dy weight, dL/dweight = dL/dy^T x, dL/dbias = the sum of
    dL/dy over the batch; it needs no Function of its own.

    Shape:
        x (*, in_features), weight (out_features, in_features),
        bias (out_features,) -> (*, out_features)
    """
    x_shape, weight_shape = shape_of(x), shape_of(weight)
    if len(weight_shape) != 2:
        raise ValueError(f"linear: expected a 2-D weight (out_features, in_features); got shape {weight_shape}")
    if len(x_shape) == 0 or x_shape[-1] != weight_shape[1]:
        raise ValueError(
            f"linear: input {x_shape} does not fit weight {weight_shape}: the input's last dimension "
            f"must be in_features = {weight_shape[1]} (weight is (out_features, in_features))")
    if bias is not None and shape_of(bias) != weight_shape[:1]:
        raise ValueError(f"linear: bias must have shape ({weight_shape[0]},), one value per output; "
                         f"got {shape_of(bias)}")
    check_float_dtypes("linear", x=x, weight=weight, bias=bias)
    output = matmul(x, transpose(weight, 0, 1))          # (*, in) @ (in, out) -> (*, out)
    return output if bias is None else add(output, bias)
