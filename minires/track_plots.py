"""Figures of ``--track`` records (minires.tracking), drawn with matplotlib.

- :func:`plot_tracks`: one run, one panel per kind tracked: per-block gradient norms,
  activation norms and per-layer noise stability as heatmaps (block against step,
  colour the log10 of the value), gate means per highway block and mean alpha per VAN
  layer as lines against step.
- :func:`plot_track_comparison`: one kind, several runs side by side, on one colour
  scale: the figure that shows a plain net's gradients fading with depth next to a
  residual net's staying level (lessons 3 and 4).

As in minires.plotting, the figures use matplotlib's object interface (``Figure``),
never pyplot.
"""

import numpy
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure

# kind -> (the record's field of values, the field of their names, the panel's title)
HEATMAPS = {
    "grad-norms": ("grad_norms", "blocks", "||dL/dx_l|| per block"),
    "activations": ("activations", "blocks", "||x_l|| per block"),
    "noise-stability": ("noise_stability", "weight_layers", "noise stability per layer (relative change)"),
}
LINES = {
    "gates": ("gate_means", "gate_blocks", "mean transform gate T per highway block"),
    "alpha": ("alpha_means", "van_layers", "mean alpha per VAN layer"),
}


def kinds_in(records) -> list:
    """The kinds whose values the records hold, in the order of HEATMAPS then LINES."""
    fields = set(records[0]) if records else set()
    return [kind for kind, (field, _, _) in {**HEATMAPS, **LINES}.items() if field in fields]


def values_of(records, kind):
    """(steps (S,), values (S, L), names): one kind's values, one row per record."""
    field, names_field, _ = {**HEATMAPS, **LINES}[kind]
    steps = numpy.array([record["step"] for record in records])
    values = numpy.array([record[field] for record in records], dtype=float)     # (S, L)
    return steps, values, records[-1][names_field]


def _draw_heatmap(figure, axes, steps, values, title, norm):
    """Layers on the y axis (first at the top), steps on the x axis, log colour."""
    image = axes.pcolormesh(steps, numpy.arange(values.shape[1]), values.T, shading="nearest",
                            norm=norm, cmap="viridis")
    axes.invert_yaxis()
    axes.set(xlabel="training step", ylabel="block (input side at the top)", title=title)
    figure.colorbar(image, ax=axes)


def _log_norm(all_values):
    finite = all_values[numpy.isfinite(all_values) & (all_values > 0)]
    if finite.size == 0:
        return None
    return LogNorm(vmin=finite.min(), vmax=finite.max())


def plot_tracks(records, path, title=""):
    """Saves one panel per kind held in ``records`` to ``path`` (PNG, or an open file)."""
    kinds = kinds_in(records)
    if not kinds:
        raise ValueError("plot_tracks: the records hold no tracked values")
    figure = Figure(figsize=(6 * len(kinds), 4.5), layout="constrained")
    for axes, kind in zip(numpy.atleast_1d(figure.subplots(1, len(kinds))), kinds):
        steps, values, names = values_of(records, kind)
        if kind in HEATMAPS:
            _draw_heatmap(figure, axes, steps, values, HEATMAPS[kind][2], _log_norm(values))
        else:
            for index, name in enumerate(names):
                axes.plot(steps, values[:, index], color=f"C{index % 10}", linewidth=1,
                          label=name if len(names) <= 10 else None)
            axes.set(xlabel="training step", title=LINES[kind][2])
            axes.grid(alpha=0.3)
            if len(names) <= 10:
                axes.legend(fontsize="x-small")
    if title:
        figure.suptitle(title)
    figure.savefig(path, dpi=100, format="png")


def plot_track_comparison(runs, kind, path):
    """Saves ``kind`` of several runs side by side to ``path``.

    Args:
        runs: (label, records) pairs.
        kind: one of HEATMAPS (drawn on one shared colour scale) or LINES.
    """
    figure = Figure(figsize=(5.5 * len(runs), 4.5), layout="constrained")
    all_axes = numpy.atleast_1d(figure.subplots(1, len(runs), sharey=kind in LINES))
    series = [values_of(records, kind) for _, records in runs]
    norm = _log_norm(numpy.concatenate([values.ravel() for _, values, _ in series])) if kind in HEATMAPS else None
    for axes, (label, _), (steps, values, names) in zip(all_axes, runs, series):
        if kind in HEATMAPS:
            _draw_heatmap(figure, axes, steps, values, f"{label}: {HEATMAPS[kind][2]}", norm)
        else:
            for index in range(values.shape[1]):
                axes.plot(steps, values[:, index], color=f"C{index % 10}", linewidth=1)
            axes.set(xlabel="training step", title=f"{label}: {LINES[kind][2]}")
            axes.grid(alpha=0.3)
    figure.savefig(path, dpi=100, format="png")
