"""A sweep's trials grouped into (family, depth) and averaged over seeds.

A **family** is one combination of the varied settings other than ``seed``, ``depth`` and
the ``track`` settings, which measure a net without changing its training (``model=plain``;
``model=scaled_residual, variant=dropout``). Each (family, depth)
group holds the trials that differ only in their seed. Only finished trials ("done")
go into the means; the failed, interrupted and running ones are kept beside them, to be
listed, and ``n`` says how many went in.

The spread is the sample standard deviation over seeds,

    std = sqrt( Σ_i (e_i - mean)² / (n - 1) ),

with n - 1 in the denominator (Bessel's correction), as papers' "mean ± std over 5
runs" usually are. One seed has no spread: its std is None, shown as "-".
"""

import json
import statistics
from dataclasses import dataclass, field
from typing import NamedTuple

from minires.report.sweep_folder import METRICS, read_history

NOT_A_FAMILY_KEY = ("seed", "depth", "track", "track_every")


class Summary(NamedTuple):
    """Mean and standard deviation (fractions) of one metric over the n seeds of a group."""
    mean: float | None         # None when n == 0
    std: float | None          # None when n < 2
    n: int


def summarize(values) -> Summary:
    values = list(values)
    if not values:
        return Summary(None, None, 0)
    std = statistics.stdev(values) if len(values) > 1 else None
    return Summary(statistics.fmean(values), std, len(values))


@dataclass
class Group:
    """The trials of one family at one depth: one row of the report's table."""
    family: tuple              # ((setting, value), ...) in grid order
    label: str                 # "plain", "scaled_residual, variant=dropout"
    depth: object              # the depth of its nets (an int; None when it has none)
    settings: dict             # all settings of its nets but the seed (to match published rows)
    done: list = field(default_factory=list)        # the finished Trials
    left_out: list = field(default_factory=list)    # failed, interrupted, running
    values: dict = field(default_factory=dict)      # metric -> one fraction per done trial
    histories: list = field(default_factory=list)   # metrics.jsonl of each done trial
    paper: object = None       # the published number: a fraction, "fail", or None (no row)

    def summary(self, metric) -> Summary:
        return summarize(self.values.get(metric, []))


def family_keys(sweep) -> list:
    return [key for key in sweep.grid_keys if key not in NOT_A_FAMILY_KEY]


def family_label(family, settings) -> str:
    """'plain' for (("model", "plain"),); 'scaled_residual, variant=dropout' with a variant.
    The model is named bare, every other setting as name=value; unset ones are left out.
    A sweep that varied only depth and seed has one family, named by its model."""
    parts = [str(value) if key == "model" else f"{key}={value}" for key, value in family if value is not None]
    return ", ".join(parts) or str(settings.get("model") or "all trials")


def trial_values(trial, history) -> dict:
    """Each metric of a done trial (fractions). The best test error is trials.jsonl's best
    record, or the lowest test error in metrics.jsonl when the sweep wrote none."""
    best = trial.best["test_error"] if trial.best else min(record["test_error"] for record in history)
    return {"test_error": trial.final["test_error"], "best_test_error": best,
            "train_error": trial.final["train_error"]}


def group_trials(sweep) -> list:
    """The (family, depth) groups of a sweep, families in the order the sweep ran them,
    then depths in increasing order; each done trial's files read and checked."""
    keys = family_keys(sweep)
    read = {trial.trial: read_history(sweep, trial) for trial in sweep.trials if trial.status == "done"}
    # What is not in the grid is the same for every trial: config.json has it all, the
    # defaults too (a failed trial has no config.json to read, so a done one's serves).
    defaults = next((dict(settings) for settings, _ in read.values()), {})
    for key in sweep.grid_keys:
        defaults.pop(key, None)
    groups = {}
    for trial in sweep.trials:
        family = tuple((key, trial.settings.get(key, sweep.base.get(key))) for key in keys)
        own = dict(read[trial.trial][0]) if trial.trial in read else {}      # its config.json's settings
        settings = {**defaults, **own, **sweep.base, **trial.settings}
        settings.pop("seed", None)
        depth = settings.get("depth")
        index = (tuple(json.dumps(value, sort_keys=True) for _, value in family), json.dumps(depth))
        if index not in groups:
            groups[index] = Group(family, family_label(family, settings), depth, settings)
        group = groups[index]
        if trial.trial not in read:
            group.left_out.append(trial)
            continue
        history = read[trial.trial][1]
        group.done.append(trial)
        group.histories.append(history)
        for metric, value in trial_values(trial, history).items():
            group.values.setdefault(metric, []).append(value)
    family_order = list(dict.fromkeys(index[0] for index in groups))
    ordered = sorted(groups, key=lambda index: (family_order.index(index[0]), _depth_order(groups[index].depth)))
    ordered_groups = [groups[index] for index in ordered]
    if sweep.published:
        for group in ordered_groups:
            group.paper = paper_value(sweep.published, group.settings)
    return ordered_groups


def _depth_order(depth):
    return (0, depth) if isinstance(depth, (int, float)) and not isinstance(depth, bool) else (1, str(depth))


def depth_is_varied(sweep, groups) -> bool:
    return "depth" in sweep.grid_keys and len({json.dumps(group.depth) for group in groups}) > 1


def matching_rows(published, settings) -> list:
    """The published rows whose every setting (all but the metric) equals the group's."""
    metric = published["metric"]
    return [row for row in published["rows"]
            if all(key in settings and settings[key] == value for key, value in row.items() if key != metric)]


def paper_value(published, settings):
    """The published number for a group: the most specific matching row's (the one naming
    the most settings; the first of those), "fail" where the paper gives none (a net that
    failed to train: "fail" or null), None where no row matches."""
    rows = matching_rows(published, settings)
    if not rows:
        return None
    row = max(rows, key=len)                  # max keeps the first of equals
    value = row.get(published["metric"])
    return "fail" if value in (None, "fail") else value


def unmatched_rows(published, groups) -> list:
    """Published rows that match no group (a grid that left them out, or a misspelt setting)."""
    return [row for row in published["rows"]
            if not any(row in matching_rows(published, group.settings) for group in groups)]


class CurveStatistics(NamedTuple):
    """Per epoch, over the seeds that reached it: the mean and std of an error (fractions)."""
    epochs: list
    mean: list
    std: list                  # 0.0 where one seed reached the epoch


def curve_statistics(histories, name="test_error") -> CurveStatistics:
    by_epoch = {}
    for history in histories:
        for record in history:
            by_epoch.setdefault(record["epoch"], []).append(record[name])
    epochs = sorted(by_epoch)
    summaries = [summarize(by_epoch[epoch]) for epoch in epochs]
    return CurveStatistics(epochs, [s.mean for s in summaries], [s.std or 0.0 for s in summaries])


def metrics_to_report(requested, published) -> list:
    """The metrics asked for (all of them by default), and the published one, which the
    paper column is compared with."""
    metrics = list(dict.fromkeys(requested or METRICS))
    if published and published["metric"] not in metrics:
        metrics.append(published["metric"])
    return metrics
