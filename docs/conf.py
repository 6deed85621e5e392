"""Sphinx configuration: ``sphinx-build -W -b html docs docs/_build/html``."""

from __future__ import annotations

import os
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS.parent))  # the checkout's package, installed or not
sys.path.insert(0, str(DOCS / "_ext"))

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TensorFlow's start-up chatter

import prospect_emu  # noqa: E402

project = "prospect-emu"
author = "prospect-emu developers"
copyright = "2026, prospect-emu developers"
release = version = prospect_emu.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinxarg.ext",          # the CLI reference, from prospect_emu.cli.build_parser()
    "prospect_emu_docs",      # API pages that follow the code: __all__ tables, every module
]

exclude_patterns = ["_build"]
templates_path: list[str] = []
html_theme = "alabaster"
html_title = f"prospect-emu {release}"
html_static_path: list[str] = []

# The package imports fsps lazily, so nothing needs mocking where the ``train`` extra is
# installed.  Only the training-only network layer imports Keras at module level: where
# Keras is absent (a docs-only environment), it is mocked so that its page still builds.
try:
    import keras  # noqa: F401
    autodoc_mock_imports: list[str] = []
except ImportError:
    autodoc_mock_imports = ["keras"]
autodoc_default_options = {"members": True, "show-inheritance": True, "member-order": "bysource"}
autodoc_typehints = "signature"
autodoc_preserve_defaults = True

numpydoc_show_class_members = False   # autodoc lists the members; no stub pages
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
numpydoc_validation_checks: set[str] = set()
