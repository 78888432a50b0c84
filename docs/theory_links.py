"""Docstrings cite THEORY.md's sections as "THEORY A.7", "THEORY section 0" or
"THEORY I11"; on the API pages each citation becomes a link to its section of the theory
map (``theory_map.md`` has a target ``(theory-a-7)=`` for every section it describes).

``link_theory`` is Sphinx's ``autodoc-process-docstring`` handler (docs/conf.py connects it).
"""

from __future__ import annotations

import re
from pathlib import Path

THEORY_MAP = Path(__file__).resolve().parent / "theory_map.md"
THEORY_CITE = re.compile(r"\bTHEORY (section )?(0|I\d+|[A-J](?:\.\d+)?)\b")
THEORY_TARGETS = frozenset(re.findall(r"^\((theory-[\w-]+)\)=$", THEORY_MAP.read_text(), re.M))
LITERAL = re.compile(r"(``.*?``|:math:`[^`]*`)")  # inline literals and math, left alone


def theory_label(section: str) -> str:
    """The theory map's target of a section: "A.7" -> "theory-a-7"; a section without a
    target of its own ("I11", "J.8") -> its letter's, "theory-i", "theory-j"."""
    label = "theory-" + section.lower().replace(".", "-")
    return label if label in THEORY_TARGETS else "theory-" + section[0].lower()


def link_line(line: str) -> str:
    """One line of reST prose with each citation replaced by a ``:ref:`` to its section."""
    def link(m: re.Match) -> str:
        return f":ref:`{m.group(0)} <{theory_label(m.group(2))}>`"

    parts = LITERAL.split(line)  # odd entries are literals
    return "".join(p if j % 2 else THEORY_CITE.sub(link, p) for j, p in enumerate(parts))


def link_theory(app, what, name, obj, options, lines: list[str]) -> None:
    """autodoc-process-docstring: link the citations of prose lines, in place; doctest
    lines and literal blocks (the indented lines after a "::") are left as written."""
    block_indent = None  # indentation of the "::" line that opened a literal block
    for k, line in enumerate(lines):
        indent = len(line) - len(line.lstrip())
        if block_indent is not None and line.strip() and indent <= block_indent:
            block_indent = None
        if block_indent is None and "THEORY" in line and not line.lstrip().startswith((">>>", "...")):
            lines[k] = link_line(line)
        if block_indent is None and line.rstrip().endswith("::"):
            block_indent = indent
