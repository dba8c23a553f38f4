"""The exercise checks of lesson 04: right answers pass, typical mistakes get a hint."""

import numpy as np

import minires as mr
from minires.lessons.checks import lesson04


def stage_outputs():
    """Four (4, 3, 5, 5) outputs of post-activation blocks: ReLUs of correlated sums, so
    that the masks of neighbouring blocks are not independent."""
    rng = np.random.default_rng(0)
    x, outputs = rng.standard_normal((4, 3, 5, 5)), []
    for _ in range(4):
        x = np.maximum(x + 0.7 * rng.standard_normal(x.shape), 0.0)
        outputs.append(x)
    return outputs


def test_open_identity_path():
    outputs = stage_outputs()
    masks = [output > 0 for output in outputs]
    share = float((masks[1] & masks[2] & masks[3]).mean())
    assert lesson04.open_identity_path_share(outputs) == share and 0.05 < share < 0.95
    right = lesson04.check_open_identity_path(share, outputs)
    assert right and repr(right).startswith("correct")
    for wrong_answer, hint in [
        (100 * share, "not a percentage"),
        (1 - share, "the share whose path is cut"),
        (float((masks[0] & masks[1] & masks[2] & masks[3]).mean()), "leave out the first block's own mask"),
        (float(masks[3].mean()), "not only the last one's"),
        (float(np.prod([mask.mean() for mask in masks[1:]])), "masks are independent"),
        (0.123456, "combined with 'and'"),
    ]:
        wrong = lesson04.check_open_identity_path(wrong_answer, outputs)
        assert not wrong and hint in wrong.message, (wrong_answer, wrong.message)
    none = lesson04.check_open_identity_path(None, outputs)
    assert not none and "no answer yet" in none.message
    assert not lesson04.check_open_identity_path([0.5, 0.5], outputs)
    assert not lesson04.check_open_identity_path(share, outputs[:1])
    assert not lesson04.check_open_identity_path(share, None)


def test_open_identity_path_of_a_minires_stage():
    mr.manual_seed(0)
    net = mr.models.cifar_net("residual", 14, width=4)                  # 2 blocks per stage, v1
    images = mr.tensor(np.random.default_rng(1).standard_normal((4, 3, 8, 8)), dtype=mr.float32)
    outputs = mr.analysis.block_outputs(net, images)["outputs"]
    last_stage = outputs[4:]
    share = lesson04.open_identity_path_share(last_stage)
    assert share == float((last_stage[1] > 0).mean())
    assert lesson04.check_open_identity_path(share, last_stage)


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
