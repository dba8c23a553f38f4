"""Rules of the code base that CI checks: layering and what may be imported where."""

import ast
import pathlib
import re

import minires

PACKAGE = pathlib.Path(minires.__file__).parent


def imported_modules(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module.split(".")[0]


# Modules that handle files of host arrays (datasets, checkpoints), grade answers on the
# host (lessons) or draw the numbers of a run's tracks.jsonl (track_plots), and do no
# array math on tensors, may use NumPy directly; only the backend may import CuPy (its
# devices.py, on first use of CUDA).
HOST_FILE_MODULES = ("data/", "checkpoint.py", "lessons/", "track_plots.py")


def test_only_the_backend_imports_numpy_or_cupy():
    assert "cupy" in set(imported_modules(PACKAGE / "backend" / "devices.py"))   # the check sees it
    offenders = {}
    for path in PACKAGE.rglob("*.py"):
        name = path.relative_to(PACKAGE).as_posix()
        if name.startswith("backend/"):
            continue
        forbidden = {"cupy"} if name.startswith(HOST_FILE_MODULES) else {"numpy", "cupy"}
        offenders[name] = sorted(set(imported_modules(path)) & forbidden)
    assert {name: mods for name, mods in offenders.items() if mods} == {}


def test_minires_never_imports_torch():
    offenders = [str(path) for path in PACKAGE.rglob("*.py") if "torch" in set(imported_modules(path))]
    assert offenders == []


def test_public_names():
    for name in ["Tensor", "tensor", "Function", "no_grad", "gradcheck", "numerical_grad",
                 "set_device", "cuda_available", "float32", "float64", "functional"]:
        assert hasattr(minires, name), name


NETWORK_OPS = ["conv2d", "batch_norm", "max_pool2d", "avg_pool2d", "global_avg_pool2d", "linear",
               "dropout", "softmax", "log_softmax", "cross_entropy"]


def test_network_ops_document_their_shapes():
    import minires.functional as F
    missing = [name for name in NETWORK_OPS if "Shape:" not in (getattr(F, name).__doc__ or "")]
    assert not missing, f"these ops have no 'Shape:' section in their docstring: {missing}"


def test_batch_norm_derives_its_backward():
    from minires.functional import norm
    assert "dL/dx_j = " in norm.__doc__ and "d sigma / d x_j" in norm.__doc__


BLOCKS = ["PlainBlock", "ResidualBlock", "HighwayBlock", "VANBlock", "ScaledResidualBlock",
          "SimplifiedBlock", "DensePlainBlock", "DenseResidualBlock", "DenseHighwayBlock", "DenseVANBlock"]
LAYERS = ["Conv2d", "Linear", "BatchNorm1d", "BatchNorm2d", "ReLU", "Sigmoid", "Dropout", "MaxPool2d",
          "AvgPool2d", "GlobalAvgPool2d", "Flatten", "Identity", "ShortcutA"]


def test_blocks_document_equation_paper_and_shapes():
    """Each block's docstring gives its equation (y = ...), a paper ("Title" ... year) and shapes."""
    from minires import nn
    for name in BLOCKS:
        doc = getattr(nn, name).__doc__ or ""
        assert "y = " in doc, f"{name}: no equation"
        assert re.search(r'"[A-Z][^"]{10,}"', doc) and re.search(r"\b(19|20)\d\d\b", doc), f"{name}: no paper"
        assert "Shape:" in doc, f"{name}: no Shape: section"


def test_layers_document_their_shapes():
    from minires import nn
    missing = [name for name in LAYERS if "Shape:" not in (getattr(nn, name).__doc__ or "")]
    assert not missing, f"these layers have no 'Shape:' section: {missing}"
