"""The PDF edition (``make pdf``): complete, resolved and free of raw markup.

Checks the text layer of ``_build/pdf/vibook.pdf`` (every title of the table
of contents, in order; no unresolved ``??`` references; a sane page count)
and the printed prose that ``scripts/pdf.py`` saved beside it (no raw TeX or
MyST left untypeset).
"""

import json
import re
import unicodedata

import pytest
from pypdf import PdfReader

from conftest import ROOT, toc_files

PDF = ROOT / "_build" / "pdf" / "vibook.pdf"
PROSE = PDF.with_suffix(".prose.txt")


def _title(doc):
    path = next(ROOT.glob(f"{doc}.*"))
    if path.suffix == ".ipynb":
        lines = [line for cell in json.loads(path.read_text())["cells"]
                 if cell["cell_type"] == "markdown" for line in "".join(cell["source"]).splitlines()]
    else:
        lines = path.read_text().splitlines()
    heading = next(line for line in lines if line.startswith("# "))
    return re.sub(r"[`*]", "", heading[2:]).strip()


def _squash(text):
    """One space between words, and ligatures (the PDF's "ﬀ") as plain letters."""
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text))


@pytest.fixture(scope="module")
def pdf_text():
    if not PDF.exists():
        pytest.fail("no PDF: run `make pdf` first")
    reader = PdfReader(PDF)
    return len(reader.pages), _squash(" ".join(page.extract_text() for page in reader.pages))


def test_every_title_is_in_the_pdf_in_toc_order(pdf_text):
    _, text = pdf_text
    position = 0
    for doc in toc_files():
        title = _squash(_title(doc))
        found = text.find(title, position)
        assert found >= 0, f"{doc}: title {title!r} not found (in order) in the PDF"
        position = found + len(title)


def test_no_unresolved_references_and_a_sane_length(pdf_text):
    pages, text = pdf_text
    assert "??" not in text, "unresolved reference markers (??) in the PDF"
    # A sanity bound, not a budget: about 700 pages with this round's appendix
    # page and an example in every API docstring; a broken stylesheet that
    # prints one figure per page would give several times more.
    assert 100 <= pages <= 1000, f"the PDF has {pages} pages"


@pytest.mark.parametrize("raw", ["$", "\\(", "\\[", "\\begin{", "\\frac", ":::", "{glue", "{eval",
                                 "{cite", "{prf:", "{exercise", "{solution", "{numref",
                                 "{ref}", "{eq}"])
def test_no_raw_markup_in_the_printed_prose(raw):
    prose = PROSE.read_text(encoding="utf-8")
    hits = [prose[max(0, m - 50):m + 50].replace("\n", " ")
            for m in (i.start() for i in re.finditer(re.escape(raw), prose))]
    assert not hits, f"raw {raw!r} in the printed prose: {hits[:3]}"
