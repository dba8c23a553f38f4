"""SGD, Adam, AdamW and the Optimizer base: updates against torch.optim, param groups,
state dicts (saving, resuming bit for bit, JSON's string keys, load errors), checks."""

import json

import numpy as np
import pytest

import minires as mr
from minires import backend, optim
from minires.nn import Parameter
from helpers import random_array
from strict_device import count_synchronizations

SHAPES = [(3,), (2, 3), (4,)]
STEPS = 6

CASES = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.1, "momentum": 0.9}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "dampening": 0.3}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True}),
    ("SGD", {"lr": 0.1, "momentum": 0.8, "weight_decay": 0.01}),
    ("SGD", {"lr": 0.1, "weight_decay": 0.05}),
    ("Adam", {"lr": 1e-2}),
    ("Adam", {"lr": 1e-2, "betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.1}),
    ("AdamW", {"lr": 1e-2}),
    ("AdamW", {"lr": 1e-2, "betas": (0.85, 0.95), "weight_decay": 0.1}),
]
CASE_IDS = [f"{name}-{'-'.join(f'{k}={v}' for k, v in kwargs.items())}" for name, kwargs in CASES]


def some_cases(*indices):
    """pytest.param for CASES[i] (with its id), for the tests that need only a few."""
    return [pytest.param(*CASES[index], id=CASE_IDS[index]) for index in indices]


def initial_values():
    return [random_array(shape, seed=10 + index) for index, shape in enumerate(SHAPES)]


def gradients(step):
    """Host gradients of step ``step``: parameter 2 has none at steps 0 and 3 (skipped)."""
    grads = [random_array(shape, seed=100 * step + index) for index, shape in enumerate(SHAPES)]
    if step in (0, 3):
        grads[2] = None
    return grads


def mr_parameters(device, values=None, dtype=mr.float64):
    values = initial_values() if values is None else values
    return [Parameter(mr.tensor(value, dtype=dtype, device=device)) for value in values]


def mr_step(optimizer, parameters, step, device):
    for parameter, grad in zip(parameters, gradients(step)):
        parameter.grad = None if grad is None else mr.Tensor(backend.to_device(grad.astype(parameter.dtype), device))
    optimizer.step()


def torch_run(torch, name, groups_of, kwargs, steps=STEPS):
    parameters = [torch.nn.Parameter(torch.tensor(value)) for value in initial_values()]
    optimizer = getattr(torch.optim, name)(groups_of(parameters), **kwargs)
    for step in range(steps):
        for parameter, grad in zip(parameters, gradients(step)):
            parameter.grad = None if grad is None else torch.tensor(grad)
        optimizer.step()
    return [parameter.detach().numpy() for parameter in parameters]


def one_group(parameters):
    return parameters


def two_groups(parameters):
    return [{"params": parameters[:2]}, {"params": parameters[2:], "lr": 0.003, "weight_decay": 0.02}]


@pytest.mark.parametrize("name, kwargs", CASES, ids=CASE_IDS)
@pytest.mark.parametrize("groups_of", [one_group, two_groups])
def test_matches_torch(device, torch, name, kwargs, groups_of):
    parameters = mr_parameters(device)
    arrays = [parameter.array for parameter in parameters]
    optimizer = getattr(optim, name)(groups_of(parameters), **kwargs)
    for step in range(STEPS):
        mr_step(optimizer, parameters, step, device)
    expected = torch_run(torch, name, groups_of, kwargs)
    for index, (parameter, array, want) in enumerate(zip(parameters, arrays, expected)):
        assert parameter.array is array, "the update must be in place, on the same array"
        assert parameter.device == device
        np.testing.assert_allclose(parameter.numpy(), want, rtol=1e-12, atol=1e-14, err_msg=f"param {index}")
    assert not np.allclose(parameters[0].numpy(), initial_values()[0])


def test_param_groups_keep_their_own_hyperparameters():
    parameters = mr_parameters("cpu")
    optimizer = optim.SGD(two_groups(parameters), lr=0.1, momentum=0.9)
    first, second = optimizer.param_groups
    assert (first["lr"], first["weight_decay"], second["lr"], second["weight_decay"]) == (0.1, 0, 0.003, 0.02)
    assert second["momentum"] == 0.9 and first["params"] == parameters[:2]


@pytest.mark.parametrize("name, kwargs", some_cases(4, 7, 9))
def test_no_synchronisation_and_float32_stays_float32(name, kwargs):
    parameters = mr_parameters("strict", dtype=mr.float32)
    optimizer = getattr(optim, name)(parameters, **kwargs)
    with count_synchronizations() as syncs:
        for step in range(3):
            mr_step(optimizer, parameters, step, "strict")
    assert syncs.count == 0
    assert all(parameter.dtype == mr.float32 for parameter in parameters)
    assert all(value.dtype == mr.float32 for state in optimizer.state.values()
               for value in state.values() if backend.is_array(value))


def test_adam_counts_steps_per_parameter():
    parameters = mr_parameters("cpu")
    optimizer = optim.Adam(parameters)
    for step in range(4):
        mr_step(optimizer, parameters, step, "cpu")
    assert [optimizer.state[parameter]["step"] for parameter in parameters] == [4, 4, 2]


def test_zero_grad_sets_gradients_to_none():
    parameters = mr_parameters("cpu")
    optimizer = optim.SGD(parameters, lr=0.1)
    for parameter in parameters:
        parameter.grad = mr.Tensor(np.ones(parameter.shape))
    optimizer.zero_grad()
    assert all(parameter.grad is None for parameter in parameters)


# -- state dicts ------------------------------------------------------------------------

def through_json(state_dict):
    """What a JSON checkpoint gives back: string state keys, lists for tuples; arrays kept."""
    return {"state": {str(index): entries for index, entries in state_dict["state"].items()},
            "param_groups": json.loads(json.dumps(state_dict["param_groups"]))}


@pytest.mark.parametrize("name, kwargs", some_cases(3, 7, 9))
@pytest.mark.parametrize("use_json", [False, True], ids=["int keys", "json str keys"])
def test_resuming_from_a_state_dict_is_bit_exact(device, name, kwargs, use_json):
    parameters = mr_parameters(device)
    optimizer = getattr(optim, name)(two_groups(parameters), **kwargs)
    for step in range(3):
        mr_step(optimizer, parameters, step, device)
    saved = optimizer.state_dict()
    saved_values = [parameter.numpy() for parameter in parameters]
    for step in range(3, STEPS):
        mr_step(optimizer, parameters, step, device)

    resumed = mr_parameters(device, values=saved_values)
    fresh = getattr(optim, name)(two_groups(resumed), **{**kwargs, "lr": 0.5})
    fresh.load_state_dict(through_json(saved) if use_json else saved)
    assert fresh.param_groups[0]["lr"] == kwargs["lr"], "the saved lr must replace the constructor's"
    assert all(backend.device_of(value) == device for state in fresh.state.values()
               for value in state.values() if backend.is_array(value))
    for step in range(3, STEPS):
        mr_step(fresh, resumed, step, device)
    for uninterrupted, continued in zip(parameters, resumed):
        np.testing.assert_array_equal(continued.numpy(), uninterrupted.numpy())


def test_state_dict_layout_is_pytorchs_with_host_copies(torch):
    parameters = mr_parameters("strict")
    optimizer = optim.SGD(two_groups(parameters), lr=0.1, momentum=0.9)
    mr_step(optimizer, parameters, 1, "strict")
    saved = optimizer.state_dict()
    assert [group["params"] for group in saved["param_groups"]] == [[0, 1], [2]]
    assert sorted(saved["state"]) == [0, 1, 2]
    buffer = saved["state"][0]["momentum_buffer"]
    assert type(buffer) is np.ndarray
    buffer[...] = 123.0                                  # a copy: the optimiser keeps its own
    assert not np.any(backend.to_numpy(optimizer.state[parameters[0]]["momentum_buffer"]) == 123.0)

    torch_parameters = [torch.nn.Parameter(torch.tensor(value)) for value in initial_values()]
    torch_optimizer = torch.optim.SGD(two_groups(torch_parameters), lr=0.1, momentum=0.9)
    torch_saved = torch_optimizer.state_dict()
    for group, torch_group in zip(saved["param_groups"], torch_saved["param_groups"]):
        assert set(group) <= set(torch_group) and group["params"] == torch_group["params"]


def test_loading_casts_to_the_parameters_dtype():
    parameters = mr_parameters("cpu", dtype=mr.float32)
    optimizer = optim.Adam(parameters)
    saved = {"state": {"1": {"step": np.array(2), "exp_avg": np.ones((2, 3)), "exp_avg_sq": [[1.0] * 3] * 2}},
             "param_groups": optimizer.state_dict()["param_groups"]}
    optimizer.load_state_dict(saved)
    state = optimizer.state[parameters[1]]
    assert state["step"] == 2 and type(state["step"]) is int
    assert state["exp_avg"].dtype == mr.float32 and state["exp_avg_sq"].dtype == mr.float32


def load_error(optimizer, saved, match):
    before = optimizer.state_dict()
    with pytest.raises(ValueError, match=match):
        optimizer.load_state_dict(saved)
    after = optimizer.state_dict()
    assert after["param_groups"] == before["param_groups"], "a failed load must change nothing"
    assert sorted(after["state"]) == sorted(before["state"])


def test_load_errors_name_what_differs():
    parameters = mr_parameters("cpu")
    optimizer = optim.SGD(two_groups(parameters), lr=0.1, momentum=0.9)
    mr_step(optimizer, parameters, 1, "cpu")
    saved = optimizer.state_dict()
    one = optim.SGD(mr_parameters("cpu"), lr=0.1, momentum=0.9)
    load_error(one, saved, "2 parameter groups, this optimiser has 1")
    other = optim.SGD([{"params": parameters[:1]}, {"params": parameters[1:]}], lr=0.1, momentum=0.9)
    load_error(other, saved, "group 0 has 2 parameters in the state dict, 1 in this optimiser")
    wrong_shape = {**saved, "state": {**saved["state"], 1: {"momentum_buffer": np.zeros((3, 2))}}}
    load_error(optimizer, wrong_shape, r"parameter 1 has shape \(3, 2\) in the state dict.*\(2, 3\)")
    load_error(optimizer, {**saved, "state": {"first": {}}}, "state keys are parameter indices")
    load_error(optimizer, {**saved, "state": {7: {}}}, "state for parameter 7")
    load_error(optimizer, {"state": {}}, "no 'param_groups' entry")
    bad_lr = {**saved, "param_groups": [{**saved["param_groups"][0], "lr": -1.0}, saved["param_groups"][1]]}
    load_error(optimizer, bad_lr, "lr must be a number >= 0")


def with_group(saved, number, **changes):
    """``saved`` with param group ``number`` changed (a None value removes the entry)."""
    groups = [dict(group) for group in saved["param_groups"]]
    groups[number].update(changes)
    groups[number] = {key: value for key, value in groups[number].items() if value is not None}
    return {**saved, "param_groups": groups}


def with_state(saved, index, **changes):
    """``saved`` with the state of parameter ``index`` changed (None removes an entry)."""
    state = {key: dict(entries) for key, entries in saved["state"].items()}
    state[index].update(changes)
    state[index] = {key: value for key, value in state[index].items() if value is not None}
    return {**saved, "state": state}


DAMAGED_STATES = [          # (optimiser, damage, what the ValueError says)
    ("SGD", lambda saved: None, "the state dict is NoneType None; expected a dict"),
    ("SGD", lambda saved: {**saved, "param_groups": 3}, "'param_groups' is int 3; expected a list"),
    ("SGD", lambda saved: {**saved, "state": [1]}, "'state' is list"),
    ("SGD", lambda saved: {**saved, "param_groups": [[0, 1], saved["param_groups"][1]]},
     "parameter group 0 is list"),
    ("SGD", lambda saved: with_group(saved, 0, params=None),
     r"parameter group 0 of the state dict lacks \['params'\]"),
    ("SGD", lambda saved: with_group(saved, 1, lr=None), r"parameter group 1 of the state dict lacks \['lr'\]"),
    ("SGD", lambda saved: with_group(saved, 0, params=["a", "b"]),
     r"parameter group 0 has params \['a', 'b'\] in the state dict; expected a list of parameter indices"),
    ("SGD", lambda saved: with_group(saved, 1, params=[0]), "parameter index 0 appears twice"),
    ("SGD", lambda saved: with_group(saved, 0, lr="fast"),
     "parameter group 0 of the state dict: SGD: lr must be a number >= 0.0; got 'fast'"),
    ("SGD", lambda saved: {**saved, "state": {**saved["state"], 0: [1]}}, "the state of parameter 0 is list"),
    ("SGD", lambda saved: with_state(saved, 0, momentum_buffer="abc"),
     r"state 'momentum_buffer' of parameter 0 is str 'abc' in the state dict; expected an array of "
     r"numbers of shape \(3,\)"),
    ("SGD", lambda saved: with_state(saved, 1, momentum_buffer=np.full((2, 3), None)),
     r"state 'momentum_buffer' of parameter 1 is an array of object, shape \(2, 3\)"),
    ("SGD", lambda saved: with_state(saved, 0, velocity=np.zeros(3)),
     r"the state of parameter 0 has the entries \['momentum_buffer', 'velocity'\]; SGD keeps "
     r"\['momentum_buffer'\]"),
    ("Adam", lambda saved: with_state(saved, 0, exp_avg=None), r"has the entries \['exp_avg_sq', 'step'\]"),
    ("Adam", lambda saved: with_state(saved, 0, step="two"), "state 'step' of parameter 0 is str 'two'"),
    ("Adam", lambda saved: with_state(saved, 0, step=-2), "state 'step' of parameter 0 is int -2 in the "
     r"state dict; expected an int >= 0"),
    ("Adam", lambda saved: with_state(saved, 0, step=np.zeros(3, dtype=int)),
     r"state 'step' of parameter 0 is an array of int64, shape \(3,\)"),
    ("Adam", lambda saved: with_state(saved, 1, exp_avg_sq=np.zeros(6)),
     r"state 'exp_avg_sq' of parameter 1 has shape \(6,\) in the state dict, the parameter has shape \(2, 3\)"),
]


@pytest.mark.parametrize("name, damage, match", DAMAGED_STATES,
                         ids=[f"{case[0]}-{number}" for number, case in enumerate(DAMAGED_STATES)])
def test_a_damaged_state_dict_is_named_and_changes_nothing(name, damage, match):
    parameters = mr_parameters("cpu")
    momentum = {"momentum": 0.9} if name == "SGD" else {}
    optimizer = getattr(optim, name)(two_groups(parameters), lr=0.1, **momentum)
    for step in range(2):
        mr_step(optimizer, parameters, step, "cpu")
    load_error(optimizer, damage(optimizer.state_dict()), match)


def test_a_state_dict_of_another_optimiser_is_named():
    parameters = mr_parameters("cpu")
    sgd = optim.SGD(two_groups(parameters), lr=0.1, momentum=0.9)
    adam = optim.Adam(two_groups(parameters))
    load_error(adam, sgd.state_dict(), r"parameter group 0 of the state dict lacks \['betas', 'eps'\] .*"
               "was it saved by another kind of optimiser")


# -- checks on construction --------------------------------------------------------------

@pytest.mark.parametrize("build, match", [
    (lambda p: optim.SGD(p, lr=-0.1), r"SGD: lr must be a number >= 0.0; got -0.1"),
    (lambda p: optim.SGD(p, lr="0.1"), "lr must be a number"),
    (lambda p: optim.SGD(p, lr=0.1, momentum=-0.5), "momentum must be a number >= 0"),
    (lambda p: optim.SGD(p, lr=0.1, weight_decay=-1e-4), "weight_decay must be a number >= 0"),
    (lambda p: optim.SGD(p, lr=0.1, nesterov=True), "Nesterov momentum needs momentum > 0"),
    (lambda p: optim.SGD(p, lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), "dampening = 0"),
    (lambda p: optim.SGD([{"params": p[:1]}, {"params": p[1:], "lr": -1}], lr=0.1), "lr must be"),
    (lambda p: optim.Adam(p, lr=-1e-3), "Adam: lr must be"),
    (lambda p: optim.Adam(p, betas=(1.0, 0.999)), r"beta1 \(betas\[0\]\) must be a number >= 0.0 and < 1.0"),
    (lambda p: optim.Adam(p, betas=(0.9, -0.1)), r"beta2 \(betas\[1\]\) must be"),
    (lambda p: optim.Adam(p, betas=(0.9,)), "betas must be a pair"),
    (lambda p: optim.AdamW(p, eps=-1e-8), "AdamW: eps must be"),
    (lambda p: optim.AdamW(p, weight_decay=float("nan")), "weight_decay must be"),
    (lambda p: optim.SGD([], lr=0.1), "empty parameter list"),
    (lambda p: optim.SGD([p[0], p[0]], lr=0.1), "appears twice"),
    (lambda p: optim.SGD([{"params": p}, {"params": p[:1]}], lr=0.1), "appears twice"),
    (lambda p: optim.SGD([{"lr": 0.1}], lr=0.1), "no 'params' entry"),
])
def test_bad_arguments_are_refused(build, match):
    with pytest.raises(ValueError, match=match):
        build(mr_parameters("cpu"))


def test_only_parameters_can_be_optimised():
    with pytest.raises(TypeError, match="can only optimise Parameters; got Tensor"):
        optim.SGD([mr.tensor([1.0, 2.0])], lr=0.1)
    with pytest.raises(TypeError, match="got a single Tensor"):
        optim.SGD(mr_parameters("cpu")[0], lr=0.1)


def test_a_generator_of_parameters_is_read_once():
    model = mr.nn.Linear(3, 2)
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    assert optimizer.param_groups[0]["params"] == list(model.parameters())


def test_numpy_hyperparameters_become_python_numbers():
    parameters = mr_parameters("cpu", dtype=mr.float32)
    optimizer = optim.SGD(parameters, lr=np.float32(0.1), momentum=np.float64(0.9))
    assert type(optimizer.param_groups[0]["lr"]) is float      # a 'weak' float: float32 stays float32
    mr_step(optimizer, parameters, 1, "cpu")
    assert all(parameter.dtype == mr.float32 for parameter in parameters)
