"""Figures of training runs, drawn with matplotlib.

- :func:`plot_curves`: one run, loss and error against epoch (two panels); for a VAN
  net, the alpha residual on a second axis of the error panel, as in figure 2 of the
  VAN paper (Monti, Tootoonian and Cao, 2018).
- :func:`plot_runs`: several runs overlaid, the figure of the ResNet and highway
  papers: error against epoch, one colour per run, training error dashed and test
  error solid, each run labelled by its model and depth.

The figures are built with matplotlib's object interface (``Figure``), not pyplot, so
that drawing one never opens a window or changes the backend of a notebook.
"""

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator


def _percent(values):
    return [100.0 * value for value in values]


def plot_curves(history, path, title=""):
    """Saves loss and error against epoch for one run's history to ``path`` (PNG).

    Args:
        history: list of epoch records from :func:`minires.train.fit`.
        path: the image file to write, or a binary file open for writing.
        title: the figure's title (the command line uses the model and data).
    """
    epochs = [record["epoch"] for record in history]
    figure = Figure(figsize=(10, 4), layout="constrained")
    loss_axes, error_axes = figure.subplots(1, 2)

    loss_axes.plot(epochs, [r["train_loss"] for r in history], "--", label="train")
    loss_axes.plot(epochs, [r["test_loss"] for r in history], "-", label="test")
    loss_axes.set(xlabel="epoch", ylabel="cross-entropy loss (nats)", title="loss")
    loss_axes.legend()

    error_axes.plot(epochs, _percent(r["train_error"] for r in history), "--", label="train error")
    error_axes.plot(epochs, _percent(r["test_error"] for r in history), "-", label="test error")
    error_axes.set(xlabel="epoch", ylabel="error (%)", title="error")
    lines, labels = error_axes.get_legend_handles_labels()
    if "alpha_residual" in history[0]:
        alpha_axes = error_axes.twinx()
        alpha_axes.plot(epochs, [r["alpha_residual"] for r in history], ":", color="tab:red",
                        label="alpha residual (1/L) Σ ||1 - α_l||²")
        alpha_axes.set_ylabel("alpha residual")
        alpha_lines, alpha_labels = alpha_axes.get_legend_handles_labels()
        lines, labels = lines + alpha_lines, labels + alpha_labels
    error_axes.legend(lines, labels)
    for axes in (loss_axes, error_axes):
        axes.grid(alpha=0.3)
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))          # whole epochs
    if title:
        figure.suptitle(title)
    figure.savefig(path, dpi=100, format="png")     # path may be an open file


def plot_runs(runs, path, title="error against epoch"):
    """Overlays several runs' error curves in one figure saved to ``path``.

    Args:
        runs: list of (label, history) pairs, e.g. ("resnet-20", [...]).
        path: the image file to write, or a binary file open for writing.
    """
    figure = Figure(figsize=(8, 5), layout="constrained")
    axes = figure.subplots()
    for index, (label, history) in enumerate(runs):
        color = f"C{index % 10}"
        epochs = [record["epoch"] for record in history]
        axes.plot(epochs, _percent(r["train_error"] for r in history), "--", color=color,
                  linewidth=1, label=f"{label} train")
        axes.plot(epochs, _percent(r["test_error"] for r in history), "-", color=color,
                  linewidth=2, label=f"{label} test")
    axes.set(xlabel="epoch", ylabel="error (%)", title=title)
    axes.grid(alpha=0.3)
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.legend(fontsize="small")
    figure.savefig(path, dpi=100, format="png")     # path may be an open file
