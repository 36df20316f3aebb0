"""One call, two interactive figures: a live slider and a kernel-free scrubber.

:func:`slider` takes a drawing function and the values of one parameter. It
returns an object that Jupyter displays as a live ipywidgets slider (the
figure is redrawn by the kernel) and that the static website displays as
precomputed frames the reader can scrub with no kernel at all. Both show the
same values, so the website and Binder tell the same story.

The static version is matplotlib's ``FuncAnimation.to_jshtml``, made fully
self-contained: its Font Awesome stylesheet, loaded from a CDN, is removed and
the button icons are replaced by plain Unicode symbols, so the page loads
nothing from third-party hosts.
"""

import base64
import hashlib
import io
import json
import re
from html import escape
from dataclasses import dataclass

import ipywidgets
import matplotlib.pyplot as plt
from matplotlib.animation import FuncAnimation
from PIL import Image

from vibook import _checks

# Button icons of matplotlib's HTML animation template, as Unicode symbols.
_ICONS = {
    "fa fa-minus": "\u2212",                      # slower
    "fa fa-fast-backward": "\u21e4",              # first frame
    "fa fa-step-backward": "\u2039",              # previous frame
    "fa fa-play fa-flip-horizontal": "\u25c0",    # play backwards
    "fa fa-pause": "\u275a\u275a",                # pause
    "fa fa-play": "\u25b6",                       # play
    "fa fa-step-forward": "\u203a",               # next frame
    "fa fa-fast-forward": "\u21e5",               # last frame
    "fa fa-plus": "+",                            # faster
}


@dataclass
class Interactive:
    """A figure with one parameter, live in Jupyter and static on the web.

    Attributes
    ----------
    widget : ipywidgets.Widget
        The live version: a slider above the figure it redraws.
    html : str
        The static version: self-contained HTML/JS with one frame per value.
    """

    widget: ipywidgets.Widget
    html: str

    def _repr_mimebundle_(self, **kwargs):
        # Jupyter prefers the live widget; the book (whose config drops the
        # widget mime type) falls back to the static frames.
        bundle = self.widget._repr_mimebundle_(**kwargs)
        return {**bundle, "text/html": self.html}


def slider(draw, values, *, label, alt, fmt="{:g}", initial=None, figsize=(6.4, 3.4), dpi=72):
    """Build an interactive figure over one parameter.

    Parameters
    ----------
    draw : callable
        ``draw(fig, value)`` draws the figure for one parameter value into the
        empty Figure ``fig`` (add axes with ``fig.subplots``).
    values : sequence of float
        The parameter values: the slider's stops and the static frames. Keep
        it to a few dozen so the page stays small (about 15 KB per frame).
    label : str
        The parameter's name, shown beside the slider and in the title.
    alt : str
        Alternative text describing the figure, for readers who cannot see it.
    fmt : str
        Format of a value in the title and on the slider.
    initial : float, optional
        The value shown first in the live version (default: the middle one).
    figsize : tuple of float
        Figure size in inches.
    dpi : int
        Resolution of the static frames.

    Returns
    -------
    Interactive
    """
    _checks.function(draw, "draw", "draw(fig, value)")
    values = list(values)
    if not values:
        raise ValueError("values must contain at least one parameter value")
    if not isinstance(label, str) or not label:
        raise TypeError(f"label must be a non-empty string, got {label!r}")
    if not isinstance(alt, str) or not alt.strip():
        raise TypeError(f"alt must be a non-empty description of the figure, got {alt!r}")
    if initial is None:
        initial = values[len(values) // 2]
    elif initial not in values:
        raise ValueError(f"initial must be one of values, got {initial!r}")

    def render(fig, value):
        fig.clear()
        draw(fig, value)
        fig.suptitle(f"{label} = {fmt.format(value)}")

    return Interactive(widget=_live(render, values, label, fmt, initial, figsize),
                       html=_static(render, values, figsize, dpi, alt, values.index(initial),
                                    label, [f"{label} = {fmt.format(v)}" for v in values]))


def _live(render, values, label, fmt, initial, figsize):
    """An ipywidgets slider that redraws the figure in an Output widget."""
    control = ipywidgets.SelectionSlider(
        options=[(fmt.format(v), v) for v in values], value=initial,
        description=label, continuous_update=False,
        layout=ipywidgets.Layout(width="60%"), style={"description_width": "initial"})
    out = ipywidgets.Output()

    def update(change=None):
        # Set the Output widget's contents directly rather than capturing a
        # display inside ``with out:``: the figure then lives only in the widget,
        # and the cell's own output stays exactly the widget (which nbval checks).
        fig = plt.figure(figsize=figsize)
        render(fig, control.value)
        out.outputs = ()
        out.append_display_data(fig)
        plt.close(fig)

    control.observe(update, names="value")
    update()
    return ipywidgets.VBox([control, out])


def _static(render, values, figsize, dpi, alt, start, label, texts):
    """Precomputed frames in matplotlib's JS player, with no external assets.

    For screen readers, the frame slider is labelled with ``label`` and carries
    the current frame's name from ``texts`` (``"x = 1.3"``) as its
    ``aria-valuetext``.
    """
    with plt.ioff():
        fig = plt.figure(figsize=figsize, dpi=dpi)
        anim = FuncAnimation(fig, lambda i: render(fig, values[i]), frames=len(values),
                             init_func=lambda: None, repeat=False)
        html = anim.to_jshtml(fps=4, default_mode="once")
        plt.close(fig)
    html = re.sub(r"data:image/png;base64,([A-Za-z0-9+/=\\\n]+)", _quantize, html)
    html = re.sub(r'<link rel="stylesheet"\s+href="https?://[^"]*"\s*>', "", html)
    # matplotlib names the player's elements with a random uuid; use a stable
    # name instead, so re-running a chapter does not change its stored output.
    uid = re.search(r'id="_anim_img(\w+)"', html).group(1)
    html = html.replace(uid, "vb" + hashlib.sha1(html.replace(uid, "").encode()).hexdigest()[:24])
    # Open on the same frame as the live slider.
    html = re.sub(r"(anim(\w+) = new Animation\([^;]*\);)",
                  rf"\1 anim\2.set_frame({start});", html)
    html = re.sub(r'<img id="(_anim_img\w+)"',
                  lambda m: f'<img id="{m.group(1)}" alt="{escape(alt)}"', html)
    html = re.sub(
        r'(<input id="_anim_slider\w+" type="range")([^>]*oninput=")',
        lambda m: (f'{m.group(1)} aria-label="{escape(label)}"'
                   f' aria-valuetext="{escape(texts[start])}"'
                   f' data-valuetexts="{escape(json.dumps(texts, ensure_ascii=False))}"{m.group(2)}'
                   "this.setAttribute('aria-valuetext', "
                   "JSON.parse(this.dataset.valuetexts)[this.value]); "), html)
    for icon, symbol in sorted(_ICONS.items(), key=lambda kv: -len(kv[0])):
        html = html.replace(f'<i class="{icon}"></i>', symbol)
    if "://" in re.sub(r"data:[^\"']*", "", html).replace("http://www.w3.org", ""):
        raise RuntimeError("the static figure still references an external URL")
    return html


def _quantize(match, colors=64):
    """Re-encode one base64 PNG frame with an adaptive palette (about 4x smaller)."""
    png = base64.b64decode(re.sub(r"[\\\n]", "", match.group(1)))
    image = Image.open(io.BytesIO(png)).convert("RGB")
    image = image.quantize(colors=colors, dither=Image.Dither.NONE)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
