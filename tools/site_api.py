"""The API reference of the documentation site, and its links to and from the lessons
(used by tools/build_site.py).

- api_page(module, title): the Markdown of one API page: the module's docstring, then one
  mkdocstrings entry per public function or class, each followed by a link to the lesson
  section that derives it (DERIVED_IN), where one does.
- api_anchors(): where each documented object is, as "api/<module>.html#<anchor>".
- api_used_by(notebook, anchors): the documented objects that a notebook's code uses, found by
  reading its code cells with the ast module: `F.conv2d(...)`, `mr.nn.Conv2d(...)`,
  `optim.lr_scheduler.CosineAnnealingLR(...)`, `pick(...)` after `from minires.lessons
  import pick`.

Which names a page shows: the module's __all__ where it has one, otherwise the functions
and classes defined in it (for a package: in its modules), in the order of the file. A
name that is also the name of a submodule (F.linear, in minires/functional/linear.py) is
documented from the module that defines it: mkdocstrings would take the name for the
submodule and show the module's page there instead. check_derived_in() stops the build
if DERIVED_IN names an object or a lesson section that is not there.
"""

import ast
import importlib
import inspect
import json
import pathlib
import re
import unicodedata

# Module -> page title; each page documents the module's public names.
API_PAGES = {
    "minires.functional": "minires.functional (F): the ops",
    "minires.tensor": "minires.Tensor",
    "minires.autograd": "minires.autograd",
    "minires.gradcheck": "minires.gradcheck",
    "minires.backend": "minires.backend: devices, dtypes, random numbers",
    "minires.nn": "minires.nn: modules and blocks",
    "minires.nn.init": "minires.nn.init",
    "minires.optim": "minires.optim",
    "minires.optim.lr_scheduler": "minires.optim.lr_scheduler",
    "minires.models": "minires.models",
    "minires.analysis": "minires.analysis",
    "minires.data": "minires.data",
    "minires.train": "minires.train",
    "minires.lessons": "minires.lessons",
}

# The lesson section that derives an op, a block or an initialisation: the API name (module
# and public name) -> (notebook, the section's heading without its "## ").
DERIVED_IN = {}
for notebook, heading, names in [
    ("lessons/01_autograd.ipynb", "3. A scalar autograd engine",
     ["minires.tensor.Tensor", "minires.functional.add", "minires.functional.sub", "minires.functional.mul",
      "minires.functional.neg", "minires.functional.pow", "minires.functional.exp", "minires.functional.log",
      "minires.functional.tanh"]),
    ("lessons/01_autograd.ipynb", "4. Checking the engine: by hand, by finite differences, by minires",
     ["minires.gradcheck.numerical_grad", "minires.gradcheck.gradcheck"]),
    ("lessons/01_autograd.ipynb", "8. On real images: the engine and minires agree on a softmax regression",
     ["minires.functional.cross_entropy", "minires.nn.CrossEntropyLoss"]),
    ("lessons/02_layers.ipynb", "1. The linear layer", ["minires.functional.linear", "minires.nn.Linear"]),
    ("lessons/02_layers.ipynb", "2. ReLU and sigmoid",
     ["minires.functional.relu", "minires.functional.sigmoid", "minires.nn.ReLU", "minires.nn.Sigmoid"]),
    ("lessons/02_layers.ipynb", "3. Your layer inside minires's autograd", ["minires.autograd.Function"]),
    ("lessons/02_layers.ipynb", "4. Convolution by im2col", ["minires.functional.conv2d", "minires.nn.Conv2d"]),
    ("lessons/02_layers.ipynb", "5. Batch normalisation, training mode",
     ["minires.functional.batch_norm", "minires.nn.BatchNorm1d", "minires.nn.BatchNorm2d"]),
    ("lessons/03_plain_depth.ipynb", "1. The backward pass of a plain stack",
     ["minires.nn.PlainBlock", "minires.nn.DensePlainBlock"]),
    ("lessons/03_plain_depth.ipynb", "2. How big is each factor? Initialisation",
     ["minires.nn.init.kaiming_normal_", "minires.nn.init.kaiming_uniform_"]),
    ("lessons/04_identity_path.ipynb", "1. The gradient through a stack of residual blocks",
     ["minires.nn.ResidualBlock", "minires.nn.DenseResidualBlock"]),
    ("lessons/05_highway.ipynb", "2. The derivative of a highway layer",
     ["minires.nn.HighwayBlock", "minires.nn.DenseHighwayBlock"]),
    ("lessons/06_van.ipynb", "1. The gradient with respect to α", ["minires.nn.VANBlock", "minires.nn.DenseVANBlock"]),
    ("lessons/06_van.ipynb", "3. VAN's constrained problem and its Lagrangian", ["minires.optim.VANConstraint"]),
    ("lessons/07_plain_start.ipynb", "2. The gradient of a simplified block, by hand", ["minires.nn.SimplifiedBlock"]),
    ("lessons/07_plain_start.ipynb", "3. `to_plain` by hand, for a whole net",
     ["minires.models.to_plain", "minires.models.to_residual"]),
    ("lessons/07_plain_start.ipynb", "4. Two starts: Kaiming and Hardt-Ma", ["minires.nn.init.hardt_ma_normal_"]),
    ("lessons/07_plain_start.ipynb", "5. Noise stability", ["minires.analysis.noise_stability"]),
    ("lessons/08_shortcut_scaling.ipynb", "1. The backward signal through scaled shortcuts",
     ["minires.nn.ScaledResidualBlock"]),
]:
    DERIVED_IN.update({name: (notebook, heading) for name in names})


def slug(heading):
    """The anchor a heading gets, on MkDocs pages and on mkdocs-jupyter's notebook pages alike:
    "3. `to_plain` by hand, for a whole net" -> "3-to_plain-by-hand-for-a-whole-net", and
    "1. The gradient with respect to α" -> "1-the-gradient-with-respect-to" (ASCII only)."""
    ascii_only = unicodedata.normalize("NFKD", heading).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[-\s]+", "-", re.sub(r"[^\w\s-]", "", ascii_only.lower()).strip())


def documented_members(module_name):
    """[(public name, object)] of the functions and classes module_name's page shows, in order."""
    module = importlib.import_module(module_name)
    if hasattr(module, "__all__"):
        members = [(name, getattr(module, name)) for name in module.__all__]
    else:
        members = [(name, value) for name, value in vars(module).items()
                   if not name.startswith("_") and defined_in(value, module_name)]
    return [(name, value) for name, value in members
            if (inspect.isclass(value) or inspect.isfunction(value)) and value.__module__.startswith("minires")]


def defined_in(value, module_name):
    """Whether value is defined in the module or, for a package, in one of its modules."""
    defining = getattr(value, "__module__", None) or ""
    return defining == module_name or defining.startswith(module_name + ".")


def entry_path(module_name, name, value):
    """The dotted path that mkdocstrings documents module_name.name under (its anchor too)."""
    module_file = pathlib.Path(importlib.import_module(module_name).__file__)
    shadowed = module_file.name == "__init__.py" and (module_file.parent / f"{name}.py").exists()
    return f"{value.__module__}.{value.__qualname__}" if shadowed else f"{module_name}.{name}"


def api_anchors():
    """{id(object): "api/<module>.html#<anchor>"} for every documented function and class,
    in the order of API_PAGES; an object that two pages show is linked to the first."""
    anchors = {}
    for module_name in API_PAGES:
        for name, value in documented_members(module_name):
            anchors.setdefault(id(value), f"api/{module_name}.html#{entry_path(module_name, name, value)}")
    return anchors


def check_derived_in(headings_of):
    """Stops the build if DERIVED_IN names an object that no API page shows, or a section that
    its notebook does not have. headings_of: {notebook: its "## " headings}."""
    documented = {f"{module_name}.{name}" for module_name in API_PAGES for name, _ in documented_members(module_name)}
    for name, (notebook, heading) in DERIVED_IN.items():
        if name not in documented:
            raise SystemExit(f"site_api: DERIVED_IN names {name}, which no API page shows")
        if heading not in headings_of.get(notebook, ()):
            raise SystemExit(f"site_api: DERIVED_IN names the section '{heading}' of {notebook}, "
                             f"which has no such '## ' heading")


def api_page(module_name, title):
    """The Markdown of one API page."""
    lines = [f"# {title}", "", f"::: {module_name}", "    options:", "      show_root_heading: false",
             "      members: false", ""]
    shown = {}
    submodules = [name for name, value in vars(importlib.import_module(module_name)).items()
                  if inspect.ismodule(value) and f"{module_name}.{name}" in API_PAGES]
    for name in submodules:
        lines += [f"`{name}`: see [{module_name}.{name}]({module_name}.{name}.md).", ""]
    for name, value in documented_members(module_name):
        if id(value) in shown:                                  # F.cat is F.concatenate
            lines += [f"## `{name}` {{#{module_name}.{name}}}", "",
                      f"Another name for [`{shown[id(value)][0]}`](#{shown[id(value)][1]}), as in PyTorch.", ""]
            continue
        path = entry_path(module_name, name, value)
        shown[id(value)] = (name, path)
        lines += [f"::: {path}", ""]
        derived = DERIVED_IN.get(f"{module_name}.{name}")
        if derived:
            notebook, heading = derived
            number = re.match(r"lessons/0*(\d+)_", notebook).group(1)
            # ../lessons/02_layers.ipynb: MkDocs turns it into the link to the notebook's page
            lines += [f"Derived in [lesson {number}, section {heading}](../{notebook}#{slug(heading)}).", ""]
    return "\n".join(lines)


def notebook_headings(path):
    """The "## " headings of a notebook's Markdown cells, without the "## "."""
    cells = json.loads(pathlib.Path(path).read_text())["cells"]
    return [line[3:].strip() for cell in cells if cell["cell_type"] == "markdown"
            for line in "".join(cell["source"]).splitlines() if line.startswith("## ")]


def imported_names(tree):
    """{local name: dotted path in minires} of a code cell's imports of minires."""
    names = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "minires":
                    names[alias.asname or alias.name.split(".")[0]] = alias.name if alias.asname else "minires"
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "minires":
            for alias in node.names:
                names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return names


def dotted_names(tree):
    """Every name and attribute chain of a cell, as dotted strings: "mr.nn.Conv2d", "F", "pick"."""
    for node in ast.walk(tree):
        chain = []
        while isinstance(node, ast.Attribute):
            chain.append(node.attr)
            node = node.value
        if isinstance(node, ast.Name):
            yield ".".join([node.id] + chain[::-1])


def resolve(parts):
    """The objects along a dotted path of minires, as far as it resolves:
    ["minires", "nn", "Conv2d"] -> [minires, minires.nn, minires.nn.Conv2d]."""
    found = [importlib.import_module(parts[0])]
    for part in parts[1:]:
        try:
            found.append(getattr(found[-1], part))
        except AttributeError:
            try:                                       # a submodule not imported by its package
                found.append(importlib.import_module(f"{found[-1].__name__}.{part}"))
            except (ImportError, AttributeError):
                break
    return found


def api_used_by(notebook, anchors):
    """[(the name as the code writes it, "api/...html#anchor")] of the documented functions
    and classes that a notebook's code cells use, in the order of the API pages.
    notebook: the parsed .ipynb (its JSON dict); anchors: api_anchors()."""
    imports, used = {}, {}
    for cell in notebook["cells"]:
        if cell["cell_type"] != "code":
            continue
        tree = ast.parse("".join(cell["source"]))
        imports.update(imported_names(tree))
        for dotted in dotted_names(tree):
            root, *attributes = dotted.split(".")
            if root not in imports:
                continue
            stands_for = imports[root].split(".")                 # F -> minires, functional
            objects = resolve(stands_for + attributes)
            # objects[len(stands_for) - 1 + k] is what root.attributes[0]...attributes[k-1] names
            for count, value in enumerate(objects[len(stands_for) - 1:]):
                if id(value) in anchors and not inspect.ismodule(value):
                    used.setdefault(anchors[id(value)], ".".join([root] + attributes[:count]))
    order = {anchor: position for position, anchor in enumerate(anchors.values())}
    return sorted(((written, anchor) for anchor, written in used.items()), key=lambda pair: order[pair[1]])
