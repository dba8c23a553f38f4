"""reshape, flatten, transpose, permute, broadcast_to."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minires as mr
import minires.functional as F
from helpers import OpCase, check_gradients, compare_with_torch, on_device, random_array

CASES = [
    OpCase("reshape", lambda a: a.reshape(4, 6) * 2.0, lambda a: a.reshape(4, 6) * 2.0, [(2, 3, 4)]),
    OpCase("reshape_infer", lambda a: a.reshape(-1, 3), lambda a: a.reshape(-1, 3), [(2, 3, 2)]),
    OpCase("reshape_tuple", lambda a: a.reshape((3, 2)), lambda a: a.reshape((3, 2)), [(6,)]),
    OpCase("flatten", lambda a: a.flatten(1), lambda a: a.flatten(1), [(2, 3, 2, 2)]),
    OpCase("flatten_middle", lambda a: F.flatten(a, 1, 2), lambda a: a.flatten(1, 2), [(2, 3, 2, 2)]),
    OpCase("transpose", lambda a: a.transpose(0, 2), lambda a: a.transpose(0, 2), [(2, 3, 4)]),
    OpCase("transpose_negative", lambda a: a.transpose(-1, -2), lambda a: a.transpose(-1, -2), [(2, 3, 4)]),
    OpCase("T", lambda a: a.T, lambda a: a.T, [(2, 3)]),
    OpCase("permute", lambda a: a.permute(0, 2, 3, 1), lambda a: a.permute(0, 2, 3, 1), [(2, 3, 4, 2)]),
    OpCase("permute_tuple", lambda a: a.permute((2, 0, 1)), lambda a: a.permute((2, 0, 1)), [(2, 3, 4)]),
    OpCase("broadcast_to", lambda a: F.broadcast_to(a, (2, 3, 4)),
           lambda a: a.broadcast_to((2, 3, 4)), [(3, 1)]),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_gradients(case, device):
    check_gradients(case.fn, case.host_inputs(), device)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_matches_torch(case, torch):
    compare_with_torch(torch, case.fn, case.torch_fn, case.host_inputs())


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(1, 3), min_size=1, max_size=4).flatmap(
    lambda shape: st.tuples(st.just(tuple(shape)), st.permutations(range(len(shape))))))
def test_permute_matches_numpy_transpose(shape_and_dims):
    shape, dims = shape_and_dims
    data = random_array(shape)
    x = on_device(data, "cpu")
    y = x.permute(*dims)
    np.testing.assert_array_equal(y.numpy(), data.transpose(dims))
    assert mr.gradcheck(lambda t: t.permute(*dims), x)


def test_reshape_to_a_wrong_size_names_both_shapes():
    x = on_device(np.ones((2, 3)), "cpu")
    with pytest.raises(ValueError, match=r"reshape: cannot reshape a tensor of shape \(2, 3\) \(6 elements\) into \(4, 2\)"):
        x.reshape(4, 2)
    with pytest.raises(ValueError, match="reshape"):
        x.reshape(-1, -1)
    with pytest.raises(ValueError, match="reshape"):
        x.reshape(-1, 4)


def test_permute_needs_a_permutation():
    x = on_device(np.ones((2, 3, 4)), "cpu")
    with pytest.raises(ValueError, match=r"permute: dims \(0, 0, 1\) are not a permutation"):
        x.permute(0, 0, 1)
    with pytest.raises(IndexError, match="permute: dim 3 is out of range"):
        x.permute(0, 1, 3)


def test_transpose_is_torch_transpose_not_numpy():
    x = on_device(np.ones((2, 3, 4)), "cpu")
    assert x.transpose(0, 1).shape == (3, 2, 4)


def test_broadcast_to_an_impossible_shape():
    x = on_device(np.ones((3, 2)), "cpu")
    with pytest.raises(ValueError, match="broadcast_to"):
        F.broadcast_to(x, (3, 4))
