"""A figure with sliders: the lessons' way of showing how a setting changes a picture.

    def draw(gate_bias):                      # draws one figure for one setting
        ...
    interactive_figure(draw, gate_bias=(-6.0, 2.0, 0.5, -2.0))   # (low, high, step, start)

The figure for the starting values is drawn at once, as an ordinary static figure: it
is what a saved notebook shows to a reader without a running kernel (on GitHub, on the
documentation site). Below it, when ipywidgets is installed and the notebook runs in a
kernel, one slider per setting; releasing a slider redraws the figure under the sliders
with the new values. ``draw`` must be quick (a fraction of a second): it is called on
every change.
"""

import matplotlib.pyplot as plt


def check_slider_settings(settings):
    """The (low, high, step, start) tuples, checked; returns {name: tuple of 4 floats}."""
    if not settings:
        raise ValueError("interactive_figure: give at least one setting, name=(low, high, step, start)")
    checked = {}
    for name, spec in settings.items():
        try:
            low, high, step, start = (float(value) for value in spec)
        except (TypeError, ValueError):
            raise ValueError(f"interactive_figure: {name}={spec!r}; expected four numbers "
                             "(low, high, step, start)") from None
        if not (low < high and step > 0 and low <= start <= high):
            raise ValueError(f"interactive_figure: {name}=({low}, {high}, {step}, {start}); expected "
                             "low < high, step > 0 and low <= start <= high")
        checked[name] = (low, high, step, start)
    return checked


def interactive_figure(draw, **settings):
    """Draws ``draw(**starting values)`` now, then sliders that redraw it (see the module).

    Args:
        draw: a function of the settings, by keyword, that draws one matplotlib figure
            (it may call plt.subplots; interactive_figure calls plt.show()).
        **settings: name=(low, high, step, start) for each slider.

    Returns the ipywidgets box (sliders and the redrawn figure), or None without ipywidgets.
    """
    settings = check_slider_settings(settings)
    draw(**{name: start for name, (_, _, _, start) in settings.items()})
    plt.show()                                                  # the static figure
    try:
        import ipywidgets
        from IPython.display import display
    except ImportError:
        print("(install ipywidgets, `pip install ipywidgets`, for sliders that redraw this figure)")
        return None
    sliders = {name: ipywidgets.FloatSlider(value=start, min=low, max=high, step=step, description=name,
                                            continuous_update=False, readout_format=".3g",
                                            style={"description_width": "initial"})
               for name, (low, high, step, start) in settings.items()}
    redrawn = ipywidgets.Output()

    def redraw(change=None):
        with redrawn:
            redrawn.clear_output(wait=True)
            draw(**{name: slider.value for name, slider in sliders.items()})
            plt.show()

    for slider in sliders.values():
        slider.observe(redraw, names="value")
    box = ipywidgets.VBox([ipywidgets.HTML("Move a slider to redraw the figure below it:"),
                           *sliders.values(), redrawn])
    display(box)
    return box
