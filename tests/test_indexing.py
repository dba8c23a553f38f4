"""getitem (basic and integer-array indexing), concatenate, pad."""

import numpy as np
import pytest

import minires as mr
import minires.functional as F
from helpers import OpCase, check_gradients, compare_with_torch, on_device

INDEX = np.array([2, 0, 2, 1])          # repeats 2: its gradient must add up


# PyTorch twins that need the torch module itself; called only when torch is installed.
def torch_cat(*tensors, dim=0):
    import torch
    return torch.cat(tensors, dim=dim)


def torch_pad(tensor, *arguments, **options):
    import torch
    return torch.nn.functional.pad(tensor, *arguments, **options)


CASES = [
    OpCase("int", lambda a: a[1], lambda a: a[1], [(3, 4)]),
    OpCase("slice", lambda a: a[1:, ::2], lambda a: a[1:, ::2], [(3, 4)]),
    OpCase("negative_and_none", lambda a: a[-1, None, :2], lambda a: a[-1, None, :2], [(3, 4)]),
    OpCase("ellipsis", lambda a: a[..., 1], lambda a: a[..., 1], [(2, 3, 4)]),
    OpCase("int_array_repeats", lambda a: a[INDEX], lambda a: a[INDEX], [(3, 4)]),
    OpCase("list_index", lambda a: a[[0, 0, 1]], lambda a: a[[0, 0, 1]], [(3, 2)]),
    OpCase("two_arrays", lambda a: a[INDEX, [0, 1, 3, 3]], lambda a: a[INDEX, [0, 1, 3, 3]], [(3, 4)]),
    OpCase("slice_and_array", lambda a: a[:, INDEX], lambda a: a[:, INDEX], [(2, 3)]),
    OpCase("boolean_mask", lambda a: a[np.array([True, False, True])],
           lambda a: a[np.array([True, False, True])], [(3, 2)]),
    OpCase("concatenate", lambda a, b: F.concatenate([a, b], dim=1),
           lambda a, b: torch_cat(a, b, dim=1), [(2, 3), (2, 1)]),
    OpCase("cat_three_dim0", lambda a, b, c: F.cat([a, b, c]),
           torch_cat, [(1, 2), (3, 2), (2, 2)]),
    OpCase("pad_last", lambda a: F.pad(a, (1, 2)), lambda a: torch_pad(a, (1, 2)), [(2, 3)]),
    OpCase("pad_hw_value", lambda a: F.pad(a, (1, 1, 2, 0), value=0.5),
           lambda a: torch_pad(a, (1, 1, 2, 0), value=0.5), [(2, 1, 3, 2)]),
    OpCase("pad_mode_constant", lambda a: F.pad(a, (0, 1, 1, 0), "constant", -1.5),
           lambda a: torch_pad(a, (0, 1, 1, 0), "constant", -1.5), [(2, 3, 2)]),
    OpCase("pad_value_none", lambda a: F.pad(a, (2, 0), mode="constant", value=None),
           lambda a: torch_pad(a, (2, 0), mode="constant", value=None), [(3, 2)]),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_gradients(case, device):
    check_gradients(case.fn, case.host_inputs(), device)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_matches_torch(case, torch):
    compare_with_torch(torch, case.fn, case.torch_fn, case.host_inputs())


def test_repeated_indices_accumulate(device):
    x = on_device(np.zeros(3), device)
    x[np.array([0, 2, 2, 2])].sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 0.0, 3.0])


def test_index_tensor_on_the_same_device(device):
    x = on_device(np.arange(4.0), device)
    index = mr.tensor([3, 1], device=device)
    np.testing.assert_array_equal(x[index].numpy(), [3.0, 1.0])


def test_out_of_range_index_array_is_caught_on_every_device(device):
    # CuPy would wrap index 5 around silently; getitem checks it on every backend.
    x = on_device(np.ones((3, 4)), device)
    with pytest.raises(IndexError, match=r"getitem: index 5 is out of range for dimension 1 of size 4"):
        x[:, np.array([0, 5])]
    with pytest.raises(IndexError, match=r"getitem: invalid index for a tensor of shape \(3, 4\)"):
        x[7]


def test_float_index_array_is_refused():
    x = on_device(np.ones(3), "cpu")
    with pytest.raises(IndexError, match="index arrays must hold integers or booleans"):
        x[np.array([0.0, 1.0])]


def test_concatenate_shape_mismatch_names_the_shapes():
    a, b = on_device(np.ones((2, 3)), "cpu"), on_device(np.ones((3, 3)), "cpu")
    with pytest.raises(ValueError, match=r"concatenate: tensor 1 has shape \(3, 3\) but tensor 0 has \(2, 3\)"):
        F.concatenate([a, b], dim=1)


def test_concatenate_needs_a_list():
    a = on_device(np.ones((2, 3)), "cpu")
    with pytest.raises(TypeError, match="concatenate: expects a list or tuple of tensors; got Tensor"):
        F.concatenate(a)


# Only mode="constant" is implemented; the others are refused by name, not padded with zeros.
@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular", 0.5])
def test_pad_refuses_other_modes(mode):
    x = on_device(np.ones((1, 2, 3, 3)), "cpu")
    with pytest.raises(ValueError, match=f"pad: mode {mode!r} is not supported; minires pads with a constant"):
        F.pad(x, (1, 1), mode)


def test_pad_rejects_bad_widths():
    x = on_device(np.ones((2, 3)), "cpu")
    with pytest.raises(TypeError, match="pad: pad must be a tuple"):
        F.pad(x, 1)
    with pytest.raises(ValueError, match="pad: pad must list non-negative int pairs"):
        F.pad(x, (1,))
    with pytest.raises(ValueError, match="pad"):
        F.pad(x, (1, -1))
    with pytest.raises(ValueError, match="pad"):
        F.pad(x, (1, 1, 1, 1, 1, 1))
