"""``minires report SWEEP_DIR``: what a sweep found, averaged over seeds.

Writes into ``SWEEP_DIR/report/`` (or ``--out``):

    report.md           how to make it again, the results table (mean, std and n over seeds of
                        each family and depth, beside the published numbers when the config has
                        them), the figures, and the trials left out with their errors
    table.csv           the same numbers, one row per (family, depth)
    error_vs_depth.png  error against depth, a line per family (families.png, a bar per
                        family, when the sweep ran one depth)
    curves.png          test error against epoch, a panel per depth, a band of one std

and, where the trials were trained with --track alpha or noise-stability (minires.report.tracks):

    tracks.csv          per (family, depth): the first step with every VAN alpha at 1, the alpha
                        residual and the mean noise stability at the end (mean, std, n)
    alpha_residual.png  the alpha residual against the step
    noise_stability.png the relative change of the logits per layer, at the end

A sweep folder holding data.sha256 (a results/ folder does) has the data's hash in report.md.
"""

import os
import shlex

from minires.cli.errors import CommandError
from minires.report.aggregate import depth_is_varied, group_trials, metrics_to_report
from minires.report.figures import plot_curves_by_depth, plot_error_against_depth, plot_families
from minires.report.sweep_folder import METRICS, read_sweep
from minires.report.tables import csv_table, markdown_report
from minires.report.tracks import plot_alpha_residual, plot_noise_stability, read_group_tracks, tracks_csv
from minires.run_directory import write_atomically


def add_parser(commands):
    parser = commands.add_parser(
        "report", help="average a sweep's trials over seeds: tables and figures",
        description="Averages the finished trials of a sweep folder (written by minires sweep) over "
                    "seeds, per family and depth, and writes report.md, table.csv and figures. "
                    "Failed, interrupted and running trials are listed and left out of the means.")
    parser.add_argument("sweep", metavar="SWEEP_DIR", help="a sweep folder written by minires sweep")
    parser.add_argument("--out", metavar="DIR",
                        help="the folder to write the report into (default: SWEEP_DIR/report)")
    parser.add_argument("--metric", nargs="+", action="extend", choices=list(METRICS), metavar="METRIC",
                        help="the errors to report, one or more of "
                             f"{', '.join(METRICS)} (default: all three; the published one is always added)")
    parser.set_defaults(run=run)


def regenerating_command(arguments) -> str:
    words = ["minires", "report", arguments.sweep]
    if arguments.out:
        words += ["--out", arguments.out]
    if arguments.metric:
        words += ["--metric", *dict.fromkeys(arguments.metric)]
    return shlex.join(words)


def output_folder(arguments) -> str:
    out = arguments.out or os.path.join(arguments.sweep, "report")
    if os.path.exists(out) and not os.path.isdir(out):
        raise CommandError(f"--out {out} is a file, not a folder; give a folder for the report")
    parent = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(parent):
        raise CommandError(f"--out {out}: its folder {parent} does not exist; create it or choose another --out")
    return out


def data_sha256(sweep_folder):
    """The line of SWEEP_DIR/data.sha256 ("<hash>  <file name>", as sha256sum writes it), or None."""
    path = os.path.join(sweep_folder, "data.sha256")
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as file:
        line = file.readline().strip()
    if len(line.split()) != 2 or len(line.split()[0]) != 64:
        raise CommandError(f"{path} is damaged: expected one line '<64 hex digits>  <file name>', got {line!r}")
    return line


def run(arguments):
    sweep = read_sweep(arguments.sweep)
    data_hash = data_sha256(arguments.sweep)
    metrics = metrics_to_report(arguments.metric, sweep.published)
    groups = group_trials(sweep)
    if not any(group.done for group in groups):
        statuses = ", ".join(sorted({trial.status for trial in sweep.trials})) or "none recorded"
        raise CommandError(f"{arguments.sweep} has no finished trial to report ({len(sweep.trials)} trials: "
                           f"{statuses}); wait until one finishes, or continue the sweep")
    out = output_folder(arguments)
    os.makedirs(out, exist_ok=True)
    paper_metric = sweep.published["metric"] if sweep.published else None
    depth_varied = depth_is_varied(sweep, groups)
    if depth_varied:
        figures = [("error_vs_depth.png", "Error against depth: mean over seeds, bars one standard deviation"),
                   ("curves.png", "Test error against epoch for each depth: mean over seeds, band one "
                                  "standard deviation; training error dashed")]
        draw = [lambda file: plot_error_against_depth(groups, metrics, file, paper_metric),
                lambda file: plot_curves_by_depth(groups, file)]
    else:
        figures = [("families.png", "Each family's error: mean over seeds, bars one standard deviation"),
                   ("curves.png", "Test error against epoch: mean over seeds, band one standard deviation; "
                                  "training error dashed")]
        draw = [lambda file: plot_families(groups, metrics, file, paper_metric),
                lambda file: plot_curves_by_depth(groups, file)]
    tracked = read_group_tracks(sweep, groups)
    if any(tracks.alpha for tracks in tracked):
        figures.append(("alpha_residual.png", "VAN's alpha residual against the step: mean over seeds (thick), each "
                                              "seed (thin); 0 when every skip is phased out"))
        draw.append(lambda file: plot_alpha_residual(tracked, file))
    if any(tracks.noise for tracks in tracked):
        figures.append(("noise_stability.png", "Noise stability per layer at the end of training: the relative "
                                               "change of the logits, mean over seeds, bars one standard deviation"))
        draw.append(lambda file: plot_noise_stability(tracked, file))
    for (name, _), write in zip(figures, draw):
        write_atomically(os.path.join(out, name), write)
    texts = {"table.csv": csv_table(sweep, groups, metrics),
             "report.md": markdown_report(sweep, groups, metrics, figures, regenerating_command(arguments),
                                          depth_varied, tracked, data_hash)}
    if tracked:
        texts["tracks.csv"] = tracks_csv(sweep, tracked)
    for name, text in texts.items():
        write_atomically(os.path.join(out, name), lambda file, text=text: file.write(text.encode("utf-8")))
    done = sum(len(group.done) for group in groups)
    print(f"{done} of {len(sweep.trials)} trials finished and went into the means; wrote "
          f"{', '.join(os.path.join(out, name) for name in [*texts, *(name for name, _ in figures)])}")
