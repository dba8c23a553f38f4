"""The ``minires train`` options that give a trial its settings.

The options are built from the train parser's own option strings (so a renamed flag,
``--reference-kernels`` for fast = false, cannot drift from what the parser takes), and
checked by parsing them back: the settings the parser then yields must be the trial's.

    train_arguments({"model": "plain", "depth": 20, "augment": False, "milestones": [50, 75]})
    -> ["--model=plain", "--depth=20", "--no-augment", "--milestones", "50", "75"]
"""

import argparse

from minires.cli import train_command
from minires.cli.errors import CommandError
from minires.cli.train_command import DEFAULTS


class _RaisingParser(argparse.ArgumentParser):
    """argparse that raises instead of printing and exiting: a mistake here is minires's own."""

    def error(self, message):
        raise CommandError(f"minires train would not take these options: {message}")


def _train_parser() -> argparse.ArgumentParser:
    commands = _RaisingParser(prog="minires").add_subparsers()
    train_command.add_parser(commands)
    return commands.choices["train"]


def _options_by_setting(parser) -> dict:
    """setting -> its argparse action (argparse lists its actions only in ``_actions``)."""
    return {action.dest: action for action in parser._actions if action.dest in DEFAULTS}


def train_arguments(settings) -> list:
    """The options of ``minires train`` that give ``settings`` (only the ones named there).

    Raises:
        CommandError: a setting no option of minires train can give, or options that do
            not parse back to ``settings``.
    """
    parser = _train_parser()
    actions = _options_by_setting(parser)
    arguments = []
    for name, value in settings.items():
        action = actions[name]
        option = next(text for text in action.option_strings if text.startswith("--"))
        if action.nargs == 0:                        # a flag: --nesterov, --no-augment, --reference-kernels
            if value == action.const:
                arguments.append(option)
            elif value != DEFAULTS[name]:
                raise CommandError(f"{name} = {value!r}: minires train has no option for it "
                                   f"({option} sets {action.const!r}, and the default is {DEFAULTS[name]!r})")
        elif action.nargs in ("+", "*"):             # --milestones 50 75
            arguments += [option, *map(str, value)]
        elif isinstance(value, list):                # --track grad-norms,weights
            arguments.append(f"{option}={','.join(map(str, value))}")
        else:                                        # --gate-bias=-2: "=" keeps a minus sign a value
            arguments.append(f"{option}={value}")
    parsed = parser.parse_args(arguments)
    given = {name: getattr(parsed, name) for name in DEFAULTS if getattr(parsed, name) is not None}
    if {**DEFAULTS, **given} != {**DEFAULTS, **settings}:
        differ = [name for name in DEFAULTS if {**DEFAULTS, **given}[name] != {**DEFAULTS, **settings}[name]]
        raise CommandError(f"the options {' '.join(arguments)} give minires train other settings than "
                           f"the sweep's ({', '.join(differ)}); this is a bug in minires.sweep")
    return arguments
