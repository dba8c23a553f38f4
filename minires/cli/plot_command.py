"""``minires plot RUN [RUN ...]``: the papers' figure, error against epoch, one colour per run;
with ``--tracks KIND``, what ``minires train --track`` recorded, the runs side by side."""

from minires.cli.errors import CommandError
from minires.plotting import plot_runs
from minires.run_directory import RunDirectory, write_atomically
from minires.track_plots import HEATMAPS, LINES, kinds_in, plot_track_comparison


def add_parser(commands):
    parser = commands.add_parser(
        "plot", help="overlay the error curves of several runs",
        description="Overlays the training (dashed) and test (solid) error of runs, "
                    "one colour per run, labelled by model and depth.")
    parser.add_argument("runs", nargs="+", metavar="RUN", help="run folders written by minires train")
    parser.add_argument("--out", default="comparison.png", help="the image to write (default: %(default)s)")
    parser.add_argument("--tracks", choices=[*HEATMAPS, *LINES], metavar="KIND",
                        help="draw this kind of the runs' --track records side by side instead "
                             f"({', '.join([*HEATMAPS, *LINES])})")
    parser.set_defaults(run=run)


def run_label(config, folder) -> str:
    """'residual-20' from a run's config.json; the folder name when it lacks a model."""
    settings = config.get("settings", {})
    if "model" in settings and "depth" in settings:
        return f"{settings['model']}-{settings['depth']}"
    return folder


def run(arguments):
    runs = []
    for folder in arguments.runs:
        run_directory = RunDirectory(folder, mode="read")
        if arguments.tracks:
            values = run_directory.read_tracks()
            if arguments.tracks not in kinds_in(values):
                raise CommandError(f"{folder} has no {arguments.tracks} tracks (train it with "
                                   f"--track {arguments.tracks})")
        else:
            values = run_directory.read_metrics()
            if not values:
                raise CommandError(f"{folder} has no finished epoch to plot (its metrics.jsonl is empty)")
        runs.append((run_label(run_directory.read_config(), folder), values))
    labels = [label for label, _ in runs]
    if len(set(labels)) < len(labels):            # two runs of the same net: name them by folder
        runs = [(f"{label} ({folder})", values) for (label, values), folder in zip(runs, arguments.runs)]
    if not arguments.out.lower().endswith(".png"):
        raise CommandError(f"--out {arguments.out}: the figure is a PNG image; give a name ending in .png")
    if arguments.tracks:
        write_atomically(arguments.out, lambda file: plot_track_comparison(runs, arguments.tracks, file))
    else:
        write_atomically(arguments.out, lambda file: plot_runs(runs, file))
    print(f"wrote {arguments.out}")
