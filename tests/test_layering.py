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
  the modules in reversed and shuffled orders (test_import_order.py).

This file holds the first kind, and tests of the checkers themselves on made-up
imports; the reading of the source is in layering.py.
"""

from layering import (LAYERS, NOT_FOR_DATA, Import, all_imports, chains_into, describe_chain, find_cycle,
                      find_cycles, imports_in, is_documented_exception, layer_of, layering_violations,
                      package_files, with_parent_packages)


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
