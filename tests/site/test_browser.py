"""The built book in headless Chromium (Debian's), with the network cut.

Every request to a host other than loopback is aborted and recorded, so these
tests show what a reader sees offline: no console errors, rendered math,
loaded images, static interactive figures that respond to their sliders (by
mouse and by keyboard), and no serious or critical WCAG 2.1 A/AA violation
found by axe-core (the copy bundled in the ``axe-playwright-python`` package,
injected from disk, never fetched).
"""

import os
import re
from urllib.parse import urlparse

import pytest
from axe_playwright_python.base import AXE_SCRIPT
from playwright.sync_api import sync_playwright

from conftest import HTML, toc_files

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-dev-shm-usage"]


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"Chromium not found at {CHROMIUM}; install Debian's chromium (see .ci/run)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


def loopback_only(route, blocked):
    """Let a request through to loopback (or data:/blob:); refuse and record any other."""
    host = urlparse(route.request.url).hostname
    if route.request.url.startswith(("data:", "blob:")) or host in ("127.0.0.1", "localhost"):
        route.continue_()
    else:
        blocked.append(route.request.url)
        route.abort()


class Visit:
    """One page load, with its console errors and blocked requests."""

    def __init__(self, browser, url):
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.page = self.context.new_page()
        self.errors, self.blocked, self.failed = [], [], []
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("requestfailed", lambda r: self.failed.append(r.url))
        self.page.route("**/*", self._route)
        self.page.goto(url, wait_until="load")
        # Wait for MathJax to finish typesetting, where the page uses it.
        self.page.wait_for_function(
            "() => !window.MathJax || !window.MathJax.startup || window.MathJax.startup.promise"
            " .then(() => true)", timeout=30_000)
        self.page.evaluate("() => window.MathJax && MathJax.startup ? MathJax.startup.promise : null")

    def _route(self, route):
        loopback_only(route, self.blocked)

    def close(self):
        self.context.close()


@pytest.fixture(scope="module", params=toc_files())
def page_visit(request, browser, server):
    """Each page loaded once, for all the checks on it (pytest groups the tests by page)."""
    v = Visit(browser, f"{server}/{request.param}.html")
    v.doc = request.param
    yield v
    v.close()


def test_page_loads_offline_without_console_errors(page_visit):
    v, doc = page_visit, page_visit.doc
    assert not v.blocked, f"{doc} tried to reach third-party hosts: {v.blocked}"
    assert not v.errors, f"{doc} console errors: {v.errors}"
    assert not v.failed, f"{doc} failed requests: {v.failed}"


def test_math_is_rendered(page_visit):
    v, doc = page_visit, page_visit.doc
    has_math = v.page.locator("main .math").count()
    rendered = v.page.locator("main mjx-container").count()
    if has_math:
        assert rendered >= has_math, f"{doc}: {has_math} formulas, {rendered} rendered by MathJax"
    text = v.page.evaluate("""() => {
        const main = document.querySelector('main').cloneNode(true);
        main.querySelectorAll('pre, code, script, style, mjx-container, .output').forEach(e => e.remove());
        return main.innerText; }""")
    for raw in ("$$", "\\(", "\\[", "\\begin{"):
        assert raw not in text, f"{doc}: raw TeX {raw!r} left in the page"
    # No displayed equation is wider than the column it sits in (it would be cut).
    too_wide = v.page.evaluate("""() => Array.from(
            document.querySelectorAll('main mjx-container[display="true"]'))
        .map(c => [c.querySelector('mjx-math'), c.clientWidth, c])
        .filter(([m, w]) => m && m.getBoundingClientRect().width > w + 1)
        .map(([m, w, c]) => Math.round(m.getBoundingClientRect().width) + ' px > ' + w
             + ' px: ' + (c.getAttribute('aria-label') || c.textContent).slice(0, 60))""")
    assert not too_wide, f"{doc}: displayed equations wider than the column: {too_wide}"


def test_every_image_loads(page_visit):
    v, doc = page_visit, page_visit.doc
    broken = v.page.evaluate("""() => Array.from(document.images)
        .filter(img => img.getAttribute('src') && !(img.complete && img.naturalWidth > 0))
        .map(img => img.getAttribute('src').slice(0, 80))""")
    assert not broken, f"{doc}: images that did not load: {broken}"


WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
CODE = "div.highlight pre"


def token_classes(doc):
    """The Pygments token classes (``k``, ``s1``, ``c1``...) in a page's highlighted code."""
    html = (HTML / f"{doc}.html").read_text(encoding="utf-8")
    return {token for block in re.findall(r'<div class="highlight"><pre>(.*?)</pre>', html, re.S)
            for token in re.findall(r'<span class="([a-z0-9]+)"', block)}


@pytest.fixture(scope="session")
def code_pages(html_dir):
    """A few pages whose code, together, uses every token class of the book (greedy cover)."""
    tokens = {doc: token_classes(doc) for doc in toc_files()}
    left, chosen = set().union(*tokens.values()), set()
    while left:
        best = max(tokens, key=lambda doc: len(tokens[doc] & left))
        chosen.add(best)
        left -= tokens[best]
    return chosen


def test_no_serious_accessibility_violations(page_visit, code_pages):
    """axe-core on the whole page. Code blocks share one Pygments theme, so their
    colour contrast (most of axe's time: a span per token) is checked on the few
    pages whose code uses every token class of the book, and skipped elsewhere."""
    v, doc = page_visit, page_visit.doc
    v.page.evaluate(AXE_SCRIPT)
    context = {"include": [["html"]], "exclude": [] if doc in code_pages else [[CODE]]}
    result = v.page.evaluate(
        "([context, tags]) => axe.run(context, {runOnly: {type: 'tag', values: tags},"
        " resultTypes: ['violations']})", [context, WCAG])
    serious = [f"{r['id']} ({r['impact']}): {r['nodes'][0]['html'][:100]}"
               for r in result["violations"] if r["impact"] in ("serious", "critical")]
    assert not serious, f"{doc}: axe-core WCAG 2.1 A/AA violations: {serious}"


def test_static_sliders_change_the_picture_by_mouse_and_keyboard(page_visit):
    """Last in the file: it moves the sliders of the page the other checks share."""
    v, doc = page_visit, page_visit.doc
    sliders = v.page.locator("input.anim-slider")
    if not sliders.count():
        pytest.skip("no interactive figure on this page")
    for i in range(sliders.count()):
        slider = sliders.nth(i)
        slider.scroll_into_view_if_needed()
        image = slider.locator("xpath=ancestor::div[contains(@class, 'animation')][1]//img")
        before = image.get_attribute("src")
        last = int(slider.get_attribute("max"))
        target = 0 if slider.input_value() != "0" else last
        slider.fill(str(target))          # sets the value and fires input/change
        after = image.get_attribute("src")
        assert after and after != before, f"{doc}: slider {i} did not change the picture"
        assert v.page.evaluate("(img) => img.complete && img.naturalWidth > 0", image.element_handle())
        assert slider.get_attribute("aria-label"), f"{doc}: slider {i} has no label"
        # The keyboard moves it back, and the focused slider shows a ring.
        slider.focus()
        key = "ArrowLeft" if slider.input_value() != "0" else "ArrowRight"
        v.page.keyboard.press(key)
        assert image.get_attribute("src") != after, f"{doc}: {key} did not move slider {i}"
        ring = v.page.evaluate("""(el) => { const s = getComputedStyle(el);
            return [s.outlineStyle, parseFloat(s.outlineWidth)]; }""", slider.element_handle())
        assert ring[0] != "none" and ring[1] >= 2, f"{doc}: no visible focus ring on slider {i}: {ring}"
