"""What every lesson holds for a learner, whatever its subject.

- It opens with its objectives ("**In this lesson you will**" and a list) and an
  estimated study time ("**Study time:** ..."), and links to the previous and the next
  lesson and to the notation page, lessons/notation.md.
- A "**Your turn.**" exercise stands in the middle of the lesson (before its exercises
  section), with a cell that the learner fills in and that a check of
  minires.lessons.checks grades.
- It ends with a "## Summary" of what it showed, with the same links and one to its
  worked solutions, lessons/solutions/NN_name.ipynb, a notebook kept apart so that a
  learner opens it on purpose.
- The solutions notebook answers every exercise the lesson checks, and its committed
  outputs say "correct" for each (tests/test_lessons.py runs it in the quick setting).
"""

import json
import pathlib
import re

import pytest

LESSONS = pathlib.Path(__file__).resolve().parent.parent / "lessons"
NOTEBOOKS = sorted(LESSONS.glob("[0-9][0-9]_*.ipynb"))
CHECK_CALL = re.compile(r"\blesson(\d\d)\.(check_\w+)\(")
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def cells(path):
    return json.loads(path.read_text())["cells"]


def source(cell) -> str:
    return "".join(cell["source"])


def links(text) -> set:
    return {target for target in LINK.findall(text) if not target.startswith("http")}


def neighbours(path):
    """(previous lesson's file name or None, next lesson's file name or None)."""
    index = NOTEBOOKS.index(path)
    previous = NOTEBOOKS[index - 1].name if index > 0 else None
    following = NOTEBOOKS[index + 1].name if index + 1 < len(NOTEBOOKS) else None
    return previous, following


def solutions_path(path):
    return LESSONS / "solutions" / path.name


def outputs_text(cell) -> str:
    texts = []
    for output in cell.get("outputs", []):
        texts.append("".join(output.get("text", "")))
        texts.append("".join(output.get("data", {}).get("text/plain", "")))
    return "".join(texts)


def test_the_notation_page_links_every_lesson():
    page = (LESSONS / "notation.md").read_text()
    assert links(page) >= {path.name for path in NOTEBOOKS}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_lesson_opens_with_objectives_study_time_and_links(path):
    first = source(cells(path)[0])
    assert first.startswith(f"# Lesson {int(path.name[:2])}:"), f"{path.name}: the first cell is not its title"
    objectives = first.split("**In this lesson you will**", 1)
    assert len(objectives) == 2, f"{path.name}: no '**In this lesson you will**' objectives in the first cell"
    assert len(re.findall(r"^\s*(?:-|\d+\.) ", objectives[1], flags=re.MULTILINE)) >= 3, \
        f"{path.name}: fewer than three objectives listed"
    assert re.search(r"^\*\*Study time:\*\* about \d", first, flags=re.MULTILINE), \
        f"{path.name}: no '**Study time:** about ...' line in the first cell"
    previous, following = neighbours(path)
    expected = {"notation.md"} | {name for name in (previous, following) if name}
    assert expected <= links(first), f"{path.name}: the first cell lacks links to {expected - links(first)}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_lesson_ends_with_a_summary_and_links(path):
    last = source(cells(path)[-1])
    assert last.startswith("## Summary"), f"{path.name}: the last cell is not a '## Summary'"
    assert len(re.findall(r"^- ", last, flags=re.MULTILINE)) >= 3, f"{path.name}: the summary has fewer than 3 points"
    previous, following = neighbours(path)
    expected = ({"notation.md", f"solutions/{path.name}"}
                | {name for name in (previous, following) if name})
    assert expected <= links(last), f"{path.name}: the summary lacks links to {expected - links(last)}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_every_link_of_a_lesson_leads_to_a_file(path):
    text = "\n".join(source(cell) for cell in cells(path) if cell["cell_type"] == "markdown")
    missing = [target for target in links(text) if not (LESSONS / target).exists()]
    assert not missing, f"{path.name} links to files that are not there: {missing}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_a_your_turn_exercise_stands_in_the_middle(path):
    notebook = cells(path)
    turns = [index for index, cell in enumerate(notebook)
             if cell["cell_type"] == "markdown" and "**Your turn.**" in source(cell)]
    assert turns, f"{path.name}: no '**Your turn.**' exercise"
    exercises = [index for index, cell in enumerate(notebook)
                 if cell["cell_type"] == "markdown" and re.search(r"^## Exercises", source(cell), re.MULTILINE)]
    assert exercises, f"{path.name}: no '## Exercises' section"
    for turn in turns:
        assert 0.15 * len(notebook) < turn < exercises[0], \
            f"{path.name}: the 'Your turn' of cell {turn} is not in the middle (the exercises start at {exercises[0]})"
        after = next((cell for cell in notebook[turn + 1:] if cell["cell_type"] == "code"), None)
        assert after is not None and CHECK_CALL.search(source(after)) and "= None" in source(after), \
            f"{path.name}: the 'Your turn' of cell {turn} is not followed by an answer cell that a check grades"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_the_solutions_answer_every_checked_exercise(path):
    solutions = solutions_path(path)
    assert solutions.exists(), f"{path.name}: no worked solutions at {solutions.relative_to(LESSONS.parent)}"
    number = path.name[:2]
    asked = {name for cell in cells(path) if cell["cell_type"] == "code"
             for lesson, name in CHECK_CALL.findall(source(cell)) if lesson == number}
    assert asked, f"{path.name}: no exercise calls a check of minires.lessons.checks.lesson{number}"
    answered, verdicts = set(), []
    for cell in cells(solutions):
        if cell["cell_type"] != "code":
            continue
        calls = {name for lesson, name in CHECK_CALL.findall(source(cell)) if lesson == number}
        if calls:
            answered |= calls
            verdicts.append((calls, outputs_text(cell)))
    assert asked <= answered, f"{solutions.name}: no worked solution for {sorted(asked - answered)}"
    for calls, text in verdicts:
        assert text.count("correct") >= len(calls) and "not yet" not in text, \
            f"{solutions.name}: the committed output of {sorted(calls)} does not say 'correct': {text[:200]!r}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_the_solutions_link_back_to_their_lesson(path):
    first = source(cells(solutions_path(path))[0])
    assert f"../{path.name}" in links(first), f"solutions/{path.name}: the first cell does not link to its lesson"
