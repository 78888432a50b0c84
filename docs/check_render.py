"""Check that the built documentation renders its formulas with no network.

Two checks on a built site (``docs/_build/html`` by default):

1. Every page: no ``<script>`` or stylesheet is loaded from http(s) or a
   protocol-relative ``//`` address, so nothing the pages need lies outside the site.
2. A few pages with formulas, opened from ``file://`` in headless Chromium with networking
   cut off (every host name fails to resolve, every request goes to a dead proxy): after
   the scripts ran, each formula of the page source is a typeset ``mjx-container``, no
   formula still shows its raw TeX, and MathJax reported no TeX error (``mjx-merror``).

Usage: ``python docs/check_render.py [SITE] [--screenshots DIR] [--pages P ...]``.
Exits 1 naming each failure.  Needs ``chromium`` (Debian: ``apt-get install chromium``).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from html.parser import HTMLParser
from pathlib import Path

# pages whose formulas are checked in the browser: a Markdown page (MyST dollar math), an
# reST page, the API summary and an API page (numpydoc), and two executed gallery lessons
PAGES = (
    "theory_map.html",
    "estimators.html",
    "api.html",
    "generated/convexnn.certify.html",
    "auto_gallery/teaching/plot_01_activation_patterns.html",
    "auto_gallery/teaching/plot_04_what_a_certificate_proves.html",
)
REMOTE = re.compile(r"^(https?:)?//", re.I)
CHROMIUM = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
OFFLINE_FLAGS = ("--proxy-server=http://127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND")


class PageScan(HTMLParser):
    """Remote scripts and stylesheets, formulas (Sphinx's ``math`` elements) with their
    text, typeset ``mjx-container`` and ``mjx-merror`` elements of one HTML document."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.remote: list[str] = []
        self.math: list[str] = []  # text of each element of class "math"
        self.typeset = 0
        self.errors = 0
        self._depth = 0  # > 0 while inside a "math" element (its nesting depth)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "script" and REMOTE.match(a.get("src", "")):
            self.remote.append(f"script {a['src']}")
        if tag == "link" and "stylesheet" in a.get("rel", "") and REMOTE.match(a.get("href", "")):
            self.remote.append(f"stylesheet {a['href']}")
        self.typeset += tag == "mjx-container"
        self.errors += tag == "mjx-merror"
        if self._depth:
            self._depth += 1
        elif "math" in a.get("class", "").split() and tag in ("span", "div"):
            self._depth = 1
            self.math.append("")

    def handle_endtag(self, tag: str) -> None:
        if self._depth:
            self._depth -= 1

    def handle_data(self, data: str) -> None:
        if self._depth:
            self.math[-1] += data


def scan(html: str) -> PageScan:
    """Parse one document."""
    page = PageScan()
    page.feed(html)
    page.close()
    return page


def static_failures(site: Path) -> list[str]:
    """Check 1 on every page of the site."""
    pages = sorted(site.rglob("*.html"))
    if not pages:
        return [f"{site}: no HTML pages (build the site first)"]
    return [f"{p.relative_to(site)}: loads {what}" for p in pages
            for what in scan(p.read_text(encoding="utf-8")).remote]


def find_chromium() -> str:
    """The first Chromium on PATH; exits with the install command when there is none."""
    for name in CHROMIUM:
        if path := shutil.which(name):
            return path
    sys.exit("check_render: no chromium on PATH (Debian: apt-get install -y chromium)")


def chromium_command(browser: str, profile: Path, *args: str) -> list[str]:
    """A headless run in a fresh profile folder, networking cut off, with 20 s of virtual
    time for the page's scripts."""
    sandbox = ("--no-sandbox",) if hasattr(os, "geteuid") and os.geteuid() == 0 else ()
    return [browser, "--headless", "--disable-gpu", *sandbox, *OFFLINE_FLAGS,
            f"--user-data-dir={profile}", "--virtual-time-budget=20000",
            "--window-size=1200,1600", *args]


def render_failures(site: Path, page: str, browser: str, profile: Path,
                    shots: Path | None) -> list[str]:
    """Check 2 on one page: every formula of the source is typeset in the browser."""
    path = (site / page).resolve()
    if not path.exists():
        return [f"{page}: missing from the site"]
    source = scan(path.read_text(encoding="utf-8"))
    if not source.math:
        return [f"{page}: has no formula, so it cannot show that formulas render"]
    url = path.as_uri()
    run = subprocess.run(chromium_command(browser, profile, "--dump-dom", url),
                         capture_output=True, text=True, timeout=120)
    if run.returncode != 0 or "<html" not in run.stdout:
        return [f"{page}: chromium failed ({run.returncode}): {run.stderr[-500:]}"]
    dom = scan(run.stdout)
    raw = [m.strip()[:60] for m in dom.math if "\\(" in m or "\\[" in m]
    failures = []
    if dom.typeset < len(source.math):
        failures.append(f"{page}: {dom.typeset} typeset formulas of {len(source.math)}")
    if raw:
        failures.append(f"{page}: {len(raw)} formulas left as raw TeX, e.g. {raw[0]!r}")
    if dom.errors:
        failures.append(f"{page}: {dom.errors} TeX errors (mjx-merror)")
    if shots is not None:
        shots.mkdir(parents=True, exist_ok=True)
        png = shots / (page.replace("/", "__").removesuffix(".html") + ".png")
        subprocess.run(chromium_command(browser, profile, f"--screenshot={png}", url),
                       capture_output=True, timeout=120, check=False)
    print(f"{page}: {dom.typeset} typeset formulas, {len(source.math)} in the source")
    return failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("site", nargs="?", type=Path,
                        default=Path(__file__).resolve().parent / "_build" / "html")
    parser.add_argument("--pages", nargs="+", default=list(PAGES))
    parser.add_argument("--screenshots", type=Path, default=None,
                        help="also save a screenshot of each checked page here")
    args = parser.parse_args(argv)
    failures = static_failures(args.site)
    browser = find_chromium()
    with tempfile.TemporaryDirectory(prefix="check_render_") as profile:
        for page in args.pages:
            failures += render_failures(args.site, page, browser, Path(profile),
                                        args.screenshots)
    for failure in failures:
        print("FAIL", failure)
    print(f"check_render: {len(args.pages)} pages in {Path(browser).name}, no network: "
          + ("all formulas typeset" if not failures else f"{len(failures)} failures"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
