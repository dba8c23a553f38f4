"""add, sub, mul, div, neg, pow, maximum, where: gradients, PyTorch, broadcasting, errors."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import mutually_broadcastable_shapes

import minires as mr
import minires.functional as F
from helpers import OpCase, check_gradients, compare_with_torch, on_device, random_array

CASES = [
    OpCase("add", lambda a, b: a + b, lambda a, b: a + b, [(3, 4), (3, 4)]),
    OpCase("add_broadcast", lambda a, b: a + b, lambda a, b: a + b, [(2, 3, 4), (3, 1)]),
    OpCase("add_scalar", lambda a: 2.5 + a, lambda a: 2.5 + a, [(3, 4)]),
    OpCase("sub", lambda a, b: a - b, lambda a, b: a - b, [(3, 4), (4,)]),
    OpCase("rsub", lambda a: 1.0 - a, lambda a: 1.0 - a, [(5,)]),
    OpCase("mul", lambda a, b: a * b, lambda a, b: a * b, [(3, 1, 4), (5, 1)]),
    OpCase("mul_scalar", lambda a: a * 3.0, lambda a: a * 3.0, [(2, 3)]),
    OpCase("div", lambda a, b: a / b, lambda a, b: a / b, [(3, 4), (3, 4)], positive=True),
    OpCase("div_broadcast", lambda a, b: a / b, lambda a, b: a / b, [(4,), (3, 1)], positive=True),
    OpCase("rdiv", lambda a: 2.0 / a, lambda a: 2.0 / a, [(3,)], positive=True),
    OpCase("neg", lambda a: -a, lambda a: -a, [(2, 3)]),
    OpCase("pow_square", lambda a: a ** 2, lambda a: a ** 2, [(2, 3)]),
    OpCase("pow_fraction", lambda a: a ** 1.5, lambda a: a ** 1.5, [(2, 3)], positive=True),
    OpCase("pow_negative", lambda a: F.pow(a, -2.0), lambda a: a ** -2.0, [(4,)], positive=True),
    OpCase("rpow", lambda a: 2.0 ** a, lambda a: 2.0 ** a, [(4,)]),
    OpCase("maximum", F.maximum, lambda a, b: a.maximum(b), [(3, 4), (3, 4)]),
    OpCase("maximum_broadcast", F.maximum, lambda a, b: a.maximum(b), [(3, 4), (4,)]),
    OpCase("where", lambda a, b: F.where(a > 0.0, a, b),
           lambda a, b: a.where(a > 0, b), [(3, 4), (4,)]),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_gradients(case, device):
    check_gradients(case.fn, case.host_inputs(), device)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_matches_torch(case, torch):
    compare_with_torch(torch, case.fn, case.torch_fn, case.host_inputs())


def test_maximum_ties_split_the_gradient_like_torch(torch):
    a = np.array([1.0, 2.0, 3.0])
    b = np.array([1.0, 5.0, 3.0])
    compare_with_torch(torch, F.maximum, torch.maximum, [a, b])
    x, y = on_device(a, "cpu"), on_device(b, "cpu")
    F.maximum(x, y).sum().backward()
    np.testing.assert_array_equal(x.grad, [0.5, 0.0, 0.5])


def test_float32_stays_float32_with_python_numbers(device):
    x = mr.tensor([1.0, 2.0], device=device, requires_grad=True)
    y = (x * 2.0 + 1.0) / 3.0 - 0.5
    assert y.dtype == mr.float32
    (y ** 2.0).sum().backward()
    assert x.grad.dtype == mr.float32


def test_promoted_gradient_is_cast_back_to_the_input_dtype():
    x = mr.tensor([1.0, 2.0], requires_grad=True)                      # float32
    y = x * np.array([3.0, 4.0])                                       # float64 constant
    assert y.dtype == mr.float64
    y.sum().backward()
    assert x.grad.dtype == mr.float32
    np.testing.assert_array_equal(x.grad, [3.0, 4.0])


@settings(max_examples=25, deadline=None)
@given(shapes=mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3),
       op=st.sampled_from(["add", "sub", "mul", "div"]))
def test_broadcasting_gradients_property(shapes, op):
    fn = {"add": F.add, "sub": F.sub, "mul": F.mul, "div": F.div}[op]
    inputs = [random_array(shape, seed=i, positive=True) for i, shape in enumerate(shapes.input_shapes)]
    tensors = [on_device(array, "cpu") for array in inputs]
    output = fn(*tensors)
    assert output.shape == shapes.result_shape
    assert mr.gradcheck(fn, *tensors)


def test_broadcasting_that_cannot_work_names_the_op_and_shapes(device):
    a = on_device(np.ones((2, 3)), device)
    b = on_device(np.ones((4,)), device)
    with pytest.raises(ValueError, match=r"add: shapes \(2, 3\) and \(4,\) cannot be broadcast"):
        a + b
    with pytest.raises(ValueError, match=r"mul: shapes"):
        a * b


def test_host_array_mixed_with_a_device_tensor_is_refused():
    x = on_device(np.ones(3), "strict")
    with pytest.raises(mr.DeviceMismatchError, match=r"Mul: inputs are on different devices.*strict.*cpu"):
        x * np.ones(3)
    with pytest.raises(mr.DeviceMismatchError, match=r"cpu.*strict|strict.*cpu"):
        np.ones(3) + x                     # NumPy hands the operator to Tensor.__radd__
    with pytest.raises(mr.DeviceMismatchError):
        x + on_device(np.ones(3), "cpu")


def test_pow_needs_a_number_exponent():
    x = on_device(np.ones(3), "cpu")
    with pytest.raises(TypeError, match="pow: the exponent must be a Python number"):
        x ** x


def test_where_needs_a_boolean_condition():
    x = on_device(np.ones(3), "cpu")
    with pytest.raises(TypeError, match="where: condition must be a boolean"):
        F.where(x, x, x)


def test_unsupported_input_type_names_the_op():
    x = on_device(np.ones(3), "cpu")
    with pytest.raises(TypeError, match="Add: input 1 is a list"):
        x + [1.0, 2.0, 3.0]
