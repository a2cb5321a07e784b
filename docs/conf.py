"""Sphinx configuration of the lava-mlsnn API documentation.

Build: ``.venv/bin/python -m sphinx -W -b html docs docs/_build/html`` (tests/test_docs.py
builds it with warnings as errors).
"""
import os
import sys

sys.path.insert(0, os.path.abspath(".."))
import lava_mlsnn  # noqa: E402

project = "lava-mlsnn"
release = version = lava_mlsnn.__version__
extensions = ["sphinx.ext.autodoc", "sphinx.ext.napoleon", "myst_parser"]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
master_doc = "index"
exclude_patterns = ["_build"]
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False
napoleon_use_ivar = True  # dataclass "Attributes" sections as fields: no duplicate entries
autodoc_member_order = "bysource"
autodoc_default_options = {"members": True, "undoc-members": False, "show-inheritance": False}
autodoc_typehints = "none"  # the NumPy docstrings give types with units and shapes
# The markdown pages link to files of the repository (tutorials, scripts), not to pages.
suppress_warnings = ["myst.xref_missing", "myst.header"]
myst_heading_anchors = 3
html_theme = "alabaster"
