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
