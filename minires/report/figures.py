"""The report's figures, drawn with matplotlib's object interface like minires.plotting.

- :func:`plot_error_against_depth`: the degradation figure. One panel per metric, one
  line per family, x the depth, y the mean error over seeds in %, error bars one
  standard deviation; the published numbers as crosses on the panel of their metric.
- :func:`plot_families`: the same numbers as bars, one per family, for a sweep at one depth.
- :func:`plot_curves_by_depth`: test error against epoch, one panel per depth, one
  colour per family: the mean over seeds (solid), a band of one standard deviation
  around it, and the mean training error (dashed).

Each takes the groups of :func:`minires.report.aggregate.group_trials`; a group with no
finished trial (n = 0) is left out of the figures.
"""

import math

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from minires.report.aggregate import curve_statistics
from minires.report.sweep_folder import METRICS


def _families(groups) -> dict:
    """{label: [groups of that family with a finished trial]}, families in the sweep's order."""
    families = {}
    for group in groups:
        families.setdefault(group.label, [])
        if group.done:
            families[group.label].append(group)
    return families


def _percent(fraction):
    return 100.0 * fraction


def plot_error_against_depth(groups, metrics, path, paper_metric=None):
    """Saves error against depth, a panel per metric, to ``path`` (PNG, or a binary file)."""
    figure = Figure(figsize=(5 * len(metrics), 4.2), layout="constrained")
    panels = figure.subplots(1, len(metrics), squeeze=False)[0]
    depths = _depths(groups)
    for axes, metric in zip(panels, metrics):
        for index, (label, family) in enumerate(_families(groups).items()):
            color = f"C{index % 10}"
            summaries = [group.summary(metric) for group in family]
            axes.errorbar([group.depth for group in family], [_percent(s.mean) for s in summaries],
                          yerr=[_percent(s.std or 0.0) for s in summaries], color=color, marker="o",
                          capsize=3, label=label)
            if metric == paper_metric:
                published = [(group.depth, group.paper) for group in family if _is_number(group.paper)]
                if published:
                    axes.plot(*zip(*[(depth, _percent(value)) for depth, value in published]), "x:",
                              color=color, markersize=8, label=f"{label} (paper)")
        axes.set(xlabel="depth (layers)", ylabel=f"{METRICS[metric]} (%)", title=METRICS[metric])
        axes.set_xticks(depths)
        axes.grid(alpha=0.3)
    panels[0].legend(fontsize="small")
    figure.suptitle("error against depth: mean over seeds, bars ± one standard deviation")
    figure.savefig(path, dpi=100, format="png")     # path may be an open file


def plot_families(groups, metrics, path, paper_metric=None):
    """Saves a bar per family, a panel per metric, to ``path``: the figure for a sweep
    that did not vary the depth."""
    families = [(label, family[0]) for label, family in _families(groups).items() if family]
    figure = Figure(figsize=(max(5.0, 1.2 * len(families) + 2) * len(metrics), 4.5), layout="constrained")
    panels = figure.subplots(1, len(metrics), squeeze=False)[0]
    positions = list(range(len(families)))
    for axes, metric in zip(panels, metrics):
        summaries = [group.summary(metric) for _, group in families]
        axes.bar(positions, [_percent(s.mean) for s in summaries], yerr=[_percent(s.std or 0.0) for s in summaries],
                 capsize=4, color=[f"C{index % 10}" for index in positions])
        if metric == paper_metric:
            published = [(position, _percent(group.paper)) for position, (_, group) in zip(positions, families)
                         if _is_number(group.paper)]
            if published:
                axes.plot(*zip(*published), "kx", markersize=9, linestyle="none", label="paper")
                axes.legend(fontsize="small")
        axes.set_xticks(positions, [label for label, _ in families], rotation=20, ha="right")
        axes.set(ylabel=f"{METRICS[metric]} (%)", title=METRICS[metric])
        axes.grid(alpha=0.3, axis="y")
    depth = families[0][1].depth if families else None
    figure.suptitle("families" + (f" at depth {depth}" if depth is not None else "")
                    + ": mean over seeds, bars ± one standard deviation")
    figure.savefig(path, dpi=100, format="png")


def plot_curves_by_depth(groups, path):
    """Saves test error against epoch, a panel per depth, a colour per family, to ``path``."""
    families = _families(groups)
    colors = {label: f"C{index % 10}" for index, label in enumerate(families)}
    depths = _depths(groups)
    columns = min(3, len(depths))
    rows = math.ceil(len(depths) / columns)
    figure = Figure(figsize=(5.5 * columns, 4.2 * rows), layout="constrained")
    panels = figure.subplots(rows, columns, squeeze=False).flatten()
    for axes, depth in zip(panels, depths):
        for group in groups:
            if group.depth != depth or not group.done:
                continue
            color = colors[group.label]
            test = curve_statistics(group.histories, "test_error")
            train = curve_statistics(group.histories, "train_error")
            mean = [_percent(value) for value in test.mean]
            spread = [_percent(value) for value in test.std]
            axes.plot(test.epochs, mean, "-", color=color, linewidth=2,
                      label=f"{group.label} test (n={len(group.done)})")
            axes.fill_between(test.epochs, [m - s for m, s in zip(mean, spread)],
                              [m + s for m, s in zip(mean, spread)], color=color, alpha=0.2, linewidth=0)
            axes.plot(train.epochs, [_percent(value) for value in train.mean], "--", color=color, linewidth=1,
                      label=f"{group.label} train")
        axes.set(xlabel="epoch", ylabel="error (%)", title="all trials" if depth is None else f"depth {depth}")
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.grid(alpha=0.3)
        axes.legend(fontsize="small")
    for axes in panels[len(depths):]:
        axes.set_visible(False)
    figure.suptitle("error against epoch: mean over seeds (test solid, train dashed),\n"
                    "band ± one standard deviation of the test error")
    figure.savefig(path, dpi=100, format="png")


def _depths(groups) -> list:
    """The depths with a finished trial, in increasing order (None, no depth, last)."""
    return sorted({group.depth for group in groups if group.done}, key=lambda depth: (depth is None, depth))


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
