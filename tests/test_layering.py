"""Layers import one direction: format -> fixed -> metrics / proc / backends -> training, tools.

The graph is read from the source (every import statement, function-level ones too),
so a lazy import cannot hide a circle.
"""
import ast
import subprocess
import sys
from pathlib import Path
from typing import Dict, Set

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent / "lava_mlsnn"


def _imports(path: Path, module: str):
    """Absolute names imported by one file (relative imports resolved)."""
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            yield name
            yield from (f"{name}.{a.name}" for a in node.names)


#: Command front-ends that sit inside a package but belong to the tools layer (they
#: import the CLI's helpers): counted as part of ``cli``.
COMMAND_MODULES = ("lava_mlsnn.train.export_command",)


def _unit(name: str) -> str:
    """The package (or top-level module) of lava_mlsnn a module belongs to."""
    if any(name == m or name.startswith(m + ".") for m in COMMAND_MODULES):
        return "cli"
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else "lava_mlsnn"


def all_imports():
    """``(importing module, imported name)`` for every import statement of the package."""
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT.parent).with_suffix("")
        module = ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)
        for name in _imports(path, module):
            yield module, name


def import_graph() -> Dict[str, Dict[str, Set[str]]]:
    """``{unit: {imported unit or external top-level name: {importing modules}}}``."""
    graph: Dict[str, Dict[str, Set[str]]] = {}
    for module, name in all_imports():
        if name.startswith("lava_mlsnn."):
            target = _unit(name)
        elif name.split(".")[0] in ("torch", "lava"):
            target = name.split(".")[0]
        else:
            continue
        if target != _unit(module):
            graph.setdefault(_unit(module), {}).setdefault(target, set()).add(module)
    return graph


def test_no_circle_between_packages():
    graph = import_graph()
    edges = {a: {b for b in targets if b not in ("torch", "lava")} for a, targets in graph.items()}
    state: Dict[str, int] = {}

    def visit(node, path):
        state[node] = 1
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                cycle = path[path.index(nxt):] + [nxt]
                raise AssertionError(f"import circle: {' -> '.join(cycle)}")
            if nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])


def test_layer_directions():
    graph = import_graph()
    assert set(graph["format"]) <= {"_io"}, graph["format"]  # no torch, no lava, nothing above
    assert "netx" not in graph["proc"]
    loihi2 = ("lava_mlsnn.loihi2", "lava_mlsnn.backends.loihi2.runner",
              "lava_mlsnn.backends.loihi2.registry", "lava_mlsnn.backends.loihi2.detect")
    assert not [(m, n) for m, n in all_imports() if m.startswith("lava_mlsnn.train.")
                and n.startswith(loihi2)]  # training never reaches the Loihi 2 runner
    assert "train" not in graph["backends"] and "train" not in graph["metrics"]
    assert "backends" not in graph["metrics"]


def test_format_layer_loads_without_torch_or_lava(tmp_path):
    code = ("import sys, numpy as np\n"
            "from lava_mlsnn.format import read_network, write_network\n"
            "from lava_mlsnn.format.random_net import random_network\n"
            f"write_network(random_network(np.random.default_rng(0)), {str(tmp_path / 'n.h5')!r})\n"
            f"read_network({str(tmp_path / 'n.h5')!r})\n"
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'lava'}))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def _residual_net():
    from lava_mlsnn import block
    torch.manual_seed(0)
    p = dict(threshold=0.8, levels=3)
    return block.Network([block.Input((2, 6, 6), 3), block.Conv({**p, "norm": True}, 2, 4, 3,
                                                                padding=1),
                          block.ResidualBlock("sparse", p, 4, 4),
                          block.ResidualBlock("spiking", p, 4, 6, stride=2),
                          block.Flatten(), block.Readout({}, 6 * 9, 3)], timesteps=2)


@pytest.mark.parametrize("kind", ["feedforward", "residual"])
def test_folding_is_pure(kind):
    """``fold_network`` returns the spec and leaves the blocks as they were."""
    from lava_mlsnn import block
    from netfactory import random_training_net

    net = random_training_net(3, levels=3, timesteps=2)[0] if kind == "feedforward" \
        else _residual_net()
    net.train()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    spec = block.fold_network(net, allow_clipping=True)
    assert net.training and not net.is_quantized
    assert all(getattr(b, "folded", None) is None for b in net.modules() if hasattr(b, "fold"))
    after = net.state_dict()
    assert before.keys() == after.keys()
    assert all(torch.equal(before[k], after[k]) for k in before)
    with net.quantized(allow_clipping=True):  # the installed integers are the same
        inside = block.fold_network(net)
    assert [la.type for la in spec.layers] == [la.type for la in inside.layers]
    for a, b in zip(spec.layers, inside.layers):
        assert (a.neuron is None) == (b.neuron is None)
        if a.neuron is not None:
            for key in vars(a.neuron):
                assert np.array_equal(np.asarray(getattr(a.neuron, key)),
                                      np.asarray(getattr(b.neuron, key))), key
        for ba, bb in zip(a.branches, b.branches):
            assert np.array_equal(ba.synapse.weight, bb.synapse.weight)
