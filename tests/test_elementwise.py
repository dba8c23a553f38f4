"""exp, log, sqrt."""

import pytest

from helpers import OpCase, check_gradients, compare_with_torch

CASES = [
    OpCase("exp", lambda a: a.exp(), lambda a: a.exp(), [(3, 4)]),
    OpCase("log", lambda a: a.log(), lambda a: a.log(), [(3, 4)], positive=True),
    OpCase("sqrt", lambda a: a.sqrt(), lambda a: a.sqrt(), [(2, 5)], positive=True),
    OpCase("exp_0d", lambda a: a.exp(), lambda a: a.exp(), [()]),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_gradients(case, device):
    check_gradients(case.fn, case.host_inputs(), device)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_matches_torch(case, torch):
    compare_with_torch(torch, case.fn, case.torch_fn, case.host_inputs())
