"""The exercise checks of lesson 04: right answers pass, typical mistakes get a hint."""

import numpy as np

import minires as mr
from minires.lessons.checks import lesson04


def residual_stack():
    rng = np.random.default_rng(0)
    weights = [rng.standard_normal((4, 4)) * 0.5 for _ in range(3)]
    return weights, rng.standard_normal(4), rng.standard_normal(4)


def test_residual_stack_input_gradient_against_minires():
    weights, x, output_gradient = residual_stack()
    x_tensor = mr.tensor(x, dtype=mr.float64, requires_grad=True)
    h = x_tensor
    for weight in weights:
        h = h + (mr.tensor(weight, dtype=mr.float64) @ h).relu()
    h.backward(mr.tensor(output_gradient, dtype=mr.float64))
    right = lesson04.check_residual_stack_input_gradient(x_tensor.grad, weights, x, output_gradient)
    assert right and repr(right).startswith("correct")


def test_residual_stack_input_gradient_typical_mistakes():
    weights, x, output_gradient = residual_stack()
    plain = lesson04.residual_stack_input_gradient(weights, x, output_gradient, identity=False)
    wrong = lesson04.check_residual_stack_input_gradient(plain, weights, x, output_gradient)
    assert not wrong and "plain stack's gradient" in wrong.message
    no_mask = lesson04.residual_stack_input_gradient(weights, x, output_gradient, relu_mask=False)
    wrong = lesson04.check_residual_stack_input_gradient(no_mask, weights, x, output_gradient)
    assert not wrong and "left out the ReLU" in wrong.message
    shape = lesson04.check_residual_stack_input_gradient(np.zeros(3), weights, x, output_gradient)
    assert not shape and "the shape of x_0" in shape.message
    none = lesson04.check_residual_stack_input_gradient(None, weights, x, output_gradient)
    assert not none and "no answer yet" in none.message


def test_post_activation_identity_gradient():
    x = np.array([1.5, -2.0, 0.3, -0.2])
    branch_output = np.array([-0.5, 1.0, -1.0, 0.6])         # F(x) + x = [1.0, -1.0, -0.7, 0.4]
    right = lesson04.check_post_activation_identity_gradient([1, 0, 0, 1], x, branch_output)
    assert right and repr(right).startswith("correct")
    ones = lesson04.check_post_activation_identity_gradient(np.ones(4), x, branch_output)
    assert not ones and "pre-activation block's answer" in ones.message
    sign_of_x = lesson04.check_post_activation_identity_gradient([1, 0, 1, 0], x, branch_output)
    assert not sign_of_x and "not on x alone" in sign_of_x.message
    none = lesson04.check_post_activation_identity_gradient(None, x, branch_output)
    assert not none and "no answer yet" in none.message


def test_post_activation_identity_gradient_against_minires():
    x = np.array([1.5, -2.0, 0.3, -0.2])
    branch_output = np.array([-0.5, 1.0, -1.0, 0.6])
    x_tensor = mr.tensor(x, dtype=mr.float64, requires_grad=True)
    (mr.tensor(branch_output, dtype=mr.float64) + x_tensor).relu().sum().backward()
    assert lesson04.check_post_activation_identity_gradient(x_tensor.grad, x, branch_output)


def test_negative_signal_through_post_activation():
    for right_answer in (False, "no", "No"):
        right = lesson04.check_negative_signal_through_post_activation(right_answer)
        assert right and repr(right).startswith("correct")
    wrong = lesson04.check_negative_signal_through_post_activation(True)
    assert not wrong and "ReLU(0 + (-2)) = 0" in wrong.message
    none = lesson04.check_negative_signal_through_post_activation(None)
    assert not none and "no answer yet" in none.message
    assert "True or False" in lesson04.check_negative_signal_through_post_activation("maybe").message
    assert "True or False" in lesson04.check_negative_signal_through_post_activation(3).message
