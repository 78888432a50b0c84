"""The documentation's own code, without building the site (.ci/run-docs builds it and
runs docs/check_render.py in a browser): the offline check's page scanner finds remote
scripts and untypeset formulas, every "THEORY X.Y" citation in the package links to a
section the theory map has, and the examples page lists every example script."""

import importlib.util
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def load(name: str):
    spec = importlib.util.spec_from_file_location(name, DOCS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


check_render = load("check_render")
theory_links = load("theory_links")

SOURCE_PAGE = """<html><head>
<script src="_static/doctools.js"></script>
<script defer="defer" src="_static/mathjax/tex-svg-full.js"></script>
</head><body>
<p>Inline <span class="math notranslate nohighlight">\\(\\beta\\)</span> and</p>
<div class="math notranslate nohighlight">\\[p^* = \\min_\\theta P(\\theta)\\]</div>
<pre>print("\\(not math\\)")</pre>
</body></html>"""


def test_scan_counts_formulas_and_finds_raw_tex():
    page = check_render.scan(SOURCE_PAGE)
    assert page.remote == []
    assert len(page.math) == 2 and page.typeset == 0
    assert all("\\(" in m or "\\[" in m for m in page.math)  # raw TeX, as before MathJax
    typeset = SOURCE_PAGE.replace("\\(\\beta\\)", "<mjx-container><svg></svg></mjx-container>")
    page = check_render.scan(typeset)
    assert page.typeset == 1 and "\\(" not in page.math[0] and "\\[" in page.math[1]


@pytest.mark.parametrize("tag", [
    '<script src="https://cdn.example.org/mathjax.js"></script>',
    '<script src="//cdn.example.org/mathjax.js"></script>',
    '<link rel="stylesheet" href="http://cdn.example.org/katex.css">',
])
def test_scan_finds_remote_scripts_and_styles(tag, tmp_path):
    page = SOURCE_PAGE.replace("</head>", tag + "</head>")
    assert len(check_render.scan(page).remote) == 1
    (tmp_path / "sub").mkdir()
    (tmp_path / "index.html").write_text(SOURCE_PAGE)
    (tmp_path / "sub" / "page.html").write_text(page)
    assert check_render.static_failures(tmp_path) == [
        f"sub/page.html: loads {check_render.scan(page).remote[0]}"]
    (tmp_path / "sub" / "page.html").write_text(SOURCE_PAGE)
    assert check_render.static_failures(tmp_path) == []


def test_every_theory_citation_links_to_a_section_of_the_map():
    cited = set()
    for path in (ROOT / "convexnn").rglob("*.py"):
        cited |= {m.group(2) for m in theory_links.THEORY_CITE.finditer(path.read_text())}
    assert {"0", "A.7", "G"} <= cited
    missing = {s: theory_links.theory_label(s) for s in cited
               if theory_links.theory_label(s) not in theory_links.THEORY_TARGETS}
    assert not missing


def test_link_theory_links_prose_only():
    lines = ["The certificate (THEORY A.7, THEORY section 0) and I11 (THEORY I11).",
             "A literal ``THEORY A.7`` stays.",
             ">>> fit(X, y)  # THEORY I1",
             "Example::",
             "",
             "    THEORY G in a literal block",
             "Back to prose: THEORY J.8."]
    theory_links.link_theory(None, "function", "f", None, {}, lines)
    assert lines[0] == ("The certificate (:ref:`THEORY A.7 <theory-a-7>`, "
                        ":ref:`THEORY section 0 <theory-0>`) and I11 "
                        "(:ref:`THEORY I11 <theory-i>`).")
    assert lines[1:6] == ["A literal ``THEORY A.7`` stays.", ">>> fit(X, y)  # THEORY I1",
                          "Example::", "", "    THEORY G in a literal block"]
    assert lines[6] == "Back to prose: :ref:`THEORY J.8 <theory-j>`."


def test_examples_page_lists_every_example_script():
    listed = set(re.findall(r"``examples/(\w+\.py)``", (DOCS / "examples.rst").read_text()))
    assert listed == {p.name for p in (ROOT / "examples").glob("*.py")}


def test_mathjax_is_pinned_and_bundled():
    import json

    pinned = json.loads((DOCS / "package.json").read_text())["dependencies"]["mathjax"]
    lock = json.loads((DOCS / "package-lock.json").read_text())
    assert re.fullmatch(r"\d+\.\d+\.\d+", pinned)  # an exact version, not a range
    assert lock["packages"]["node_modules/mathjax"]["version"] == pinned
    conf = (DOCS / "conf.py").read_text()
    assert 'mathjax_path = f"mathjax/{MATHJAX_FILE}"' in conf  # served from _static
