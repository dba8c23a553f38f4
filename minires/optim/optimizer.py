"""Optimizer: what every optimiser shares, as torch.optim.Optimizer.

An optimiser holds

- ``param_groups``: a list of dicts, each with "params" (a list of Parameters) and the
  hyperparameters for those parameters ("lr", "momentum", ...). Passing dicts instead
  of Parameters gives groups their own values, e.g. a smaller lr for the last layer:

      SGD([{"params": body.parameters()},
           {"params": head.parameters(), "lr": 0.01}], lr=0.1, momentum=0.9)

- ``state``: {Parameter: dict}, what the optimiser remembers about each parameter
  between steps (SGD's momentum buffer, Adam's moment estimates and step count).

A subclass writes ``step()`` (the update rule), ``check_hyperparameters(group)``
(which rejects, say, a negative lr with a message that names it) and ``state_names``
(the entries of a parameter's state, which load_state_dict checks). Updates change
``parameter.array`` in place: the Parameter objects, and the arrays they hold, stay
the same, so a model and its optimiser never go out of sync.
"""

from minires import backend
from minires.nn.module import Parameter, clear_gradients
from minires.tensor import Tensor


class Optimizer:
    """Base class of SGD, Adam and AdamW: parameter groups, state, saving and loading.

    Args:
        params: an iterable of Parameters, or of dicts ("param groups") each with a
            "params" entry and any hyperparameters that differ from ``defaults``.
        defaults: the hyperparameters of groups that do not set their own.
    """

    # The entries of one parameter's state, e.g. SGD's ("momentum_buffer",): a loaded state
    # must have exactly these, or none (before the first step). Empty: not checked.
    state_names = ()

    def __init__(self, params, defaults):
        self.defaults = {name: backend.scalar_value(value) for name, value in defaults.items()}
        self.param_groups = []
        self.state = {}                                   # Parameter -> {name: value}
        if isinstance(params, Tensor):
            raise TypeError(f"{self._name()}: params must be an iterable of Parameters (e.g. "
                            "model.parameters()) or of dicts; got a single Tensor, wrap it in a list")
        groups = list(params)
        if not groups:
            raise ValueError(f"{self._name()}: got an empty parameter list; pass model.parameters() "
                             "of a model that has parameters")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def _name(self):
        return type(self).__name__

    def add_param_group(self, param_group):
        """Adds a group: a dict with "params" and optional hyperparameters (the rest
        come from ``defaults``). Checks every parameter and hyperparameter."""
        if not isinstance(param_group, dict):
            raise TypeError(f"{self._name()}: a parameter group is a dict with a 'params' entry; "
                            f"got {type(param_group).__name__} (do not mix Parameters and dicts)")
        if "params" not in param_group:
            raise ValueError(f"{self._name()}: the parameter group with {sorted(param_group)} "
                             "has no 'params' entry")
        params = param_group["params"]
        params = [params] if isinstance(params, Tensor) else list(params)
        if not params:
            raise ValueError(f"{self._name()}: parameter group {len(self.param_groups)} is empty")
        seen = {id(parameter) for group in self.param_groups for parameter in group["params"]}
        for parameter in params:
            if not isinstance(parameter, Parameter):
                raise TypeError(f"{self._name()}: can only optimise Parameters; got "
                                f"{type(parameter).__name__} in group {len(self.param_groups)}")
            if id(parameter) in seen:
                raise ValueError(f"{self._name()}: a parameter of shape {parameter.shape} appears twice "
                                 "(in one group or in two); each may be listed once")
            seen.add(id(parameter))
        group = dict(self.defaults)
        for name, value in param_group.items():
            if name != "params":
                group[name] = backend.scalar_value(value)   # numpy.float32(0.1) -> 0.1, a 'weak' float
        self.check_hyperparameters(group)
        group["params"] = params
        self.param_groups.append(group)

    def check_hyperparameters(self, group):
        """Raises ValueError for a bad hyperparameter of ``group``; subclasses say which."""

    def zero_grad(self, set_to_none=True):
        """Forgets the gradient of every parameter, as torch.optim.Optimizer.zero_grad.

        The next backward pass then writes fresh gradients instead of adding to old ones.
        With ``set_to_none=True`` (PyTorch's default) each .grad becomes None and step()
        skips parameters that the next backward does not reach; with False each existing
        gradient becomes zeros, and step() still applies momentum and weight decay to them.
        """
        clear_gradients((parameter for group in self.param_groups for parameter in group["params"]),
                        set_to_none)

    def step(self):
        """Updates every parameter that has a gradient, once."""
        raise NotImplementedError(f"{self._name()} must define step()")

    # -- saving and loading -------------------------------------------------------------

    def _indexed_parameters(self):
        """[(index, Parameter)], numbered 0, 1, ... across groups in order, as in PyTorch."""
        parameters = [parameter for group in self.param_groups for parameter in group["params"]]
        return list(enumerate(parameters))

    def state_dict(self) -> dict:
        """The optimiser's state as plain data, PyTorch's layout:

            {"state": {0: {"momentum_buffer": array}, ...},
             "param_groups": [{"lr": 0.1, "momentum": 0.9, ..., "params": [0, 1, 2]}, ...]}

        Parameters are replaced by their index, counted across groups. Arrays are host
        NumPy copies (whatever the device), counts are Python ints: the arrays can go to
        numpy.savez and the rest through JSON (which turns the int keys into strings;
        load_state_dict accepts both).
        """
        index_of = {id(parameter): index for index, parameter in self._indexed_parameters()}
        state = {}
        for index, parameter in self._indexed_parameters():
            if parameter in self.state:
                state[index] = {name: backend.to_numpy(value) if backend.is_array(value) else value
                                for name, value in self.state[parameter].items()}
        groups = []
        for group in self.param_groups:
            saved = {name: value for name, value in group.items() if name != "params"}
            saved["params"] = [index_of[id(parameter)] for parameter in group["params"]]
            groups.append(saved)
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Restores what state_dict() returned, for an optimiser built on the same parameters.

        Everything is checked before anything is written: the number of groups, the
        number of parameters in each, each group's hyperparameters, the entries of
        each parameter's state (``state_names``), and the shape of every saved array
        must match; a ValueError names what differs. Arrays are copied onto each
        parameter's device and cast to its dtype; the entry "step" is a count, kept as
        an int. The hyperparameters (lr included) are the saved ones.
        """
        where = f"{self._name()}.load_state_dict"
        _check_type(where, "the state dict", state_dict, dict)
        for key in ("state", "param_groups"):
            if key not in state_dict:
                raise ValueError(f"{where}: the state dict has no {key!r} entry "
                                 f"(it has {sorted(map(str, state_dict))}); pass what state_dict() returned")
        saved_groups, saved_state = state_dict["param_groups"], state_dict["state"]
        _check_type(where, "'param_groups'", saved_groups, (list, tuple))
        _check_type(where, "'state'", saved_state, dict)
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"{where}: the state dict has {len(saved_groups)} "
                             f"parameter groups, this optimiser has {len(self.param_groups)}")
        parameter_of = {}                                 # saved index -> our Parameter
        new_groups = []
        for number, (saved, group) in enumerate(zip(saved_groups, self.param_groups)):
            new_groups.append(self._loaded_group(where, number, saved, group, parameter_of))
        new_state = {}
        for key, entries in saved_state.items():
            index = _index(key, self._name())
            if index not in parameter_of:
                raise ValueError(f"{where}: the state dict has state for "
                                 f"parameter {index}, but its groups list only {sorted(parameter_of)}")
            _check_type(where, f"the state of parameter {index}", entries, dict)
            names = sorted(map(str, entries))
            if self.state_names and entries and names != sorted(self.state_names):
                raise ValueError(f"{where}: the state of parameter {index} has the entries {names}; "
                                 f"{self._name()} keeps {sorted(self.state_names)} (or none, before "
                                 "its first step)")
            parameter = parameter_of[index]
            new_state[parameter] = {name: self._loaded_value(where, name, value, parameter, index)
                                    for name, value in entries.items()}
        self.state = new_state
        self.param_groups = new_groups

    def _loaded_group(self, where, number, saved, group, parameter_of):
        """Saved group ``number`` checked against our ``group``, as a new group holding our
        Parameters; records saved index -> Parameter in ``parameter_of``."""
        _check_type(where, f"parameter group {number}", saved, dict)
        missing = [key for key in ("params", *self.defaults) if key not in saved]
        if missing:
            raise ValueError(f"{where}: parameter group {number} of the state dict lacks {missing} (it has "
                             f"{sorted(map(str, saved))}); was it saved by another kind of optimiser?")
        indices = saved["params"]
        if isinstance(indices, (list, tuple)):
            indices = [backend.scalar_value(index) for index in indices]      # numpy.int64(3) -> 3
        if (not isinstance(indices, list)
                or not all(isinstance(index, int) and not isinstance(index, bool) for index in indices)):
            raise ValueError(f"{where}: parameter group {number} has params {indices!r:.60} in the "
                             "state dict; expected a list of parameter indices (ints)")
        if len(indices) != len(group["params"]):
            raise ValueError(f"{where}: parameter group {number} has {len(indices)} parameters in the "
                             f"state dict, {len(group['params'])} in this optimiser")
        for index, parameter in zip(indices, group["params"]):
            if index in parameter_of:
                raise ValueError(f"{where}: parameter index {index} appears twice in the state dict's groups")
            parameter_of[index] = parameter
        new_group = {name: backend.scalar_value(value) for name, value in saved.items() if name != "params"}
        try:
            self.check_hyperparameters(new_group)
        except ValueError as error:
            raise ValueError(f"{where}: parameter group {number} of the state dict: {error}") from None
        new_group["params"] = group["params"]
        return new_group

    def _loaded_value(self, where, name, value, parameter, index):
        """One saved state entry, ready for ``parameter``: an int step count, or an array
        of the parameter's shape, dtype and device (always a fresh copy)."""
        value = value.array if isinstance(value, Tensor) else value
        if backend.is_array(value):
            host = backend.to_numpy(value)
        else:                                             # a number, a list, a NumPy scalar
            try:
                host = backend.host_array(value, None if name == "step" else parameter.dtype)
            except (TypeError, ValueError):               # a string, a dict: not numbers
                host = None
        found = (f"{type(value).__name__} {value!r:.40}" if host is None or not backend.is_array(value)
                 else f"an array of {host.dtype}, shape {host.shape}")
        if name == "step":                                # a count: an int >= 0 (a 0-d array will do)
            if host is None or host.shape != () or host.dtype.kind not in "iu" or host.item() < 0:
                raise ValueError(f"{where}: state 'step' of parameter {index} is {found} in the state "
                                 "dict; expected an int >= 0 (the number of updates)")
            return int(host.item())
        if host is None or host.dtype.kind not in "fiub":
            raise ValueError(f"{where}: state {name!r} of parameter {index} is {found} in the state "
                             f"dict; expected an array of numbers of shape {parameter.shape}")
        if tuple(host.shape) != parameter.shape:
            raise ValueError(f"{where}: state {name!r} of parameter {index} has "
                             f"shape {tuple(host.shape)} in the state dict, the parameter has shape "
                             f"{parameter.shape}")
        return backend.to_device(host.astype(parameter.dtype), parameter.device)


def _check_type(where, what, value, expected):
    """Raises a ValueError naming ``what`` unless ``value`` is an instance of ``expected``."""
    if not isinstance(value, expected):
        kinds = " or ".join(kind.__name__ for kind in (expected if isinstance(expected, tuple) else (expected,)))
        raise ValueError(f"{where}: {what} is {type(value).__name__} {value!r:.40}; expected a {kinds} "
                         "(as state_dict() returns)")


def _index(key, optimizer_name):
    """A state key as an int: 3 and "3" (what JSON makes of 3) both give 3."""
    if isinstance(key, int) and not isinstance(key, bool):
        return key
    if isinstance(key, str) and key.strip().isdigit():
        return int(key)
    raise ValueError(f"{optimizer_name}.load_state_dict: state keys are parameter indices "
                     f"(0, 1, ... or '0', '1', ...); got {key!r}")


def check_number(optimizer_name, name, value, minimum=0.0, below=None):
    """Raises a ValueError unless ``value`` is a real number >= minimum (and < below).

    Used by check_hyperparameters: check_number("SGD", "lr", -0.1) raises
    "SGD: lr must be a number >= 0.0; got -0.1".
    """
    is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
    bounds = f">= {minimum}" + (f" and < {below}" if below is not None else "")
    if not is_number or value != value or value < minimum or (below is not None and value >= below):
        raise ValueError(f"{optimizer_name}: {name} must be a number {bounds}; got {value!r}")
