"""Importing minires in fresh interpreters: every module as the first import, and the
modules in reversed and shuffled orders (see test_layering.py for the layers).

Importing any ``minires.x`` runs minires/__init__.py first, which imports the layers
in its own fixed order, so a plain ``import minires.nn.layers`` never tests whether
nn.layers brings in what it needs. The order tests therefore put a bare stand-in for
the package root in ``sys.modules`` (``STAND_IN_ROOT``): each module is then loaded
through its own imports only, and the real root last.
"""

import concurrent.futures
import random
import subprocess
import sys

import pytest

from layering import NOT_FOR_DATA, NOT_IMPORTED, PACKAGE, REPOSITORY, imports_in, package_files


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
