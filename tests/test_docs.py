"""The API documentation (Sphinx: autodoc + napoleon for the NumPy docstrings, MyST for the
markdown pages) builds with warnings as errors."""
import subprocess
import sys

import pytest

pytest.importorskip("sphinx", reason="install the 'docs' extra")
pytest.importorskip("myst_parser", reason="install the 'docs' extra")

from trainkit import ROOT, subprocess_env  # noqa: E402


def test_api_docs_build_without_warnings(tmp_path):
    out = tmp_path / "html"
    r = subprocess.run([sys.executable, "-m", "sphinx", "-W", "-q", "-E", "-b", "html",
                        f"{ROOT}/docs", str(out)], capture_output=True, text=True,
                       env=subprocess_env(), timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    nir_page = (out / "api" / "nir.html").read_text()
    assert "from_nir" in nir_page and "to_nir" in nir_page
    assert "Fixed-point semantics" in (out / "DESIGN.html").read_text()
