"""The chapters' Markdown: inline math that Markdown would break, quoted numbers.

A source line inside ``$...$`` that starts with ``- ``, ``+ `` or ``1. `` is
read as a list item, and the formula reaches the page as raw TeX (see
CONTRIBUTING.md). The PDF test finds the symptom; this test names the line.

The prose quotes numbers as ``{eval}`shown.name``` (issue 12). The website
shows the text that ``show`` glued in the stored outputs (checked by nbval);
JupyterLab shows the result stored in the Markdown cell's ``user_expressions``
metadata until the kernel re-evaluates it. The two must be the same text, and
the number must be shown by a code cell *above* the sentence quoting it, or
JupyterLab's Run All evaluates the sentence first and shows an error.
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


EVAL = re.compile(r"\{eval\}`([^`]*)`")
SHOWN = re.compile(r"shown\.(\w+)\Z")


def glued(cell):
    """The texts a code cell's stored outputs glue, by name, quotes removed."""
    texts = {}
    for output in cell.get("outputs", []):
        book = output.get("metadata", {}).get("scrapbook")
        if book:
            text = output["data"][book.get("mime_prefix", "") + "text/plain"]
            texts[book["name"]] = text[1:-1] if text[:1] == text[-1:] == "'" else text
    return texts


def quoted_number_problems(cells):
    """What is wrong with the numbers a notebook's prose quotes, cell by cell."""
    problems, so_far, imported = [], {}, False
    for i, cell in enumerate(cells):
        if cell.cell_type == "code":
            so_far.update(glued(cell))
            imported |= bool(re.search(r"^from vibook\.report import .*\bshown\b", cell.source,
                                       re.M))
            continue
        if cell.cell_type != "markdown":
            continue
        if "{glue" in cell.source:
            problems.append(f"cell {i}: a {{glue}} role, which JupyterLab shows raw: "
                            "quote the number as {eval}`shown.name` (CONTRIBUTING.md)")
        expressions = EVAL.findall(cell.source)
        stored = cell.metadata.get("user_expressions", [])
        if [e.get("expression") for e in stored] != expressions:
            problems.append(f"cell {i}: user_expressions metadata does not list the cell's "
                            f"expressions {expressions}: run scripts/execute.py")
            continue
        if expressions and not imported:
            problems.append(f"cell {i}: quotes shown.* before any cell imports it")
        for expression, entry in zip(expressions, stored):
            name = SHOWN.match(expression)
            if not name:
                problems.append(f"cell {i}: {{eval}}`{expression}` is not shown.<name>")
            elif name[1] not in so_far:
                problems.append(f"cell {i}: quotes {expression} above the code cell that "
                                "shows it (Run All in JupyterLab shows an error)")
            elif entry["result"].get("data", {}).get("text/plain") != so_far[name[1]]:
                problems.append(f"cell {i}: {expression} is stored as {entry['result']!r}, "
                                f"the glued output says {so_far[name[1]]!r}")
    return problems


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_quoted_numbers_are_the_shown_ones(path):
    problems = quoted_number_problems(nbformat.read(path, as_version=4).cells)
    assert not problems, f"{path.name}:\n" + "\n".join(problems)


def test_the_check_finds_wrong_or_early_numbers():
    code = nbformat.v4.new_code_cell("from vibook.report import show, shown\nshow(a=1.5)")
    code.outputs = [nbformat.v4.new_output("display_data", data={
        "application/papermill.record/text/plain": "'1.5'"}, metadata={
        "scrapbook": {"name": "a", "mime_prefix": "application/papermill.record/"}})]

    def prose(text, shown_text=None):
        cell = nbformat.v4.new_markdown_cell(text)
        if shown_text is not None:
            cell.metadata["user_expressions"] = [{"expression": "shown.a", "result": {
                "status": "ok", "data": {"text/plain": shown_text}, "metadata": {}}}]
        return cell

    def problems(*cells):
        return "\n".join(quoted_number_problems(list(cells)))

    assert not problems(code, prose("a = {eval}`shown.a`", "1.5"))
    assert "above the code cell" in problems(prose("a = {eval}`shown.a`", "1.5"), code)
    assert "glued output says '1.5'" in problems(code, prose("a = {eval}`shown.a`", "1.6"))
    assert "does not list" in problems(code, prose("a = {eval}`shown.a`"))
    assert "raw" in problems(code, prose("a = {glue:text}`a`"))
