"""Builds the documentation site into site/: the lessons with their committed outputs,
the README's guide pages and an API reference generated from the docstrings.

    python -m pip install -e ".[docs]"
    python tools/build_site.py                 # writes site/ (open it through a server:)
    python -m http.server --directory site 8000

The toolchain is MkDocs with the Material theme: mkdocs-jupyter turns each notebook,
outputs included (it never executes them), into a page; mkdocstrings reads the
docstrings; the search index is built into the site, so search works offline. The
maths is typeset by MathJax 2, copied into the site from the jupyter-server-mathjax
package: nothing is fetched from a CDN, when building or when reading.

The pages are assembled first in build/site_source/ (git-ignored), from files that
stay where they are in the repository:
- index.md and guide/*.md: the README cut at its "## " headings (GUIDE_PAGES);
- lessons/*.ipynb and lessons/notation.md; the worked solutions in solutions/; each
  notebook with two cells for the site: under its title, a link to download it (the
  notebook as it is in the repository, which the build puts beside the page), and at
  the end, the minires functions and classes its code uses, linked to the API reference;
- results/: results/README.md and each claim's report.md with its figures;
- api/*.md: one page per module of API_PAGES (tools/site_api.py), one mkdocstrings entry
  per public name, and under an op, block or initialisation that a lesson derives, a
  link to that lesson's section (site_api.DERIVED_IN). The docstrings' Sphinx roles,
  :func:`name`, are shown as code by tools/griffe_sphinx_roles.py.

The Markdown links of the README and of the results are rewritten for the page they
land on: "#speed" to the guide page that holds "## Speed", "lessons/notation.md" to
the notation page, "results/van/" to that claim's report. A link to a file of the
repository that is not in the site becomes its path in code font, so that no link of
the site leads nowhere.
"""

import argparse
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys

from site_api import (API_PAGES, api_anchors, api_page, api_used_by, check_derived_in, notebook_headings,
                      slug)

ROOT = pathlib.Path(__file__).resolve().parent.parent
SOURCE = ROOT / "build" / "site_source"
MKDOCS_CONFIG = ROOT / "mkdocs.yml"

# README section headings (the text after "## ") -> the guide page that holds them, in order.
GUIDE_PAGES = {
    "guide/install.md": ("Install and test", ["Install", "Run the tests", "Documentation site"]),
    "guide/train.md": ("Train and compare nets", ["Train and compare nets", "Looking inside a net"]),
    "guide/studies.md": ("Studies", ["Studies"]),
    "guide/results.md": ("Results", ["Results", "Reliability"]),
    "guide/pytorch.md": ("Coming from PyTorch", ["Coming from PyTorch", "A first example"]),
    "guide/networks.md": ("Networks and devices", ["Networks", "Devices", "Speed"]),
    "guide/layout.md": ("Layout", ["Layout"]),
    "lessons/index.md": ("Lessons", ["Lessons"]),
}
LINK = re.compile(r"(!?)\[([^\]]*)\]\(([^)\s]+)\)")


def site_path_of(repo_path):
    """Where a file or folder of the repository is in the site's sources, or None."""
    repo_path = repo_path.rstrip("/")
    if re.fullmatch(r"lessons/[0-9][0-9]_\w+\.ipynb|lessons/notation\.md", repo_path):
        return repo_path
    if re.fullmatch(r"lessons/solutions/[0-9][0-9]_\w+\.ipynb", repo_path):
        return repo_path.replace("lessons/solutions/", "solutions/")
    if repo_path in ("lessons", "lessons/README.md"):
        return "lessons/index.md"
    if repo_path in ("results", "results/README.md"):
        return "results/index.md"
    claim = re.fullmatch(r"results/(\w+)(?:/report\.md)?", repo_path)
    if claim and (ROOT / "results" / claim.group(1) / "report.md").exists():
        return f"results/{claim.group(1)}/index.md"
    if re.fullmatch(r"results/\w+/\w+\.png", repo_path):
        return repo_path
    return None


def rewrite_links(text, repo_file, page, anchors, as_html=False):
    """The Markdown links of ``text`` (read from ``repo_file``, a path in the repository)
    rewritten for the site page ``page``; ``anchors`` maps "#slug" to the page holding it.

    as_html: link to the built pages (x.html), for the notebooks' Markdown, whose links
    MkDocs does not rewrite; MkDocs itself turns the .md and .ipynb links of the other pages.
    """
    page_folder = pathlib.PurePosixPath(page).parent

    def relative(target):
        if as_html:
            target = re.sub(r"\.(md|ipynb)$", ".html", target)
        return pathlib.PurePosixPath(os.path.relpath(target, page_folder or ".")).as_posix()

    def replace(match):
        image, label, target = match.groups()
        if re.match(r"[a-z]+:", target):                                  # https:, mailto:
            return match.group(0)
        if target.startswith("#"):
            holder = anchors.get(target)
            return f"{image}[{label}]({relative(holder)}{target})" if holder and holder != page else match.group(0)
        path, _, fragment = target.partition("#")
        repo_path = os.path.normpath(os.path.join(os.path.dirname(repo_file), path))
        in_site = site_path_of(repo_path)
        if in_site is None:
            return f"{label} (`{repo_path}` in the repository)" if not image else f"`{repo_path}`"
        return f"{image}[{label}]({relative(in_site)}{'#' + fragment if fragment else ''})"

    return LINK.sub(replace, text)


def readme_sections(text):
    """{heading: markdown} for every "## " section of the README, and the text before the first."""
    parts = re.split(r"^## (.+)$", text, flags=re.MULTILINE)
    sections = {"": parts[0]}
    for heading, body in zip(parts[1::2], parts[2::2]):
        sections[heading.strip()] = body
    return sections


def write_guide(readme):
    sections = readme_sections(readme)
    missing = [heading for _, headings in GUIDE_PAGES.values() for heading in headings if heading not in sections]
    if missing:
        raise SystemExit(f"build_site: README.md has no '## {missing[0]}' section (GUIDE_PAGES in {__file__})")
    anchors = {f"#{slug(heading)}": page for page, (_, headings) in GUIDE_PAGES.items() for heading in headings}
    for page, (title, headings) in GUIDE_PAGES.items():
        body = "".join(f"## {heading}\n{sections[heading]}" for heading in headings)
        write(page, rewrite_links(f"# {title}\n\n{body}", "README.md", page, anchors))
    write("index.md", rewrite_links(sections[""], "README.md", "index.md", anchors))
    used = {heading for _, headings in GUIDE_PAGES.values() for heading in headings}
    return sorted(set(sections) - used - {""})


def write_results():
    """results/README.md and every claim's report.md (with its figures) as pages."""
    write("results/index.md", rewrite_links((ROOT / "results" / "README.md").read_text(), "results/README.md",
                                            "results/index.md", {}))
    for report in sorted((ROOT / "results").glob("*/report.md")):
        claim = report.parent.name
        page = f"results/{claim}/index.md"
        write(page, rewrite_links(report.read_text(), f"results/{claim}/report.md", page, {}))
        for figure in sorted(report.parent.glob("*.png")):
            shutil.copy2(figure, SOURCE / "results" / claim / figure.name)


def write_api():
    check_derived_in({path.relative_to(ROOT).as_posix(): notebook_headings(path)
                      for path in (ROOT / "lessons").glob("[0-9][0-9]_*.ipynb")})
    for module, title in API_PAGES.items():
        write(f"api/{module}.md", api_page(module, title))


def write(relative, text):
    path = SOURCE / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def notebook_pages():
    """[(a notebook of the repository, its page in the site's sources)]: lessons, then solutions."""
    lessons = sorted((ROOT / "lessons").glob("[0-9][0-9]_*.ipynb"))
    solutions = sorted((ROOT / "lessons" / "solutions").glob("[0-9][0-9]_*.ipynb"))
    return ([(path, f"lessons/{path.name}") for path in lessons]
            + [(path, f"solutions/{path.name}") for path in solutions])


def copy_lessons():
    """The notebooks, their Markdown links rewritten for the site (json in, json out), each
    with two cells for the site only: under the title, a link to download the notebook;
    at the end, the minires functions and classes its code uses, linked to their API pages."""
    anchors = api_anchors()
    for path, page in notebook_pages():
        notebook = json.loads(path.read_text())
        # The sliders need a kernel, and their saved state would make the page fetch the
        # widget manager from a CDN: the page keeps the static figure drawn above them.
        notebook["metadata"].pop("widgets", None)
        for cell in notebook["cells"]:
            if cell["cell_type"] == "code":
                cell["outputs"] = [output for output in cell["outputs"]
                                   if "application/vnd.jupyter.widget-view+json" not in output.get("data", {})]
        repo_file = path.relative_to(ROOT).as_posix()
        for cell in notebook["cells"]:
            if cell["cell_type"] == "markdown":
                text = rewrite_links("".join(cell["source"]), repo_file, page, {}, as_html=True)
                text = headings_without_code(text)
                cell["source"] = text.splitlines(keepends=True)
        used = api_used_by(notebook, anchors)
        notebook["cells"].insert(1, markdown_cell("site-download", (
            f"*This page is the notebook `{repo_file}` with the outputs of its last run. "
            f"[Download the notebook]({path.name}) to run it in Jupyter; the minires functions and "
            f"classes its code uses are [listed at the end](#minires-in-this-notebook), "
            f"each linked to its entry in the API reference.*")))
        notebook["cells"].append(markdown_cell("site-api-used", used_api_text(used, page)))
        write(page, json.dumps(notebook, indent=1, ensure_ascii=False) + "\n")
    notation = (ROOT / "lessons" / "notation.md").read_text()
    write("lessons/notation.md", rewrite_links(notation, "lessons/notation.md", "lessons/notation.md", {}))


def headings_without_code(text):
    """The Markdown's headings without the backticks of inline code ("## 7. The same with
    `minires.Tensor`" -> "## 7. The same with minires.Tensor"). mkdocs-jupyter takes a
    heading's anchor with the code's text ("7-the-same-with-minirestensor") but the link of
    the page's table of contents without it ("7-the-same-with"), which leads nowhere."""
    lines, in_fence = [], False
    for line in text.splitlines(keepends=True):
        in_fence ^= line.lstrip().startswith("```")
        lines.append(line.replace("`", "") if not in_fence and re.match(r"#{1,6} ", line) else line)
    return "".join(lines)


def used_api_text(used, page):
    """The closing cell: one line per API page, with a link for each name the code uses."""
    by_page = {}
    for written, anchor in used:
        api_file = anchor.split("#")[0]
        by_page.setdefault(api_file, []).append(f"[`{written}`]({os.path.relpath(anchor, os.path.dirname(page))})")
    lines = [f"- {api_file[len('api/'):-len('.html')]}: {', '.join(links)}" for api_file, links in by_page.items()]
    if not lines:
        return "## minires in this notebook\n\nThis notebook's code uses no function or class of the API reference."
    return "## minires in this notebook\n\nThe minires functions and classes this notebook's code uses:\n\n" + \
        "\n".join(lines)


def markdown_cell(cell_id, text):
    return {"cell_type": "markdown", "id": cell_id, "metadata": {}, "source": text.splitlines(keepends=True)}


def copy_notebook_files(site_dir):
    """The notebooks as they are in the repository, beside their pages, for download."""
    for path, page in notebook_pages():
        shutil.copy2(path, site_dir / page)


def copy_mathjax():
    """MathJax 2 from the jupyter-server-mathjax package, into assets/mathjax/."""
    import jupyter_server_mathjax
    static = pathlib.Path(jupyter_server_mathjax.__file__).parent / "static"
    if not (static / "MathJax.js").exists():
        raise SystemExit(f"build_site: {static} holds no MathJax.js; reinstall the docs extra")
    shutil.copytree(static, SOURCE / "assets" / "mathjax")
    write_blank_font(SOURCE / "assets" / "mathjax" / "fonts" / "blank.woff")
    write("assets/mathjax_config.js", (
        "// Read before MathJax.js, on every page: the delimiters of pymdownx.arithmatex (the guide and\n"
        "// API pages) and the $...$, $$...$$ of the notebooks (the lesson pages).\n"
        "window.MathJax = {tex2jax: {inlineMath: [['$', '$'], ['\\\\(', '\\\\)']],\n"
        "                            displayMath: [['$$', '$$'], ['\\\\[', '\\\\]']],\n"
        "                            processEscapes: true, processEnvironments: true},\n"
        "                  // jupyter-server-mathjax bundles the STIX-Web web fonts only: use them, and\n"
        "                  // look for no font installed on the reader's machine.\n"
        "                  'HTML-CSS': {availableFonts: [], preferredFont: null,\n"
        "                               webFont: 'STIX-Web', imageFont: null,\n"
        "                               // its stand-in font, MathJax_Blank, from a file of the site rather\n"
        "                               // than url('about:blank'), which browsers refuse with an error\n"
        "                               styles: {'@font-face': {'font-family': 'MathJax_Blank', src:\n"
        "                   \"url('\" + document.currentScript.src.replace(/mathjax_config[.]js.*$/, '')\n"
        "                   + \"mathjax/fonts/blank.woff')\"}}},\n"
        "                  // the quick preview draws with CommonHTML and the TeX fonts, not bundled: off\n"
        "                  'fast-preview': {disabled: true},\n"
        "                  // the hidden MathML copy for screen readers would ask for the TeX fonts too\n"
        "                  AssistiveMML: {disabled: true}, menuSettings: {assistiveMML: false},\n"
        "                  showMathMenu: false};\n"))


def write_blank_font(path):
    """A font with no glyph but .notdef, as a WOFF file: MathJax 2 measures its web fonts
    against a stand-in font, "MathJax_Blank", which it declares at url('about:blank'); the
    browser refuses that address with a console error. This file is the same stand-in, a
    real font that draws nothing. fontTools comes with matplotlib, a dependency of minires."""
    from fontTools.fontBuilder import FontBuilder
    from fontTools.pens.ttGlyphPen import TTGlyphPen

    builder = FontBuilder(1000, isTTF=True)                  # 1000 units per em
    builder.setupGlyphOrder([".notdef"])
    builder.setupCharacterMap({})                            # no character maps to a glyph
    builder.setupGlyf({".notdef": TTGlyphPen(None).glyph()})    # and .notdef has no outline
    builder.setupHorizontalMetrics({".notdef": (0, 0)})
    builder.setupHorizontalHeader(ascent=800, descent=-200)
    builder.setupNameTable({"familyName": "MathJax_Blank", "styleName": "Regular"})
    builder.setupOS2()
    builder.setupPost()
    builder.font.flavor = "woff"
    builder.save(str(path))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site-dir", type=pathlib.Path, default=ROOT / "site", help="where to write the site")
    args = parser.parse_args(argv)
    shutil.rmtree(SOURCE, ignore_errors=True)
    left_out = write_guide((ROOT / "README.md").read_text())
    if left_out:
        print(f"build_site: README sections on no guide page: {left_out}")
    write_results()
    write_api()
    copy_lessons()
    copy_mathjax()
    command = [sys.executable, "-m", "mkdocs", "build", "--clean", "--config-file", str(MKDOCS_CONFIG),
               "--site-dir", str(args.site_dir.resolve())]
    print("+", " ".join(command), flush=True)
    returncode = subprocess.call(command, cwd=ROOT)
    if returncode == 0:
        copy_notebook_files(args.site_dir.resolve())
    return returncode


if __name__ == "__main__":
    sys.exit(main())
