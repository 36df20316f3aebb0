"""vibook.device and vibook.plotting: settings every chapter shares."""

import jax
import jax.numpy as jnp
import matplotlib as mpl
import pytest

from vibook import device, plotting


def test_setup_sets_full_precision_and_reports_the_backend():
    backend = device.setup()
    assert backend == jax.default_backend()
    assert jax.config.jax_default_matmul_precision == "highest"
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
    assert device.batch_sharding(64) is None
    assert device.batch_sharding(64, jax.devices()[:1]) is None
    tree = (jnp.ones(4), jnp.zeros((4, 2)))
    assert device.shard_batch(tree, None) is tree
    assert device.replicate(tree, None) is tree


@pytest.mark.parametrize("devices, error", [("cpu", TypeError), (jax.devices()[0], TypeError),
                                            ([], ValueError), ([0, 1], TypeError),
                                            (jax.devices() * 2, ValueError)])
def test_bad_devices(devices, error):
    with pytest.raises(error, match="devices"):
        device.batch_sharding(8, devices)


def test_bad_batch_size():
    with pytest.raises(ValueError, match="batch_size"):
        device.batch_sharding(0)
    with pytest.raises(TypeError, match="batch_size"):
        device.batch_sharding(8.0)
