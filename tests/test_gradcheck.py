"""gradcheck and numerical_grad: they pass on right gradients and fail, usefully, on wrong ones."""

import numpy as np
import pytest

import minires as mr
from helpers import on_device


class WrongSquare(mr.Function):
    """x ** 2 with a deliberately wrong backward (x instead of 2x)."""

    def forward(self, xp, x):
        self.save_for_backward(x)
        return x * x

    def backward(self, grad_output):
        (x,) = self.saved
        return (grad_output * x,)


def test_gradcheck_fails_on_a_wrong_backward(device):
    x = on_device(np.array([[0.5, -1.0], [2.0, 3.0]]), device)
    with pytest.raises(mr.GradcheckError) as failure:
        mr.gradcheck(lambda t: WrongSquare.apply(t), x)
    message = str(failure.value)
    assert "input 0 (shape (2, 2))" in message
    assert "analytic (backward)" in message and "numeric (central" in message
    assert "relative error" in message and "4 of 4 elements fail" in message
    assert "kink" not in message


def test_gradcheck_reports_the_worst_element():
    x = on_device(np.array([0.1, 5.0, 0.2]), "cpu")
    with pytest.raises(mr.GradcheckError, match=r"at index \(1,\)"):
        mr.gradcheck(lambda t: WrongSquare.apply(t), x)


def test_gradcheck_without_raising_returns_false():
    x = on_device(np.array([1.0, 2.0]), "cpu")
    with pytest.warns(UserWarning, match="gradcheck"):
        assert mr.gradcheck(lambda t: WrongSquare.apply(t), x, raise_exception=False) is False


def test_gradcheck_hints_at_a_kink():
    x = on_device(np.array([1.0, 0.0, -1.0]), "cpu")          # relu has a kink at 0
    with pytest.raises(mr.GradcheckError, match=r"(?s)at index \(1,\).*hint: .*kink"):
        mr.gradcheck(lambda t: t.relu(), x)


def test_gradcheck_casts_to_float64_and_says_so():
    x = mr.tensor([1.0, 2.0], requires_grad=True)             # float32
    with pytest.warns(UserWarning, match=r"casting input 0 \(float32\) to float64"):
        assert mr.gradcheck(lambda t: (t * t).sum(), x)
    assert x.grad is None                                     # the caller's tensor is untouched


def test_gradcheck_needs_an_input_that_requires_grad():
    with pytest.raises(ValueError, match="no input is a floating Tensor with requires_grad=True"):
        mr.gradcheck(lambda t: t * 2.0, mr.tensor([1.0], dtype=mr.float64))


def test_numerical_grad_of_a_numpy_function():
    x = np.array([1.0, -2.0, 0.5])
    (grad,) = mr.numerical_grad(lambda a: (a ** 3).sum(), x)
    np.testing.assert_allclose(grad, 3 * x ** 2, rtol=1e-8)


def test_numerical_grad_of_tensors_with_weights(device):
    a = on_device(np.array([1.0, 2.0]), device)
    b = on_device(np.array([3.0, 4.0]), device)
    weights = mr.backend.to_device(np.array([1.0, 10.0]), device)
    grad_a, grad_b = mr.numerical_grad(lambda x, y: x * y, a, b, grad_output=weights)
    assert mr.backend.device_of(grad_a) == device
    np.testing.assert_allclose(mr.backend.to_numpy(grad_a), [3.0, 40.0], rtol=1e-8)
    np.testing.assert_allclose(mr.backend.to_numpy(grad_b), [1.0, 20.0], rtol=1e-8)


def test_numerical_grad_skips_non_float_inputs():
    x = np.array([1.0, 2.0])
    grads = mr.numerical_grad(lambda a, n: (a * n).sum(), x, 3)
    assert grads[1] is None
    np.testing.assert_allclose(grads[0], [3.0, 3.0])


def test_numerical_grad_and_gradcheck_of_a_transposed_input():
    # A transposed array is not C-contiguous: reshape(-1) of it is a copy, so the
    # perturbations must go to a contiguous float64 copy (once they silently went nowhere).
    x = np.arange(6.0).reshape(2, 3).T                      # (3, 2), Fortran order
    (grad,) = mr.numerical_grad(lambda a: (a ** 2).sum(), x)
    np.testing.assert_allclose(grad, 2 * x, rtol=1e-8)
    tensor = mr.tensor(x, requires_grad=True)
    assert mr.gradcheck(lambda a: (a ** 2).sum(), tensor)


def test_numerical_grad_of_a_python_float():
    grads = mr.numerical_grad(lambda a, n: a * a * n, 3.0, 2)
    np.testing.assert_allclose(grads[0], 12.0, rtol=1e-8)
    assert grads[1] is None                                   # an int is not differentiable


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")
def test_a_function_that_is_nan_at_the_point_fails():
    """NaN compares false with every tolerance: the check must count it as a failure (the
    sum is NaN, so every numerical derivative is)."""
    x = mr.tensor([-1.0, 4.0, 9.0], dtype="float64", requires_grad=True)
    with pytest.raises(mr.GradcheckError, match=r"\(3 of 3 elements fail\)") as caught:
        mr.gradcheck(lambda t: (t ** 0.5).sum(), x)
    assert "3 of 3 elements have a non-finite gradient" in str(caught.value)


@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")
@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")
def test_an_infinite_gradient_fails():
    x = mr.tensor([0.0, 1.0], dtype="float64", requires_grad=True)
    with pytest.raises(mr.GradcheckError, match="non-finite gradient"):
        mr.gradcheck(lambda t: (t ** 0.5).sum(), x)


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")
def test_a_function_that_is_infinite_at_the_point_fails():
    x = mr.tensor([1.0, 2.0], dtype="float64", requires_grad=True)
    infinity = mr.tensor([np.inf, 0.0], dtype="float64")
    with pytest.raises(mr.GradcheckError, match=r"\(2 of 2 elements fail\)") as caught:
        mr.gradcheck(lambda t: t + infinity, x)
    assert "the output is not finite at this point (sum(f(x) * w) = inf)" in str(caught.value)
