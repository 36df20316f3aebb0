"""vibook.device and vibook.plotting: settings every chapter shares."""

import subprocess
import sys

import jax
import jax.numpy as jnp
import matplotlib as mpl
import pytest

from vibook import device, plotting


def test_setup_sets_full_precision_and_reports_the_backend():
    backend = device.setup()
    assert backend == jax.default_backend()
    assert jax.config.jax_default_matmul_precision == "highest"
    assert jax.config.values["jax_cpu_enable_async_dispatch"] is False
    assert backend in device.describe()


def test_setup_turns_on_the_compilation_cache_in_a_user_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("VIBOOK_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("VIBOOK_NO_CACHE", raising=False)
    before = jax.config.jax_compilation_cache_dir
    try:
        device.setup()
        assert jax.config.jax_compilation_cache_dir == str(tmp_path / "cache")
        assert (tmp_path / "cache").is_dir()
    finally:
        jax.config.update("jax_compilation_cache_dir", before)


def test_the_cache_can_be_turned_off(tmp_path, monkeypatch):
    monkeypatch.setenv("VIBOOK_CACHE_DIR", str(tmp_path / "off"))
    before = jax.config.jax_compilation_cache_dir
    device.setup(cache=False)
    monkeypatch.setenv("VIBOOK_NO_CACHE", "1")
    device.setup()
    assert jax.config.jax_compilation_cache_dir == before
    assert not (tmp_path / "off").exists()


def test_enable_compilation_cache_takes_a_folder(tmp_path, monkeypatch):
    before = jax.config.jax_compilation_cache_dir
    monkeypatch.delenv("VIBOOK_NO_CACHE", raising=False)
    try:
        assert device.enable_compilation_cache(tmp_path / "c") == str(tmp_path / "c")
        monkeypatch.setenv("VIBOOK_NO_CACHE", "1")
        assert device.enable_compilation_cache(tmp_path / "d") is None
        assert jax.config.jax_compilation_cache_dir == str(tmp_path / "c")
    finally:
        jax.config.update("jax_compilation_cache_dir", before)


def test_cache_dir_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.delenv("VIBOOK_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert device.cache_dir() == str(tmp_path / "vibook" / "jax")


def test_house_style_uses_the_colour_blind_safe_palette():
    plotting.use_style()
    cycle = [c["color"] for c in mpl.rcParams["axes.prop_cycle"]]
    assert cycle[:3] == plotting.PALETTE[:3]
    assert set(plotting.COLORS.values()) <= set(plotting.PALETTE)
    fig, axes = plotting.subplots(ncols=3)
    assert fig.get_size_inches()[0] == 9.6 and len(axes) == 3


def test_one_device_means_no_sharding():
    # The test process has one CPU device (four-device runs: test_sharding.py).
    with device.data_parallel(64) as mesh:
        assert mesh is None
    with device.data_parallel(64, jax.devices()[:1]) as mesh:
        assert mesh is None


@pytest.mark.parametrize("devices, error", [("cpu", TypeError), (jax.devices()[0], TypeError),
                                            ([], ValueError), ([0, 1], TypeError),
                                            (jax.devices() * 2, ValueError)])
def test_bad_devices(devices, error):
    with pytest.raises(error, match="devices"):
        device.data_parallel(8, devices)


def test_bad_batch_size():
    with pytest.raises(ValueError, match="batch_size"):
        device.data_parallel(0)
    with pytest.raises(TypeError, match="batch_size"):
        device.data_parallel(8.0)


def test_describe_returns_the_documented_line():
    text = device.describe()
    assert isinstance(text, str) and "\n" not in text
    first = jax.devices()[0]
    assert text.startswith(f"JAX {jax.__version__} on {jax.default_backend()}: ")
    assert f"{first.device_kind} ({first.platform}:{first.id})" in text


def test_a_slow_best_legend_warns_only_without_the_house_style(monkeypatch):
    # matplotlib warns when placing a loc="best" legend took over a second: fake the clock.
    import itertools
    import warnings

    import matplotlib.legend
    import matplotlib.pyplot as plt

    clock = itertools.count(0.0, 5.0)
    monkeypatch.setattr(matplotlib.legend.time, "perf_counter", lambda: next(clock))

    def draw():
        fig, ax = plt.subplots()
        ax.plot([0, 1], [0, 1], label="a")
        ax.legend()
        fig.canvas.draw()
        plt.close(fig)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        draw()
    assert any("can be slow" in str(w.message) for w in caught)      # the clock works
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        plotting.use_style()
        draw()
        warnings.warn("another warning still shows", UserWarning)
    assert [str(w.message) for w in caught] == ["another warning still shows"]


def test_importing_vibook_starts_no_jax_backend():
    """setup()'s CPU dispatch setting works only before JAX's CPU backend starts, so no
    vibook module may start it on import (BlackJAX's import does: vibook.mcmc defers it)."""
    code = ("import importlib, pkgutil, vibook\n"
            "for m in pkgutil.iter_modules(vibook.__path__):\n"
            "    importlib.import_module('vibook.' + m.name)\n"
            "from jax._src import xla_bridge\n"
            "print(xla_bridge.backends_are_initialized())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.split() == ["False"]
