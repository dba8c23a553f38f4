"""sum, mean, amax, amin (with dim/keepdim and NumPy's axis/keepdims), argmax, argmin.

max/min with a dim, which return (values, indices), and topk: test_selection.py."""

import numpy as np
import pytest

import minires as mr
import minires.functional as F
from helpers import OpCase, check_gradients, compare_with_torch, on_device

CASES = [
    OpCase("sum_all", lambda a: a.sum(), lambda a: a.sum(), [(3, 4)]),
    OpCase("sum_dim", lambda a: a.sum(dim=1), lambda a: a.sum(dim=1), [(3, 4, 2)]),
    OpCase("sum_dims_keepdim", lambda a: a.sum(dim=(0, 2), keepdim=True),
           lambda a: a.sum(dim=(0, 2), keepdim=True), [(3, 4, 2)]),
    OpCase("sum_negative_dim", lambda a: a.sum(-1), lambda a: a.sum(-1), [(3, 4)]),
    OpCase("sum_numpy_names", lambda a: a.sum(axis=0, keepdims=True),
           lambda a: a.sum(dim=0, keepdim=True), [(3, 4)]),
    OpCase("mean_all", lambda a: a.mean(), lambda a: a.mean(), [(3, 4)]),
    OpCase("mean_dims", lambda a: F.mean(a, dim=(1, 2)), lambda a: a.mean(dim=(1, 2)), [(2, 3, 4)]),
    OpCase("mean_keepdim", lambda a: a.mean(1, keepdim=True), lambda a: a.mean(1, keepdim=True), [(2, 3)]),
    OpCase("max_all", lambda a: a.max(), lambda a: a.max(), [(3, 4)]),
    OpCase("amax_all", lambda a: a.amax(), lambda a: a.amax(), [(3, 4)]),
    OpCase("amax_dim", lambda a: a.amax(dim=1), lambda a: a.amax(dim=1), [(3, 4, 2)]),
    OpCase("amax_dims_keepdim", lambda a: a.amax(dim=(0, 2), keepdim=True),
           lambda a: a.amax(dim=(0, 2), keepdim=True), [(3, 4, 2)]),
    OpCase("amax_functional", lambda a: F.amax(a, 0), lambda a: a.amax(0), [(3, 4)]),
    OpCase("min_all", lambda a: a.min(), lambda a: a.min(), [(3, 4)]),
    OpCase("amin_dim", lambda a: a.amin(dim=-1), lambda a: a.amin(dim=-1), [(3, 4, 2)]),
    OpCase("amin_dims_keepdim", lambda a: F.amin(a, dim=(0, 1), keepdim=True),
           lambda a: a.amin(dim=(0, 1), keepdim=True), [(3, 4, 2)]),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_gradients(case, device):
    check_gradients(case.fn, case.host_inputs(), device)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_matches_torch(case, torch):
    compare_with_torch(torch, case.fn, case.torch_fn, case.host_inputs())


def test_amax_amin_and_max_share_the_gradient_among_ties_like_torch(torch):
    data = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])
    compare_with_torch(torch, lambda a: a.amax(dim=1), lambda a: a.amax(dim=1), [data])
    compare_with_torch(torch, lambda a: a.amin(dim=0), lambda a: a.amin(dim=0), [data])
    compare_with_torch(torch, lambda a: a.max(), lambda a: a.max(), [data])     # no dim: shared
    compare_with_torch(torch, lambda a: a.min(), lambda a: a.min(), [-data])


def test_reductions_return_arrays_not_scalars(device):
    x = on_device(np.arange(6.0).reshape(2, 3), device)
    for result in (x.sum(), x.mean(), x.max(), x.amin()):
        assert result.shape == () and mr.backend.is_array(result.array)
        assert result.device == device


def test_dim_and_axis_together_is_an_error():
    x = on_device(np.ones((2, 3)), "cpu")
    with pytest.raises(TypeError, match="sum: give dim or axis"):
        x.sum(dim=0, axis=1)


def test_dim_out_of_range_names_the_op_and_shape():
    x = on_device(np.ones((2, 3)), "cpu")
    with pytest.raises(IndexError, match=r"mean: dim 2 is out of range .* \(shape \(2, 3\)\)"):
        x.mean(dim=2)


def test_max_over_an_empty_dimension_is_an_error():
    x = on_device(np.ones((2, 0)), "cpu")
    with pytest.raises(ValueError, match="amax: cannot reduce over an empty dimension"):
        x.amax(dim=1)
    with pytest.raises(ValueError, match="amin: cannot reduce over an empty dimension"):
        x.amin()
    with pytest.raises(ValueError, match="max: cannot reduce over an empty dimension"):
        x.max(dim=1)


def test_argmax(device):
    x = on_device(np.array([[1.0, 5.0, 2.0], [7.0, 0.0, 1.0]]), device)
    assert x.argmax().item() == 3
    np.testing.assert_array_equal(x.argmax(dim=1).numpy(), [1, 0])
    assert x.argmax(dim=0, keepdim=True).shape == (1, 3)
    assert x.argmax(dim=1).device == device


def test_argmin_and_argmax_pick_the_first_of_equal_values_like_torch(device, torch):
    data = np.array([[1.0, 3.0, 3.0], [2.0, 0.0, 0.0]])
    x = on_device(data, device)
    expected = torch.tensor(data)
    for ours, theirs in [(x.argmax(dim=1), expected.argmax(dim=1)), (x.argmin(dim=1), expected.argmin(dim=1)),
                         (x.argmin(), expected.argmin()), (x.argmin(0, keepdim=True), expected.argmin(0, keepdim=True))]:
        assert ours.dtype == mr.int64 and ours.shape == tuple(theirs.shape)
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
