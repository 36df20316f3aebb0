"""vibook.widgets: one call gives a live slider and self-contained static frames."""

import base64
import io
import json
import re
import time
import warnings

import ipywidgets
import numpy as np
import pytest
import traitlets
from PIL import Image

from vibook import widgets


def draw(fig, value):
    ax = fig.subplots()
    t = np.linspace(0, 1, 50)
    ax.plot(t, np.sin(2 * np.pi * value * t))


@pytest.fixture(scope="module")
def figure():
    return widgets.slider(draw, [1.0, 2.0, 3.0], label="frequency", alt="A sine wave")


def static_frames(html):
    """The player's frames in order: the <img>'s initial frame fills its slot."""
    frames = dict((int(i), uri) for i, uri in
                  re.findall(r'frames\[(\d+)\] = "(data:image/png;base64,[^"]+)"', html))
    start = int(re.search(r"frames\[(\d+)\] = img\.src;", html).group(1))
    frames[start] = re.search(r'<img id="_anim_img\w+" src="([^"]+)"', html).group(1)
    return [frames[i] for i in sorted(frames)]


def live_png(picture):
    """The PNG shown by the live picture (an HTML widget holding one <img>)."""
    assert picture.value.count("<img") == 1
    uri = re.search(r'src="data:image/png;base64,([^"]+)"', picture.value).group(1)
    return base64.b64decode(uri)


def test_static_version_has_one_distinct_frame_per_value(figure):
    frames = static_frames(figure.html)
    assert len(frames) == 3
    assert len(set(frames)) == 3


def test_static_frames_are_as_sharp_as_the_budget_allows():
    """2x frames when they fit STATIC_BUDGET, else the next resolution down; never over it."""
    x = np.linspace(0, 1, 200)

    def draw(fig, a):
        fig.subplots().plot(x, np.sin(20 * a * x) * np.cos(7 * x / a))

    for count in (3, 20):
        html = widgets.slider(draw, list(np.linspace(1, 2, count)), label="a", alt="A wave").html
        sizes = {Image.open(io.BytesIO(base64.b64decode(uri.split(",")[1]))).size
                 for uri in static_frames(html)}
        assert len(html) <= widgets.STATIC_BUDGET
        assert len(sizes) == 1
        width = sizes.pop()[0]
        assert width == 1280 if count == 3 else width < 1280


def test_static_version_is_self_contained(figure):
    assert "<link" not in figure.html
    assert not re.search(r'(src|href)="(https?:)?//', figure.html)
    assert 'class="fa' not in figure.html          # icons replaced by Unicode text
    assert 'alt="A sine wave"' in figure.html
    assert 'class="anim-slider"' in figure.html


def test_static_version_opens_on_the_initial_value(figure):
    assert re.search(r"anim\w+\.set_frame\(1\);", figure.html)   # values[1] == 2.0, the middle
    img = re.search(r'<img id="_anim_img\w+"[^>]*>', figure.html).group(0)
    assert f'src="data:image/png;base64,{base64.b64encode(figure.png).decode()}"' in img


def test_static_version_without_its_script_shows_the_picture_and_no_dead_controls(figure):
    # JupyterLab renders an untrusted output's HTML sanitized: no <script> or
    # <style>, no event handlers. The picture must still show and the controls,
    # which would do nothing, stay hidden.
    html = re.sub(r"<(script|style)[^>]*>.*?</\1>", "", figure.html, flags=re.S)
    assert re.search(r'<img id="_anim_img\w+" src="data:image/png;base64,[^"]+" alt="A sine wave"'
                     r' width="640" height="340">', html)
    assert '<div class="anim-controls" hidden="hidden">' in html   # empty attributes are dropped
    assert 'closest(".anim-controls").hidden = false' in figure.html      # the script shows them


def test_each_value_is_drawn_once_for_both_versions():
    calls = []

    def counting_draw(fig, value):
        calls.append(value)
        draw(fig, value)

    values = [1.0, 2.0, 3.0, 4.0]
    figure = widgets.slider(counting_draw, values, label="f", alt="sine waves")
    assert calls == values
    control, _ = figure.widget.children
    for value in values[::-1]:
        control.value = value
    assert calls == values                                       # moving the slider draws nothing


def test_live_version_is_a_slider_over_the_same_values(figure):
    slider, picture = figure.widget.children
    assert isinstance(slider, ipywidgets.SelectionSlider)
    assert isinstance(picture, ipywidgets.HTML)
    assert list(slider.options) == [("1", 1.0), ("2", 2.0), ("3", 3.0)]
    assert slider.value == 2.0
    assert not any(isinstance(w, ipywidgets.Output) for w in figure.widget.children)


def test_live_and_static_frames_show_the_same_figure(figure):
    slider, picture = figure.widget.children
    static = [Image.open(io.BytesIO(base64.b64decode(uri.split(",")[1])))
              for uri in static_frames(figure.html)]
    for i, value in enumerate([1.0, 2.0, 3.0]):
        slider.value = value
        live = Image.open(io.BytesIO(live_png(picture)))
        assert live.size == (round(6.4 * widgets.LIVE_DPI), round(3.4 * widgets.LIVE_DPI))
        assert static[i].size == (1280, 680)            # 2x: three frames fit the budget
        small = np.asarray(live.convert("L").resize(static[i].size, Image.Resampling.BOX), float)
        errors = [np.abs(small - np.asarray(s.convert("L"), float)).mean() for s in static]
        assert np.argmin(errors) == i and errors[i] < 3          # grey levels out of 255
    slider.value = 2.0


def test_a_slider_change_is_one_update_of_the_picture(figure):
    slider, picture = figure.widget.children
    changes = []
    for w in (figure.widget, picture, picture.layout):
        w.observe(lambda c, w=w: changes.append((w, c["name"], c["old"], c["new"])),
                  names=traitlets.All)
    try:
        slider.value = 3.0
    finally:
        for w in (figure.widget, picture, picture.layout):
            w.unobserve_all()
    assert len(changes) == 1
    widget, name, old, new = changes[0]
    assert widget is picture and name == "value"
    assert "<img" in old and "<img" in new and old != new        # swapped, never cleared
    slider.value = 2.0


def test_a_slider_change_updates_the_picture_at_once(figure):
    slider, _ = figure.widget.children
    seconds = []
    for value in [1.0, 3.0, 2.0] * 5:
        start = time.perf_counter()
        slider.value = value
        seconds.append(time.perf_counter() - start)
    assert max(seconds) < 0.15


def test_live_picture_has_alt_text_and_a_fixed_size(figure):
    slider, picture = figure.widget.children
    img = re.search(r"<img[^>]*>", picture.value).group(0)
    assert 'alt="frequency = 2. A sine wave"' in img       # the value shown, then the description
    assert 'width="640" height="340"' in img               # figsize at 100 dpi: no layout jump
    slider.value = 1.0
    assert 'alt="frequency = 1. A sine wave"' in picture.value
    slider.value = 2.0


def test_one_output_carries_every_version(figure):
    bundle = figure._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert bundle["text/html"] == figure.html
    png = base64.b64decode(bundle["image/png"])
    assert png == figure.png and png.startswith(b"\x89PNG")
    assert Image.open(io.BytesIO(png)).size == (1280, 680)     # the static frames' 2x
    assert bundle["text/plain"] == "Interactive figure over frequency (frequency = 2): A sine wave"
    json.dumps(bundle)                                           # storable in a notebook as is


def test_slider_has_a_tooltip_and_keyboard_focus(figure):
    slider, _ = figure.widget.children
    assert slider.tooltip and "frequency" in slider.tooltip   # ipywidgets shows None as "null"
    assert slider.tabbable is not False


def test_unicode_labels_everywhere():
    with warnings.catch_warnings():
        warnings.simplefilter("error")                    # e.g. "Glyph ... missing from font"
        figure = widgets.slider(lambda f, v: f.subplots().plot([0, v[0]]),
                                [(0.5, 1.0), (0.75, 1.0)], label="κ, τ",
                                fmt="({0[0]:g}, {0[1]:g})", alt="a line", figsize=(3, 2))
    slider, picture = figure.widget.children
    assert slider.description == "κ, τ" and slider.tooltip.startswith("κ, τ")
    assert slider.label == "(0.75, 1)"
    assert 'alt="κ, τ = (0.75, 1). a line"' in picture.value
    tag = re.search(r'<input id="_anim_slider[^>]*>', figure.html).group(0)
    assert 'aria-label="κ, τ"' in tag and 'aria-valuetext="κ, τ = (0.75, 1)"' in tag
    assert "κ, τ = (0.5, 1)" in tag                        # every frame's name, as Unicode
    assert "Interactive figure over κ, τ" in figure._repr_mimebundle_()["text/plain"]


def test_stored_output_is_deterministic():
    first, second = (widgets.slider(draw, [1.0, 2.0], label="f", alt="sine") for _ in range(2))
    assert first.html == second.html and first.png == second.png


def test_frames_are_small():
    values = np.linspace(0.5, 5, 20)
    figure = widgets.slider(draw, values, label="f", alt="sine waves")
    assert len(figure.html) < 400_000
    assert len(figure._repr_mimebundle_()["image/png"]) < 40_000


@pytest.mark.parametrize("kwargs, error, name", [
    ({"draw": "not callable"}, TypeError, "draw"),
    ({"values": []}, ValueError, "values"),
    ({"label": ""}, TypeError, "label"),
    ({"alt": " "}, TypeError, "alt"),
    ({"initial": 7.0}, ValueError, "initial")])
def test_bad_arguments(kwargs, error, name):
    args = {"draw": draw, "values": [1.0, 2.0], "label": "f", "alt": "a sine"} | kwargs
    draw_fn, values = args.pop("draw"), args.pop("values")
    with pytest.raises(error, match=name):
        widgets.slider(draw_fn, values, **args)


def test_static_slider_is_labelled_for_screen_readers():
    fig = widgets.slider(lambda f, v: f.subplots().plot([0, v]), [1.0, 2.0],
                         label="κ", alt="a line", initial=2.0)
    tag = re.search(r'<input id="_anim_slider[^>]*>', fig.html).group(0)
    assert 'aria-label="κ"' in tag and 'aria-valuetext="κ = 2"' in tag
    # every frame change (slider, buttons, playing) updates it
    assert 'slider.setAttribute("aria-valuetext", texts[frame])' in fig.html
