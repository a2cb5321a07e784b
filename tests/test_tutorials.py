"""Every tutorial notebook executes, top to bottom, in fast mode.

The notebooks are committed with the outputs of a normal-budget run; here each is
re-executed with ``LAVA_MLSNN_FAST=1`` (smaller data, fewer epochs: the first code
cell of every notebook reads it), and a failing cell fails its test. The kernel is
this interpreter (the project's venv), through a kernelspec written to a temporary
``JUPYTER_PATH``; each notebook runs in a temporary folder, so the files it writes
stay out of the tree.
"""
from __future__ import annotations

import ast
import json
import os
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="install the 'notebooks' extra")
nbclient = pytest.importorskip("nbclient", reason="install the 'notebooks' extra")
pytest.importorskip("ipykernel", reason="install the 'notebooks' extra")

ROOT = Path(__file__).resolve().parent.parent
TUTORIALS = sorted((ROOT / "tutorials").glob("*.ipynb"))
KERNEL = "lava-mlsnn-tests"
CELL_TIMEOUT_S = 600


@pytest.fixture(scope="module")
def jupyter_path(tmp_path_factory) -> str:
    """A kernelspec that starts this very interpreter, whatever is installed globally."""
    root = tmp_path_factory.mktemp("jupyter")
    spec_dir = root / "kernels" / KERNEL
    spec_dir.mkdir(parents=True)
    (spec_dir / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "lava-mlsnn (tests)", "language": "python"}))
    return str(root)


def test_every_tutorial_is_collected():
    names = [p.name for p in TUTORIALS]
    assert len(names) == 8 and names[0].startswith("01_") and names[-1].startswith("08_")


@pytest.mark.parametrize("path", TUTORIALS, ids=[p.stem for p in TUTORIALS])
def test_tutorial_executes_in_fast_mode(path: Path, jupyter_path: str, tmp_path, monkeypatch):
    monkeypatch.setenv("JUPYTER_PATH", jupyter_path)
    monkeypatch.setenv("LAVA_MLSNN_FAST", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    # the kernel runs in a scratch folder: it imports this tree's lava_mlsnn, not an installed one
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p))
    # One torch thread pool per kernel, as the suite uses (conftest), so the kernel does
    # not oversubscribe the cores the test runner already uses.
    monkeypatch.setenv("OMP_NUM_THREADS", str(max(1, min(2, os.cpu_count() or 1))))
    nb = nbformat.read(str(path), as_version=4)
    client = nbclient.NotebookClient(nb, kernel_name=KERNEL, timeout=CELL_TIMEOUT_S,
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # raises CellExecutionError, naming the cell, on the first failure
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors
    # what a notebook writes goes to tutorials/runs/ (ignored by git), nowhere else
    stray = [str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")
             if p.is_file() and p.relative_to(tmp_path).parts[0] != "runs"]
    assert not stray, stray


def _code(path: Path):
    """The tutorial's code cells as Python (IPython ``!`` / ``%`` lines dropped)."""
    nb = nbformat.read(str(path), as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            yield "\n".join(ln for ln in cell.source.splitlines()
                            if not ln.lstrip().startswith(("!", "%")))


@pytest.mark.parametrize("path", TUTORIALS, ids=[p.stem for p in TUTORIALS])
def test_tutorial_uses_public_names_only(path: Path):
    """No private attribute (``ds._events``), module or imported name: what a tutorial
    teaches is the public API."""
    private = []
    for code in _code(path):
        for node in ast.walk(ast.parse(code)):
            names = []
            if isinstance(node, ast.Attribute):
                names = [node.attr]
            elif isinstance(node, ast.ImportFrom):
                names = (node.module or "").split(".") + [a.name for a in node.names]
            elif isinstance(node, ast.Import):
                names = [part for a in node.names for part in a.name.split(".")]
            private += [ast.unparse(node) for n in names
                        if n.startswith("_") and not n.startswith("__")]
    assert not private, private


@pytest.mark.parametrize("path", TUTORIALS, ids=[p.stem for p in TUTORIALS])
def test_tutorial_reads_nothing_a_wheel_lacks(path: Path):
    """A tutorial reads what the package ships (``lava_mlsnn.studies``), not the source
    tree's ``benchmarks/`` or paths found from ``lava_mlsnn.__file__``."""
    for code in _code(path):
        assert "benchmarks" not in code and "__file__" not in code, code[:200]
