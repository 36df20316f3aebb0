"""A chapter in JupyterLab, opened as a reader opens it (issue 12).

Starts JupyterLab from the project's environment (the Python running the tests,
with jupyterlab-myst) on 127.0.0.1, a free port and a token, on a temporary
copy of one fast chapter, and drives it in Debian's headless Chromium with the
network cut (only loopback is reached, as in ``test_browser.py``). It checks
that the prose shows no raw MyST markup (roles, directives, raw ``$...$``,
unevaluated or failed inline expressions) before and after Run All, that the
interactive figure shows a picture before anything runs, and that moving the
live slider from the keyboard changes the picture without the figure ever
going blank. The server it starts is stopped at the end.
"""

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from conftest import ROOT
from test_browser import ARGS, CHROMIUM, loopback_only   # the site tests' Chromium, flags, network cut

CHAPTER = "chapters/01_priors_and_joints.ipynb"
RUN_ALL_TIMEOUT = 100      # seconds for Run All of the chapter (about 20 s on 2 busy cores)

# Raw MyST markup a reader must not see in the rendered prose, by kind.
RAW = {
    "glue role": r"\{glue",
    "eval role": r"\{eval\}",
    "unevaluated expression": r"\bshown\.\w+",
    "directive": r"(?:`{3,}|:{3,})\{",
    "directive option": r"(?m)^\s*:(?:label|class|nonumber|dropdown):",
    "proof role": r"\{prf:",
    "citation": r"\{cite",
    "cross-reference": r"\{(?:ref|numref|doc|eq|math)\}",
    "raw math": r"\$",
}

# Each rendered Markdown cell's text (rendered math and scripts removed), its
# text outside code (where a "$" is raw math; code in the prose may hold one),
# the number of directives shown as code blocks, and the number of inline
# expressions shown as errors. The rendering is JupyterLab's (.jp-MarkdownOutput)
# or jupyterlab-myst's (.myst), beside the cell's hidden editor.
PROSE_JS = """() => Array.from(document.querySelectorAll(
        '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-MarkdownCell')).map(cell => {
    const out = cell.querySelector(
        '.jp-InputArea > .jp-MarkdownOutput, .jp-InputArea > .myst');
    if (!out) return {text: null};
    const copy = out.cloneNode(true);
    copy.querySelectorAll('mjx-container, .MathJax, .katex, script, style').forEach(e => e.remove());
    const text = copy.textContent;
    copy.querySelectorAll('pre, code').forEach(e => e.remove());
    return {text: text, prose: copy.textContent,
            fenced: out.querySelectorAll('code[class*="language-{"]').length,
            errors: out.querySelectorAll('[data-mime-type="application/vnd.jupyter.stderr"]').length};
})"""


def raw_markup(page):
    """Counts of raw markup visible in the notebook's rendered Markdown cells.

    Returns ``(counts, where)``: occurrences by kind (plus ``unrendered cell``
    and ``expression error``), and a few ``cell N: text`` samples.
    """
    counts = dict.fromkeys([*RAW, "unrendered cell", "expression error"], 0)
    where = []
    for index, cell in enumerate(page.evaluate(PROSE_JS)):
        if cell["text"] is None:
            counts["unrendered cell"] += 1
            where.append(f"cell {index}: not rendered")
            continue
        counts["expression error"] += cell["errors"]
        counts["directive"] += cell["fenced"]
        for kind, pattern in RAW.items():
            text = cell["prose"] if kind == "raw math" else cell["text"]
            for match in re.finditer(pattern, text):
                counts[kind] += 1
                where.append(f"markdown cell {index}: {kind}: "
                             f"{text[max(match.start() - 30, 0):match.end() + 30]!r}")
    return counts, where


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_settings(folder, myst=True):
    """JupyterLab user settings for the test: every cell in the page, no news."""
    settings = {
        "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
        "@jupyterlab/apputils-extension/notification": {"fetchNews": "false",
                                                         "checkForUpdates": False},
    }
    for name, value in settings.items():
        path = folder / "settings" / f"{name}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value))
    if not myst:        # for measuring the plain JupyterLab a reader had before
        labconfig = folder / "config" / "labconfig"
        labconfig.mkdir(parents=True, exist_ok=True)
        (labconfig / "page_config.json").write_text(
            json.dumps({"disabledExtensions": {"jupyterlab-myst": True}}))


class Lab:
    """A JupyterLab server on loopback, serving ``root``; stop it with ``stop()``."""

    def __init__(self, root, myst=True):
        self.root = Path(root)
        self.token = secrets.token_hex(16)
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        state = self.root / ".lab"
        write_settings(state, myst)
        env = {**os.environ, "JUPYTERLAB_SETTINGS_DIR": str(state / "settings"),
               "JUPYTERLAB_WORKSPACES_DIR": str(state / "workspaces"),
               "JUPYTER_RUNTIME_DIR": str(state / "runtime"),
               "JUPYTER_CONFIG_DIR": str(state / "config")}
        self.log = open(state / "server.log", "w")
        # The project's environment: the Python that runs the tests (.venv).
        self.process = subprocess.Popen(
            [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1",
             f"--port={port}", "--ServerApp.port_retries=0",
             f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={self.root}",
             "--LabApp.news_url=", "--LabApp.extension_manager=readonly",
             "--allow-root"],      # CI runs as root
            cwd=self.root, env=env, stdout=self.log, stderr=subprocess.STDOUT,
            start_new_session=True)
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/api/status?token={self.token}",
                                            timeout=2):
                    break
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("JupyterLab did not start: "
                                       + (state / "server.log").read_text()[-2000:])
                time.sleep(0.5)

    def open_url(self, path):
        """The URL that opens ``path`` alone (``reset``: no tabs restored from earlier)."""
        return f"{self.url}/lab/tree/{path}?reset&token={self.token}"

    def stop(self):
        """Stop the server (it shuts its kernels down); kill its group if it hangs."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        self.log.close()


class Reader:
    """One Chromium page on the lab, with the network cut but for loopback."""

    def __init__(self, browser):
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.page = self.context.new_page()
        self.errors, self.blocked, self.console = [], [], []
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("console", lambda m: self.console.append(m.text))
        self.page.route("**/*", self._route)

    def _route(self, route):
        loopback_only(route, self.blocked)

    def open_notebook(self, lab, path):
        """Open a notebook and wait for its kernel to be idle and its prose to render."""
        page = self.page
        page.goto(lab.open_url(path), wait_until="load")
        page.wait_for_selector(".jp-NotebookPanel .jp-MarkdownCell.jp-mod-rendered",
                               timeout=120_000)
        wait_for_idle(page, 60)
        wait_for_stable_prose(page)

    def run_all(self, timeout=RUN_ALL_TIMEOUT):
        """Run > Run All Cells, as a reader does; wait until every cell has run."""
        page = self.page
        page.locator(".jp-NotebookPanel .jp-Notebook").first.click(position={"x": 5, "y": 5})
        page.locator("#jp-MainMenu").get_by_text("Run", exact=True).click()
        page.locator(".lm-Menu-content").get_by_text("Run All Cells", exact=True).click()
        page.wait_for_function("""() => {
            const prompts = Array.from(document.querySelectorAll(
                '.jp-CodeCell .jp-InputArea-prompt'));
            return prompts.length && prompts.every(p => /\\[\\d+\\]/.test(p.textContent));
        }""", timeout=timeout * 1000, polling=500)
        wait_for_idle(self.page, 30)
        wait_for_stable_prose(page)

    def close(self):
        self.context.close()


def wait_for_idle(page, timeout):
    page.wait_for_function(
        "() => { const s = document.querySelector('.jp-Notebook-ExecutionIndicator');"
        " return s && s.getAttribute('data-status') === 'idle'; }",
        timeout=timeout * 1000, polling=250)


def wait_for_stable_prose(page, quiet=1.0, timeout=30):
    """Wait until the rendered prose (math typeset, expressions filled) stops changing."""
    deadline, last, since = time.monotonic() + timeout, None, time.monotonic()
    while time.monotonic() < deadline:
        now = json.dumps(page.evaluate(PROSE_JS))
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return
        time.sleep(0.2)


def figure_cell(page):
    """The code cell that builds the chapter's interactive figure."""
    cells = page.locator(".jp-CodeCell").filter(has_text="widgets.slider(")
    assert cells.count() >= 1, "no code cell calls widgets.slider("
    return cells.first


# Samples, at every animation frame, whether the figure area shows a loaded
# picture and how tall it is, and when (after the key press) the picture changes.
WATCH_JS = """(area) => {
    const shown = () => Array.from(area.querySelectorAll('img')).filter(
        img => img.complete && img.naturalWidth > 0 && img.getBoundingClientRect().height > 0);
    const first = shown()[0];
    const w = window.__watch = {start: first ? first.src : null, samples: 0, blank: 0,
                                minHeight: Infinity, key: null, changed: null, run: true};
    document.addEventListener('keydown', () => { if (w.key === null) w.key = performance.now(); },
                              {capture: true});
    const tick = () => {
        const imgs = shown();
        w.samples += 1;
        if (!imgs.length) w.blank += 1;
        w.minHeight = Math.min(w.minHeight, area.getBoundingClientRect().height);
        if (w.changed === null && w.key !== null && imgs.length && imgs[0].src !== w.start)
            w.changed = performance.now();
        if (w.run) requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
    return area.getBoundingClientRect().height;
}"""


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    root = tmp_path_factory.mktemp("lab")
    (root / "chapters").mkdir()
    shutil.copy(ROOT / CHAPTER, root / CHAPTER)
    server = Lab(root)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def reader(lab):
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"Chromium not found at {CHROMIUM}; install Debian's chromium (see .ci/run)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        r = Reader(browser)
        r.open_notebook(lab, CHAPTER)
        yield r
        r.close()
        browser.close()


@pytest.fixture(scope="module")
def after_run_all(reader):
    start = time.monotonic()
    reader.run_all()
    print(f"\nRun All: {time.monotonic() - start:.1f} s")
    return reader


def test_prose_renders_before_running(reader):
    counts, where = raw_markup(reader.page)
    assert not any(counts.values()), f"raw markup before running: {counts}\n" + "\n".join(where[:20])
    assert not reader.blocked, f"JupyterLab tried to reach other hosts: {reader.blocked}"


def test_interactive_figure_shows_before_running(reader):
    area = figure_cell(reader.page).locator(".jp-OutputArea")
    area.scroll_into_view_if_needed()
    loaded = reader.page.evaluate("""(area) => Array.from(area.querySelectorAll('img')).filter(
        img => img.complete && img.naturalWidth > 0 && img.getBoundingClientRect().width > 0
        ).length""", area.element_handle())
    assert loaded >= 1, "the interactive figure shows no picture before running"


def test_prose_renders_after_run_all(after_run_all):
    counts, where = raw_markup(after_run_all.page)
    assert not any(counts.values()), f"raw markup after Run All: {counts}\n" + "\n".join(where[:20])
    assert not after_run_all.errors, f"page errors: {after_run_all.errors}"


def test_live_slider_changes_the_picture_without_a_blank(after_run_all, record_property):
    page = after_run_all.page
    cell = figure_cell(page)
    area = cell.locator(".jp-OutputArea-output").first
    handle = cell.locator("[role=slider]").first
    handle.scroll_into_view_if_needed()
    page.wait_for_timeout(300)
    height = page.evaluate(WATCH_JS, area.element_handle())
    assert height > 100, f"the live figure area is {height} px tall"
    handle.focus()
    page.keyboard.press("ArrowRight")
    page.wait_for_function("() => window.__watch.changed !== null", timeout=10_000)
    page.wait_for_timeout(500)          # keep sampling after the swap
    watch = page.evaluate("() => { window.__watch.run = false; return window.__watch; }")
    latency = watch["changed"] - watch["key"]
    record_property("slider_latency_ms", round(latency))
    print(f"\nslider: picture changed {latency:.0f} ms after the key press; "
          f"{watch['blank']} blank of {watch['samples']} frames")
    assert watch["blank"] == 0, f"the figure went blank in {watch['blank']} frames"
    assert watch["minHeight"] >= 0.9 * height, (
        f"the figure area shrank from {height} to {watch['minHeight']} px")

