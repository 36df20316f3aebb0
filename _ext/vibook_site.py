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
"""


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
    app.connect("builder-inited", _singlehtml_handlers)
    app.connect("html-page-context", _dedupe_scripts, priority=900)
    app.connect("html-page-context", _aria_roles, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
