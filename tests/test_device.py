"""vibook.device and vibook.plotting: settings every chapter shares."""

import jax
import matplotlib as mpl

from vibook import device, plotting


def test_setup_sets_full_precision_and_reports_the_backend():
    backend = device.setup()
    assert backend == jax.default_backend()
    assert jax.config.jax_default_matmul_precision == "highest"
    assert backend in device.describe()


def test_house_style_uses_the_colour_blind_safe_palette():
    plotting.use_style()
    cycle = [c["color"] for c in mpl.rcParams["axes.prop_cycle"]]
    assert cycle[:3] == plotting.PALETTE[:3]
    assert set(plotting.COLORS.values()) <= set(plotting.PALETTE)
    fig, axes = plotting.subplots(ncols=3)
    assert fig.get_size_inches()[0] == 9.6 and len(axes) == 3
