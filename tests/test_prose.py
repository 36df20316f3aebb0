"""The chapters' Markdown: inline math that Markdown would break.

A source line inside ``$...$`` that starts with ``- ``, ``+ `` or ``1. `` is
read as a list item, and the formula reaches the page as raw TeX (see
CONTRIBUTING.md). The PDF test finds the symptom; this test names the line.
"""

import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(ROOT.glob("chapters/*.ipynb")) + sorted(ROOT.glob("appendix/*.ipynb"))
DOLLAR = re.compile(r"(?<![\\$])\$(?!\$)")


def broken_lines(source):
    inside = fence = display = False
    for number, line in enumerate(source.splitlines(), 1):
        if line.strip().startswith("```"):
            fence = not fence
        if fence or line.strip() == "$$":
            display ^= line.strip() == "$$"
            continue
        if display:
            continue
        if inside and re.match(r"\s*([-+*]|\d+\.) ", line):
            yield number, line.strip()[:60]
        if len(DOLLAR.findall(line)) % 2:
            inside = not inside
        if not line.strip():
            inside = False


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_inline_formula_continues_on_a_list_marker(path):
    cells = nbformat.read(path, as_version=4).cells
    bad = [(i, n, text) for i, cell in enumerate(cells) if cell.cell_type == "markdown"
           for n, text in broken_lines(cell.source)]
    assert not bad, f"{path.name}: (cell, line) starting a list inside $...$: {bad}"


def test_the_check_finds_a_broken_formula():
    assert list(broken_lines("a $x = 1\n- y$ b")) == [(2, "- y$ b")]
    assert not list(broken_lines("a $x = 1 -{}\ny$ b\n- item"))
