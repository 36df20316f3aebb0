"""vibook.widgets: one call gives a live slider and self-contained static frames."""

import re

import ipywidgets
import numpy as np
import pytest

from vibook import widgets


def draw(fig, value):
    ax = fig.subplots()
    t = np.linspace(0, 1, 50)
    ax.plot(t, np.sin(2 * np.pi * value * t))


@pytest.fixture(scope="module")
def figure():
    return widgets.slider(draw, [1.0, 2.0, 3.0], label="frequency", alt="A sine wave")


def test_static_version_has_one_distinct_frame_per_value(figure):
    frames = re.findall(r'frames\[\d+\] = "(data:image/png;base64,[^"]+)"', figure.html)
    assert len(frames) == 3
    assert len(set(frames)) == 3


def test_static_version_is_self_contained(figure):
    assert "<link" not in figure.html
    assert not re.search(r'(src|href)="(https?:)?//', figure.html)
    assert 'class="fa' not in figure.html          # icons replaced by Unicode text
    assert 'alt="A sine wave"' in figure.html
    assert 'class="anim-slider"' in figure.html


def test_static_version_opens_on_the_initial_value(figure):
    assert re.search(r"anim\w+\.set_frame\(1\);", figure.html)   # values[1] == 2.0, the middle


def test_live_version_is_a_slider_over_the_same_values(figure):
    slider, output = figure.widget.children
    assert isinstance(slider, ipywidgets.SelectionSlider)
    assert isinstance(output, ipywidgets.Output)
    assert list(slider.options) == [("1", 1.0), ("2", 2.0), ("3", 3.0)]
    assert slider.value == 2.0


def test_one_output_carries_both_versions(figure):
    bundle = figure._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert bundle["text/html"] == figure.html


def test_frames_are_small():
    values = np.linspace(0.5, 5, 20)
    figure = widgets.slider(draw, values, label="f", alt="sine waves")
    assert len(figure.html) < 400_000


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
    assert "aria-valuetext" in tag.split("oninput=")[1]      # updated as it moves
