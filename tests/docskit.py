"""What the README and the tutorials teach: their Python code and the lava-mlsnn names it uses.

``python_blocks`` gives the README's ```` ```python ```` snippets as written; ``used_names``
collects every ``lava_mlsnn`` object those snippets, the tutorials' code cells and the README's
inline code (```block.ResidualBlock```) name, resolved to the object itself, so the documentation
tests check what a reader actually meets.
"""
from __future__ import annotations

import ast
import importlib
import json
import os
import re
import types
from typing import Dict, Iterator, List, Tuple

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = os.path.join(ROOT, "README.md")
TUTORIALS = sorted(os.path.join(ROOT, "tutorials", n)
                   for n in os.listdir(os.path.join(ROOT, "tutorials")) if n.endswith(".ipynb"))
#: the README's short names for lava-mlsnn's packages in inline code (``block.Conv``)
SHORT = ("block", "neuron", "quant", "models", "netx", "backends", "metrics", "loihi2", "nir",
         "format", "fixed", "data", "train", "classify")
#: inline names that are another library's (lava-dl's ``netx.hdf5.Network``)
FOREIGN = {"netx.hdf5.Network"}


def python_blocks(path: str = README) -> List[str]:
    """The ```` ```python ```` blocks of a markdown file, in order, as written."""
    with open(path) as f:
        return re.findall(r"^```python\n(.*?)^```", f.read(), re.S | re.M)


def code_sources() -> Iterator[Tuple[str, str]]:
    """``(where, code)`` of every README Python block and tutorial code cell (IPython
    ``!``/``%`` lines dropped)."""
    for code in python_blocks():
        yield "README.md", code
    for path in TUTORIALS:
        with open(path) as f:
            cells = json.load(f)["cells"]
        for cell in cells:
            if cell["cell_type"] == "code":
                lines = "".join(cell["source"]).splitlines()
                yield os.path.basename(path), "\n".join(
                    ln for ln in lines if not ln.lstrip().startswith(("!", "%")))


def resolve(path: str):
    """The object a dotted path names (attributes first, then submodules)."""
    parts = path.split(".")
    obj = importlib.import_module(parts[0])
    for i, part in enumerate(parts[1:], 1):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            obj = importlib.import_module(".".join(parts[:i + 1]))
    return obj


def _names_in(code: str) -> Iterator[str]:
    tree = ast.parse(code)
    modules: Dict[str, str] = {}  # local name -> lava_mlsnn module path
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "lava_mlsnn":
            for alias in node.names:
                path = f"{node.module}.{alias.name}"
                if isinstance(resolve(path), types.ModuleType):
                    modules[alias.asname or alias.name] = path
                else:
                    yield path
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "lava_mlsnn":
                    modules[alias.asname or "lava_mlsnn"] = alias.name if alias.asname \
                        else "lava_mlsnn"
    for node in ast.walk(tree):  # block.Conv, lava_mlsnn.metrics.memory.memory_footprint
        if not isinstance(node, ast.Attribute) or isinstance(getattr(node, "ctx", None),
                                                             ast.Store):
            continue
        chain, base = [], node
        while isinstance(base, ast.Attribute):
            chain.append(base.attr)
            base = base.value
        if not (isinstance(base, ast.Name) and base.id in modules):
            continue
        path = modules[base.id]
        for attr in reversed(chain):
            if not isinstance(resolve(path), types.ModuleType):
                break
            path = f"{path}.{attr}"
        if not isinstance(resolve(path), types.ModuleType):
            yield path


def used_names() -> Dict[str, str]:
    """Every public lava-mlsnn object the README and tutorials use: dotted path -> where."""
    used: Dict[str, str] = {}
    for where, code in code_sources():
        for path in _names_in(code):
            used.setdefault(path, where)
    with open(README) as f:
        text = f.read()
    for m in re.finditer(r"`((?:lava_mlsnn|%s)(?:\.\w+)+)" % "|".join(SHORT), text):
        path = m.group(1)
        if path in FOREIGN:
            continue
        path = path if path.startswith("lava_mlsnn") else f"lava_mlsnn.{path}"
        if not isinstance(resolve(path), types.ModuleType):
            used.setdefault(path, "README.md (text)")
    return {p: w for p, w in used.items() if not p.rsplit(".", 1)[-1].startswith("_")}
