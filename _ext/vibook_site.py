"""A local Sphinx extension with the website's small fixes.

Jupyter Book 1 with sphinx-thebe registers thebe's configuration script twice
(``const THEBE_JS_URL`` declared twice is a console error), and MathJax can be
queued twice (once deferred by ``sphinx.ext.mathjax``, once plainly). Here we
drop repeated scripts from each page, keeping the first.

Accessibility (WCAG 2.1, checked by axe-core in the browser tests): docutils
marks bibliography entries with ``role="doc-biblioentry"``, deprecated in
ARIA 1.2, inside a ``role="list"`` that then has no list items. We give the
entries the role ``listitem``.

The PDF edition is printed from the single-page build (``singlehtml``). Some
extension registers handlers for that builder by name, and Sphinx then no
longer falls back to the ``html`` handlers of the other extensions' nodes
(sphinx-design's icons, for one): we copy over those that are missing.

Numbers in the prose are MyST inline expressions, ``{eval}`shown.name```
(issue 12): JupyterLab (with jupyterlab-myst) evaluates them in the kernel, or
shows the result stored in the cell's ``user_expressions`` metadata. The
website does not run the chapters, and myst-nb's own ``eval`` role needs a
running kernel, so we replace it with one that reads the number from the
output ``vibook.report.show`` glued under that name in the stored notebook:
the output nbval checks. Anything but ``shown.<name>``, or a name with no glued
output, is a warning (an error in the strict build).
"""

import re

from docutils import nodes
from myst_nb.core.variables import RetrievalError, format_plain_text
from myst_nb.ext.glue.utils import retrieve_glue_data

_SHOWN = re.compile(r"shown\.(\w+)\Z")


def _shown_text(document, text):
    """The text glued for ``shown.<name>`` in this notebook; RetrievalError if none."""
    match = _SHOWN.match(text)
    if not match:
        raise RetrievalError(f"{{eval}}`{text}`: the website can only show shown.<name>, "
                             "a number printed by vibook.report.show")
    try:
        data = retrieve_glue_data(document, match[1]).data
    except RetrievalError:
        raise RetrievalError(f"{{eval}}`{text}`: this notebook's stored outputs hold no "
                             f"number shown as {match[1]!r} (show({match[1]}=...))") from None
    if "text/plain" not in data:
        raise RetrievalError(f"{{eval}}`{text}`: the glued output has no text/plain")
    return format_plain_text(data["text/plain"], "s")


def _eval_role(name, rawtext, text, lineno, inliner, options=None, content=()):
    """``{eval}`shown.name```: the text glued as ``name`` in this notebook's outputs."""
    try:
        value = _shown_text(inliner.document, text)
    except RetrievalError as exc:
        message = inliner.reporter.warning(str(exc), line=lineno)
        return [inliner.problematic(rawtext, rawtext, message)], [message]
    return [nodes.inline(value, value, classes=["pasted-text"])], []


def _dedupe_scripts(app, pagename, templatename, context, doctree):
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for script in scripts:
        filename = str(getattr(script, "filename", script) or "").split("?")[0]
        body = getattr(script, "attributes", {}).get("body", "")
        key = (filename, body) if body else filename
        if key in seen:
            continue
        seen.add(key)
        unique.append(script)
    scripts[:] = unique


def _aria_roles(app, pagename, templatename, context, doctree):
    body = context.get("body")
    if body and 'role="doc-biblioentry"' in body:
        context["body"] = body.replace('role="doc-biblioentry"', 'role="listitem"')


def _singlehtml_handlers(app):
    if app.builder.name != "singlehtml":
        return
    handlers = app.registry.translation_handlers
    single = handlers.setdefault("singlehtml", {})
    for name, pair in handlers.get("html", {}).items():
        single.setdefault(name, pair)


def setup(app):
    app.add_role("eval", _eval_role, override=True)
    app.connect("builder-inited", _singlehtml_handlers)
    app.connect("html-page-context", _dedupe_scripts, priority=900)
    app.connect("html-page-context", _aria_roles, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
