"""The documentation site (tools/build_site.py): it builds, it holds a page for every
lesson, solution and API module, and it reads offline.

Skipped without the `docs` extra (`python -m pip install -e ".[docs]"`); CI installs it.
"""

import json
import pathlib
import re

import pytest

pytest.importorskip("mkdocs", reason="the site needs the docs extra (mkdocs)")
pytest.importorskip("mkdocs_jupyter", reason="the site needs the docs extra (mkdocs-jupyter)")
pytest.importorskip("mkdocstrings", reason="the site needs the docs extra (mkdocstrings)")
pytest.importorskip("jupyter_server_mathjax", reason="the site needs the docs extra (jupyter-server-mathjax)")
yaml = pytest.importorskip("yaml", reason="the site needs the docs extra (PyYAML, with mkdocs)")

ROOT = pathlib.Path(__file__).resolve().parent.parent
# A reference to another host: what a reader offline could not load.
REMOTE = re.compile(r"""<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)\s*=\s*["'](?:https?:)?//""", re.IGNORECASE)


def nav_pages(entries):
    """Every page file named in mkdocs.yml's nav (entries: strings, or {title: entry or list})."""
    for entry in entries:
        if isinstance(entry, str):
            yield entry
        else:
            for value in entry.values():
                yield from nav_pages(value if isinstance(value, list) else [value])


def test_every_page_of_the_nav_and_every_lesson_and_solution_is_built(built_site):
    lessons = sorted((ROOT / "lessons").glob("[0-9][0-9]_*.ipynb"))
    navigation = yaml.safe_load((ROOT / "mkdocs.yml").read_text())["nav"]
    expected = ([re.sub(r"\.(md|ipynb)$", ".html", page) for page in nav_pages(navigation)]
                + [f"lessons/{path.stem}.html" for path in lessons]
                + [f"solutions/{path.stem}.html" for path in lessons])
    assert len(expected) > 40 and any(page.startswith("api/") for page in expected)
    missing = [page for page in expected if not (built_site / page).is_file()]
    assert not missing, f"pages not built: {missing}"


def test_no_page_loads_anything_from_another_host(built_site):
    remote = {}
    for page in built_site.rglob("*.html"):
        found = REMOTE.findall(page.read_text(errors="replace"))
        if found:
            remote[str(page.relative_to(built_site))] = found[:3]
    assert not remote, f"pages that fetch from another host (no use offline): {remote}"


def test_mathjax_is_in_the_site_and_every_notebook_page_finds_it(built_site):
    assert (built_site / "assets" / "mathjax" / "MathJax.js").is_file()
    for page in list((built_site / "lessons").glob("0*.html")) + list((built_site / "solutions").glob("0*.html")):
        sources = re.findall(r'<script[^>]*src="([^"]*MathJax\.js)[^"]*"', page.read_text())
        assert sources, f"{page.name}: no MathJax script"
        for source in sources:
            assert (page.parent / source).resolve().is_file(), f"{page.name}: {source} does not resolve"


def test_lesson_pages_keep_their_figures_and_maths(built_site):
    page = (built_site / "lessons" / "04_identity_path.html").read_text()
    assert page.count("data:image/png;base64,") >= 3                     # the committed figures
    assert "\\frac" in page or "\\partial" in page                       # TeX, for MathJax to typeset


def test_api_pages_render_args_and_shapes(built_site):
    page = re.sub(r"<[^>]+>", " ", (built_site / "api" / "minires.functional.html").read_text())
    text = re.sub(r"\s+", " ", page)
    start = text.index("conv2d ( x , weight")
    entry = text[start:start + 3000]
    assert "Parameters:" in entry and "Shape" in entry and "(N, C_in, H, W)" in entry


def test_search_index_is_built_into_the_site(built_site):
    index = json.loads((built_site / "search" / "search_index.json").read_text())
    locations = {document["location"].split("#")[0] for document in index["docs"]
                 if "batch norm" in (document["title"] + " " + document["text"]).lower()}
    assert "lessons/02_layers.html" in locations
