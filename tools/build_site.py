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
- lessons/*.ipynb and lessons/notation.md; the worked solutions in solutions/;
- api/*.md: one page per module of API_PAGES, each a mkdocstrings directive.
"""

import argparse
import pathlib
import re
import shutil
import subprocess
import sys

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
# Module -> page title; each page documents the module's public names.
API_PAGES = {
    "minires.functional": "minires.functional (F): the ops",
    "minires.tensor": "minires.Tensor",
    "minires.autograd": "minires.autograd",
    "minires.gradcheck": "minires.gradcheck",
    "minires.nn": "minires.nn: modules and blocks",
    "minires.nn.init": "minires.nn.init",
    "minires.optim": "minires.optim",
    "minires.models": "minires.models",
    "minires.analysis": "minires.analysis",
    "minires.data": "minires.data",
    "minires.train": "minires.train",
    "minires.lessons": "minires.lessons",
}


def readme_sections(text):
    """{heading: markdown} for every "## " section of the README, and the text before the first."""
    parts = re.split(r"^## (.+)$", text, flags=re.MULTILINE)
    sections = {"": parts[0]}
    for heading, body in zip(parts[1::2], parts[2::2]):
        sections[heading.strip()] = body
    return sections


def write_guide(readme):
    sections = readme_sections(readme)
    used = set()
    for page, (title, headings) in GUIDE_PAGES.items():
        missing = [heading for heading in headings if heading not in sections]
        if missing:
            raise SystemExit(f"build_site: README.md has no '## {missing[0]}' section (GUIDE_PAGES in {__file__})")
        body = "".join(f"## {heading}\n{sections[heading]}" for heading in headings)
        write(page, f"# {title}\n\n{body}")
        used.update(headings)
    write("index.md", sections[""])
    return sorted(set(sections) - used - {""})


def write_api():
    for module, title in API_PAGES.items():
        write(f"api/{module}.md", f"# {title}\n\n::: {module}\n")


def write(relative, text):
    path = SOURCE / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def copy_lessons():
    (SOURCE / "lessons").mkdir(parents=True, exist_ok=True)
    for path in sorted((ROOT / "lessons").glob("[0-9][0-9]_*.ipynb")) + [ROOT / "lessons" / "notation.md"]:
        shutil.copy2(path, SOURCE / "lessons" / path.name)
    (SOURCE / "solutions").mkdir(parents=True, exist_ok=True)
    for path in sorted((ROOT / "lessons" / "solutions").glob("[0-9][0-9]_*.ipynb")):
        shutil.copy2(path, SOURCE / "solutions" / path.name)


def copy_mathjax():
    """MathJax 2 from the jupyter-server-mathjax package, into assets/mathjax/."""
    import jupyter_server_mathjax
    static = pathlib.Path(jupyter_server_mathjax.__file__).parent / "static"
    if not (static / "MathJax.js").exists():
        raise SystemExit(f"build_site: {static} holds no MathJax.js; reinstall the docs extra")
    shutil.copytree(static, SOURCE / "assets" / "mathjax")
    write("assets/mathjax_config.js", (
        "// Read before MathJax.js, on every page: the delimiters of pymdownx.arithmatex (the guide and\n"
        "// API pages) and the $...$, $$...$$ of the notebooks (the lesson pages).\n"
        "window.MathJax = {tex2jax: {inlineMath: [['$', '$'], ['\\\\(', '\\\\)']],\n"
        "                            displayMath: [['$$', '$$'], ['\\\\[', '\\\\]']],\n"
        "                            processEscapes: true, processEnvironments: true},\n"
        "                  // jupyter-server-mathjax bundles the STIX-Web fonts only: ask for no other.\n"
        "                  'HTML-CSS': {availableFonts: ['STIX-Web'], preferredFont: 'STIX-Web',\n"
        "                               webFont: 'STIX-Web', imageFont: null},\n"
        "                  showMathMenu: false};\n"))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site-dir", type=pathlib.Path, default=ROOT / "site", help="where to write the site")
    args = parser.parse_args(argv)
    shutil.rmtree(SOURCE, ignore_errors=True)
    left_out = write_guide((ROOT / "README.md").read_text())
    if left_out:
        print(f"build_site: README sections on no guide page: {left_out}")
    write_api()
    copy_lessons()
    copy_mathjax()
    command = [sys.executable, "-m", "mkdocs", "build", "--clean", "--config-file", str(MKDOCS_CONFIG),
               "--site-dir", str(args.site_dir.resolve())]
    print("+", " ".join(command), flush=True)
    return subprocess.call(command, cwd=ROOT)


if __name__ == "__main__":
    sys.exit(main())
