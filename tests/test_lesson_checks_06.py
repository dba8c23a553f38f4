"""The exercise checks of lesson 6 (VAN): right answers pass, typical wrong ones fail
with a message that says what is wrong, None fails without raising."""

import numpy as np

import minires as mr
from minires.lessons.checks import lesson06

STEP = dict(alpha=0.95, multiplier=-1.2, alpha_grad=0.4, lr=0.1, multiplier_lr_fraction=0.1)


def test_van_step_right_answer_passes():
    # (7): 0.95 - 0.1 (0.4 - 1.2) = 1.03, clipped to 1; (8): -1.2 + 0.01 (1 - 1) = -1.2
    grade = lesson06.check_van_step((1.0, -1.2), **STEP)
    assert grade and repr(grade).startswith("correct")
    assert lesson06.check_van_step(np.array([1.0, -1.2]), **STEP)


def test_van_step_agrees_with_van_constraint():
    from minires import optim

    class OneLayer(mr.nn.Module):
        def __init__(self):
            super().__init__()
            self.alpha = mr.nn.Parameter(np.array([0.3, 0.95], dtype=np.float64))
            self.register_buffer("lagrange_multiplier", mr.tensor(np.array([-1.2, -1.2])))

    model = OneLayer()
    model.alpha.grad = mr.Tensor(np.array([0.4, 0.4]))
    optim.VANConstraint(model, multiplier_lr_fraction=0.1).step(0.1)
    for channel, alpha in enumerate([0.3, 0.95]):
        answer = (model.alpha.array[channel], model.lagrange_multiplier.array[channel])
        assert lesson06.check_van_step(answer, **{**STEP, "alpha": alpha})


def test_van_step_unclipped_alpha_fails_with_a_hint():
    grade = lesson06.check_van_step((1.03, -1.2), **STEP)
    assert not grade
    assert "clip" in grade.message


def test_van_step_multiplier_from_the_old_alpha_fails_with_a_hint():
    grade = lesson06.check_van_step((1.0, -1.2 + 0.01 * (0.95 - 1.0)), **STEP)
    assert not grade
    assert "new alpha" in grade.message


def test_van_step_multiplier_with_the_full_lr_fails_with_a_hint():
    grade = lesson06.check_van_step((0.38, -1.2 + 0.1 * (0.38 - 1.0)), **{**STEP, "alpha": 0.3})
    assert not grade
    assert "eta'" in grade.message


def test_van_step_bad_shapes_and_none_fail_without_raising():
    grade = lesson06.check_van_step(None, **STEP)
    assert not grade and "no answer yet" in grade.message
    grade = lesson06.check_van_step(1.0, **STEP)
    assert not grade and "pair" in grade.message
    assert not lesson06.check_van_step("alpha", **STEP)


def test_multiplier_after_steps():
    expected = -1.0 + 100 * 0.01 * (0.8 - 1.0)          # -1.2
    grade = lesson06.check_multiplier_after_steps(expected, alpha=0.8, steps=100, multiplier_lr=0.01)
    assert grade and repr(grade).startswith("correct")
    grade = lesson06.check_multiplier_after_steps(-0.8, alpha=0.8, steps=100, multiplier_lr=0.01)
    assert not grade and "can only go down" in grade.message
    grade = lesson06.check_multiplier_after_steps(-1.002, alpha=0.8, steps=100, multiplier_lr=0.01)
    assert not grade and "one step" in grade.message
    grade = lesson06.check_multiplier_after_steps(None, alpha=0.8, steps=100, multiplier_lr=0.01)
    assert not grade and "no answer yet" in grade.message


def test_alpha_gradient():
    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, 3, 4, 4))
    upstream = rng.standard_normal((2, 3, 4, 4))
    expected = np.array([-(upstream[:, c] * x[:, c]).sum() for c in range(3)])
    grade = lesson06.check_alpha_gradient(expected, x, upstream)
    assert grade and repr(grade).startswith("correct")
    grade = lesson06.check_alpha_gradient(-expected, x, upstream)
    assert not grade and "sign" in grade.message
    grade = lesson06.check_alpha_gradient(-(upstream * x).sum(axis=(2, 3)), x, upstream)
    assert not grade and "shape" in grade.message
    grade = lesson06.check_alpha_gradient(None, x, upstream)
    assert not grade and "no answer yet" in grade.message


TOY = dict(x_step=0.1, multiplier_step=0.05)                      # the lesson's toy run, from (0, -1)
TOY_ANSWER = [[0.1, -1.045], [0.1845, -1.085775]]


def test_toy_iterates_right_answer_passes():
    # x1 = 0 - 0.1 (0 - 1) = 0.1, lambda1 = -1 + 0.05 (0.1 - 1) = -1.045;
    # x2 = 0.1 - 0.1 (0.2 - 1.045) = 0.1845, lambda2 = -1.045 + 0.05 (0.1845 - 1) = -1.085775
    grade = lesson06.check_toy_iterates(TOY_ANSWER, **TOY)
    assert grade and repr(grade).startswith("correct")
    assert lesson06.check_toy_iterates(np.array(TOY_ANSWER), **TOY)


def test_toy_iterates_of_the_your_turn_exercise():
    """eta = 0.25, eta' = 0.5 from (0, 0): x stays at 0 in step 1 (lambda = 0), then moves."""
    setting = dict(x_step=0.25, multiplier_step=0.5, start_x=0.0, start_multiplier=0.0, steps=2)
    assert lesson06.check_toy_iterates([[0.0, -0.5], [0.125, -0.9375]], **setting)
    grade = lesson06.check_toy_iterates([[0.0, -0.5], [0.125, -1.0]], **setting)     # lambda from the old x
    assert not grade and "old x" in grade.message


def test_toy_iterates_reach_the_saddle_point():
    """Many steps of the same rule end at the constrained minimum x = 1, with lambda = -2."""
    iterates = lesson06.toy_iterates(0.1, 0.05, 0.0, -1.0, 2000)
    np.testing.assert_allclose(iterates[-1], [1.0, -2.0], atol=1e-9)
    np.testing.assert_allclose(lesson06.toy_iterates(0.1, 0.05, 0.0, -1.0, 2), TOY_ANSWER, rtol=1e-12)


def test_toy_iterates_typical_mistakes_fail_with_their_hints():
    old_x = lesson06.toy_iterates(0.1, 0.05, 0.0, -1.0, 2, simultaneous=True)
    descent = lesson06.toy_iterates(0.1, 0.05, 0.0, -1.0, 2, multiplier_sign=-1.0)
    no_multiplier = lesson06.toy_iterates(0.1, 0.05, 0.0, -1.0, 2, x_gradient=lambda x, multiplier: 2 * x)
    no_two = lesson06.toy_iterates(0.1, 0.05, 0.0, -1.0, 2, x_gradient=lambda x, multiplier: x + multiplier)
    same_step = lesson06.toy_iterates(0.1, 0.1, 0.0, -1.0, 2)
    for wrong, words in ((old_x, "old x"), (descent, "UP the gradient"), (no_multiplier, "two terms"),
                         (no_two, "2 x, not x"), (same_step, "not x's eta")):
        grade = lesson06.check_toy_iterates(wrong, **TOY)
        assert not grade and words in grade.message, grade.message
    grade = lesson06.check_toy_iterates(np.array(TOY_ANSWER).T, **TOY)
    assert not grade and "transposed" in grade.message
    grade = lesson06.check_toy_iterates(TOY_ANSWER[-1], **TOY)
    assert not grade and "one pair" in grade.message
    grade = lesson06.check_toy_iterates([[0.1, -1.045], [0.18, -1.08]], **TOY)
    assert not grade and "expected -1.08577" in grade.message


def test_toy_iterates_none_and_nonsense_fail_without_raising():
    grade = lesson06.check_toy_iterates(None, **TOY)
    assert not grade and "no answer yet" in grade.message
    assert not lesson06.check_toy_iterates("x", **TOY)
    assert not lesson06.check_toy_iterates([1.0, 2.0, 3.0], **TOY)
