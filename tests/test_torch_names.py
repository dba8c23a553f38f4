"""PyTorch's top-level names in minires (issue 18): making tensors, joining them, saving
and loading, and the device helpers, each against torch on the same inputs."""

import io

import numpy as np
import pytest

import minires as mr
import minires.backends.cudnn


@pytest.mark.parametrize("name, args, kwargs", [
    ("zeros", (2, 3), {}), ("zeros", ((2, 3),), {}), ("ones", (4,), {}), ("ones", (2, 1), {"dtype": "float64"}),
    ("full", ((2, 2), 1.5), {}), ("full", ((3,), 7), {}), ("arange", (5,), {}), ("arange", (1, 7, 2), {}),
    ("arange", (0.0, 1.0, 0.25), {}),
])
def test_making_tensors_as_torch_does(torch, name, args, kwargs):
    torch.set_default_dtype(torch.float32)            # torch's own default (the fixture sets float64)
    ours = getattr(mr, name)(*args, **{key: getattr(mr, value) for key, value in kwargs.items()})
    theirs = getattr(torch, name)(*args, **{key: getattr(torch, value) for key, value in kwargs.items()})
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    assert ours.numpy().dtype == theirs.numpy().dtype and ours.shape == tuple(theirs.shape)


def test_random_tensors_have_torchs_shapes_and_dtypes_and_follow_manual_seed():
    """The numbers differ from torch's (another generator); shape, dtype, range and
    reproducibility are torch's."""
    mr.manual_seed(3)
    first = (mr.rand(2, 3), mr.randn((4,)), mr.randn(2, 2, dtype=mr.float64, requires_grad=True))
    mr.manual_seed(3)
    again = (mr.rand(2, 3), mr.randn((4,)), mr.randn(2, 2, dtype=mr.float64, requires_grad=True))
    for one, other in zip(first, again):
        np.testing.assert_array_equal(one.numpy(), other.numpy())
    assert first[0].dtype == mr.float32 and 0 <= first[0].numpy().min() and first[0].numpy().max() < 1
    assert first[2].dtype == mr.float64 and first[2].requires_grad and first[1].shape == (4,)


def test_a_shape_must_be_ints():
    with pytest.raises(TypeError, match="a shape is made of ints >= 0"):
        mr.zeros(2.5, 3)
    with pytest.raises(TypeError, match="a shape is made of ints >= 0"):
        mr.ones(-1)


def test_cat_stack_flatten_forward_and_backward_as_torch(torch):
    a, b = np.random.default_rng(0).standard_normal((2, 3, 4))
    weights = np.random.default_rng(1).standard_normal((3, 2, 4))
    ours = [mr.tensor(a, requires_grad=True), mr.tensor(b, requires_grad=True)]
    theirs = [torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)]
    for join in (lambda m, xs: m.stack(xs, dim=1), lambda m, xs: m.stack(xs, dim=-2)):
        out, expected = join(mr, ours), join(torch, theirs)
        np.testing.assert_array_equal(out.numpy(), expected.detach().numpy())
        (out * mr.tensor(weights)).sum().backward()
        (expected * torch.tensor(weights)).sum().backward()
        for mine, reference in zip(ours, theirs):
            np.testing.assert_allclose(mine.grad, reference.grad.numpy())
            mine.grad, reference.grad = None, None
    np.testing.assert_array_equal(mr.cat(ours, dim=1).numpy(), torch.cat(theirs, dim=1).detach().numpy())
    np.testing.assert_array_equal(mr.flatten(mr.zeros(2, 3, 4), 1).shape, torch.flatten(torch.zeros(2, 3, 4), 1).shape)


def test_stack_gradient_by_central_differences():
    x = mr.tensor(np.random.default_rng(2).standard_normal((2, 3)), requires_grad=True)
    y = mr.tensor(np.random.default_rng(3).standard_normal((2, 3)), requires_grad=True)
    assert mr.gradcheck(lambda p, q: mr.stack([p, q * p], dim=2), x, y)


def test_stack_refuses_what_torch_refuses(torch):
    with pytest.raises(ValueError, match=r"stack: every tensor must have one shape; tensor 0 is \(2,\), tensor 1 is \(3,\)"):
        mr.stack([mr.zeros(2), mr.zeros(3)])
    with pytest.raises(RuntimeError):
        torch.stack([torch.zeros(2), torch.zeros(3)])
    with pytest.raises(IndexError, match="stack: dim 3 is out of range"):
        mr.stack([mr.zeros(2)], dim=3)
    with pytest.raises(ValueError, match="non-empty list"):
        mr.stack([])


def test_save_and_load_as_torch_names_them(tmp_path):
    model = mr.nn.Linear(3, 2)
    weights = mr.randn(2, 3, requires_grad=True)
    state = {"model": model.state_dict(), "epoch": 4, "best": (0.5, "x"), "tensor": weights}
    mr.save(state, tmp_path / "state.npz")
    loaded = mr.load(tmp_path / "state.npz")
    assert loaded["epoch"] == 4 and loaded["best"] == [0.5, "x"]              # tuples come back as lists
    assert isinstance(loaded["tensor"], mr.Tensor) and loaded["tensor"].requires_grad
    np.testing.assert_array_equal(loaded["tensor"].numpy(), weights.numpy())
    other = mr.nn.Linear(3, 2)
    other.load_state_dict(loaded["model"])
    np.testing.assert_array_equal(other.weight.numpy(), model.weight.numpy())
    buffer = io.BytesIO()                                     # a file object, as torch.save takes
    mr.save(model.state_dict(), buffer)
    buffer.seek(0)
    assert sorted(mr.load(buffer, map_location="cpu", weights_only=True)) == ["bias", "weight"]


def test_save_refuses_what_would_need_a_pickle(tmp_path):
    with pytest.raises(TypeError, match="never pickles: save model.state_dict"):
        mr.save(mr.nn.Linear(2, 2), tmp_path / "model.npz")
    with pytest.raises(TypeError, match="map_location must be a device name"):
        mr.load(tmp_path / "model.npz", map_location=lambda storage, location: storage)


def test_load_puts_tensors_on_the_device_asked(device, tmp_path):
    mr.save({"x": mr.ones(2)}, tmp_path / "x.npz")
    assert mr.load(tmp_path / "x.npz", map_location=device)["x"].device == device


def test_the_device_helpers_answer_as_torch_does_for_one_device():
    assert mr.cuda.is_available() == mr.cuda_available()
    assert mr.cuda.device_count() == (1 if mr.cuda_available() else 0)
    mr.cuda.synchronize()
    previous = minires.backends.cudnn.benchmark
    mr.backends.cudnn.benchmark = True                      # accepted, without effect
    assert minires.backends.cudnn.benchmark is True
    mr.backends.cudnn.benchmark = previous


def test_top_level_reductions_as_torch(torch):
    x = np.random.default_rng(5).standard_normal((3, 4))
    ours, theirs = mr.tensor(x), torch.tensor(x)
    values, indices = mr.max(ours, 1)
    expected = torch.max(theirs, 1)
    np.testing.assert_array_equal(values.numpy(), expected.values.numpy())
    np.testing.assert_array_equal(indices.numpy(), expected.indices.numpy())
    assert mr.max(ours).item() == torch.max(theirs).item() and mr.min(ours).item() == torch.min(theirs).item()
    np.testing.assert_array_equal(mr.min(ours, 0, keepdim=True).indices.numpy(),
                                  torch.min(theirs, 0, keepdim=True).indices.numpy())
    np.testing.assert_array_equal(mr.max(ours, mr.zeros(3, 4, dtype=mr.float64)).numpy(),
                                  torch.max(theirs, torch.zeros(3, 4)).numpy())
    np.testing.assert_array_equal(mr.argmax(ours, dim=1).numpy(), torch.argmax(theirs, dim=1).numpy())
    np.testing.assert_allclose(mr.sum(ours, dim=0).numpy(), torch.sum(theirs, dim=0).numpy())
    np.testing.assert_allclose(mr.mean(ours, dim=1, keepdim=True).numpy(), torch.mean(theirs, dim=1, keepdim=True).numpy())


def test_utils_data_is_where_scripts_look_for_the_loader():
    assert mr.utils.data.DataLoader is mr.data.DataLoader and mr.utils.data.Subset is mr.data.Subset
