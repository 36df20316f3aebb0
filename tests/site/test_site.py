"""Checks on the built website (_build/html): completeness and offline-safety."""

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from conftest import HTML, ROOT, toc_files

LOCAL = re.compile(r"^(?!(?:https?:)?//)")       # relative or absolute path, no host
WIDGET_LIMIT = 400_000                           # bytes per static interactive figure


class Assets(HTMLParser):
    """Collect what a page loads: scripts, styles, fonts, images, frames."""

    def __init__(self):
        super().__init__()
        self.loads, self.images, self.title = [], [], None
        self._in_h1 = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "script" and a.get("src"):
            self.loads.append(a["src"])
        elif tag == "link" and a.get("href") and set((a.get("rel") or "").split()) & {
                "stylesheet", "preload", "icon", "modulepreload", "prefetch"}:
            self.loads.append(a["href"])
        elif tag in ("img", "iframe", "source", "video", "audio") and a.get("src"):
            self.loads.append(a["src"])
            if tag == "img":
                self.images.append(a)
        elif tag == "img":
            self.images.append(a)
        elif tag == "h1":
            self._in_h1 = True

    def handle_data(self, data):
        if self._in_h1 and self.title is None and data.strip():
            self.title = data.strip()

    def handle_endtag(self, tag):
        if tag == "h1":
            self._in_h1 = False


def parse(page):
    parser = Assets()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser


PAGES = sorted(HTML.rglob("*.html")) if HTML.exists() else []


@pytest.mark.parametrize("doc", toc_files())
def test_every_toc_entry_has_a_page_with_a_title(html_dir, doc):
    page = html_dir / f"{doc}.html"
    assert page.exists(), f"{doc} is in _toc.yml but {page} was not built"
    assert parse(page).title, f"{page} has no <h1> title"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(HTML)))
def test_page_loads_nothing_from_third_party_hosts(page):
    remote = [url for url in parse(page).loads if not LOCAL.match(url)]
    assert not remote, f"{page.name} loads from third-party hosts: {remote}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(HTML)))
def test_every_image_has_alt_text(page):
    def described(img):
        alt = (img.get("alt") or "").strip()
        return alt and not alt.endswith((".png", ".jpg", ".svg")) and alt != img.get("src")

    missing = [img.get("src", "(set by script)")[:60] for img in parse(page).images
               if not described(img)]
    assert not missing, f"{page.name}: images without alt text: {missing}"


def test_static_assets_load_nothing_remote(html_dir):
    for css in (html_dir / "_static").rglob("*.css"):
        text = css.read_text(encoding="utf-8", errors="ignore")
        remote = re.findall(r"(?:@import|url\()\s*['\"]?(?:https?:)?//[^'\")\s]+", text)
        assert not remote, f"{css.relative_to(html_dir)} pulls {remote}"


def test_mathjax_is_served_locally(html_dir):
    assert (html_dir / "_static" / "mathjax" / "tex-chtml-full.js").exists()
    page = (html_dir / "intro.html").read_text(encoding="utf-8")
    assert re.search(r'<script[^>]+src="_static/mathjax/tex-chtml-full\.js', page)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(HTML)))
def test_interactive_figures_are_small(page):
    text = page.read_text(encoding="utf-8")
    for player in re.findall(r'<div class="animation">.*?</script>', text, flags=re.S):
        assert len(player) < WIDGET_LIMIT, f"{page.name}: an interactive figure is {len(player)} bytes"


def test_every_chapter_is_in_the_toc():
    listed = set(toc_files())
    chapters = {f"chapters/{p.stem}" for p in (ROOT / "chapters").glob("*.ipynb")}
    assert chapters <= listed, f"chapters missing from _toc.yml: {sorted(chapters - listed)}"
