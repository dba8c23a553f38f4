"""What ``--track`` recorded in a sweep's trials, summed up per (family, depth) group.

Two of the claims minires reproduces are about a net's insides rather than its error:

- how fast a VAN net phases its skips out. The alpha residual
  (1/L) Σ_l ||1 - α_l||² (minires.analysis.van_alphas) is 0 exactly when every α is 1,
  that is when the net has become plain; "Avoiding degradation in deep feed-forward
  networks by phasing out skip-connections" plots it against the iteration (Fig. 2).
- noise stability: how much the logits move when one layer's weights get noise of 1%
  of their norm (minires.analysis.noise_stability), layer by layer ("Identity
  Connections in Residual Nets Improve Noise Stability").

For each group, over its finished trials that tracked them:

    plain_at_step          the first recorded step with alpha residual 0 (the net plain);
                           trials that never got there are counted in never_plain
    nearly_plain_at_step   the first recorded step with alpha residual <= NEARLY_PLAIN (0.01),
                           counted apart in never_nearly_plain
    alpha_residual_last    the alpha residual at the last record
    noise_stability_mean   the mean over layers of the relative change at the last record

tracks.csv holds their means, standard deviations and n (raw numbers, not percent),
report.md a table of them, and alpha_residual.png and noise_stability.png draw the
records themselves: the mean over seeds at each step (or layer).
"""

import csv
import io
import math
import statistics
from dataclasses import dataclass, field

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from minires.report.aggregate import Summary, family_keys, summarize

# The alpha residual at or below which a net counts as nearly plain: (1/L) Σ_l ||1 - α_l||²
# <= 0.01, e.g. every one of 64 channels' skip weight 1 - α at or below 0.0125. With
# dC/dα from the summed loss the alphas keep bouncing just under 1 and the residual
# rarely stays at exactly 0.
NEARLY_PLAIN = 0.01
# measure -> the alpha residual threshold whose first step it records
STEP_MEASURES = {"plain_at_step": 0.0, "nearly_plain_at_step": NEARLY_PLAIN}


@dataclass
class GroupTracks:
    """The track records of one (family, depth) group's finished trials."""
    group: object                                    # the aggregate.Group
    alpha: list = field(default_factory=list)        # per trial: (steps, alpha residuals)
    noise: list = field(default_factory=list)        # per trial: relative change per layer, last record
    noise_layers: list = field(default_factory=list)  # the layers' names (of the first trial)

    def first_steps(self, measure) -> list:
        """Per trial, the first recorded step with alpha residual at or below the threshold
        of ``measure`` (a key of STEP_MEASURES), or None if it never got there."""
        threshold = STEP_MEASURES[measure]
        return [next((step for step, residual in zip(steps, residuals) if residual <= threshold), None)
                for steps, residuals in self.alpha]

    def never(self, measure) -> int:
        """How many trials never got to the threshold of ``measure``."""
        return sum(step is None for step in self.first_steps(measure))

    def summaries(self) -> dict:
        """{name: Summary} of the measures this group tracked (see the module docstring)."""
        summaries = {}
        if self.alpha:
            for measure in STEP_MEASURES:
                summaries[measure] = summarize(step for step in self.first_steps(measure) if step is not None)
            summaries["alpha_residual_last"] = summarize(residuals[-1] for _, residuals in self.alpha)
        if self.noise:
            summaries["noise_stability_mean"] = summarize(statistics.fmean(layers) for layers in self.noise)
        return summaries


def read_group_tracks(sweep, groups) -> list:
    """A GroupTracks for each group whose finished trials were trained with --track
    alpha or noise-stability (an empty list when none was). A trial that was asked to
    track but has no tracks.jsonl is a damaged sweep: RunFileError names the file."""
    tracked = []
    for group in groups:
        kinds = set(group.settings.get("track") or [])
        if not kinds & {"alpha", "noise-stability"}:
            continue
        tracks = GroupTracks(group)
        for trial in group.done:
            records = sweep.trial_folder(trial).read_tracks()
            if "alpha" in kinds:
                alpha = [record for record in records if "alpha_residual" in record]
                tracks.alpha.append(([record["step"] for record in alpha],
                                     [record["alpha_residual"] for record in alpha]))
            noise = [record for record in records if "noise_stability" in record]
            if "noise-stability" in kinds and noise:
                tracks.noise.append(noise[-1]["noise_stability"])
                tracks.noise_layers = tracks.noise_layers or noise[-1]["weight_layers"]
        tracked.append(tracks)
    return tracked


# column of tracks.csv -> what report.md calls it
MEASURES = {
    "plain_at_step": "first step with every alpha at 1",
    "nearly_plain_at_step": f"first step with alpha residual <= {NEARLY_PLAIN}",
    "alpha_residual_last": "alpha residual at the end",
    "noise_stability_mean": "noise stability, mean over layers, at the end",
}


def _measures_in(tracked) -> list:
    present = {name for tracks in tracked for name in tracks.summaries()}
    return [name for name in MEASURES if name in present]


def tracks_csv(sweep, tracked) -> str:
    """tracks.csv: one row per tracked group: its family and depth, then each measure's
    mean, std and n (and never_plain beside plain_at_step)."""
    keys = family_keys(sweep)
    measures = _measures_in(tracked)
    header = ["family", *keys, "depth"]
    for name in measures:
        header += [f"{name}_mean", f"{name}_std", f"{name}_n"]
        if name in STEP_MEASURES:
            header += ["never_" + name.removesuffix("_at_step")]
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(header)
    for tracks in tracked:
        group = tracks.group
        family = dict(group.family)
        row = [group.label, *("" if family[key] is None else family[key] for key in keys),
               "" if group.depth is None else group.depth]
        summaries = tracks.summaries()
        for name in measures:
            summary = summaries.get(name, Summary(None, None, 0))
            row += [_number(summary.mean), _number(summary.std), summary.n]
            if name in STEP_MEASURES:
                row += [tracks.never(name) if tracks.alpha else ""]
        writer.writerow(row)
    return text.getvalue()


def _number(value) -> str:
    return "" if value is None else f"{value:.6g}"


def tracks_table(tracked) -> list:
    """The lines of report.md's table of tracked measures (mean ± std, n)."""
    measures = _measures_in(tracked)
    lines = ["| family | depth | " + " | ".join(MEASURES[name] for name in measures) + " |",
             "|---|---:|" + "---:|" * len(measures)]
    for tracks in tracked:
        summaries = tracks.summaries()
        cells = []
        for name in measures:
            summary = summaries.get(name, Summary(None, None, 0))
            cell = "-" if summary.mean is None else f"{summary.mean:.4g}"
            if summary.std is not None:
                cell += f" ± {summary.std:.2g}"
            cell += f" (n={summary.n})"
            if name in STEP_MEASURES and tracks.alpha and tracks.never(name):
                cell += f", {tracks.never(name)} never"
            cells.append(cell)
        depth = "-" if tracks.group.depth is None else str(tracks.group.depth)
        lines.append(f"| {tracks.group.label} | {depth} | " + " | ".join(cells) + " |")
    return lines


def _panels(depths, figure_width=5.5, figure_height=4.2):
    columns = min(3, len(depths))
    rows = math.ceil(len(depths) / columns)
    figure = Figure(figsize=(figure_width * columns, figure_height * rows), layout="constrained")
    panels = figure.subplots(rows, columns, squeeze=False).flatten()
    for axes in panels[len(depths):]:
        axes.set_visible(False)
    return figure, panels


def _family_colors(tracked) -> dict:
    """{family label: a colour}, the same family in the same colour in every panel."""
    labels = dict.fromkeys(tracks.group.label for tracks in tracked)
    return {label: f"C{index % 10}" for index, label in enumerate(labels)}


def _mean_and_std(rows):
    """Per position, the mean and std (0 for one row) over rows of equal length."""
    summaries = [summarize(column) for column in zip(*rows)]
    return [summary.mean for summary in summaries], [summary.std or 0.0 for summary in summaries]


def plot_alpha_residual(tracked, path):
    """alpha_residual.png: the alpha residual against the step, a panel per depth, a line
    per family (the mean over seeds, each seed thin beside it); 0 means every skip is gone."""
    with_alpha = [tracks for tracks in tracked if tracks.alpha]
    depths = sorted({tracks.group.depth for tracks in with_alpha})
    colors = _family_colors(with_alpha)
    figure, panels = _panels(depths)
    for axes, depth in zip(panels, depths):
        for tracks in with_alpha:
            if tracks.group.depth != depth:
                continue
            steps = min((steps for steps, _ in tracks.alpha), key=len)       # the steps every seed recorded
            mean, _ = _mean_and_std([residuals[:len(steps)] for _, residuals in tracks.alpha])
            color = colors[tracks.group.label]
            axes.plot(steps, mean, color=color, linewidth=2, label=f"{tracks.group.label} (n={len(tracks.alpha)})")
            for seed_steps, residuals in tracks.alpha:                         # each seed, thin
                axes.plot(seed_steps, residuals, color=color, linewidth=0.6, alpha=0.5)
        axes.set(xlabel="step", ylabel="alpha residual (1/L) Σ ||1 - α_l||²", title=f"depth {depth}")
        axes.set_yscale("symlog", linthresh=1e-4)            # logarithmic above 1e-4, so that 0 shows
        axes.grid(alpha=0.3)
        axes.legend(fontsize="small")
    figure.suptitle("alpha residual against step (0: the net plain)\nmean over seeds (thick), each seed (thin)")
    figure.savefig(path, dpi=100, format="png")


def plot_noise_stability(tracked, path):
    """noise_stability.png: the relative change of the logits per layer at the last
    record, a panel per depth, a line per family (mean over seeds), on a log scale."""
    with_noise = [tracks for tracks in tracked if tracks.noise]
    depths = sorted({tracks.group.depth for tracks in with_noise})
    colors = _family_colors(with_noise)
    figure, panels = _panels(depths)
    for axes, depth in zip(panels, depths):
        for tracks in with_noise:
            if tracks.group.depth != depth:
                continue
            mean, std = _mean_and_std(tracks.noise)
            layers = range(1, len(mean) + 1)
            axes.errorbar(layers, mean, yerr=std, color=colors[tracks.group.label], marker=".", capsize=2,
                          label=f"{tracks.group.label} (n={len(tracks.noise)})")
        axes.set(xlabel="weight layer (input to output)", ylabel="relative change of the logits",
                 title=f"depth {depth}", yscale="log")
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.grid(alpha=0.3, which="both")
        axes.legend(fontsize="small")
    figure.suptitle("noise stability per layer, end of training\nmean over seeds, bars ± one std")
    figure.savefig(path, dpi=100, format="png")
