"""The exercise checks of lesson 7: right answers pass, typical mistakes fail with a
useful message, and a missing answer fails without raising."""

import numpy as np

from minires.lessons.checks import lesson07


def identity_kernel(channels, kernel_size):
    kernel = np.zeros((channels, channels, kernel_size, kernel_size))
    centre = kernel_size // 2
    kernel[np.arange(channels), np.arange(channels), centre, centre] = 1.0
    return kernel


def test_identity_kernel_right_answer_passes():
    grade = lesson07.check_identity_kernel(identity_kernel(4, 5), channels=4, kernel_size=5)
    assert grade and repr(grade).startswith("correct")


def test_identity_kernel_with_every_input_channel_fails():
    answer = np.zeros((4, 4, 5, 5))
    answer[:, :, 2, 2] = 1.0
    grade = lesson07.check_identity_kernel(answer, channels=4, kernel_size=5)
    assert not grade and "own input" in grade.message


def test_identity_kernel_off_centre_fails():
    answer = np.zeros((4, 4, 5, 5))
    answer[np.arange(4), np.arange(4), 1, 1] = 1.0          # the 3x3 centre, not the 5x5 one
    grade = lesson07.check_identity_kernel(answer, channels=4, kernel_size=5)
    assert not grade and "centre" in grade.message


def test_identity_kernel_wrong_shape_fails():
    grade = lesson07.check_identity_kernel(identity_kernel(4, 3), channels=4, kernel_size=5)
    assert not grade and "shape" in grade.message


def test_identity_kernel_none_fails_without_raising():
    grade = lesson07.check_identity_kernel(None, channels=4, kernel_size=5)
    assert not grade and "no answer" in grade.message


def test_plain_kernel_right_answer_passes():
    weight = np.random.default_rng(0).normal(size=(3, 3, 3, 3))
    grade = lesson07.check_plain_kernel(weight + identity_kernel(3, 3), residual_kernel=weight)
    assert grade and repr(grade).startswith("correct")


def test_plain_kernel_without_the_identity_fails():
    weight = np.random.default_rng(0).normal(size=(3, 3, 3, 3))
    grade = lesson07.check_plain_kernel(weight.copy(), residual_kernel=weight)
    assert not grade and "add 1 at the ID entries" in grade.message


def test_plain_kernel_subtracting_the_identity_fails():
    weight = np.random.default_rng(0).normal(size=(3, 3, 3, 3))
    grade = lesson07.check_plain_kernel(weight - identity_kernel(3, 3), residual_kernel=weight)
    assert not grade and "to_residual" in grade.message


def test_plain_kernel_adding_one_everywhere_fails():
    weight = np.random.default_rng(0).normal(size=(3, 3, 3, 3))
    grade = lesson07.check_plain_kernel(weight + 1.0, residual_kernel=weight)
    assert not grade and "only at the ID" in grade.message


def test_plain_kernel_none_fails_without_raising():
    grade = lesson07.check_plain_kernel(None, residual_kernel=np.zeros((3, 3, 3, 3)))
    assert not grade and "no answer" in grade.message


def test_hardt_ma_std_right_answer_passes():
    grade = lesson07.check_hardt_ma_std(1 / (9 * 32), in_channels=16, out_channels=32, kernel_size=3)
    assert grade and repr(grade).startswith("correct")


def test_hardt_ma_std_divided_by_the_input_channels_fails():
    grade = lesson07.check_hardt_ma_std(1 / (9 * 16), in_channels=16, out_channels=32, kernel_size=3)
    assert not grade and "OUTPUT channels" in grade.message


def test_hardt_ma_std_kaiming_fails():
    grade = lesson07.check_hardt_ma_std((2 / (9 * 16)) ** 0.5, in_channels=16, out_channels=32, kernel_size=3)
    assert not grade and "Kaiming" in grade.message


def test_hardt_ma_std_with_a_square_root_fails():
    grade = lesson07.check_hardt_ma_std(1 / (9 * 32) ** 0.5, in_channels=16, out_channels=32, kernel_size=3)
    assert not grade and "no square root" in grade.message
    grade = lesson07.check_hardt_ma_std(1 / (9 * 16) ** 0.5, in_channels=16, out_channels=32, kernel_size=3)
    assert not grade and "no square root" in grade.message


def test_hardt_ma_std_variance_fails():
    grade = lesson07.check_hardt_ma_std(1 / (9 * 32) ** 2, in_channels=16, out_channels=32, kernel_size=3)
    assert not grade and "variance" in grade.message


def test_hardt_ma_std_k_instead_of_k_squared_fails():
    grade = lesson07.check_hardt_ma_std(1 / (3 * 32), in_channels=16, out_channels=32, kernel_size=3)
    assert not grade and "taps" in grade.message


def test_hardt_ma_std_none_and_junk_fail_without_raising():
    grade = lesson07.check_hardt_ma_std(None, in_channels=16, out_channels=32, kernel_size=3)
    assert not grade and "no answer" in grade.message
    assert not lesson07.check_hardt_ma_std("small", in_channels=16, out_channels=32, kernel_size=3)
    assert not lesson07.check_hardt_ma_std(np.ones(3), in_channels=16, out_channels=32, kernel_size=3)


def block_input_and_upstream():
    rng = np.random.default_rng(1)
    return np.maximum(rng.normal(size=(2, 3, 4, 4)), 0.0), rng.normal(size=(2, 3, 4, 4))


def test_zero_block_gradient_right_answer_passes():
    x, upstream = block_input_and_upstream()
    grade = lesson07.check_zero_block_input_gradient(upstream * (x > 0), x, upstream)
    assert grade and repr(grade).startswith("correct")


def test_zero_block_gradient_without_the_relu_mask_fails():
    x, upstream = block_input_and_upstream()
    grade = lesson07.check_zero_block_input_gradient(upstream.copy(), x, upstream)
    assert not grade and "ReLU" in grade.message


def test_zero_block_gradient_counted_twice_fails():
    x, upstream = block_input_and_upstream()
    grade = lesson07.check_zero_block_input_gradient(2 * upstream * (x > 0), x, upstream)
    assert not grade and "twice" in grade.message


def test_zero_block_gradient_all_zeros_fails():
    x, upstream = block_input_and_upstream()
    grade = lesson07.check_zero_block_input_gradient(np.zeros_like(upstream), x, upstream)
    assert not grade and "shortcut" in grade.message


def test_zero_block_gradient_none_and_junk_fail_without_raising():
    x, upstream = block_input_and_upstream()
    assert "no answer" in lesson07.check_zero_block_input_gradient(None, x, upstream).message
    assert not lesson07.check_zero_block_input_gradient("not an array", x, upstream)
