"""Every notebook in JupyterLab: no cross-reference jupyterlab-myst cannot resolve (issue 22).

Its own module, so that it starts its own Playwright after test_lab.py's
module-scoped page has been closed (two sync Playwright sessions cannot nest).
"""

import re
import shutil

from playwright.sync_api import sync_playwright

from conftest import ROOT
from test_lab import ARGS, CHROMIUM, Lab, Reader, raw_markup, wait_for_stable_prose

# Every notebook a reader opens in JupyterLab: the chapters and the appendix notebooks.
NOTEBOOKS = sorted(str(p.relative_to(ROOT)) for p in
                   [*ROOT.glob("chapters/*.ipynb"), *ROOT.glob("appendix/*.ipynb")])
UNRESOLVED = "Cross reference target was not found"
# Every Markdown cell of the open notebook rendered (JupyterLab's or jupyterlab-myst's output).
ALL_RENDERED = """() => {
    const cells = Array.from(document.querySelectorAll(
        '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-MarkdownCell'));
    return cells.length > 0 && cells.every(cell => cell.querySelector(
        '.jp-InputArea > .jp-MarkdownOutput, .jp-InputArea > .myst'));
}"""


def test_cross_references_resolve_in_every_notebook(tmp_path):
    """Open each notebook (without running it): no reference that jupyterlab-myst
    cannot resolve, no raw markup, and every link to another notebook names one
    that exists (with a heading anchor the website also resolves, see _config.yml)."""
    for path in NOTEBOOKS:
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / path, tmp_path / path)
    server = Lab(tmp_path)
    problems = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            r = Reader(browser)
            for path in NOTEBOOKS:
                start = len(r.console)
                r.page.goto(server.open_url(path), wait_until="load")
                r.page.wait_for_function(ALL_RENDERED, timeout=120_000, polling=500)
                wait_for_stable_prose(r.page)
                problems += [f"{path}: {m}" for m in r.console[start:] if UNRESOLVED in m]
                problems += [f"{path}: {w}" for w in raw_markup(r.page)[1]]
                links = r.page.evaluate("""() => Array.from(document.querySelectorAll(
                    '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-MarkdownCell a[href]')).map(
                    a => a.getAttribute('href'))""")
                for href in links:
                    match = re.search(r"/files/([^?#]+\.ipynb)", href)
                    if match and not (ROOT / match.group(1)).exists():
                        problems.append(f"{path}: link to a missing notebook {href}")
            r.close()
            browser.close()
    finally:
        server.stop()
    assert not problems, "\n".join(problems[:40])
