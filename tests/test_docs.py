"""The API documentation (Sphinx: autodoc + napoleon for the NumPy docstrings, MyST for the
markdown pages) builds with warnings as errors, and documents every lava-mlsnn name the README
and the tutorials use: a docstring, a real signature (not ``(*args, **kwargs)``) and an entry
in the built pages."""
import inspect
import re
import subprocess
import sys

import pytest

pytest.importorskip("sphinx", reason="install the 'docs' extra")
pytest.importorskip("myst_parser", reason="install the 'docs' extra")

from docskit import resolve, used_names  # noqa: E402
from trainkit import ROOT, subprocess_env  # noqa: E402

#: packages whose signatures are lava-dl's block/neuron constructors (checked on their own)
BLOCKS = ("lava_mlsnn.block", "lava_mlsnn.neuron")


@pytest.fixture(scope="module")
def html(tmp_path_factory):
    out = tmp_path_factory.mktemp("docs") / "html"
    r = subprocess.run([sys.executable, "-m", "sphinx", "-W", "-q", "-E", "-b", "html",
                        f"{ROOT}/docs", str(out)], capture_output=True, text=True,
                       env=subprocess_env(), timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    return out


@pytest.fixture(scope="module")
def documented(html):
    """Every object id the built pages describe (``lava_mlsnn.netx.emulate``, ...)."""
    ids = set()
    for page in html.rglob("*.html"):
        ids.update(re.findall(r'<dt class="sig sig-object py" id="([\w.]+)"', page.read_text()))
    return ids


def test_api_docs_build_without_warnings(html):
    nir_page = (html / "api" / "nir.html").read_text()
    assert "from_nir" in nir_page and "to_nir" in nir_page
    assert "Fixed-point semantics" in (html / "DESIGN.html").read_text()


def _is_block(path: str, obj) -> bool:
    return path.startswith(BLOCKS) or getattr(obj, "__module__", "").startswith(BLOCKS)


def _resolves_to(path: str, obj) -> bool:
    try:
        return resolve(path) is obj
    except (ImportError, AttributeError):
        return False


def _problems(path: str, documented: set):
    obj = resolve(path)
    canonical = f"{getattr(obj, '__module__', '')}.{getattr(obj, '__qualname__', '')}"
    # a constant has no __module__: any page entry of the very object documents it
    same = any(d.rsplit(".", 1)[-1] == path.rsplit(".", 1)[-1] and _resolves_to(d, obj)
               for d in documented)
    if path not in documented and canonical not in documented and not same:
        yield f"{path}: not in the Sphinx pages (neither {path} nor {canonical})"
    if not callable(obj):
        return  # constants: the page entry (a #: comment) is their documentation
    if not (inspect.getdoc(obj) or "").strip():
        yield f"{path}: no docstring"
    params = list(inspect.signature(obj).parameters.values())
    if params and all(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in params):
        yield f"{path}: signature {inspect.signature(obj)} names no argument"


def test_the_names_readers_meet_are_collected():
    names = used_names()
    for path in ("lava_mlsnn.block.Conv", "lava_mlsnn.block.ResidualBlock",
                 "lava_mlsnn.block.cuba.Dense", "lava_mlsnn.netx.emulate",
                 "lava_mlsnn.netx.Network", "lava_mlsnn.netx.run_lava",
                 "lava_mlsnn.quant.UniformWeight", "lava_mlsnn.models.dvs_convnet",
                 "lava_mlsnn.metrics.memory.memory_footprint", "lava_mlsnn.metrics.energy_report",
                 "lava_mlsnn.loihi2.run_loihi2", "lava_mlsnn.nir.read_nir",
                 "lava_mlsnn.fixed.mlsn_step", "lava_mlsnn.train.fit",
                 "lava_mlsnn.data.framing"):
        assert path in names, path
    assert len(names) > 40


def test_every_used_name_is_documented(documented):
    names = [p for p in used_names() if not _is_block(p, resolve(p))]
    problems = [msg for p in names for msg in _problems(p, documented)]
    assert not problems, "\n".join(problems)


def test_every_used_block_and_neuron_name_is_documented(documented):
    names = [p for p in used_names() if _is_block(p, resolve(p))]
    assert len(names) >= 8
    problems = [msg for p in names for msg in _problems(p, documented)]
    assert not problems, "\n".join(problems)
