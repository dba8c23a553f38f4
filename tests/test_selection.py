"""max/min with a dim ((values, indices), as torch.max), topk, and TakeAlongDim."""

import numpy as np
import pytest

import minires as mr
import minires.functional as F
from helpers import OpCase, check_gradients, compare_with_torch, on_device, random_array
from test_pytorch_scripts import load_script

# Values only (the indices are integers): each case is differentiable.
CASES = [
    OpCase("max_dim", lambda a: a.max(dim=1).values, lambda a: a.max(dim=1).values, [(3, 4, 2)]),
    OpCase("max_dim_keepdim", lambda a: a.max(0, keepdim=True)[0], lambda a: a.max(0, keepdim=True)[0],
           [(3, 4)]),
    OpCase("max_negative_dim", lambda a: F.max(a, -1).values, lambda a: a.max(-1).values, [(2, 5)]),
    OpCase("min_dim", lambda a: a.min(1).values, lambda a: a.min(1).values, [(3, 4, 2)]),
    OpCase("topk_last", lambda a: a.topk(2).values, lambda a: a.topk(2).values, [(3, 5)]),
    OpCase("topk_dim0_smallest", lambda a: F.topk(a, 3, dim=0, largest=False).values,
           lambda a: a.topk(3, dim=0, largest=False).values, [(4, 2, 3)]),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_gradients(case, device):
    check_gradients(case.fn, case.host_inputs(), device)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_matches_torch(case, torch):
    compare_with_torch(torch, case.fn, case.torch_fn, case.host_inputs())


@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("name", ["max", "min"])
def test_values_and_indices_match_torch(name, keepdim, device, torch):
    data = random_array((3, 4, 2))
    for dim in (0, 1, -1):
        ours = getattr(on_device(data, device), name)(dim, keepdim)
        theirs = getattr(torch.tensor(data), name)(dim, keepdim)
        assert isinstance(ours, tuple) and ours._fields == ("values", "indices")
        values, indices = ours                                  # unpacks as a pair
        assert values.shape == tuple(theirs.values.shape) and values.dtype == mr.float64
        assert indices.shape == tuple(theirs.indices.shape) and indices.dtype == mr.int64
        assert values.device == indices.device == device
        np.testing.assert_array_equal(values.numpy(), theirs.values.numpy())
        np.testing.assert_array_equal(indices.numpy(), theirs.indices.numpy())


def test_max_with_dim_gives_the_gradient_to_the_first_of_equal_values_like_torch(torch):
    data = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])
    compare_with_torch(torch, lambda a: a.max(1).values, lambda a: a.max(1).values, [data])
    compare_with_torch(torch, lambda a: a.min(0).values, lambda a: a.min(0).values, [data])
    np.testing.assert_array_equal(on_device(data, "cpu").max(1).indices.numpy(), [1, 0])


def test_the_accuracy_idiom(device, torch):
    logits, labels = random_array((8, 10)), np.arange(8) % 10
    _, predicted = on_device(logits, device).max(1)
    correct = predicted.eq(mr.tensor(labels, device=device)).sum().item()
    expected = torch.tensor(logits).max(1)[1].eq(torch.tensor(labels)).sum().item()
    assert correct == expected


def test_max_of_integers_and_of_a_0d_tensor_like_torch(torch):
    values, indices = mr.tensor([3, 7, 7, 1]).max(0)
    assert (values.item(), indices.item(), values.dtype) == (7, 1, mr.int64)
    values, indices = mr.tensor(5.0).max(0)
    expected = torch.tensor(5.0).max(0)
    assert values.shape == tuple(expected.values.shape) == () and indices.item() == expected.indices.item()


def test_max_without_dim_is_one_value(device):
    x = on_device(random_array((3, 4)), device)
    assert x.max().shape == () and x.min().shape == ()
    assert x.max().item() == random_array((3, 4)).max()


def test_max_over_several_dims_asks_for_amax():
    with pytest.raises(TypeError, match=r"max: dim must be one int .* use amax\(x, dim\)"):
        mr.tensor(np.ones((2, 3))).max(dim=(0, 1))


@pytest.mark.parametrize("largest", [True, False])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_topk_matches_torch(largest, dim, device, torch):
    data = random_array((4, 5, 3))
    k = 2
    values, indices = on_device(data, device).topk(k, dim=dim, largest=largest)
    expected = torch.tensor(data).topk(k, dim=dim, largest=largest)
    assert values.shape == tuple(expected.values.shape) and indices.dtype == mr.int64
    np.testing.assert_array_equal(values.numpy(), expected.values.numpy())
    np.testing.assert_array_equal(indices.numpy(), expected.indices.numpy())


def test_topk_unsorted_holds_the_same_elements_as_torch(torch):
    data = np.array([5.0, 1.0, 3.0, 2.0, 4.0])
    values, indices = mr.tensor(data).topk(3, sorted=False)
    expected = torch.tensor(data).topk(3, sorted=False)
    assert sorted(values.tolist()) == sorted(expected.values.tolist())
    assert sorted(indices.tolist()) == sorted(expected.indices.tolist())


def test_topk_of_integers_and_k_zero_like_torch(torch):
    data = np.array([[3, 9, 1], [200, 0, 7]], dtype=np.uint8)
    values, indices = mr.tensor(data).topk(2)
    expected = torch.tensor(data).topk(2)
    assert values.dtype == mr.backend.as_dtype("uint8")
    np.testing.assert_array_equal(values.numpy(), expected.values.numpy())
    np.testing.assert_array_equal(indices.numpy(), expected.indices.numpy())
    assert mr.tensor([1.0, 2.0]).topk(0).values.shape == tuple(torch.ones(2).topk(0).values.shape)


def test_the_top5_accuracy_helper_of_pytorch_scripts(torch):
    """The helper of many PyTorch CIFAR scripts (tests/pytorch_scripts/trainer.py), run as
    written for torch and with its imports swapped for minires."""
    logits, labels = random_array((16, 10)), np.arange(16) % 10
    ours = load_script("trainer", "minires").accuracy(mr.tensor(logits), mr.tensor(labels), topk=(1, 5))
    theirs = load_script("trainer", "torch").accuracy(torch.tensor(logits), torch.tensor(labels), topk=(1, 5))
    np.testing.assert_allclose([value.item() for value in ours], [value.item() for value in theirs])


def test_topk_errors():
    x = mr.tensor([1.0, 2.0, 3.0])
    with pytest.raises(RuntimeError, match=r"topk: k=4 is out of range for dim -1 of size 3"):
        x.topk(4)
    with pytest.raises(TypeError, match="topk: k must be an int"):
        x.topk(1.5)
    with pytest.raises(IndexError, match="topk: dim 1 is out of range"):
        x.topk(1, dim=1)
