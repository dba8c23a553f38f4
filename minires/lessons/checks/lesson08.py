"""Checks for the exercises of lesson 8, "Scaling the shortcut".

With shortcut scales s_l, x_{l+1} = s_l x_l + F_l(x_l), the shortcut's share of the
backward signal from the output of block l + B - 1 down to the input of block l is the
product of the B scales, s^B when they are all s. Each function takes the reader's
answer and the exercise's inputs, computes the expected answer itself, and returns a
Grade; none raises on a wrong or missing answer.
"""

import math

import numpy as np

from minires.lessons.grading import Grade, as_host_array, grade_number, is_close, known_mistake, readable_number


def check_shortcut_factor(answer, shortcut_scales):
    """Expects the product of ``shortcut_scales``: the factor the shortcut path puts on
    G_{B+1} = dL/dx_{B+1} on its way down through blocks with these scales s_1, ..., s_B."""
    scales = as_host_array(shortcut_scales, "shortcut_scales").reshape(-1)
    expected = float(np.prod(scales))
    name = f"shortcut factor over {scales.size} blocks"
    value = readable_number(answer)
    if is_close(value, expected, atol=0.0):               # also a one-element array, as readable_number reads it
        return Grade(True, f"{name} = {value:.6g}")
    if value is not None:
        mistakes = [
            (float(np.sum(scales)), "you added the scales; going down through block l multiplies the "
                                    "gradient by s_l, so the factors multiply"),
            (float(np.mean(scales)), "that is the mean scale; the factor is the product of the scales"),
            (float(np.prod(scales[1:])), "you left out the first block's scale s_1; the gradient at the "
                                         "input of block 1 has passed every block, s_1 included"),
            (float(np.prod(scales[:-1])), "you left out the last block's scale s_B; count one factor "
                                          "for every block"),
            (float(scales[-1]) ** scales.size, "that is s_B to the power B; the blocks have different "
                                               "scales, multiply them all"),
            (1.0 / expected, "that is 1 / the product; going down through a block multiplies the "
                             "gradient by its s, it does not divide"),
        ]
        mistake = known_mistake(name, value, expected, mistakes, atol=0.0)
        if mistake is not None:
            return mistake
    return grade_number(name, answer, expected, rtol=1e-6, atol=0.0, hint="the product s_1 s_2 ... s_B")


def check_backward_scale(answer, shortcut_scale, blocks):
    """Expects shortcut_scale ** blocks: the factor the shortcut path puts on the top
    gradient on its way down ``blocks`` blocks with a constant shortcut scale."""
    expected = float(shortcut_scale) ** int(blocks)
    name = f"backward scale after {blocks} blocks"
    value = readable_number(answer)
    if value is not None:
        if math.isclose(value, shortcut_scale * blocks, rel_tol=1e-6):
            return Grade(False, f"{name}: you multiplied s by B ({value:.6g}); each block multiplies "
                         f"the gradient by s, so B blocks give s to the power B")
        if blocks > 1 and math.isclose(value, float(shortcut_scale) ** (blocks - 1), rel_tol=1e-6):
            return Grade(False, f"{name}: that is s^(B - 1); count one factor s for every block, "
                         f"{blocks} in all")
        if math.isclose(value, 1.0 / expected, rel_tol=1e-6) and not math.isclose(expected, 1.0):
            return Grade(False, f"{name}: that is 1 / s^B; going down through a block multiplies "
                         f"the gradient by s, it does not divide")
    return grade_number(name, answer, expected, rtol=1e-6, atol=0.0, hint="s ** B")


def check_blocks_until_below(answer, shortcut_scale, threshold):
    """Expects the smallest int B with shortcut_scale ** B < threshold (0 < s < 1)."""
    blocks, factor = 0, 1.0
    while factor >= threshold:                           # the smallest B, counted as the definition says
        blocks += 1
        factor *= shortcut_scale
    name = f"blocks until {shortcut_scale}^B < {threshold:g}"
    value = readable_number(answer)
    if value is None:
        return grade_number(name, answer, blocks)
    if value != round(value):
        return Grade(False, f"{name}: {value:g} is not a whole number of blocks; round "
                     f"log({threshold:g}) / log({shortcut_scale}) up")
    if value == blocks - 1:
        return Grade(False, f"{name}: after {int(value)} blocks the factor is "
                     f"{shortcut_scale ** value:.4g}, not yet below {threshold:g}; one block more")
    if value < blocks - 1 or value > blocks:
        return Grade(False, f"{name}: you have {int(value)}; the factor {shortcut_scale}^B falls "
                     f"below {threshold:g} at B = log({threshold:g}) / log({shortcut_scale}), rounded up")
    return Grade(True, f"{name}: {blocks} ({shortcut_scale}^{blocks} = {shortcut_scale ** blocks:.4g})")


def check_scale_for_factor(answer, blocks, factor):
    """Expects s = factor ** (1 / blocks): the constant shortcut scale whose product over
    ``blocks`` blocks is ``factor``."""
    expected = float(factor) ** (1.0 / blocks)
    name = f"shortcut scale for a factor {factor:g} over {blocks} blocks"
    value = readable_number(answer)
    if value is not None:
        if math.isclose(value, factor / blocks, rel_tol=1e-6):
            return Grade(False, f"{name}: you divided the factor by B; the factors of the blocks "
                         f"multiply, so s^{blocks} = {factor:g} and s = {factor:g}^(1/{blocks})")
        if math.isclose(value, 1.0 - factor / blocks, rel_tol=1e-6):
            return Grade(False, f"{name}: 1 - factor / B is a first-order guess; solve "
                         f"s^{blocks} = {factor:g} exactly")
    return grade_number(name, answer, expected, rtol=1e-6, atol=0.0, hint=f"solve s^{blocks} = {factor:g}")
