"""minires.lessons: the quick setting, the lesson data, and the grading helpers."""

import numpy as np
import pytest

import minires as mr
from minires.lessons import Grade, compare_gradients, lesson_data, max_relative_error, pick, quick_mode
from minires.lessons.grading import grade_array, grade_number, is_close, known_mistake


@pytest.mark.parametrize("value, expected", [("1", True), ("true", True), ("0", False), ("", False)])
def test_quick_mode_reads_the_environment(monkeypatch, value, expected):
    monkeypatch.setenv("MINIRES_QUICK", value)
    assert quick_mode() is expected
    assert pick(full="full", quick="quick") == ("quick" if expected else "full")


def test_quick_mode_unset_is_the_full_setting(monkeypatch):
    monkeypatch.delenv("MINIRES_QUICK", raising=False)
    assert quick_mode() is False


def test_quick_mode_refuses_a_value_it_cannot_read(monkeypatch):
    monkeypatch.setenv("MINIRES_QUICK", "maybe")
    with pytest.raises(ValueError, match="MINIRES_QUICK='maybe'"):
        quick_mode()


def test_lesson_data_draws_reproducible_subsets_of_the_sample():
    train_a, test_a = lesson_data(200, 50, seed=3)
    train_b, _ = lesson_data(200, 50, seed=3)
    assert (len(train_a), len(test_a)) == (200, 50)
    images_a, labels_a = train_a.batch(np.arange(200))
    images_b, labels_b = train_b.batch(np.arange(200))
    assert images_a.shape == (200, 3, 32, 32) and images_a.dtype == np.float32
    np.testing.assert_array_equal(images_a, images_b)
    np.testing.assert_array_equal(labels_a, labels_b)
    assert len(set(labels_a.tolist())) == 10          # real, mixed classes


def test_lesson_data_whole_splits_and_augmentation():
    train_set, test_set = lesson_data(None, None, augment=True)
    assert (len(train_set), len(test_set)) == (5000, 1000)
    rng_a, rng_b = np.random.default_rng(0), np.random.default_rng(1)
    first, _ = train_set.batch(np.arange(64), rng_a)
    second, _ = train_set.batch(np.arange(64), rng_b)
    assert not np.array_equal(first, second)          # crops and flips differ with the draw


def test_lesson_data_errors_name_the_problem():
    with pytest.raises(ValueError, match="source must be 'sample' or 'cifar10'"):
        lesson_data(10, 10, source="imagenet")
    with pytest.raises(ValueError, match="train_size=6000, but the sample split has 5000"):
        lesson_data(6000, 10)


def test_max_relative_error_is_relative_to_the_largest_reference_entry():
    reference = np.array([10.0, 0.0, -5.0])
    assert max_relative_error(reference + np.array([0.0, 1e-6, 0.0]), reference) == pytest.approx(1e-7)
    assert max_relative_error(mr.tensor(reference), reference) == 0.0
    with pytest.raises(ValueError, match=r"shapes differ, derived \(2,\) and reference \(3,\)"):
        max_relative_error(np.ones(2), reference)


def test_compare_gradients_prints_and_fails_above_the_tolerance(capsys):
    reference = np.array([1.0, 2.0])
    assert compare_gradients("dW", reference * (1 + 1e-9), reference, 1e-6) is None   # no stray notebook output
    assert "dW: max relative error 1.00e-09 (tolerance 1e-06) ok" in capsys.readouterr().out
    with pytest.raises(AssertionError, match="dW: max relative error .* exceeds the tolerance"):
        compare_gradients("dW", reference * 1.01, reference, 1e-6)


def test_grades_say_what_is_wrong():
    expected = np.array([[1.0, 2.0], [3.0, 4.0]])
    right = grade_array("dx", expected.copy(), expected)
    assert right and repr(right).startswith("correct: dx matches")
    wrong = grade_array("dx", expected + np.array([[0, 0], [0, 1.0]]), expected, hint="check the sign")
    assert not wrong and "at index (1, 1) you have 5, expected 4. check the sign" in repr(wrong)
    assert "shape (2,), expected (2, 2)" in grade_array("dx", [1.0, 2.0], expected).message
    assert "no answer yet" in grade_array("dx", None, expected).message
    assert "cannot be read" in grade_array("dx", "abc", expected).message
    assert grade_number("s", 0.5, 0.5) and "expected 0.25" in grade_number("s", 0.5, 0.25).message
    assert "single number" in grade_number("s", [1.0, 2.0], 1.0).message
    assert isinstance(right, Grade)


def test_grades_name_the_kind_of_problem():
    expected = np.array([1.0, 2.0])
    assert grade_array("dx", expected, expected).problem is None
    assert grade_array("dx", None, expected).problem == "missing"
    assert grade_array("dx", "abc", expected).problem == "unreadable"
    assert grade_array("dx", [1.0], expected).problem == "shape"
    assert grade_array("dx", [1.0, 3.0], expected).problem == "values"
    assert grade_number("s", [1.0, 2.0], 1.0).problem == "unreadable"
    assert grade_number("s", 2.0, 1.0).problem == "values"


def test_known_mistake_names_the_first_match_and_passes_none():
    mistakes = [(0.5, "you halved it"), (2.0, "you doubled it")]
    grade = known_mistake("s", 2.0, 1.0, mistakes)
    assert grade is not None and not grade and grade.problem == "values"
    assert grade.message == "s: you have 2, expected 1. you doubled it"
    assert known_mistake("s", 3.0, 1.0, mistakes) is None
    assert known_mistake("s", None, 1.0, mistakes) is None                 # no number read from the answer
    assert is_close(1.0 + 1e-7, 1.0) and not is_close(1.0 + 1e-7, 1.0, rtol=0.0, atol=0.0)
    assert not is_close(None, 1.0)


def test_readable_answers_never_raise():
    from minires.lessons.grading import readable_array, readable_number
    np.testing.assert_array_equal(readable_array(mr.tensor([1.0, 2.0])), [1.0, 2.0])
    assert readable_array(None) is None and readable_array("abc") is None
    assert readable_number([[3.5]]) == 3.5
    assert readable_number([1.0, 2.0]) is None and readable_number(None) is None and readable_number("x") is None


# -- interactive_figure: a static figure now, sliders that redraw it -------------------------

def _recording_draw(calls):
    import matplotlib.pyplot as plt

    def draw(gate_bias, width):
        calls.append((gate_bias, width))
        plt.plot([0, 1], [gate_bias, width])
    return draw


def test_interactive_figure_draws_the_starting_values_then_redraws_on_a_slider(monkeypatch):
    pytest.importorskip("ipywidgets", reason="the sliders need ipywidgets (the test and lessons extras)")
    import matplotlib
    monkeypatch.setattr(matplotlib.pyplot, "show", lambda: None)
    from minires.lessons import interactive_figure
    calls = []
    box = interactive_figure(_recording_draw(calls), gate_bias=(-6, 2, 0.5, -2), width=(1, 8, 1, 4))
    assert calls == [(-2.0, 4.0)]                                  # the static figure, drawn once
    sliders = [child for child in box.children if hasattr(child, "min")]
    assert [(slider.description, slider.min, slider.max, slider.value) for slider in sliders] == \
        [("gate_bias", -6.0, 2.0, -2.0), ("width", 1.0, 8.0, 4.0)]
    sliders[0].value = 0.5
    assert calls == [(-2.0, 4.0), (0.5, 4.0)]                      # redrawn with the new value, the other kept


def test_interactive_figure_without_ipywidgets_still_draws(monkeypatch, capsys):
    import builtins
    import matplotlib
    monkeypatch.setattr(matplotlib.pyplot, "show", lambda: None)
    real_import = builtins.__import__

    def no_ipywidgets(name, *args, **kwargs):
        if name == "ipywidgets":
            raise ImportError("No module named 'ipywidgets'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ipywidgets)
    from minires.lessons import interactive_figure
    calls = []
    assert interactive_figure(_recording_draw(calls), gate_bias=(-6, 2, 0.5, -2), width=(1, 8, 1, 4)) is None
    assert calls == [(-2.0, 4.0)]
    assert "pip install ipywidgets" in capsys.readouterr().out


@pytest.mark.parametrize("settings, message", [
    ({}, "at least one setting"),
    ({"gate_bias": (-6, 2, 0.5)}, "expected four numbers"),
    ({"gate_bias": (2, -6, 0.5, 0)}, "low < high"),
    ({"gate_bias": (-6, 2, 0.5, 3)}, "low <= start <= high"),
    ({"gate_bias": (-6, 2, 0, -2)}, "step > 0"),
])
def test_interactive_figure_refuses_bad_settings_before_drawing(settings, message):
    from minires.lessons import interactive_figure
    calls = []
    with pytest.raises(ValueError, match=message):
        interactive_figure(lambda **values: calls.append(values), **settings)
    assert calls == []


def test_notebook_code_hash_reads_code_cells_only_from_json_or_nbformat():
    from minires.lessons.settings import notebook_code_hash
    notebook = {"cells": [{"cell_type": "markdown", "source": ["# a title\n"]},
                          {"cell_type": "code", "source": ["x = 1\n", "y = 2"]},
                          {"cell_type": "code", "source": "print(x)"}]}
    changed_text = {"cells": [{"cell_type": "markdown", "source": ["# another title\n"]}] + notebook["cells"][1:]}
    changed_code = {"cells": notebook["cells"][:2] + [{"cell_type": "code", "source": "print(y)"}]}
    assert notebook_code_hash(notebook) == notebook_code_hash(changed_text)      # the text is not timed
    assert notebook_code_hash(notebook) != notebook_code_hash(changed_code)
    nbformat = pytest.importorskip("nbformat", reason="the notebook tests need the test extra (nbformat)")
    parsed = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# a title\n"),
                                             nbformat.v4.new_code_cell("x = 1\ny = 2"),
                                             nbformat.v4.new_code_cell("print(x)")])
    assert notebook_code_hash(parsed) == notebook_code_hash(notebook)
