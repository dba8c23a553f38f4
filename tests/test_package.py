"""Rules of the code base that CI checks: layering and what may be imported where."""

import ast
import pathlib

import minires

PACKAGE = pathlib.Path(minires.__file__).parent


def imported_modules(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module.split(".")[0]


def test_only_the_backend_imports_numpy_or_cupy():
    offenders = {str(path.relative_to(PACKAGE)): sorted(set(imported_modules(path)) & {"numpy", "cupy"})
                 for path in PACKAGE.rglob("*.py") if path.name != "backend.py"}
    assert {name: mods for name, mods in offenders.items() if mods} == {}


def test_minires_never_imports_torch():
    offenders = [str(path) for path in PACKAGE.rglob("*.py") if "torch" in set(imported_modules(path))]
    assert offenders == []


def test_public_names():
    for name in ["Tensor", "tensor", "Function", "no_grad", "gradcheck", "numerical_grad",
                 "set_device", "cuda_available", "float32", "float64", "functional"]:
        assert hasattr(minires, name), name
