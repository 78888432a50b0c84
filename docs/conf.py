"""Sphinx configuration of the convexnn documentation.

Build: ``python -m sphinx -W -b html docs docs/_build/html`` (``pip install -e ".[docs]"``).
Every gallery script runs during the build and its figures are embedded.
"""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # document this checkout's convexnn
os.environ.setdefault("MPLBACKEND", "Agg")
# the gallery's problems are tiny: one BLAS/torch thread is faster than many contending
os.environ.setdefault("OMP_NUM_THREADS", "1")

import convexnn  # noqa: E402

project = "convexnn"
author = "convexnn developers"
copyright = "convexnn developers, BSD-3-Clause"  # noqa: A001
release = version = convexnn.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "gallery/**/README.rst",
                    "gallery/README.rst", "auto_gallery/**/*.ipynb"]
templates_path = []
html_theme = "alabaster"
html_static_path = []
html_title = f"convexnn {release}"

# ---- API reference -------------------------------------------------------------------
autosummary_generate = True
autodoc_default_options = {"members": False, "inherited-members": False}
autodoc_typehints = "none"  # numpydoc's Parameters sections carry the types
numpydoc_show_class_members = False  # class pages list members through autosummary
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

# ---- MyST (the guide and the theory map are Markdown) --------------------------------
myst_enable_extensions = ["dollarmath"]
myst_heading_anchors = 3

# ---- gallery: every script runs during the build -------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": ["gallery"],
    "gallery_dirs": ["auto_gallery"],
    "filename_pattern": r".*\.py$",  # execute every example
    "abort_on_example_error": True,
    "only_warn_on_example_error": False,
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
    "reset_modules": ("matplotlib",),
    "image_scrapers": ("matplotlib",),
    "min_reported_time": 1,
}

nitpicky = False
