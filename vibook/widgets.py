"""One call, two interactive figures: a live slider and a kernel-free scrubber.

:func:`slider` takes a drawing function and the values of one parameter. It
draws every frame once, up front, and returns an object that Jupyter displays
as a live ipywidgets slider and that the static website displays as the same
frames in a player the reader can scrub with no kernel at all. Both show the
same values, so the website and Binder tell the same story.

* **Live** (JupyterLab, Binder after running the cell): a slider above the
  picture. Moving it swaps in the precomputed frame, in one update of one
  widget: instant, no blank frame, and the page below does not move. To change
  the figure, edit the drawing code and re-run the cell.
* **Static** (the website, whose config drops the widget mime type): the frames
  in matplotlib's JavaScript player (``FuncAnimation.to_jshtml``'s template),
  made self-contained: no Font Awesome from a CDN (the button icons are plain
  Unicode symbols), so the page loads nothing from third-party hosts.
* **Before anything runs** (a notebook opened fresh, untrusted, with no widget
  state): JupyterLab renders the static HTML sanitized, with its scripts
  removed. The player's ``<img>`` therefore carries the initial frame itself,
  and its controls stay hidden until its script runs, so the reader sees the
  picture rather than a broken image and dead buttons. The output also carries
  that frame as ``image/png``, for renderers that show neither widgets nor HTML.
"""

import base64
import hashlib
import io
import json
import math
import numbers
from dataclasses import dataclass, field
from html import escape

import ipywidgets
import matplotlib.pyplot as plt
from matplotlib._animation_data import DISPLAY_TEMPLATE, JS_INCLUDE, STYLE_INCLUDE
from PIL import Image

from vibook import _checks

#: Pixels per inch of the live frames (twice the house style's 100 dpi, shown
#: at the 100-dpi size, like the chapters' other ``"retina"`` figures).
LIVE_DPI = 200
#: Resolutions tried for the static frames, sharpest first (2x the display's
#: 100 dpi, like the chapters' other figures), and the most bytes one static
#: player may take (the site test's limit is 400 KB).
STATIC_DPIS = (200, 170, 144, 120, 100, 72)
STATIC_BUDGET = 380_000
#: Pixels per inch at which Jupyter shows the live frames.
DISPLAY_DPI = 100

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
_FONT_AWESOME = ('<link rel="stylesheet"\nhref="https://maxcdn.bootstrapcdn.com/'
                 'font-awesome/4.4.0/css/font-awesome.min.css">')


@dataclass
class Interactive:
    """A figure with one parameter, live in Jupyter and static on the web.

    Attributes
    ----------
    widget : ipywidgets.Widget
        The live version: a slider above the picture it swaps.
    html : str
        The static version: self-contained HTML/JS with one frame per value.
    png : bytes
        The initial frame (the static version's PNG), for renderers that show
        neither widgets nor HTML.
    text : str
        A plain-text description: the parameter and the alternative text.
    """

    widget: ipywidgets.Widget
    html: str = field(repr=False)
    png: bytes = field(repr=False)
    text: str

    def _repr_mimebundle_(self, **kwargs):
        # JupyterLab shows the widget when its model is live; an untrusted
        # output (a notebook opened fresh) shows text/html, sanitized, as the
        # safe type ranked highest. The website (whose config drops the widget
        # mime type) shows text/html, with its script: the scrubber.
        bundle = self.widget._repr_mimebundle_(**kwargs)
        return {**bundle, "text/html": self.html,
                "image/png": base64.b64encode(self.png).decode("ascii"), "text/plain": self.text}


def slider(draw, values, *, label, alt, fmt="{:g}", initial=None, figsize=(6.4, 3.4), dpi=None):
    """Build an interactive figure over one parameter.

    Every frame is drawn once, at ``LIVE_DPI`` (200 pixels per inch, shown at
    100); the live version swaps these full-resolution frames. The static
    version (the website, the PDF) shows the frames at the same 100-dpi size,
    stored with a 64-colour palette at the highest resolution of
    ``STATIC_DPIS`` (2x first) whose player stays under ``STATIC_BUDGET``
    bytes (or at the lowest, if none fits: use fewer values), unless ``dpi``
    fixes it.

    Parameters
    ----------
    draw : callable
        ``draw(fig, value)`` draws the figure for one parameter value into the
        empty Figure ``fig`` (add axes with ``fig.subplots``). It is called
        once per value.
    values : sequence
        The parameter values: the slider's stops and the frames. Keep it to a
        few dozen so the page stays small (about 15 KB per static frame).
    label : str
        The parameter's name, in Unicode as the prose writes it (``"κ, τ"``,
        ``"z₁"``): beside the slider, in the figure's title and in the labels
        read by screen readers.
    alt : str
        Alternative text describing the figure, for readers who cannot see it.
    fmt : str
        Format of a value in the title and on the slider.
    initial : optional
        The value shown first (default: the middle one).
    figsize : tuple of float
        Figure size in inches.
    dpi : int, optional
        Resolution of the static frames (default: the largest of
        ``STATIC_DPIS`` that fits ``STATIC_BUDGET``).

    Returns
    -------
    Interactive

    Raises
    ------
    TypeError
        If ``draw`` is not callable as ``draw(fig, value)``, ``values`` is not
        a sequence, ``label``, ``alt`` or ``fmt`` is not a string, or ``dpi``
        is not an integer.
    ValueError
        If ``values`` is empty, ``fmt`` cannot format them, ``initial`` is not
        among them, ``figsize`` is not two positive numbers, or ``dpi < 1``.

    Examples
    --------
    >>> fig = slider(lambda fig, a: fig.subplots().plot([0, 1], [0, a]), [0.5, 1.0],
    ...              label="a", alt="A line of slope a.", dpi=50)
    >>> fig.text
    'Interactive figure over a (a = 1): A line of slope a.'
    """
    _checks.function(draw, "draw", "draw(fig, value)")
    _checks.signature(draw, "draw", "draw(fig, value)", 2)
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise TypeError(f"values must be a sequence of parameter values, got {type(values).__name__}")
    values = list(values)
    if not values:
        raise ValueError("values must contain at least one parameter value")
    if not isinstance(fmt, str):
        raise TypeError(f"fmt must be a format string such as '{{:g}}', got {type(fmt).__name__}")
    try:
        [fmt.format(v) for v in values]
    except (ValueError, TypeError, IndexError, KeyError) as err:
        raise ValueError(f"fmt {fmt!r} cannot format the values: {err}") from None
    if (isinstance(figsize, (str, bytes)) or not hasattr(figsize, "__len__") or len(figsize) != 2
            or not all(isinstance(s, numbers.Real) and not isinstance(s, bool)
                       and math.isfinite(s) and s > 0 for s in figsize)):
        raise ValueError(f"figsize must be (width, height) in inches, two numbers > 0, "
                         f"got {figsize!r}")
    if dpi is not None:
        dpi = _checks.positive_int(dpi, "dpi")
    if not isinstance(label, str) or not label.strip():
        raise TypeError(f"label must be a non-empty string, got {label!r}")
    if not isinstance(alt, str) or not alt.strip():
        raise TypeError(f"alt must be a non-empty description of the figure, got {alt!r}")
    if initial is None:
        initial = values[len(values) // 2]
    elif initial not in values:
        raise ValueError(f"initial must be one of values, got {initial!r}")
    start = values.index(initial)
    readouts = [fmt.format(v) for v in values]                   # "1.3": on the slider
    texts = [f"{label} = {r}" for r in readouts]                 # "κ = 1.3": titles, alt texts
    live, images = _frames(draw, values, texts, figsize)
    width, height = (round(s * DISPLAY_DPI) for s in figsize)
    pages = [_img(png, f"{text}. {alt}", width, height) for png, text in zip(live, texts)]
    for each in ([dpi] if dpi is not None else STATIC_DPIS):
        static = [_small(image, figsize, each) for image in images]
        html = _static(static, start, alt, label, texts, (width, height))
        if len(html) <= STATIC_BUDGET:
            break
    return Interactive(widget=_live(pages, values, readouts, label, start, alt),
                       html=html,
                       png=static[start],
                       text=f"Interactive figure over {label} ({texts[start]}): {alt}")


def _frames(draw, values, titles, figsize):
    """Draw each frame once; return its live PNGs and its full-resolution images."""
    live, images = [], []
    with plt.ioff():
        fig = plt.figure(figsize=figsize)
        try:
            for value, title in zip(values, titles):
                fig.clear()
                draw(fig, value)
                fig.suptitle(title)
                buffer = io.BytesIO()
                fig.savefig(buffer, format="png", dpi=LIVE_DPI)
                image = Image.open(buffer).convert("RGB")
                live.append(_png(_fast_palette(image)))
                images.append(image)
        finally:
            plt.close(fig)
    return live, images


def _small(image, figsize, dpi):
    """A static frame: ``image`` at ``dpi``, with a 64-colour palette."""
    size = tuple(round(s * dpi) for s in figsize)
    if size != image.size:
        image = image.resize(size, Image.Resampling.BOX)           # area mean: keeps colours
    return _png(image.quantize(64, dither=Image.Dither.NONE), optimize=True)


def _fast_palette(image):
    """``image`` with a 256-colour palette, fast (about 3x smaller than full colour).

    The octree averages each colour bucket, which turns the white background
    into (254, 254, 254); near-white entries are set back to white.
    """
    image = image.quantize(256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
    palette = image.getpalette()
    image.putpalette([255 if min(palette[i - i % 3:i - i % 3 + 3]) >= 250 else c
                      for i, c in enumerate(palette)])
    return image


def _png(image, optimize=False):
    """PNG bytes of a PIL image, with no metadata (so identical runs give identical bytes)."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=optimize)
    return buffer.getvalue()


def _data_uri(png):
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _img(png, alt, width, height):
    """An <img> of one live frame: alt text, fixed size (no layout jump), decoded at once."""
    return (f'<img src="{_data_uri(png)}" alt="{escape(alt)}" width="{width}" height="{height}"'
            ' decoding="sync" style="max-width: 100%; height: auto; display: block">')


def _live(pages, values, readouts, label, start, alt):
    """A slider above an HTML picture whose value is swapped for the chosen frame.

    The picture is an ``ipywidgets.HTML`` holding one ``<img alt=...>`` (an
    ``ipywidgets.Image`` cannot carry alt text); a slider change sets its value
    once, and the browser swaps the image in place.
    """
    control = ipywidgets.SelectionSlider(
        options=list(zip(readouts, values)), index=start,
        description=label,
        tooltip=f"{label}: drag the slider, or focus it and press the arrow keys",
        continuous_update=True, layout=ipywidgets.Layout(width="60%"),
        style={"description_width": "initial"})
    picture = ipywidgets.HTML(pages[start], tooltip=alt)

    def show(change):
        picture.value = pages[change["new"]]

    control.observe(show, names="index")
    return ipywidgets.VBox([control, picture])


def _static(frames, start, alt, label, texts, shown):
    """Precomputed frames in matplotlib's JS player, with no external assets.

    The ``<img>`` holds the initial frame (so the sanitized HTML, without its
    script, still shows the figure) and the controls are hidden until the
    script runs. For screen readers, the frame slider is labelled with
    ``label`` and carries the current frame's name from ``texts``
    (``"x = 1.3"``) as its ``aria-valuetext``, however the frame changes.
    """
    uris = [_data_uri(png) for png in frames]
    # A stable name for the player's elements (matplotlib uses a random uuid),
    # so that re-running a chapter does not change its stored output.
    uid = "vb" + hashlib.sha1("\n".join(uris + texts + [alt, label]).encode()).hexdigest()[:24]
    fill = "".join(f'  frames[{i}] = "{uri}";\n' for i, uri in enumerate(uris) if i != start)
    html = (JS_INCLUDE.replace(_FONT_AWESOME, "") + STYLE_INCLUDE
            + DISPLAY_TEMPLATE.format(id=uid, Nframes=len(frames), fill_frames=fill,
                                      interval=250, once_checked="checked",
                                      loop_checked="", reflect_checked=""))
    width, height = shown                    # the 100-dpi size, whatever the frames' resolution
    html = _replace_once(html, f'<img id="_anim_img{uid}">',
                         f'<img id="_anim_img{uid}" src="{uris[start]}" alt="{escape(alt)}"'
                         f' width="{width}" height="{height}">')
    # "hidden" with a value: JupyterLab's sanitizer drops empty attributes.
    html = _replace_once(html, '<div class="anim-controls">',
                         '<div class="anim-controls" hidden="hidden">')
    html = _replace_once(html, f'<input id="_anim_slider{uid}" type="range"',
                         f'<input id="_anim_slider{uid}" type="range"'
                         f' aria-label="{escape(label)}" aria-valuetext="{escape(texts[start])}"'
                         f' data-valuetexts="{escape(json.dumps(texts, ensure_ascii=False))}"')
    html = _replace_once(html, f"""
        anim{uid} = new Animation(frames, img_id, slider_id, 250,
                                 loop_select_id);""", f"""
        var img = document.getElementById(img_id);
        var slider = document.getElementById(slider_id);
        var texts = JSON.parse(slider.dataset.valuetexts);
        frames[{start}] = img.src;
        anim{uid} = new Animation(frames, img_id, slider_id, 250, loop_select_id);
        var set_frame = anim{uid}.set_frame;
        anim{uid}.set_frame = function(frame) {{
          set_frame.call(this, frame);
          slider.setAttribute("aria-valuetext", texts[frame]);
        }};
        anim{uid}.set_frame({start});
        slider.closest(".anim-controls").hidden = false;""")
    for icon, symbol in _ICONS.items():
        html = html.replace(f'<i class="{icon}"></i>', symbol)
    if "://" in html.replace("http://www.w3.org", "") or 'class="fa' in html:
        raise RuntimeError("the static figure still references an external asset")
    return html


def _replace_once(text, old, new):
    """``text`` with ``old`` replaced by ``new``; fail loudly if matplotlib's template changed."""
    if text.count(old) != 1:
        raise RuntimeError("matplotlib's animation template changed: "
                           f"{old.strip()[:40]!r} not found once")
    return text.replace(old, new)
