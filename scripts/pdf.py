"""Print the book to ``_build/pdf/vibook.pdf`` (``make pdf``).

The PDF edition is the single-page build of the website (``jupyter-book build
--builder singlehtml``), printed by the same headless Chromium that runs the
browser tests: mathematics typeset by the local MathJax, figures as on the
website (an interactive figure shows its initial frame), every exercise
followed by its solution, the bibliography, and links between sections that
work inside the PDF. The page is served on loopback and every other request is
refused, so printing needs no network.

It also writes the printed prose (code and typeset mathematics removed) to
``vibook.prose.txt`` beside the PDF, which ``tests/site/test_pdf.py`` checks
for raw markup.

Usage: python scripts/pdf.py [SINGLEHTML_DIR] [OUTPUT]
"""

import functools
import http.server
import os
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-dev-shm-usage"]

# What the printed page needs that the screen page does not: no navigation
# chrome, solutions shown (not behind a toggle), figures and code kept whole.
PRINT_CSS = """
@page { size: A4; margin: 18mm 16mm 20mm 16mm; }
.bd-header, .bd-sidebar-primary, .bd-sidebar-secondary, .header-article,
.prev-next-area, .bd-footer, .bd-footer-article, .bd-footer-content, .toggle-button,
button.toggle-button, .headerlink, .anim-buttons, .anim-state, .anim-slider,
.copybtn, #pst-back-to-top, .search-button-field { display: none !important; }
.bd-page-width, .bd-container, .bd-container__inner, .bd-main, .bd-content,
.bd-article-container, .bd-article { max-width: none !important; width: 100% !important;
    padding-left: 0 !important; padding-right: 0 !important; margin: 0 !important; }
.toggle-hidden, .solution .admonition-body, details.hide > * { display: block !important;
    visibility: visible !important; height: auto !important; opacity: 1 !important; }
img, figure, .cell_output .animation, mjx-container[display="true"], .admonition,
div.proof, pre { break-inside: avoid; }
span[id^="document-"] + section { break-before: page; }
"""


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def print_pdf(html_dir, output):
    html_dir, output = Path(html_dir), Path(output)
    page_file = "intro.html" if (html_dir / "intro.html").exists() else "index.html"
    handler = functools.partial(_Quiet, directory=os.fspath(html_dir))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}/{page_file}"

    def local_only(route):
        request = route.request.url
        host = urlparse(request).hostname
        if request.startswith(("data:", "blob:")) or host in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            route.abort()

    output.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1000, "height": 1400})
        page.route("**/*", local_only)
        page.goto(url, wait_until="load", timeout=180_000)
        page.evaluate("() => window.MathJax && MathJax.startup ? MathJax.startup.promise : null")
        # The prose as a reader sees it (no code, no typeset math), for the
        # test that no raw MyST or TeX reached the page.
        prose = page.evaluate("""() => {
            const main = document.querySelector('main').cloneNode(true);
            main.querySelectorAll('pre, code, script, style, mjx-container, .output,'
                + ' .cell_output').forEach(e => e.remove());
            return main.innerText; }""")
        output.with_suffix(".prose.txt").write_text(prose, encoding="utf-8")
        page.add_style_tag(content=PRINT_CSS)
        page.emulate_media(media="print")
        page.pdf(path=os.fspath(output), format="A4", print_background=True,
                 display_header_footer=True, header_template="<span></span>",
                 footer_template=('<div style="font-size:8px;width:100%;text-align:center;">'
                                  '<span class="pageNumber"></span></div>'),
                 margin={"top": "18mm", "bottom": "20mm", "left": "16mm", "right": "16mm"})
        browser.close()
    httpd.shutdown()
    print(f"{output}: printed in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    args = sys.argv[1:]
    print_pdf(args[0] if args else ROOT / "_build" / "singlehtml",
              args[1] if len(args) > 1 else ROOT / "_build" / "pdf" / "vibook.pdf")
