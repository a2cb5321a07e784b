"""The README's Python snippets run as written, each in a fresh namespace (no snippet uses
another's variables), in one scratch folder and in the README's order (the later snippets read
the ``net.h5`` the first one writes, as the README says); and no snippet reruns a backend per
layer inside a comprehension."""
import ast
import os

import pytest

from docskit import python_blocks

BLOCKS = python_blocks()
BACKENDS = {"run_lava", "emulate", "run_loihi2"}


def test_the_readme_has_its_snippets():
    assert len(BLOCKS) >= 5
    assert "block.Network(" in BLOCKS[0] and "Network(net_config=" in BLOCKS[1]


def test_no_backend_runs_inside_a_comprehension():
    for code in BLOCKS:
        for node in ast.walk(ast.parse(code)):
            if isinstance(node, (ast.GeneratorExp, ast.ListComp, ast.SetComp, ast.DictComp)):
                calls = {c.func.id for c in ast.walk(node) if isinstance(c, ast.Call)
                         and isinstance(c.func, ast.Name)}
                assert not calls & BACKENDS, ast.unparse(node)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    return tmp_path_factory.mktemp("readme")


@pytest.mark.lava
@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_snippet_runs_as_written(index, scratch, monkeypatch):
    code = BLOCKS[index]
    if "import snntorch" in code:
        pytest.importorskip("snntorch", reason="install the 'peers' extra")
    monkeypatch.chdir(scratch)
    namespace = {"__name__": f"readme_snippet_{index}"}
    exec(compile(code, f"README.md python block {index + 1}", "exec"), namespace)
    if index == 0:
        assert os.path.exists("net.h5")
        emu = namespace["emu"]
        assert all(int(v.abs().sum()) > 0 for v in emu.values())  # every layer active
