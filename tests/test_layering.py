"""The layers of minires, checked: who imports whom, and that any import order works.

minires is built in layers; a module imports only from its own layer or the ones
below it (minires/__init__.py and STYLE.md draw the picture):

    0 backend           1 backward, tensor, autograd     2 functional, gradcheck
    3 fast              4 nn                             5 the rest, and the package root

Two kinds of check:

- Reading the source (``ast``): every import of a minires module, where it is and
  whether it runs when the module loads or only when a function is called. Each must
  go to the same layer or one below; the one exception is documented in
  minires/tensor.py (``_functional()`` imports minires.functional when called). The
  imports that run at load time must form no cycle, and minires.data must not load
  the ops, the fast kernels, the modules or autograd.
- Importing, each time in a fresh interpreter: every module as the first import, and
  the modules in reversed and shuffled orders.

Importing any ``minires.x`` runs minires/__init__.py first, which imports the layers
in its own fixed order, so a plain ``import minires.nn.layers`` never tests whether
nn.layers brings in what it needs. The order tests therefore put a bare stand-in for
the package root in ``sys.modules`` (``STAND_IN_ROOT``): each module is then loaded
through its own imports only, and the real root last.
"""

import ast
import concurrent.futures
import pathlib
import random
import subprocess
import sys
from collections import deque
from typing import NamedTuple

import pytest

REPOSITORY = pathlib.Path(__file__).resolve().parent.parent
PACKAGE = REPOSITORY / "minires"

# The layer of each module; a package's entry covers every module inside it. The
# package root (minires/__init__.py) is the entry "minires" and covers only itself:
# a new module must be given a row here.
LAYERS = {
    "minires.backend": 0,
    "minires.backward": 1,
    "minires.tensor": 1,
    "minires.autograd": 1,
    "minires.functional": 2,
    "minires.gradcheck": 2,
    "minires.fast": 3,
    "minires.nn": 4,
    "minires.optim": 5,
    "minires.data": 5,
    "minires.models": 5,
    "minires.train": 5,
    "minires.checkpoint": 5,
    "minires.run_directory": 5,
    "minires.plotting": 5,
    "minires.cli": 5,
    "minires.lessons": 5,
    "minires.__main__": 5,
    "minires": 5,
}
LAYER_NAMES = {0: "backend", 1: "tensor/autograd", 2: "functional", 3: "fast kernels", 4: "nn", 5: "the rest"}

# minires.data reads files and makes batches: it may use backend and Tensor, never these.
NOT_FOR_DATA = ("minires.functional", "minires.fast", "minires.nn", "minires.autograd")

# Running ``python -m minires`` is how minires.__main__ is used; importing it runs the command.
NOT_IMPORTED = {"minires.__main__"}


class Import(NamedTuple):
    """One import of a minires module by a minires module: an edge of the import graph."""
    source: str        # the importing module, "minires.fast.conv_taps"
    target: str        # the imported module, "minires.functional.conv"
    path: str          # the importing file, "minires/fast/conv_taps.py"
    line: int
    scope: str         # "<module>", a class ("Tensor") or a function ("_functional", "Tensor.relu")
    at_load: bool      # runs when the module loads (module level or a class body), not when called
    statement: str     # the source line, for messages
    implicit: bool = False   # a package Python loads before ``target`` (its parent), not written

    def describe(self):
        when = "at load time" if self.at_load else f"when {self.scope}() is called"
        how = "(its package, loaded first) " if self.implicit else ""
        return (f"{self.path}:{self.line}: {self.source} -> {self.target} {how}{when}: "
                f"`{self.statement}`")


# -- reading the source ---------------------------------------------------------------------

def module_name(path):
    """minires/fast/conv_taps.py -> "minires.fast.conv_taps"; minires/fast/__init__.py -> "minires.fast"."""
    parts = list(path.relative_to(REPOSITORY).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def package_files():
    """{module name: path} for every .py file of the package."""
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py")) if "__pycache__" not in path.parts}


def is_minires(name):
    return name == "minires" or name.startswith("minires.")


class ImportCollector(ast.NodeVisitor):
    """Collects the imports of minires modules in one file, with where each one runs."""

    def __init__(self, source, path, source_text, modules):
        self.source = source
        self.path = path
        self.lines = source_text.splitlines()
        self.modules = modules
        self.is_package = path.endswith("__init__.py")
        self.scopes = []            # (kind, name), kind "class" or "function", outermost first
        self.imports = []

    def visit_FunctionDef(self, node):
        self.scopes.append(("function", node.name))
        self.generic_visit(node)
        self.scopes.pop()

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Lambda(self, node):
        self.scopes.append(("function", "<lambda>"))
        self.generic_visit(node)
        self.scopes.pop()

    def visit_ClassDef(self, node):
        self.scopes.append(("class", node.name))
        self.generic_visit(node)
        self.scopes.pop()

    def visit_Import(self, node):
        for alias in node.names:                      # import minires.functional as F
            if is_minires(alias.name):
                self.add(alias.name, node)

    def visit_ImportFrom(self, node):
        package = self.absolute_module(node)          # from minires.nn import init, kernels
        if package is None or not is_minires(package):
            return
        for alias in node.names:
            submodule = f"{package}.{alias.name}"
            self.add(submodule if submodule in self.modules else package, node)

    def visit_Call(self, node):
        """importlib.import_module("minires.x") and __import__("minires.x") count too."""
        function = node.func
        name = function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", None)
        if (name in ("import_module", "__import__") and node.args and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str) and is_minires(node.args[0].value)):
            self.add(node.args[0].value, node)
        self.generic_visit(node)

    def absolute_module(self, node):
        """The module named after ``from``, with a relative import (``from . import x``) resolved."""
        if node.level == 0:
            return node.module
        package = self.source.split(".") if self.is_package else self.source.split(".")[:-1]
        if node.level > 1:
            package = package[:-(node.level - 1)]
        return ".".join(package + ([node.module] if node.module else [])) or None

    def add(self, target, node):
        at_load = not any(kind == "function" for kind, _ in self.scopes)
        scope = ".".join(name for _, name in self.scopes) or "<module>"
        statement = self.lines[node.lineno - 1].strip() if node.lineno <= len(self.lines) else ""
        self.imports.append(Import(self.source, target, self.path, node.lineno, scope, at_load, statement))


def imports_in(source_text, source, path, modules):
    """The minires imports written in one file's text."""
    collector = ImportCollector(source, path, source_text, modules)
    collector.visit(ast.parse(source_text, filename=path))
    return list(dict.fromkeys(collector.imports))     # `from x import a, b`: one edge, not two


def with_parent_packages(imports):
    """``imports`` and, for each, the packages Python loads before its target.

    ``from minires.functional.conv import x`` first runs minires/functional/__init__.py:
    an import of minires.functional too. The package root is left out (it is always
    loaded first, whatever is imported), and so are the importer's own packages,
    which are already loading when it runs.
    """
    edges = list(imports)
    for edge in imports:
        parts = edge.target.split(".")
        for end in range(2, len(parts)):
            parent = ".".join(parts[:end])
            if parent != edge.source and not edge.source.startswith(parent + "."):
                edges.append(edge._replace(target=parent, implicit=True))
    return edges


def all_imports():
    files = package_files()
    imports = []
    for name, path in files.items():
        relative = path.relative_to(REPOSITORY).as_posix()
        imports += imports_in(path.read_text(), name, relative, set(files))
    return imports


# -- the rules --------------------------------------------------------------------------------

def layer_of(module):
    """The layer of ``module`` from LAYERS (its own row or its package's), or None."""
    if module == "minires":
        return LAYERS["minires"]
    parts = module.split(".")
    for end in range(len(parts), 1, -1):
        layer = LAYERS.get(".".join(parts[:end]))
        if layer is not None:
            return layer
    return None


def is_documented_exception(edge):
    """Tensor's operator methods reach the ops through tensor._functional(), when called."""
    return (edge.source == "minires.tensor" and edge.target == "minires.functional"
            and not edge.at_load and edge.scope == "_functional")


def layering_violations(imports):
    """One message for each import that goes up a layer, or names a module with no layer."""
    messages = []
    for edge in imports:
        source_layer, target_layer = layer_of(edge.source), layer_of(edge.target)
        if source_layer is None or target_layer is None:
            missing = edge.source if source_layer is None else edge.target
            messages.append(f"{edge.describe()}\n    {missing} has no layer: add it to LAYERS in {__name__}.py")
        elif target_layer > source_layer and not is_documented_exception(edge):
            messages.append(
                f"{edge.describe()}\n    layer {source_layer} ({LAYER_NAMES[source_layer]}) imports from "
                f"layer {target_layer} ({LAYER_NAMES[target_layer]}), above it")
    return messages


def find_cycle(imports):
    """The edges of one cycle in the graph ``imports`` (in a fixed order), or [] when there is none."""
    edges_from = {}
    for edge in sorted(imports):
        edges_from.setdefault(edge.source, []).append(edge)
    finished = set()
    for start in sorted(edges_from):
        if start in finished:
            continue
        path = []                                    # the edges from start to the current module
        on_path = {start}
        stack = [iter(edges_from.get(start, []))]    # the edges still to follow from each module on the path
        while stack:
            edge = next(stack[-1], None)
            if edge is None:                         # every edge from this module followed: step back
                stack.pop()
                module = path.pop().target if path else start
                on_path.discard(module)
                finished.add(module)
            elif edge.target in on_path:             # back to a module on the path: a cycle
                first = next((i for i, step in enumerate(path) if step.source == edge.target), len(path))
                return path[first:] + [edge]
            elif edge.target not in finished:
                path.append(edge)
                on_path.add(edge.target)
                stack.append(iter(edges_from.get(edge.target, [])))
    return []


def find_cycles(imports, most=5):
    """Up to ``most`` cycles: each found one is broken at its last edge before looking again."""
    cycles = []
    remaining = list(imports)
    while len(cycles) < most:
        cycle = find_cycle(remaining)
        if not cycle:
            break
        cycles.append(cycle)
        remaining.remove(cycle[-1])
    return cycles


def chains_into(imports, starts, forbidden_prefixes):
    """For each forbidden module reachable from a module in ``starts``: the chain of edges there."""
    edges_from = {}
    for edge in sorted(imports):
        edges_from.setdefault(edge.source, []).append(edge)
    reached_by = {start: None for start in starts}   # module -> the edge that first reached it
    queue = deque(sorted(starts))
    while queue:
        for edge in edges_from.get(queue.popleft(), []):
            if edge.target not in reached_by:
                reached_by[edge.target] = edge
                queue.append(edge.target)
    chains = []
    for module in sorted(reached_by):
        if any(module == prefix or module.startswith(prefix + ".") for prefix in forbidden_prefixes):
            chain = []
            while reached_by[module] is not None:
                chain.insert(0, reached_by[module])
                module = reached_by[module].source
            chains.append(chain)
    return chains


def describe_chain(chain):
    return "\n".join(f"    {edge.describe()}" for edge in chain)


# -- the checks on minires ------------------------------------------------------------------

def test_every_module_has_a_layer():
    unplaced = [name for name in package_files() if layer_of(name) is None]
    assert not unplaced, f"these modules have no layer; add them to LAYERS in {__name__}.py: {unplaced}"


def test_every_import_goes_to_the_same_layer_or_below():
    messages = layering_violations(all_imports())
    assert not messages, "imports that break the layering:\n" + "\n".join(messages)


def test_tensor_reaches_functional_only_when_called():
    """The one documented exception, and only in its documented place (tensor._functional)."""
    upward = [edge for edge in all_imports() if edge.source == "minires.tensor" and edge.target == "minires.functional"]
    assert upward, "minires.tensor no longer imports minires.functional: remove is_documented_exception"
    for edge in upward:
        assert not edge.at_load and edge.scope == "_functional", (
            f"{edge.describe()}\n    minires.tensor may import minires.functional only inside _functional(), "
            "when it is called")


def test_no_import_cycle_at_load_time():
    load_time = [edge for edge in with_parent_packages(all_imports()) if edge.at_load]
    cycles = find_cycles(load_time)
    assert not cycles, "the imports that run at load time form cycles:\n" + "\n\n".join(
        describe_chain(cycle) for cycle in cycles)


def test_data_loads_no_op_kernel_module_or_autograd():
    files = package_files()
    data_modules = [name for name in files if name == "minires.data" or name.startswith("minires.data.")]
    load_time = [edge for edge in with_parent_packages(all_imports()) if edge.at_load]
    chains = chains_into(load_time, data_modules, NOT_FOR_DATA)
    assert not chains, "minires.data loads modules it must not, at load time:\n" + "\n\n".join(
        describe_chain(chain) for chain in chains)


# -- the checks on the checker: each one can fail ---------------------------------------------

KNOWN = {"minires", "minires.tensor", "minires.functional", "minires.functional.conv", "minires.nn",
         "minires.nn.layers", "minires.nn.init", "minires.data", "minires.data.loader", "minires.fast"}


def fabricated(source, target, line=1, scope="<module>", at_load=True):
    return Import(source, target, f"{source.replace('.', '/')}.py", line, scope, at_load, f"import {target}")


def test_collector_reads_every_form_of_import():
    text = "\n".join([
        "import minires.functional as F",                # 1
        "from minires.nn import layers, Module",         # 2: a submodule, and a name of the package
        "from minires import nn",                        # 3
        "from . import conv",                            # 4: relative, from minires/functional/arith.py
        "import numpy",                                  # 5: not minires
        "class Layer:",                                  # 6
        "    from minires.nn import init",               # 7: a class body runs at load time
        "    def forward(self):",                        # 8
        "        import minires.tensor",                 # 9: only when called
        "lazy = lambda: importlib.import_module('minires.fast')",   # 10
    ])
    found = imports_in(text, "minires.functional.arith", "minires/functional/arith.py",
                       KNOWN | {"minires.functional.arith"})
    assert [(edge.target, edge.line, edge.scope, edge.at_load) for edge in found] == [
        ("minires.functional", 1, "<module>", True),
        ("minires.nn.layers", 2, "<module>", True),
        ("minires.nn", 2, "<module>", True),
        ("minires.nn", 3, "<module>", True),
        ("minires.functional.conv", 4, "<module>", True),
        ("minires.nn.init", 7, "Layer", True),
        ("minires.tensor", 9, "Layer.forward", False),
        ("minires.fast", 10, "<lambda>", False),
    ]


def test_an_upward_import_is_reported_with_file_line_and_edge():
    messages = layering_violations([fabricated("minires.functional.conv", "minires.nn.layers", line=12)])
    assert len(messages) == 1
    assert "minires/functional/conv.py:12" in messages[0]
    assert "minires.functional.conv -> minires.nn.layers" in messages[0]
    assert "layer 2 (functional) imports from layer 4 (nn)" in messages[0]


def test_the_exception_holds_only_when_called_from_functional():
    when_called = fabricated("minires.tensor", "minires.functional", scope="_functional", at_load=False)
    at_load = fabricated("minires.tensor", "minires.functional", line=20)
    elsewhere = fabricated("minires.tensor", "minires.functional", scope="Tensor.relu", at_load=False)
    assert layering_violations([when_called]) == []
    assert len(layering_violations([at_load, elsewhere])) == 2


def test_a_module_without_a_layer_is_reported():
    messages = layering_violations([fabricated("minires.nn.layers", "minires.somewhere_new")])
    assert len(messages) == 1 and "minires.somewhere_new has no layer" in messages[0]


def test_a_cycle_is_found_and_shown_edge_by_edge():
    edges = [fabricated("minires.nn", "minires.nn.layers", line=3),
             fabricated("minires.nn.layers", "minires.nn.init", line=5),
             fabricated("minires.nn.init", "minires.nn.layers", line=7),
             fabricated("minires.nn.init", "minires.tensor", line=8)]
    cycle = find_cycle(edges)
    assert [(edge.source, edge.target) for edge in cycle] == [("minires.nn.layers", "minires.nn.init"),
                                                              ("minires.nn.init", "minires.nn.layers")]
    assert "minires/nn/init.py:7: minires.nn.init -> minires.nn.layers" in describe_chain(cycle)
    assert find_cycle(edges[:2] + edges[3:]) == []
    other = [fabricated("minires.tensor", "minires.fast", line=9), fabricated("minires.fast", "minires.tensor", line=4)]
    assert len(find_cycles(edges + other)) == 2


def test_a_forbidden_module_reached_from_data_is_reported_with_its_chain():
    edges = [fabricated("minires.data.loader", "minires.tensor", line=8),
             fabricated("minires.tensor", "minires.functional", line=28)]
    chains = chains_into(edges, ["minires.data", "minires.data.loader"], NOT_FOR_DATA)
    assert [[(edge.source, edge.target) for edge in chain] for chain in chains] == [
        [("minires.data.loader", "minires.tensor"), ("minires.tensor", "minires.functional")]]
    assert chains_into(edges[:1], ["minires.data.loader"], NOT_FOR_DATA) == []


def test_a_parent_package_counts_as_imported():
    edge = fabricated("minires.nn.layers", "minires.functional.conv")
    assert [(e.target, e.implicit) for e in with_parent_packages([edge])] == [
        ("minires.functional.conv", False), ("minires.functional", True)]
    inside = fabricated("minires.nn.layers", "minires.nn.init")
    assert with_parent_packages([inside]) == [inside]


# -- importing, in fresh interpreters ---------------------------------------------------------

# Puts a bare package in place of minires/__init__.py, so that what is imported next loads
# through its own imports only; the real root is imported at the end with REAL_ROOT.
STAND_IN_ROOT = """
import importlib, importlib.util, sys, types
spec = importlib.util.find_spec("minires")
root = types.ModuleType("minires")
root.__path__ = list(spec.submodule_search_locations)
sys.modules["minires"] = root
"""
REAL_ROOT = """
del sys.modules["minires"]
import minires
x = minires.tensor([1.0, -2.0], requires_grad=True)
(x.relu() * x).sum().backward()          # Tensor's methods reach the ops when called
assert x.grad.tolist() == [2.0, 0.0], x.grad
"""


def run_python(code):
    """Runs ``code`` in a fresh interpreter, in the repository (so that its minires is imported)."""
    return subprocess.run([sys.executable, "-c", code], cwd=REPOSITORY, capture_output=True, text=True,
                          timeout=120)


def failures(codes):
    """{label: the error's last lines} for each code of ``codes`` ({label: code}) that fails.

    Two interpreters at a time: each takes about 0.3 s, mostly loading NumPy.
    """
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        results = dict(zip(codes, pool.map(run_python, codes.values())))
    return {label: "\n".join(result.stderr.strip().splitlines()[-6:])
            for label, result in results.items() if result.returncode != 0}


def report(found):
    return "\n\n".join(f"{label}:\n{error}" for label, error in found.items())


def importable_modules():
    return [name for name in package_files() if name not in NOT_IMPORTED]


def root_modules():
    """The modules minires/__init__.py imports, in its order."""
    found = imports_in((PACKAGE / "__init__.py").read_text(), "minires", "minires/__init__.py", set(package_files()))
    return list(dict.fromkeys(edge.target for edge in found if edge.at_load))


def loaded_by_root():
    """The minires modules that ``import minires`` loads, in a fresh interpreter."""
    result = run_python("import sys, minires\n"
                        "print(*sorted(m for m in sys.modules if m.startswith('minires.')))")
    assert result.returncode == 0, result.stderr
    return set(result.stdout.split())


def test_each_module_imports_first_in_a_fresh_interpreter():
    """``import minires.x`` runs minires/__init__.py, then finds x loaded or loads it.

    For the modules the root loads, the first step is all there is, the same for each:
    ``import minires`` stands for them all. The others are imported one by one.
    """
    names = ["minires"] + sorted(set(importable_modules()) - loaded_by_root() - {"minires"})
    found = failures({f"import {name}": f"import {name}" for name in names})
    assert not found, "these modules fail as the first import of a fresh interpreter:\n" + report(found)


def test_each_module_loads_through_its_own_imports():
    """Without the package root's order first: what a module needs, it imports itself."""
    found = failures({f"import {name} (stand-in root)": STAND_IN_ROOT + f"import {name}\n"
                      for name in importable_modules()})
    assert not found, "these modules fail when loaded through their own imports only:\n" + report(found)


def orders(names):
    shuffled = list(names)
    random.Random(0).shuffle(shuffled)
    return {"reversed": names[::-1], "shuffled (seed 0)": shuffled}


def import_in_order(names):
    return STAND_IN_ROOT + "".join(f"import {name}\n" for name in names) + REAL_ROOT


@pytest.mark.parametrize("which", ["the root's modules", "every module"])
def test_modules_import_in_any_order(which):
    names = root_modules() if which == "the root's modules" else importable_modules()
    assert len(names) > 1
    found = failures({f"{which}, {order}: {' '.join(names)}": import_in_order(names)
                      for order, names in orders(names).items()})
    assert not found, "an import order fails:\n" + report(found)


def test_data_loads_no_op_kernel_module_or_autograd_when_imported():
    code = STAND_IN_ROOT + (
        "import minires.data\n"
        f"loaded = sorted(m for m in sys.modules if m.startswith({NOT_FOR_DATA!r}))\n"
        "assert not loaded, f'import minires.data loaded {loaded}'\n")
    result = run_python(code)
    assert result.returncode == 0, result.stderr


def test_python_dash_m_minires_runs():
    result = subprocess.run([sys.executable, "-m", "minires", "--help"], cwd=REPOSITORY, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0 and "usage: minires" in result.stdout, result.stderr
