"""Every tutorial notebook executes, top to bottom, in fast mode.

The notebooks are committed with the outputs of a normal-budget run; here each is
re-executed with ``LAVA_MLSNN_FAST=1`` (smaller data, fewer epochs: the first code
cell of every notebook reads it), and a failing cell fails its test. The kernel is
this interpreter (the project's venv), through a kernelspec written to a temporary
``JUPYTER_PATH``; each notebook runs in a temporary folder, so the files it writes
stay out of the tree.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="install the 'notebooks' extra")
nbclient = pytest.importorskip("nbclient", reason="install the 'notebooks' extra")
pytest.importorskip("ipykernel", reason="install the 'notebooks' extra")

TUTORIALS = sorted((Path(__file__).resolve().parent.parent / "tutorials").glob("*.ipynb"))
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
