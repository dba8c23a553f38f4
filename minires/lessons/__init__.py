"""What the lesson notebooks in ``lessons/`` share: the quick mode, the data, the grading.

The lessons build their subject themselves (that is the point of them); this package
holds only the plumbing they would otherwise each repeat:

- ``quick_mode()`` and ``pick(full=..., quick=...)``: every experiment has a full
  setting (what the committed notebook outputs show) and a quick one, chosen by the
  environment variable ``MINIRES_QUICK=1`` (the tests set it), so that all eight
  notebooks run in a few minutes under pytest.
- ``lesson_data(...)``: real CIFAR-10 for the experiments, from the sample bundled with
  minires or, when you have it, the official archive (``minires.data.CIFAR10``).
- ``compare_gradients(...)``: prints the largest relative error between a gradient
  derived by hand and a reference, and fails when it exceeds a stated tolerance.
- ``interactive_figure(draw, name=(low, high, step, start))``: a figure drawn at once
  (what a saved notebook shows) and, with ipywidgets in a kernel, sliders that redraw it.
- ``checks``: one module per lesson, one function per exercise, each returning a
  ``Grade`` that says what is right or wrong in an answer.
"""

from minires.lessons.grading import Grade, compare_gradients, max_relative_error
from minires.lessons.settings import lesson_data, pick, quick_mode
from minires.lessons.widgets import interactive_figure

__all__ = ["Grade", "compare_gradients", "interactive_figure", "max_relative_error", "lesson_data", "pick",
           "quick_mode"]
