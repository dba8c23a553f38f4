"""Reading minires's import graph from its source: the helpers of test_layering.py and
test_import_order.py (see test_layering.py's docstring for the layers and the rules).

Every import of a minires module by a minires module is an :class:`Import`: an edge of
the graph, with the file and line it is on, the scope it is in, and whether it runs
when the module loads or only when a function is called.
"""

import ast
import pathlib
from collections import deque
from typing import NamedTuple

REPOSITORY = pathlib.Path(__file__).resolve().parent.parent
PACKAGE = REPOSITORY / "minires"

# The layer of each module; a package's entry covers every module inside it. The
# package root (minires/__init__.py) is the entry "minires" and covers only itself:
# a new module must be given a row here.
LAYERS = {
    "minires.backend": 0,
    "minires.backward": 1,
    "minires.hooks": 1,
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
    "minires.creation": 5,
    "minires.serialization": 5,
    "minires.cuda": 5,
    "minires.backends": 5,
    "minires.utils": 5,
    "minires.torch_functions": 5,
    "minires.cli": 5,
    "minires.sweep": 5,
    "minires.lessons": 5,
    "minires.analysis": 5,
    "minires.tracking": 5,
    "minires.track_plots": 5,
    "minires.report": 5,
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
