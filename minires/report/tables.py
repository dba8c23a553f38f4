"""The report's two tables: table.csv (for a spreadsheet or pandas) and report.md (to read).

Both show errors in percent. The CSV keeps four decimals and leaves a cell empty where
there is no number (no std for one seed, no paper row); the Markdown rounds to two and
writes "-" there.
"""

import csv
import io
import json

from minires.report.aggregate import family_keys, unmatched_rows
from minires.report.sweep_folder import METRICS
from minires.report.tracks import tracks_table

LONGEST_ERROR = 300         # characters of a trial's error in report.md


def percent(fraction, decimals=2, sign="") -> str:
    """A fraction in percent, "-" for None. Adding 0.0 after rounding turns -0.0 into 0.0:
    a difference of -1e-17 is "0.00", not "-0.00"."""
    if fraction is None:
        return "-"
    return f"{round(100.0 * fraction, decimals) + 0.0:{sign}.{decimals}f}"


def paper_cell(paper, decimals=2, missing="-") -> str:
    """The published number in percent, "fail" as the paper writes it, ``missing`` for no row."""
    if paper is None:
        return missing
    return paper if paper == "fail" else percent(paper, decimals)


def difference(group, metric):
    """minires's mean minus the paper's number (a fraction), or None where either is missing."""
    mean = group.summary(metric).mean
    if mean is None or group.paper in (None, "fail"):
        return None
    return mean - group.paper


def csv_table(sweep, groups, metrics) -> str:
    """One row per (family, depth): the family's settings, then each metric's mean, std and
    n in percent, then the published number and minires's difference from it."""
    keys = family_keys(sweep)
    header = ["family", *keys, "depth"]
    for metric in metrics:
        header += [f"{metric}_mean_percent", f"{metric}_std_percent", f"{metric}_n"]
    header += ["left_out"]
    if sweep.published:
        paper_metric = sweep.published["metric"]
        header += [f"paper_{paper_metric}_percent", f"difference_{paper_metric}_percent"]
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(header)
    for group in groups:
        family = dict(group.family)
        row = [group.label, *(_csv_value(family[key]) for key in keys), _csv_value(group.depth)]
        for metric in metrics:
            summary = group.summary(metric)
            row += [_csv_percent(summary.mean), _csv_percent(summary.std), summary.n]
        row += [len(group.left_out)]
        if sweep.published:
            row += [paper_cell(group.paper, 4, missing=""), _csv_percent(difference(group, paper_metric))]
        writer.writerow(row)
    return text.getvalue()


def _csv_percent(fraction) -> str:
    return "" if fraction is None else percent(fraction, 4)


def _csv_value(value) -> str:
    return "" if value is None else value if isinstance(value, str) else json.dumps(value)


def _cell(text) -> str:
    """Text made safe for one cell of a Markdown table: one line, no bare |."""
    return " ".join(str(text).split()).replace("|", "\\|")


def results_table(sweep, groups, metrics) -> list:
    """The lines of the Markdown results table, and the citation under it."""
    header = ["family", "depth", "n"]
    for metric in metrics:
        header += [f"{METRICS[metric]} (%)", "std"]
    if sweep.published:
        paper_metric = sweep.published["metric"]
        header += ["paper (%)", "difference (points)"]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|"]
    for group in groups:
        row = [_cell(group.label), "-" if group.depth is None else str(group.depth), str(len(group.done))]
        for metric in metrics:
            summary = group.summary(metric)
            row += [percent(summary.mean), percent(summary.std)]
        if sweep.published:
            gap = difference(group, paper_metric)
            row += [paper_cell(group.paper), percent(gap, sign="+")]
        lines.append("| " + " | ".join(row) + " |")
    if sweep.published:
        lines += ["", _citation(sweep.published, groups)]
    return lines


def _citation(published, groups) -> str:
    citation = " ".join(str(published.get("citation") or "no citation given").split()).rstrip(".")
    text = (f"Paper: {citation}. The paper column is the error it reports, compared with minires's "
            f"{METRICS[published['metric']]}; the difference is minires's mean minus the paper's number, "
            "in percentage points; \"fail\" marks a net the paper reports failed to train, \"-\" a net "
            "the paper did not train.")
    unmatched = unmatched_rows(published, groups)
    if unmatched:
        text += (" Published rows that match no trial of this sweep: "
                 + "; ".join(_settings_text(row, leave_out=published["metric"]) for row in unmatched) + ".")
    return text


def _settings_text(settings, leave_out=None) -> str:
    return ", ".join(f"{key}={value}" for key, value in settings.items() if key != leave_out)


def left_out_table(sweep) -> list:
    """The lines of the Markdown table of trials left out of the means, with their errors."""
    trials = [trial for trial in sweep.trials if trial.status != "done"]
    if not trials:
        return ["None: every trial finished."]
    lines = ["| trial | settings | status | error |", "|---|---|---|---|"]
    for trial in trials:
        error = trial.error or ("still running, or stopped without a record" if trial.status == "running"
                                else "no error recorded")
        error = " ".join(error.split())
        if len(error) > LONGEST_ERROR:           # a log's last lines: the log has them all
            error = error[:LONGEST_ERROR] + f" ... (see logs/{trial.trial}.log)"
        lines.append(f"| {_cell(trial.trial)} | {_cell(_settings_text(trial.settings))} | {trial.status} "
                     f"| {_cell(error)} |")
    return lines


def minires_versions(sweep) -> str:
    """'0.1.0, commit <hex>', or each version with the trials it ran when they differ.

    The commit is the git commit of the minires source that ran a trial (minires_commit
    in its versions, "+modified" when minires/ had uncommitted changes), where one was
    recorded; sweep.json's version stands in when no trial recorded one.
    """
    versions = {}
    for trial in sweep.trials:
        if trial.versions.get("minires"):
            commit = trial.versions.get("minires_commit")
            version = str(trial.versions["minires"]) + (f", commit {commit}" if commit else "")
            versions.setdefault(version, []).append(trial.trial)
    if not versions:
        return str(sweep.info.get("minires") or "not recorded")
    if len(versions) == 1:
        return next(iter(versions))
    return "; ".join(f"{version} ({', '.join(users[:3])}{', ...' if len(users) > 3 else ''})"
                     for version, users in versions.items())


def wall_time(sweep) -> str:
    """'57.9 min of training for the 8 finished trials, 2 CPU threads each' (from trials.jsonl)."""
    done = [trial for trial in sweep.trials if trial.status == "done"]
    cpus = (sweep.info.get("resources") or {}).get("cpus")
    return (f"{sum(trial.wall_seconds for trial in done) / 60:.1f} min of training for the {len(done)} finished "
            f"trials" + (f", {cpus} CPU threads each" if cpus else ""))


def markdown_report(sweep, groups, metrics, figures, command, depth_varied, tracked=(), data_sha256=None) -> str:
    """report.md: how it was made, the results table, the tracked measures, the figures,
    and the trials left out.

    Args:
        figures: (file name, caption) of each figure, in the order to show them.
        command: the command line that makes this report again.
        depth_varied: False when the sweep ran one depth (a bar chart replaces error against depth).
        tracked: the GroupTracks of minires.report.tracks (none: no section).
        data_sha256: the sweep folder's data.sha256 line ("<hash>  <file name>"), when it has one.
    """
    info = sweep.info
    statuses = {}
    for trial in sweep.trials:
        statuses[trial.status] = statuses.get(trial.status, 0) + 1
    counts = ", ".join(f"{count} {status}" for status, count in statuses.items())
    lines = [f"# Sweep report: {info.get('name') or sweep.path}", ""]
    if info.get("description"):
        lines += [" ".join(str(info["description"]).split()), ""]
    lines += [
        "Made by `minires report` from the sweep folder's small files alone (sweep.json, trials.jsonl, "
        "and each trial's config.json, metrics.jsonl and tracks.jsonl; no checkpoint). To make it again:", "",
        f"    {command}", "",
        f"- config: {info.get('config_file') or '-'} (as run: sweep.toml), scale: {info.get('scale') or '-'}, "
        f"created {info.get('created') or '-'}",
        f"- varied: {', '.join(sweep.grid_keys) or 'nothing'}",
        f"- data: {sweep.base.get('data', 'each trial its own')}"
        + (f", sha256 {data_sha256.split()[0]} (data.sha256)" if data_sha256 else ""),
        f"- minires: {minires_versions(sweep)}",
        f"- trials: {len(sweep.trials)} recorded: {counts}",
        f"- time: {wall_time(sweep)}",
        *([f"- trials.jsonl lines {', '.join(map(str, sweep.cut_lines))} are not JSON (cut short when a "
           "sweep was killed while writing them) and were skipped"] if sweep.cut_lines else []), "",
        "## Results", "",
        "The mean over seeds of each (family, depth); n is how many finished trials went in. std is the "
        "sample standard deviation over seeds (n - 1 in the denominator); \"-\" where n = 1, as one seed "
        "has no spread. Errors in percent. Final test error: after the last epoch; best test error: the "
        "lowest over the epochs (chosen by looking at the test set, so optimistic); final train error: "
        "over the last epoch's batches, while training.", "",
        *results_table(sweep, groups, metrics), "",
    ]
    if tracked:
        lines += ["## Tracked inside the nets", "",
                  "From the trials' tracks.jsonl (minires train --track), mean ± std over seeds, as "
                  "tracks.csv holds them. The alpha residual (1/L) Σ_l ||1 - α_l||² of a VAN net is 0 when "
                  "every alpha is 1, the net plain; its first step is the first record with 0 (records every "
                  "track_every steps). Noise stability: the relative change of the logits when one layer's "
                  "weights get noise of 1% of their norm, averaged over the layers.", "",
                  *tracks_table(tracked), ""]
    lines += [
        "## Figures", "",
    ]
    if not depth_varied:
        depths = sorted({str(group.depth) for group in groups})
        lines += [f"The depth was not varied (every trial at depth {', '.join(depths)}), so the families "
                  "are compared in a bar chart instead of error against depth.", ""]
    for name, caption in figures:
        lines += [f"![{name}]({name})", "", f"*{caption}*", ""]
    lines += ["## Trials left out of the means", "",
              "Failed, interrupted and still running trials; each one's output is in the sweep "
              "folder's logs/<trial>.log.", "", *left_out_table(sweep), ""]
    return "\n".join(lines)
