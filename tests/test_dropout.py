"""dropout: the mask, inverted scaling, seeding, devices, errors, and the backward given a mask.

The mask is random, so there is no answer key: these tests check what every mask must
satisfy (values 0 or x / (1 - p), the zero fraction near p, the mean kept), and that a
seed fixes it. The mask is drawn from minires's generator for the input's device
(backend.device_generator), which minires.manual_seed seeds: seeding makes it repeat,
and NumPy's global generator is never used.
"""

import numpy as np
import pytest

import minires as mr
import minires.functional as F
from helpers import check_gradients, on_device, random_array
from strict_device import StrictArray, count_synchronizations

PROBABILITIES = [0.1, 0.5, 0.9]
SIZE = 100_000                          # values in the statistical tests


def seeded_dropout(device, seed, p=0.5):
    """dropout(x, p) with the device's generator seeded first: every call draws the same mask."""
    def fn(x):
        mr.manual_seed(seed)
        return F.dropout(x, p)
    return fn


def dropped(x, device, seed=0, p=0.5):
    """One seeded dropout of the host array ``x`` on ``device``, copied back to the host."""
    return seeded_dropout(device, seed, p)(on_device(x, device, requires_grad=False)).numpy()


# With the mask fixed by the seed, dropout is linear: central differences are exact.
@pytest.mark.parametrize("p", [0.2, 0.5])
def test_gradients(p, device):
    check_gradients(seeded_dropout(device, seed=0, p=p), [random_array((4, 5))], device)


# Kept values are x * (1 / (1 - p)), PyTorch's formula, bit for bit; that is x / (1 - p)
# to the last bit (the two roundings may differ by one unit in the last place).
@pytest.mark.parametrize("p", PROBABILITIES)
def test_values_are_zero_or_scaled_input(p, device):
    x = random_array((50, 40), away_from_zero=True)
    y = dropped(x, device, p=p)
    kept = y != 0
    assert 0 < kept.sum() < kept.size                       # some of each
    np.testing.assert_array_equal(y[kept], x[kept] * (1.0 / (1.0 - p)))
    np.testing.assert_allclose(y[kept], x[kept] / (1.0 - p), rtol=np.finfo(np.float64).eps, atol=0)


# Not training, or nothing to drop: the very same object comes back.
@pytest.mark.parametrize("p, training", [(0.5, False), (0.0, True), (0, True), (0.0, False)])
def test_identity_returns_the_input(p, training, device):
    x = on_device(random_array((3, 4)), device)
    assert F.dropout(x, p, training=training) is x


# The fraction of zeros is p: over 1e5 values the standard error is at most 0.0016.
@pytest.mark.parametrize("p", PROBABILITIES)
def test_fraction_of_zeros_is_p(p, device):
    y = dropped(np.ones(SIZE), device, seed=1, p=p)
    assert abs(np.mean(y == 0) - p) < 0.01


# Inverted scaling keeps the mean: E[y] = E[x]. Each y_i = x_i * b_i / (1 - p), b_i ~ Bernoulli(1 - p),
# so var(y_i) = x_i^2 p / (1 - p); the means may differ by a few standard errors, no more.
@pytest.mark.parametrize("p", PROBABILITIES)
def test_mean_is_kept(p, device):
    x = random_array(SIZE, positive=True)
    y = dropped(x, device, seed=2, p=p)
    standard_error = np.sqrt(np.mean(x ** 2) * p / (1 - p) / SIZE)
    assert abs(y.mean() - x.mean()) < 4 * standard_error


# The output and the gradient stay on the input's device.
def test_stays_on_the_input_device(device):
    x = on_device(random_array((3, 4)), device)
    y = seeded_dropout(device, seed=0)(x)
    y.sum().backward()
    assert y.device == device and x.grad.device == device


# On the strict device the mask is drawn there: no host array meets a device array,
# and a forward and backward read nothing back.
def test_mask_is_drawn_on_the_device_without_synchronizing():
    x = on_device(random_array((3, 4)), "strict")
    with count_synchronizations() as syncs:
        y = seeded_dropout("strict", seed=0)(x)
        y.backward(mr.tensor(np.ones((3, 4)), dtype=mr.float64, device="strict"))
    assert syncs.count == 0
    assert isinstance(y.array, StrictArray) and isinstance(x.grad.array, StrictArray)


# The same seed draws the same mask; another seed, another mask; and seeding NumPy's
# global generator changes nothing, since minires never draws from it.
def test_seed_fixes_the_mask(device):
    x = np.ones(1000)
    np.testing.assert_array_equal(dropped(x, device, seed=3), dropped(x, device, seed=3))
    assert not np.array_equal(dropped(x, device, seed=3), dropped(x, device, seed=4))
    state = np.random.get_state()
    first = dropped(x, device, seed=3)
    np.random.seed(99)
    np.testing.assert_array_equal(dropped(x, device, seed=3), first)
    np.random.set_state(state)


def test_dropout_leaves_numpy_global_generator_alone(device):
    state = np.random.get_state()
    dropped(np.ones(1000), device, seed=3)
    after = np.random.get_state()
    assert after[2] == state[2] and np.array_equal(after[1], state[1])


# float32 stays float32: the scale 1 / (1 - p) is a Python float.
def test_float32_stays_float32(device):
    x = mr.tensor(np.ones(10), dtype=mr.float32, device=device)
    assert F.dropout(x, 0.3).dtype == mr.float32
    assert F.dropout(x, np.float32(0.3)).dtype == mr.float32      # a NumPy p is accepted


# Backward multiplies the incoming gradient by the same mask and scale:
# x.grad = (y != 0) / (1 - p) * grad_output (x away from zero, so y == 0 only where dropped).
@pytest.mark.parametrize("p", PROBABILITIES)
def test_backward_is_mask_over_keep_probability(p, device):
    x = on_device(random_array((20, 30), away_from_zero=True), device)
    weights = random_array((20, 30), seed=7)
    y = seeded_dropout(device, seed=5, p=p)(x)
    y.backward(mr.tensor(weights, device=device))
    expected = (y.numpy() != 0) / (1 - p) * weights
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-15, atol=0)


# PyTorch cannot draw our mask, but given it (read off y), x * mask / (1 - p) in torch
# has the same values and gradients to 1e-10.
@pytest.mark.parametrize("p", PROBABILITIES)
def test_matches_torch_given_the_same_mask(p, torch):
    data, weights = random_array((20, 30), away_from_zero=True), random_array((20, 30), seed=7)
    x = on_device(data, "cpu")
    y = seeded_dropout("cpu", seed=5, p=p)(x)
    y.backward(mr.tensor(weights))
    x_torch = torch.tensor(data, requires_grad=True)
    y_torch = x_torch * torch.tensor(y.numpy() != 0) / (1 - p)
    y_torch.backward(torch.tensor(weights))
    np.testing.assert_allclose(y.numpy(), y_torch.detach().numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(x.grad, x_torch.grad.numpy(), rtol=1e-10, atol=1e-10)


# p must be a probability in [0, 1): 1 would divide by zero, a string is not a number.
@pytest.mark.parametrize("p", [1, 1.0, -0.1, 1.5, "0.5"])
def test_bad_probability(p, device):
    x = on_device(random_array((3, 4)), device)
    with pytest.raises(ValueError, match=r"dropout: p is the probability .* must be in \[0, 1\); got "):
        F.dropout(x, p)
