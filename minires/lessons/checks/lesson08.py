"""Checks for the exercises of lesson 8, "Scaling the shortcut".

With a constant shortcut scale s, x_{i+1} = s x_i + F_i(x_i), the shortcut's share of
the backward signal from block l + n down to block l is s^n. Each function takes the
reader's answer and the exercise's inputs, computes the expected answer itself, and
returns a Grade; none raises on a wrong or missing answer.
"""

import math

from minires.lessons.grading import Grade, grade_number, readable_number




def check_backward_scale(answer, shortcut_scale, blocks):
    """Expects shortcut_scale ** blocks: the factor the shortcut path puts on dL/dx_L on
    its way down ``blocks`` blocks with a constant shortcut scale."""
    expected = float(shortcut_scale) ** int(blocks)
    name = f"backward scale after {blocks} blocks"
    value = readable_number(answer)
    if value is not None:
        if math.isclose(value, shortcut_scale * blocks, rel_tol=1e-6):
            return Grade(False, f"{name}: you multiplied s by n ({value:.6g}); each block multiplies "
                         f"the gradient by s, so n blocks give s to the power n")
        if blocks > 1 and math.isclose(value, float(shortcut_scale) ** (blocks - 1), rel_tol=1e-6):
            return Grade(False, f"{name}: that is s^(n - 1); count one factor s for every block, "
                         f"{blocks} in all")
        if math.isclose(value, 1.0 / expected, rel_tol=1e-6) and not math.isclose(expected, 1.0):
            return Grade(False, f"{name}: that is 1 / s^n; going down through a block multiplies "
                         f"the gradient by s, it does not divide")
    return grade_number(name, answer, expected, rtol=1e-6, atol=0.0, hint="s ** n")


def check_blocks_until_below(answer, shortcut_scale, threshold):
    """Expects the smallest int n with shortcut_scale ** n < threshold (0 < s < 1)."""
    blocks, factor = 0, 1.0
    while factor >= threshold:                           # the smallest n, counted as the definition says
        blocks += 1
        factor *= shortcut_scale
    name = f"blocks until {shortcut_scale}^n < {threshold:g}"
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
        return Grade(False, f"{name}: you have {int(value)}; the factor {shortcut_scale}^n falls "
                     f"below {threshold:g} at n = log({threshold:g}) / log({shortcut_scale}), rounded up")
    return Grade(True, f"{name}: {blocks} ({shortcut_scale}^{blocks} = {shortcut_scale ** blocks:.4g})")


def check_scale_for_factor(answer, blocks, factor):
    """Expects s = factor ** (1 / blocks): the constant shortcut scale whose product over
    ``blocks`` blocks is ``factor``."""
    expected = float(factor) ** (1.0 / blocks)
    name = f"shortcut scale for a factor {factor:g} over {blocks} blocks"
    value = readable_number(answer)
    if value is not None:
        if math.isclose(value, factor / blocks, rel_tol=1e-6):
            return Grade(False, f"{name}: you divided the factor by n; the factors of the blocks "
                         f"multiply, so s^{blocks} = {factor:g} and s = {factor:g}^(1/{blocks})")
        if math.isclose(value, 1.0 - factor / blocks, rel_tol=1e-6):
            return Grade(False, f"{name}: 1 - factor / n is a first-order guess; solve "
                         f"s^{blocks} = {factor:g} exactly")
    return grade_number(name, answer, expected, rtol=1e-6, atol=0.0, hint=f"solve s^{blocks} = {factor:g}")
