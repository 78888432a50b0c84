"""Sphinx configuration of the convexnn documentation.

Build: ``npm ci --prefix docs`` (MathJax, once), then
``python -m sphinx -W -b html docs docs/_build/html`` (``pip install -e ".[docs]"``).
Every gallery script runs during the build and its figures are embedded.  The site needs
no network to be read: MathJax is served from its own ``_static`` folder.
"""

import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # document this checkout's convexnn
sys.path.insert(0, str(ROOT / "docs"))  # theory_links
os.environ.setdefault("MPLBACKEND", "Agg")
# the gallery's problems are tiny: one BLAS/torch thread is faster than many contending
os.environ.setdefault("OMP_NUM_THREADS", "1")

import convexnn  # noqa: E402
from theory_links import link_theory  # noqa: E402  ("THEORY A.7" -> the theory map)

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
exclude_patterns = ["_build", "node_modules", "Thumbs.db", ".DS_Store", "gallery/**/README.rst",
                    "gallery/README.rst", "auto_gallery/**/*.ipynb"]
templates_path = []
html_theme = "alabaster"
html_theme_options = {"page_width": "1100px", "body_max_width": "none"}
html_static_path = ["_static"]
html_css_files = ["convexnn.css"]  # code and output blocks scroll instead of being cut off
html_title = f"convexnn {release}"

# ---- math with no network ------------------------------------------------------------
# MathJax 3 (npm package "mathjax", pinned in docs/package.json and package-lock.json) is
# copied into the built site; its SVG output draws every glyph as a path, so no font file
# is fetched either (web fonts fail under file:// in some browsers).
MATHJAX_FILE = "tex-svg-full.js"
MATHJAX_SOURCE = Path(__file__).parent / "node_modules" / "mathjax" / "es5" / MATHJAX_FILE
mathjax_path = f"mathjax/{MATHJAX_FILE}"

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
    # no sg_execution_times pages: they load jQuery and DataTables from a CDN
    "write_computation_times": False,
}

nitpicky = False


def require_mathjax(app) -> None:
    """builder-inited: stop with the command to run when MathJax is not installed."""
    if app.builder.format == "html" and not MATHJAX_SOURCE.exists():
        from sphinx.errors import ExtensionError

        raise ExtensionError(f"{MATHJAX_SOURCE} is missing: run `npm ci --prefix docs` "
                             "(MathJax is bundled so that the site renders math offline)")


def copy_mathjax(app, exception) -> None:
    """build-finished: put MathJax into the site's _static folder."""
    if exception is None and app.builder.format == "html":
        target = Path(app.outdir) / "_static" / "mathjax"
        target.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(MATHJAX_SOURCE, target / MATHJAX_FILE)


def setup(app) -> None:
    app.connect("builder-inited", require_mathjax)
    app.connect("autodoc-process-docstring", link_theory)
    app.connect("build-finished", copy_mathjax)
