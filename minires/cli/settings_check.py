"""The checks of ``minires train``'s settings, made before anything is read or written.

Each setting has a rule: its kind and the range it must lie in. The same rules check
what the user typed (a mistake is a CommandError naming the option, exit status 2) and
the settings a resumed run's config.json holds (a damaged file is a RunFileError naming
the file and the field, exit status 1), so that a run never trains on a value no
command line could have given it.

Some settings apply only to some runs: --momentum and --nesterov to SGD, --milestones
and --gamma to the multistep schedule, --multiplier-lr-fraction, --alpha-lr and
--alpha-loss to VAN nets. Typing one that does not apply is an error (it would be
ignored, and a study that meant to change it would run without it); a default that
does not apply is recorded as None in config.json, never as a value the run used.
"""

import math

from minires import tracking
from minires.cli import models_table
from minires.cli.errors import CommandError
from minires.run_directory import RunFileError

OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("cosine", "multistep", "constant")
DEVICES = ("auto", "cpu", "cuda")
LARGEST_SEED = 2**63 - 1
# Settings every run of minires has recorded since 0.1: a config.json without one of them
# is damaged (resuming would fill it with a default the run never had).
RECORDED_SINCE_0_1 = ("model", "depth", "data", "epochs", "batch_size", "optimizer", "lr",
                      "schedule", "seed")


def _integer(low, high=None):
    def check(value):
        if not isinstance(value, int) or isinstance(value, bool):
            return f"an integer >= {low}" if high is None else f"an integer in {low}..{high}"
        if value < low or (high is not None and value > high):
            return f"an integer >= {low}" if high is None else f"an integer in {low}..{high}"
        return None
    return check


def _number(above=None, at_least=None, below=None, at_most=None):
    """A finite number in the range the bounds give (above/below are strict)."""
    bounds = [f"> {above}" if above is not None else None, f">= {at_least}" if at_least is not None else None,
              f"< {below}" if below is not None else None, f"<= {at_most}" if at_most is not None else None]
    expected = "a finite number" + (" " + " and ".join(bound for bound in bounds if bound) if any(bounds) else "")

    def check(value):
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
            return expected
        if ((above is not None and value <= above) or (at_least is not None and value < at_least)
                or (below is not None and value >= below) or (at_most is not None and value > at_most)):
            return expected
        return None
    return check


def _one_of(choices):
    def check(value):
        return None if value in choices else f"one of {', '.join(map(str, choices))}"
    return check


def _boolean(value):
    return None if isinstance(value, bool) else "true or false"


def _text(value):
    return None if isinstance(value, str) and value else "a non-empty string"


def _milestones(value):
    expected = "a list of increasing epochs >= 1"
    if not isinstance(value, list) or not value:
        return expected
    if any(not isinstance(epoch, int) or isinstance(epoch, bool) or epoch < 1 for epoch in value):
        return expected
    if any(later <= earlier for earlier, later in zip(value, value[1:])):
        return expected
    return None


def _track_kinds(value):
    expected = f"a list of kinds to track, each once, from {', '.join(tracking.KINDS)}"
    if not isinstance(value, list) or not value or len(set(map(str, value))) != len(value):
        return expected
    return None if all(kind in tracking.KINDS for kind in value) else expected


def _optional(check):
    def optional_check(value):
        return None if value is None else check(value)
    return optional_check


# setting -> the rule its value must satisfy (None is allowed only where _optional says so)
RULES = {
    "model": _one_of(models_table.MODEL_NAMES),
    "depth": _integer(1),
    "width": _optional(_integer(1)),
    "stages": _optional(_one_of((3, 4))),
    "data": _text,
    "download": _boolean,
    "train_subset": _optional(_integer(1)),
    "test_subset": _optional(_integer(1)),
    "augment": _boolean,
    "epochs": _integer(1),
    "batch_size": _integer(1),
    "optimizer": _one_of(OPTIMIZERS),
    "lr": _number(above=0),
    "momentum": _optional(_number(at_least=0, below=1)),
    "weight_decay": _number(at_least=0),
    "nesterov": _optional(_boolean),
    "schedule": _one_of(SCHEDULES),
    "milestones": _optional(_milestones),
    "gamma": _optional(_number(above=0, at_most=1)),
    "warmup_epochs": _integer(0),
    "max_grad_norm": _optional(_number(above=0)),
    "multiplier_lr_fraction": _optional(_number(above=0)),
    "no_lagrange_multipliers": _optional(_boolean),
    "alpha_lr": _optional(_number(above=0)),
    "alpha_loss": _optional(_one_of(("mean", "sum"))),
    "seed": _integer(0, LARGEST_SEED),
    "device": _one_of(DEVICES),
    "fast": _boolean,
    "shortcut": _optional(_one_of(("A", "B"))),
    "zero_init_last_bn": _optional(_boolean),
    "gate": _optional(_one_of(("full", "1x1"))),
    "gate_bias": _optional(_number()),
    "post_activation": _optional(_boolean),
    "width_factor": _optional(_number(above=0)),
    "variant": _optional(_one_of(models_table.VARIANT_NAMES)),
    "dropout_p": _optional(_number(at_least=0, below=1)),
    "init": _optional(_one_of(("hardt_ma", "kaiming"))),
    "placement": _optional(_one_of(models_table.PLACEMENTS)),
    "residual_scale": _optional(_number()),
    "shortcut_scale": _optional(_number()),
    "track": _optional(_track_kinds),
    "track_every": _optional(_integer(1)),
}


def option(name) -> str:
    """The command-line option of a setting: "--max-grad-norm" for max_grad_norm."""
    return "--" + name.replace("_", "-")


def not_applicable(settings) -> dict:
    """Setting -> why it does not apply to this run (the optimiser, schedule or model)."""
    reasons = {}
    if settings["optimizer"] != "sgd":
        for name in ("momentum", "nesterov"):
            reasons[name] = f"applies only to --optimizer sgd (this run uses {settings['optimizer']})"
    if settings["schedule"] != "multistep":
        for name in ("milestones", "gamma"):
            reasons[name] = f"applies only to --schedule multistep (this run uses {settings['schedule']})"
    if settings["model"] in models_table.MODELS and not models_table.is_van(settings):
        reasons["no_lagrange_multipliers"] = (f"applies only to the VAN models, van and mlp-van "
                                              f"(this run trains {settings['model']})")
        for name in ("multiplier_lr_fraction", "alpha_lr", "alpha_loss"):
            reasons[name] = f"applies only to the VAN models, van and mlp-van (this run trains {settings['model']})"
    if settings["model"] in models_table.MODELS and not models_table.is_cifar(settings):
        reasons["stages"] = f"applies only to the CIFAR nets (this run trains {settings['model']})"
    if not settings.get("track"):
        reasons["track_every"] = "applies only with --track (what to measure)"
    if settings["data"] not in ("cifar10", *models_table.MNIST_DATA):
        reasons["download"] = "applies only to --data cifar10, mnist and fashion-mnist"
    return reasons


def check_settings(settings, given, device_source="--device") -> dict:
    """Checks the settings of a new or resumed run; returns them with the defaults that do
    not apply set to None.

    Args:
        settings: every setting (defaults, a resumed run's, and what was typed).
        given: the settings the user typed; a mistake in one is named by its option.
        device_source: what set the device ("--device", or "MINIRES_DEVICE" when the
            environment variable did).

    Raises:
        CommandError: a typed value out of its range, a typed option that does not
            apply, or a combination that cannot run.
    """
    for name, value in given.items():
        expected = RULES[name](value)
        if expected is not None:
            source = device_source if name == "device" else option(name)
            raise CommandError(f"{source} {_shown(value)}: expected {expected}")
    reasons = not_applicable(settings)
    typed = [name for name in given if name in reasons and given[name] not in (None, False)]
    if typed:
        name = typed[0]
        raise CommandError(f"{option(name)} {reasons[name]}; leave it out")
    settings = {**settings, **{name: None for name in reasons if name not in ("download",)}}
    if settings["nesterov"] and not settings["momentum"]:
        raise CommandError("--nesterov needs --momentum > 0 (Nesterov's step looks ahead along "
                           "the momentum buffer); give --momentum 0.9, or leave --nesterov out")
    if settings["warmup_epochs"] >= settings["epochs"]:
        raise CommandError(f"--warmup-epochs {settings['warmup_epochs']} leaves no epoch for the "
                           f"schedule of {settings['epochs']} epochs; use fewer warm-up epochs")
    late = [epoch for epoch in settings["milestones"] or () if epoch >= settings["epochs"]]
    if late:
        raise CommandError(f"--milestones {late[0]}: a milestone must come before the last epoch "
                           f"({settings['epochs']}); the rate would never change there")
    return settings


def check_saved_settings(saved, path):
    """Checks the settings a resumed run's config.json holds (RunFileError on damage).

    Settings a run of an older minires did not record are left to their defaults;
    a recorded one must satisfy its rule.
    """
    for name in RECORDED_SINCE_0_1:
        if name not in saved:
            raise RunFileError(f"{path} is damaged: settings.{name} is missing")
    for name, value in saved.items():
        if name not in RULES:
            continue                     # a setting of another version: not used
        if name == "model":
            value = models_table.RENAMED_MODELS.get(value, value)
        expected = RULES[name](value)
        if expected is not None:
            raise RunFileError(f"{path} is damaged: settings.{name} is {_shown(value)}; expected {expected}")


def _shown(value) -> str:
    """A value as the user would type it (lists space-separated, None as null)."""
    if isinstance(value, list):
        return " ".join(map(str, value))
    if value is None:
        return "null"
    return str(value)
