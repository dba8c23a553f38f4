"""The documentation site (tools/build_site.py): it builds, it holds a page for every
lesson, solution and API module, it reads offline, and its lessons and API pages link
to each other.

Skipped without the `docs` extra (`python -m pip install -e ".[docs]"`); CI installs it.
"""

import functools
import html
import importlib
import json
import pathlib
import re
import urllib.parse

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


@functools.cache                                           # each page read once
def page_ids(page):
    """The id attributes of a built page: the anchors a link can name."""
    return set(re.findall(r'\bid="([^"]*)"', page.read_text(errors="replace")))


def internal_links(page):
    """(href, the file it leads to, its #fragment or "") of every link of the page inside the site."""
    for href in re.findall(r'<a\b[^>]*\bhref="([^"]*)"', page.read_text(errors="replace")):
        href = html.unescape(href)
        if re.match(r"[a-z]+:|//", href):
            continue
        path, _, fragment = href.partition("#")
        target = (page.parent / urllib.parse.unquote(path)).resolve() if path else page
        yield href, (target / "index.html" if target.is_dir() else target), urllib.parse.unquote(fragment)


def test_every_link_inside_the_site_leads_to_its_file_and_anchor(built_site):
    broken, anchored = [], 0
    for page in built_site.rglob("*.html"):
        if page.name == "404.html":                        # its links are absolute, for any folder
            continue
        for href, target, fragment in internal_links(page):
            if not target.is_file():
                broken.append((page.relative_to(built_site).as_posix(), href))
            elif fragment and target.suffix == ".html":
                anchored += 1
                if fragment not in page_ids(target):
                    broken.append((page.relative_to(built_site).as_posix(), href))
    assert anchored > 1000                                 # the tables of contents, the API links
    assert not broken, f"links to no file or no anchor: {broken[:10]}"


def test_each_lesson_page_links_its_notebook_and_the_api_its_code_uses(built_site):
    for notebook in sorted((ROOT / "lessons").glob("[0-9][0-9]_*.ipynb")):
        page = built_site / "lessons" / f"{notebook.stem}.html"
        links = {href for href, _, _ in internal_links(page)}
        assert notebook.name in links, f"{page.name}: no link to {notebook.name}"
        assert (built_site / "lessons" / notebook.name).read_bytes() == notebook.read_bytes()
        code = "".join("".join(cell["source"]) for cell in json.loads(notebook.read_text())["cells"]
                       if cell["cell_type"] == "code")
        ops = set(re.findall(r"\bF\.([a-z_0-9]+)\(", code))
        assert ops, f"{notebook.name} calls no F.* op"           # every lesson does
        for op in ops:
            anchors = {f"../api/minires.functional.html#minires.functional.{op}",
                       f"../api/minires.functional.html#minires.functional.{op}.{op}"}   # F.linear
            assert links & anchors, f"{page.name}: no link to the API entry of F.{op}"


def test_api_entries_link_to_the_lesson_that_derives_them(built_site):
    derived = {}
    for page in (built_site / "api").glob("*.html"):
        for entry_id, body in re.findall(r'<h2 id="(minires[\w.]*)"(.*?)(?=<h2 id="minires|$)', page.read_text(),
                                         re.DOTALL):
            lessons = re.findall(r'Derived in <a href="\.\./lessons/([^"]+)"', body)
            if lessons:
                derived[entry_id] = lessons
    assert len(derived) >= 40, sorted(derived)
    assert derived["minires.functional.conv2d"] == ["02_layers.html#4-convolution-by-im2col"]
    assert derived["minires.functional.batch_norm"] == ["02_layers.html#5-batch-normalisation-training-mode"]
    assert derived["minires.functional.linear.linear"] == ["02_layers.html#1-the-linear-layer"]
    assert derived["minires.nn.ResidualBlock"] == [
        "04_identity_path.html#1-the-gradient-through-a-stack-of-residual-blocks"]
    assert derived["minires.optim.VANConstraint"] == ["06_van.html#3-vans-constrained-problem-and-its-lagrangian"]


def entries(page):
    """{id: the entry's visible text} of every API entry of a page (an <h2> and what follows it)."""
    text = page.read_text()
    found = {}
    for entry_id, body in re.findall(r'<h2 id="(minires[\w.]*)"(.*?)(?=<h2 id="minires|$)', text, re.DOTALL):
        found[entry_id] = re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", body)))
    return found


@pytest.mark.parametrize("module_name", ["minires.functional", "minires.nn", "minires.optim", "minires.nn.init",
                                         "minires.optim.lr_scheduler", "minires.models", "minires.analysis"])
def test_every_public_function_and_class_has_an_api_entry(built_site, module_name):
    module = importlib.import_module(module_name)
    names = getattr(module, "__all__", [name for name in vars(module) if not name.startswith("_")])
    found = entries(built_site / "api" / f"{module_name}.html")
    missing = []
    for name in names:
        value = getattr(module, name)
        if not (isinstance(value, type) or callable(value)) or not value.__module__.startswith(module_name):
            continue
        # The entry shows the object's docstring, compared by its letters and digits (code spans
        # and Sphinx roles change the rest). F.linear's is under minires.functional.linear.linear:
        # its name is also its file's, and minires.functional.linear would be the module.
        docstring = (value.__doc__ or "").strip()
        if docstring.startswith(f"{name}("):                    # a namedtuple's own: its name will do
            docstring = name
        summary = re.sub(r"\W|_", "", re.sub(r":\w+:", "", docstring.split("\n")[0]))[:30]
        shown = [found.get(f"{module_name}.{name}", ""), found.get(f"{value.__module__}.{value.__qualname__}", "")]
        if not any(summary and summary in re.sub(r"\W|_", "", text) or "Another name for" in text[:100]
                   for text in shown):
            missing.append(name)
    assert not missing, f"{module_name}: no entry showing the docstring of {missing}"
