"""matmul: matrices, vectors, batches with broadcasting; shape errors."""

import numpy as np
import pytest

import minires.functional as F
from helpers import OpCase, check_gradients, compare_with_torch, on_device

CASES = [
    OpCase("matrix_matrix", F.matmul, lambda a, b: a @ b, [(3, 4), (4, 2)]),
    OpCase("vector_matrix", F.matmul, lambda a, b: a @ b, [(4,), (4, 2)]),
    OpCase("matrix_vector", F.matmul, lambda a, b: a @ b, [(3, 4), (4,)]),
    OpCase("vector_vector", F.matmul, lambda a, b: a @ b, [(4,), (4,)]),
    OpCase("batched", F.matmul, lambda a, b: a @ b, [(2, 3, 4), (2, 4, 5)]),
    OpCase("batch_broadcast", F.matmul, lambda a, b: a @ b, [(2, 1, 3, 4), (3, 4, 2)]),
    OpCase("batch_times_matrix", lambda a, b: a @ b, lambda a, b: a @ b, [(2, 3, 4), (4, 5)]),
    OpCase("vector_times_batch", F.matmul, lambda a, b: a @ b, [(4,), (2, 4, 3)]),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_gradients(case, device):
    check_gradients(case.fn, case.host_inputs(), device)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_matches_torch(case, torch):
    compare_with_torch(torch, case.fn, case.torch_fn, case.host_inputs())


def test_inner_dimension_mismatch_names_both_shapes(device):
    a, b = on_device(np.ones((3, 4)), device), on_device(np.ones((5, 6)), device)
    with pytest.raises(ValueError, match=r"matmul: shapes \(3, 4\) and \(5, 6\) do not fit.*\(4\).*\(5\)"):
        a @ b


def test_batch_dimensions_that_cannot_broadcast():
    a, b = on_device(np.ones((2, 3, 4)), "cpu"), on_device(np.ones((5, 4, 2)), "cpu")
    with pytest.raises(ValueError, match=r"matmul \(batch dimensions\): shapes \(2,\) and \(5,\)"):
        a @ b


def test_scalar_operand_is_refused():
    a = on_device(np.ones(3), "cpu")
    with pytest.raises(ValueError, match="matmul: both inputs need at least one dimension"):
        F.matmul(a, 2.0)
