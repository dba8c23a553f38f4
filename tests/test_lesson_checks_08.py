"""The exercise checks of lesson 8: right answers pass, typical mistakes fail with a
useful message, and a missing answer fails without raising."""

import math

import numpy as np

from minires.lessons.checks import lesson08


SCALES = [1.2, 0.9, 0.8, 1.1, 0.7]


def test_shortcut_factor_right_answer_passes():
    grade = lesson08.check_shortcut_factor(np.prod(SCALES), shortcut_scales=SCALES)
    assert grade and repr(grade).startswith("correct")


def test_shortcut_factor_accepts_an_array_of_one_value():
    assert lesson08.check_shortcut_factor(np.array([np.prod(SCALES)]), shortcut_scales=np.array(SCALES))


def test_shortcut_factor_sum_fails():
    grade = lesson08.check_shortcut_factor(sum(SCALES), shortcut_scales=SCALES)
    assert not grade and "multiply" in grade.message


def test_shortcut_factor_mean_fails():
    grade = lesson08.check_shortcut_factor(np.mean(SCALES), shortcut_scales=SCALES)
    assert not grade and "mean" in grade.message


def test_shortcut_factor_one_block_left_out_fails():
    grade = lesson08.check_shortcut_factor(np.prod(SCALES[1:]), shortcut_scales=SCALES)
    assert not grade and "s_1" in grade.message
    grade = lesson08.check_shortcut_factor(np.prod(SCALES[:-1]), shortcut_scales=SCALES)
    assert not grade and "s_B" in grade.message


def test_shortcut_factor_last_scale_to_the_power_fails():
    grade = lesson08.check_shortcut_factor(SCALES[-1] ** len(SCALES), shortcut_scales=SCALES)
    assert not grade and "different" in grade.message


def test_shortcut_factor_inverse_fails():
    grade = lesson08.check_shortcut_factor(1 / np.prod(SCALES), shortcut_scales=SCALES)
    assert not grade and "does not divide" in grade.message


def test_shortcut_factor_none_and_junk_fail_without_raising():
    assert "no answer" in lesson08.check_shortcut_factor(None, shortcut_scales=SCALES).message
    assert not lesson08.check_shortcut_factor("small", shortcut_scales=SCALES)
    assert not lesson08.check_shortcut_factor(np.cumprod(SCALES), shortcut_scales=SCALES)


def test_backward_scale_right_answer_passes():
    grade = lesson08.check_backward_scale(0.8 ** 18, shortcut_scale=0.8, blocks=18)
    assert grade and repr(grade).startswith("correct")


def test_backward_scale_accepts_a_numpy_scalar():
    assert lesson08.check_backward_scale(np.float64(0.8) ** 18, shortcut_scale=0.8, blocks=18)


def test_backward_scale_product_instead_of_power_fails():
    grade = lesson08.check_backward_scale(0.8 * 18, shortcut_scale=0.8, blocks=18)
    assert not grade and "to the power B" in grade.message


def test_backward_scale_one_factor_short_fails():
    grade = lesson08.check_backward_scale(0.8 ** 17, shortcut_scale=0.8, blocks=18)
    assert not grade and "s^(B - 1)" in grade.message


def test_backward_scale_inverse_fails():
    grade = lesson08.check_backward_scale(0.8 ** -18, shortcut_scale=0.8, blocks=18)
    assert not grade and "does not divide" in grade.message


def test_backward_scale_none_and_junk_fail_without_raising():
    assert "no answer" in lesson08.check_backward_scale(None, shortcut_scale=0.8, blocks=18).message
    assert not lesson08.check_backward_scale("a lot", shortcut_scale=0.8, blocks=18)


def test_blocks_until_below_right_answer_passes():
    expected = math.ceil(math.log(1e-3) / math.log(0.9))         # 66: 0.9^65 = 1.06e-3, 0.9^66 = 9.6e-4
    grade = lesson08.check_blocks_until_below(expected, shortcut_scale=0.9, threshold=1e-3)
    assert grade and repr(grade).startswith("correct") and "66" in grade.message


def test_blocks_until_below_one_short_fails():
    grade = lesson08.check_blocks_until_below(65, shortcut_scale=0.9, threshold=1e-3)
    assert not grade and "one block more" in grade.message


def test_blocks_until_below_unrounded_logarithm_fails():
    grade = lesson08.check_blocks_until_below(math.log(1e-3) / math.log(0.9), shortcut_scale=0.9, threshold=1e-3)
    assert not grade and "not a whole number" in grade.message


def test_blocks_until_below_far_off_fails():
    grade = lesson08.check_blocks_until_below(30, shortcut_scale=0.9, threshold=1e-3)
    assert not grade and "rounded up" in grade.message


def test_blocks_until_below_none_fails_without_raising():
    grade = lesson08.check_blocks_until_below(None, shortcut_scale=0.9, threshold=1e-3)
    assert not grade and "no answer" in grade.message


def test_scale_for_factor_right_answer_passes():
    grade = lesson08.check_scale_for_factor(0.5 ** (1 / 54), blocks=54, factor=0.5)
    assert grade and repr(grade).startswith("correct")


def test_scale_for_factor_division_fails():
    grade = lesson08.check_scale_for_factor(0.5 / 54, blocks=54, factor=0.5)
    assert not grade and "multiply" in grade.message


def test_scale_for_factor_first_order_guess_fails():
    grade = lesson08.check_scale_for_factor(1 - 0.5 / 54, blocks=54, factor=0.5)
    assert not grade and "exactly" in grade.message


def test_scale_for_factor_none_fails_without_raising():
    grade = lesson08.check_scale_for_factor(None, blocks=54, factor=0.5)
    assert not grade and "no answer" in grade.message
