"""Exercise checks of lesson 04 (the identity path).

Notation of lessons/notation.md: B blocks l = 0, ..., B-1, block l takes x_l and gives
x_{l+1}; G_l = dL/dx_l is the gradient at block l's input, G_B the one at the top.

- ``check_open_identity_path``: the share of a block's output values whose identity
  path stays open through the ReLUs of the later blocks of its stage (the lesson's
  "your turn").
- ``check_residual_stack_input_gradient``: G_0 = dL/dx_0 of a tiny stack of residual
  units x_{l+1} = x_l + ReLU(W_l x_l), given G_B = dL/dx_B.
- ``check_post_activation_identity_gradient``: the derivative, along the identity
  path, of a post-activation block y = ReLU(F(x) + x).
- ``check_negative_signal_through_post_activation``: whether a ReLU after the addition
  lets the identity path pass a negative value.
"""

import numpy as np

from minires.lessons.grading import Grade, as_host_array, grade_array, grade_number


def open_identity_path_share(stage_outputs):
    """The share of the values of stage_outputs[0] whose identity path is open to the end
    of the stage: the positions where every later block's output is > 0.

    stage_outputs[k] is the output of the k-th block of one stage of post-activation
    blocks y = ReLU(x + F(x)), all of one shape (N, C, H, W). A value of block k's output
    goes on through block k + 1's shortcut with derivative [y > 0] of that block's output,
    so its path is open to the end only where all the later masks are 1 at once.
    """
    masks = [np.asarray(output) > 0 for output in stage_outputs[1:]]          # (N, C, H, W) each
    return float(np.logical_and.reduce(masks).mean()) if masks else 1.0


def check_open_identity_path(answer, stage_outputs):
    """Checks the share of the first block's output values, in one stage of post-activation
    blocks, whose identity path stays open through every later block of the stage.

    Args:
        answer: the reader's number, a share between 0 and 1.
        stage_outputs: the outputs of the stage's blocks, first to last, each (N, C, H, W).

    The expected answer is the mean over all positions of the product (logical and) of
    the masks [y > 0] of the blocks after the first; see ``open_identity_path_share``.
    """
    try:
        outputs = [as_host_array(output, "stage output") for output in stage_outputs]
    except (TypeError, ValueError) as error:
        return Grade(False, f"the stage's outputs are not arrays ({error}); re-run the cells above")
    if len(outputs) < 2 or any(output.shape != outputs[0].shape for output in outputs):
        return Grade(False, "stage_outputs must hold two or more outputs of one shape; re-run the cells above")
    expected = open_identity_path_share(outputs)
    grade = grade_number("share of open identity paths", answer, expected, rtol=1e-9, atol=1e-12)
    if grade.problem != "values":               # right, or nothing to look for a typical mistake in
        return grade
    value = float(as_host_array(answer, "answer"))
    positive = [output > 0 for output in outputs]
    if np.isclose(value, 100 * expected, rtol=1e-9):
        hint = "give a share between 0 and 1, not a percentage"
    elif np.isclose(value, 1 - expected, rtol=1e-9):
        hint = "that is the share whose path is cut somewhere; the question asks for the open ones"
    elif np.isclose(value, np.logical_and.reduce(positive).mean(), rtol=1e-9):
        hint = ("leave out the first block's own mask: a 0 there cuts the path of the block before it; "
                "from the first block's output on, only the later blocks' ReLUs can cut")
    elif np.isclose(value, positive[-1].mean(), rtol=1e-9):
        hint = "every later block's ReLU can cut the path, not only the last one's: a value must pass all of them"
    elif np.isclose(value, np.prod([mask.mean() for mask in positive[1:]]), rtol=1e-9):
        hint = ("multiplying the blocks' shares assumes their masks are independent, and they are not "
                "(a value positive in one block tends to stay positive in the next): count the positions "
                "where every later mask is 1 at once")
    else:
        hint = "the mean, over all positions, of [y > 0] of every block after the first, combined with 'and'"
    return Grade(False, grade.message + ". Hint: " + hint)


def residual_stack_input_gradient(weights, x, output_gradient, identity=True, relu_mask=True):
    """G_0 = dL/dx_0 for x_{l+1} = x_l + ReLU(W_l x_l), one example x (C,), given G_B = dL/dx_B (C,).

    Backward, from the top: G_l = G_{l+1} (I + diag([W_l x_l > 0]) W_l), a row vector
    times the block's Jacobian. ``identity=False`` drops the I (the plain stack's
    answer), ``relu_mask=False`` drops the mask (two typical mistakes).
    """
    activations = [np.asarray(x, dtype=np.float64).reshape(-1)]
    weights = [np.asarray(weight, dtype=np.float64) for weight in weights]
    for weight in weights:
        activations.append(activations[-1] + np.maximum(weight @ activations[-1], 0.0))
    gradient = np.asarray(output_gradient, dtype=np.float64).reshape(-1)
    for weight, activation in zip(reversed(weights), reversed(activations[:-1])):
        mask = (weight @ activation > 0) if relu_mask else np.ones(weight.shape[0], dtype=bool)
        branch_jacobian = mask[:, None] * weight                          # (C, C): diag(mask) W
        gradient = gradient @ branch_jacobian + (gradient if identity else 0.0)
    return gradient


def check_residual_stack_input_gradient(answer, weights, x, output_gradient):
    """Checks G_0 = dL/dx_0 of the residual stack x_{l+1} = x_l + ReLU(W_l x_l), l = 0..B-1.

    Args:
        answer: the reader's (C,) array.
        weights: the B square matrices W_l, each (C, C).
        x: the input x_0, (C,).
        output_gradient: G_B = dL/dx_B, (C,).

    The expected answer is G_B times the product of the blocks' Jacobians,
    I + diag([W_l x_l > 0]) W_l, from the top block down.
    """
    try:
        weights = [as_host_array(weight, "weight") for weight in weights]
    except (TypeError, ValueError) as error:
        return Grade(False, f"the exercise's inputs are not arrays ({error}); re-run its cells")
    expected = residual_stack_input_gradient(weights, x, output_gradient)
    grade = grade_array("dL/dx_0", answer, expected, rtol=1e-6, atol=1e-9)
    if grade.problem == "shape":
        return Grade(False, grade.message + ". Hint: dL/dx_0 has the shape of x_0")
    if grade.problem != "values":               # right, or nothing to look for a typical mistake in
        return grade
    answer = as_host_array(answer, "answer")
    if np.allclose(answer, residual_stack_input_gradient(weights, x, output_gradient, identity=False)):
        hint = ("that is the plain stack's gradient: each block's Jacobian is I + diag(mask) W_l, "
                "the I coming from the shortcut x_l")
    elif np.allclose(answer, residual_stack_input_gradient(weights, x, output_gradient, relu_mask=False)):
        hint = "you left out the ReLU inside the branch: diag([W_l x_l > 0]) W_l, not W_l"
    else:
        hint = "from the top down: G = G + (G * (W_l x_l > 0)) @ W_l, for l = B-1, ..., 0"
    return Grade(False, grade.message + ". Hint: " + hint)


def post_activation_identity_gradient(x, branch_output):
    """d ReLU(F + x) / dx along the identity path (F held fixed): the mask [F + x > 0]."""
    x = np.asarray(x, dtype=np.float64)
    branch_output = np.asarray(branch_output, dtype=np.float64)
    return (branch_output + x > 0).astype(np.float64)


def check_post_activation_identity_gradient(answer, x, branch_output):
    """Checks the diagonal of d y / d x through the shortcut alone, for y = ReLU(F(x) + x).

    Args:
        answer: the reader's array, the shape of x: entry i is dy_i / dx_i with F held fixed.
        x: the block's input; branch_output: F(x), the same shape.

    The expected answer is 1 where F(x) + x > 0 and 0 elsewhere: the ReLU after the
    addition gates the identity path.
    """
    try:
        expected = post_activation_identity_gradient(as_host_array(x, "x"),
                                                     as_host_array(branch_output, "branch_output"))
    except (TypeError, ValueError) as error:
        return Grade(False, f"the exercise's inputs are not arrays ({error}); re-run its cells")
    grade = grade_array("dy/dx along the shortcut", answer, expected, rtol=0.0, atol=1e-9)
    if grade.problem != "values":               # right, or nothing to look for a typical mistake in
        return grade
    answer = as_host_array(answer, "answer")
    x = as_host_array(x, "x")
    if np.allclose(answer, 1.0):
        hint = ("all ones is the pre-activation block's answer (y = F(x) + x); here the ReLU comes "
                "after the addition, and its derivative is 0 where F(x) + x <= 0")
    elif np.allclose(answer, (x > 0).astype(np.float64)):
        hint = "the ReLU acts on the sum F(x) + x, not on x alone: look at the sign of F(x) + x"
    else:
        hint = "the ReLU passes a derivative of 1 where its input F(x) + x is positive, 0 elsewhere"
    return Grade(False, grade.message + ". Hint: " + hint)


def check_negative_signal_through_post_activation(answer):
    """Checks the yes/no question: can y = ReLU(F(x) + x) carry a negative value of x
    to the next block unchanged? Expects False (or "no").

    No: the output of a ReLU is never negative, so wherever F(x) + x < 0 the block
    outputs 0 and passes no gradient back through the identity path there.
    """
    if answer is None:
        return Grade(False, "no answer yet (the cell still holds None); answer True or False")
    if isinstance(answer, str):
        words = {"no": False, "false": False, "yes": True, "true": True}
        if answer.strip().lower() not in words:
            return Grade(False, f"answer True or False (or 'yes'/'no'); got {answer!r}")
        answer = words[answer.strip().lower()]
    if not isinstance(answer, (bool, np.bool_)):
        return Grade(False, f"answer True or False; got {answer!r}")
    if not answer:
        return Grade(True, "no: ReLU(F(x) + x) >= 0, so a negative x is cut to 0 (where F(x) + x < 0) "
                     "and the gradient through the shortcut is 0 there. The pre-activation block "
                     "(y = F(x) + x) has nothing after the addition and passes any sign")
    return Grade(False, "try x = -2 with F(x) = 0: ReLU(0 + (-2)) = 0. What is the smallest value a "
                 "ReLU can output, and what is its derivative there?")
