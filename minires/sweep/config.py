"""A sweep's config file (TOML): a base recipe, a grid of settings, and its trials.

``load_config(path, scale)`` reads the file, checks all of it before anything trains,
and returns a :class:`Sweep`, whose ``trials()`` are (trial id, grid values) pairs in
order. The file's format is in minires/sweep/__init__.py.

The settings are those of ``minires train``, named as in a run's config.json
("settings"), and checked by the rules the command line uses (train_command.DEFAULTS,
settings_check.RULES, check_settings, models_table.check_model_settings), so that a
sweep never starts a trial that ``minires train`` would refuse. A mistake is a
CommandError in one line naming the file, the key and what was expected.
"""

import dataclasses
import hashlib
import os
import re
import sys

from minires.cli import models_table
from minires.cli.errors import CommandError
from minires.cli.settings_check import RULES, check_settings
from minires.cli.train_command import DEFAULTS
from minires.sweep.train_arguments import train_arguments

if sys.version_info >= (3, 11):
    import tomllib
else:                                      # the same parser, before it joined the standard library
    import tomli as tomllib

TOP_LEVEL_KEYS = ("name", "description", "base", "grid", "resources", "scale", "published")
SCALE_KEYS = ("base", "grid", "resources")
RESOURCE_KEYS = ("cpus", "gpus")
NAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._-]*"          # it names the sweep's folder
UNSAFE_IN_ID = r"[^A-Za-z0-9._+-]"                   # replaced by "_" in a trial id
LONGEST_ID = 150                                      # longer ids end in a hash (file names stop at 255 bytes)


@dataclasses.dataclass(frozen=True)
class Sweep:
    """A checked sweep: what every trial shares, and the grids its trials come from.

    Attributes:
        name, description: the config's (description: the claim the sweep tests).
        config_file: the path the config was read from; text: its contents.
        scale: the scale chosen (None: the config's top-level base and grid).
        base: the settings of every trial (the scale's overrides applied).
        grids: one {setting: [values]} per grid table; the trials are the union of
            their cartesian products.
        grid_keys: the varied settings, in the order they first appear in the grids.
        cpus, gpus: what each trial declares ([resources]); cpus is also the number
            of threads each trial's kernels split their batch across (see runner.py).
        published: the config's [published] table, or None.
    """
    name: str
    description: str
    config_file: str
    text: str
    scale: str
    base: dict
    grids: list
    grid_keys: list
    cpus: int
    gpus: float
    published: dict

    def trials(self) -> list:
        """[(trial id, {setting: value} of its grid values)], in grid order, each once."""
        trials = []
        for grid in self.grids:
            for values in _product(list(grid.values())):
                settings = dict(zip(grid, values))
                settings = {key: settings[key] for key in self.grid_keys if key in settings}
                if all(settings != earlier for _, earlier in trials):      # two tables may share trials
                    trials.append((trial_id(settings), settings))
        return trials

    def settings(self, trial_settings) -> dict:
        """The settings a trial gives ``minires train``: the base, then its grid values."""
        return {**self.base, **trial_settings}

    def default_out(self) -> str:
        return os.path.join("sweeps", self.name + (f"-{self.scale}" if self.scale else ""))


def _product(lists) -> list:
    """The cartesian product of ``lists``, the last varying fastest (as itertools.product)."""
    combinations = [[]]
    for values in lists:
        combinations = [combination + [value] for combination in combinations for value in values]
    return combinations


def trial_id(settings) -> str:
    """"model=plain,depth=20,seed=0": readable, stable, and safe as a file name."""
    text = ",".join(f"{key}={_value_in_id(value)}" for key, value in settings.items())
    if len(text) > LONGEST_ID:
        text = text[:LONGEST_ID - 9] + "-" + hashlib.sha1(text.encode()).hexdigest()[:8]
    return text


def _value_in_id(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "_".join(_value_in_id(item) for item in value)
    return re.sub(UNSAFE_IN_ID, "_", str(value))


# -- reading and checking ---------------------------------------------------------------

def load_config(path, scale=None, overrides=None) -> Sweep:
    """Reads and checks the sweep config at ``path``, at ``scale`` (a name of its [scale]
    tables, or None), with ``overrides`` ({setting: value}, the command line's --set)
    replacing base settings for every trial. Raises CommandError naming the file and the
    key on any mistake."""
    try:
        with open(path, "rb") as file:
            data = file.read()
    except OSError as error:
        raise CommandError(f"cannot read the sweep config {path}: {error.strerror}") from None
    try:
        text = data.decode("utf-8")
        config = tomllib.loads(text)
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise CommandError(f"{path}: not a valid TOML file ({error})") from None

    def fail(message):
        raise CommandError(f"{path}: {message}")

    unknown = [key for key in config if key not in TOP_LEVEL_KEYS]
    if unknown:
        fail(f"unknown key {unknown[0]!r}; a sweep config has {', '.join(TOP_LEVEL_KEYS)}")
    name = config.get("name", os.path.splitext(os.path.basename(path))[0])
    if not isinstance(name, str) or not re.fullmatch(NAME_PATTERN, name):
        fail(f"name = {name!r}: expected letters, digits, '.', '_' or '-' (it names the sweep's folder)")
    description = config.get("description", "")
    if not isinstance(description, str):
        fail(f"description: expected a string (the claim the sweep tests); got {description!r}")
    published = config.get("published")
    if published is not None and not isinstance(published, dict):
        fail("published: expected a table ([published]) of the paper's numbers")

    base, grid, resources, grid_where = _scaled(config, scale, fail)
    base = _check_base(_check_table(base, "[base]", fail), "[base]", fail)
    base = {**base, **_check_base(dict(overrides or {}), "--set", fail)}
    grids = _check_grids(grid, grid_where, base, fail)
    cpus, gpus = _check_resources(_check_table(resources, "[resources]", fail), fail)
    grid_keys = list(dict.fromkeys(key for table in grids for key in table))
    sweep = Sweep(name, description, os.fspath(path), text, scale, base, grids, grid_keys, cpus, gpus, published)
    _check_trials(sweep, fail)
    return sweep


def _scaled(config, scale, fail) -> tuple:
    """(base, grid, resources, where the grid is) of the config at ``scale`` (None: as written)."""
    base, grid, resources = config.get("base", {}), config.get("grid"), config.get("resources", {})
    if scale is None:
        return base, grid, resources, "[grid]"
    scales = config.get("scale", {})
    if not isinstance(scales, dict) or not all(isinstance(table, dict) for table in scales.values()):
        fail("scale: expected tables such as [scale.cpu]")
    if scale not in scales:
        fail(f"no scale {scale!r}: " + (f"its scales are {', '.join(scales)}" if scales
                                           else "it has no [scale.NAME] tables"))
    chosen = scales[scale]
    unknown = [key for key in chosen if key not in SCALE_KEYS]
    if unknown:
        fail(f"[scale.{scale}]: unknown key {unknown[0]!r}; a scale has {', '.join(SCALE_KEYS)}")
    where = f"[scale.{scale}.base]"
    _check_base(_check_table(chosen.get("base", {}), where, fail), where, fail)
    _check_table(chosen.get("resources", {}), f"[scale.{scale}.resources]", fail)
    base = {**_check_table(base, "[base]", fail), **chosen.get("base", {})}          # overrides
    resources = {**_check_table(resources, "[resources]", fail), **chosen.get("resources", {})}
    if "grid" in chosen:                                                             # replaces
        return base, chosen["grid"], resources, f"[scale.{scale}.grid]"
    return base, grid, resources, "[grid]"


def _check_table(value, where, fail) -> dict:
    if not isinstance(value, dict):
        fail(f"{where}: expected a table of key = value lines; got {value!r}")
    return value


def _check_value(key, value, where, fail):
    """A setting's name and one value, by the rules of minires train's options."""
    if key not in DEFAULTS:
        fail(f"{where}: {key!r} is not a setting of minires train; the settings are "
             f"{', '.join(DEFAULTS)} (named as in a run's config.json)")
    expected = RULES[key](value)
    if expected is not None:
        fail(f"{where} {key} = {value!r}: expected {expected}")


def _check_base(base, where, fail) -> dict:
    for key, value in base.items():
        _check_value(key, value, where, fail)
    return base


def _check_grids(grid, where, base, fail) -> list:
    """The grid tables as a list: [grid] is one, [[grid]] several."""
    if grid is None:
        fail(f"has no {where}: give the settings to vary, each a list of values, "
             "e.g. [grid] seed = [0, 1]")
    tables = grid if isinstance(grid, list) else [grid]
    for number, table in enumerate(tables, start=1):
        here = where if len(tables) == 1 else f"{where} (table {number})"
        if not isinstance(table, dict):
            fail(f"{here}: expected a table of setting = [values]; got {table!r}")
        if not table:
            fail(f"{here} is empty: give at least one setting to vary, e.g. seed = [0, 1]")
        for key, values in table.items():
            if not isinstance(values, list):
                fail(f"{here} {key} = {values!r}: expected a list of values (the trials are "
                     f"their product); for one value write {key} = [{values!r}], or move it to [base]")
            if not values:
                fail(f"{here} {key} = []: expected at least one value")
            for value in values:
                _check_value(key, value, here, fail)
            if key in base:
                fail(f"{here} {key}: also set in [base]; give it in one of the two")
    return tables


def _check_resources(resources, fail) -> tuple:
    unknown = [key for key in resources if key not in RESOURCE_KEYS]
    if unknown:
        fail(f"[resources]: unknown key {unknown[0]!r}; it has {', '.join(RESOURCE_KEYS)}")
    cpus, gpus = resources.get("cpus", 1), resources.get("gpus", 0)
    if isinstance(cpus, bool) or not isinstance(cpus, int) or cpus < 1:
        fail(f"[resources] cpus = {cpus!r}: expected an integer >= 1 (each trial's threads and the "
             "CPUs it asks Ray for)")
    if isinstance(gpus, bool) or not isinstance(gpus, (int, float)) or not 0 <= gpus:
        fail(f"[resources] gpus = {gpus!r}: expected a number >= 0 (the GPUs each trial asks Ray for)")
    return cpus, gpus


def _check_trials(sweep, fail):
    """Every trial's settings together, as minires train would check them; the ids unique."""
    seen = {}
    for number, (identifier, trial_settings) in enumerate(sweep.trials(), start=1):
        given = sweep.settings(trial_settings)
        try:
            settings = check_settings({**DEFAULTS, **given}, given)
            models_table.check_model_settings(settings)
            train_arguments(given)
        except CommandError as error:
            fail(f"trial {number} ({identifier}): {error}")
        seen.setdefault(identifier.lower(), []).append(trial_settings)
    for identifier, settings in seen.items():
        if len(settings) > 1:                 # values that differ only in characters unsafe in a file name
            fail(f"two trials would share the folder {identifier!r} ({settings[0]} and {settings[1]}); "
                 "make their values differ in letters or digits")


def parse_override(text) -> tuple:
    """"data=../cifar10-jpeg.tar.gz" -> ("data", "../cifar10-jpeg.tar.gz"); the value is
    read as a TOML value ("epochs=3" -> 3, "augment=false" -> False) when it is one, else
    kept as text. A CommandError names text without "=" ."""
    key, equals, value = text.partition("=")
    if not equals or not key.strip():
        raise CommandError(f"--set {text!r}: expected SETTING=VALUE, e.g. --set data=cifar10-jpeg.tar.gz")
    try:
        parsed = tomllib.loads(f"value = {value}")["value"]
    except tomllib.TOMLDecodeError:
        parsed = value
    return key.strip(), parsed
