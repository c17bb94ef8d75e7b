"""Sphinx configuration of the otmix documentation site (``make docs``).

The site is built offline (no intersphinx) with warnings as errors; the gallery runs every
script of ``examples/`` on the CPU with matplotlib's Agg backend.
"""

from __future__ import annotations

import os

# One thread for OpenMP and BLAS, set before anything loads them: the gallery trains small torch
# models and runs K-means on a shared 2-core machine, where more threads made the examples 2-5x
# slower (measured: 62 s against 21 s for the two longest). The third decimal of a fit can depend on
# the thread count, so the printed numbers are those of one thread.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import matplotlib  # noqa: E402

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))  # the checkout's otmix, also without an editable install
sys.path.insert(0, str(ROOT / "docs" / "_ext"))  # gallery_order

import otmix  # noqa: E402

project = "otmix"
author = "the otmix authors"
copyright = "the otmix authors"  # noqa: A001 (Sphinx's name)
version = release = otmix.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "myst_parser",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "auto_examples/*.ipynb", "auto_examples/*.py", "auto_examples/*.zip",
                    "**/*.md5", "**/*.codeobj.json"]
templates_path = ["_templates"]

# -- API reference -------------------------------------------------------------------------------
autosummary_generate = True
autosummary_imported_members = False
autodoc_default_options = {"members": False}
autodoc_typehints = "none"  # numpydoc's Parameters sections carry the types
numpydoc_show_class_members = False  # autosummary lists members; avoids numpydoc's stub warnings
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
numpydoc_validation_checks: set[str] = set()  # rendering must be clean; style checks are not enforced here

# -- the gallery ----------------------------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",  # run every plot_*.py
    "download_all_examples": False,
    "remove_config_comments": True,
    "matplotlib_animations": False,
    "within_subsection_order": "gallery_order.ExampleOrder",  # docs/_ext/gallery_order.py
    "reset_modules": ("matplotlib",),
    "show_memory": False,
    "abort_on_example_error": True,
}

# -- HTML ------------------------------------------------------------------------------------------
html_theme = "furo"
html_title = f"otmix {release}"
html_static_path: list[str] = []
myst_heading_anchors = 3
