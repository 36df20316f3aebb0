"""vibook.targets: normalisers against scipy's dblquad and the grid; KL against closed forms."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate

from vibook import divergences, targets

TARGETS = [targets.banana(), targets.funnel(), targets.funnel(1.0), targets.mixture(),
           targets.mixture(1.0, 1.0, 0.4)]


@pytest.mark.parametrize("target", TARGETS, ids=lambda t: t.name)
def test_closed_form_normaliser_against_dblquad_and_grid(target):
    (a, b), (c, d) = target.limits

    log_density = jax.jit(target.log_density)     # one dispatch per point, not one per operation

    def f(z2, z1):
        return float(np.exp(log_density(jnp.array([z1, z2]))))

    value, _ = integrate.dblquad(f, a, b, c, d, epsabs=1e-7, epsrel=1e-6)
    np.testing.assert_allclose(np.log(value), target.log_normalizer, atol=2e-3)
    g = targets.grid(target.limits, 401)
    np.testing.assert_allclose(targets.log_integral(target.log_density(g.points), g),
                               target.log_normalizer, atol=1e-3)


def test_kl_on_grid_matches_closed_form_gaussians():
    g = targets.grid(((-8.0, 8.0), (-8.0, 8.0)), 301)
    z1, z2 = g.points[..., 0], g.points[..., 1]
    # q = N((0.5, -0.3), diag(0.8^2, 1.2^2)); p = N(0, I) with its constants dropped
    log_q = (-0.5 * ((z1 - 0.5) / 0.8) ** 2 - 0.5 * ((z2 + 0.3) / 1.2) ** 2
             - jnp.log(2 * jnp.pi * 0.8 * 1.2))
    log_p = -0.5 * (z1**2 + z2**2)
    exact = divergences.kl_normal(jnp.array([0.5, -0.3]), jnp.array([0.8, 1.2]),
                                  jnp.zeros(2), jnp.ones(2)).sum()
    np.testing.assert_allclose(targets.kl(log_q, log_p, g), exact, atol=1e-4)
    same = targets.kl(log_p - jnp.log(2 * jnp.pi), log_p + 3.0, g)     # q = p, p unnormalised
    assert float(same) == pytest.approx(0.0, abs=1e-4)


def test_densities_are_unnormalised_by_design():
    t = targets.banana(1.0, 0.0)                  # then an isotropic Gaussian
    np.testing.assert_allclose(t.log_density(jnp.array([[0.0, 0.0], [1.0, 2.0]])), [0.0, -2.5])
    assert t.log_density(jnp.zeros((3, 4, 2))).shape == (3, 4)


def test_bad_input():
    with pytest.raises(ValueError, match="scale"):
        targets.banana(scale=-1.0)
    with pytest.raises(ValueError, match="weight"):
        targets.mixture(weight=1.5)
    with pytest.raises(ValueError, match="z"):
        targets.funnel().log_density(jnp.zeros((4, 3)))
    with pytest.raises(ValueError, match="limits"):
        targets.grid(((1.0, 0.0), (0.0, 1.0)))
    g = targets.grid(((0.0, 1.0), (0.0, 1.0)), 5)
    with pytest.raises(ValueError, match="log_values"):
        targets.log_integral(jnp.zeros(4), g)
    with pytest.raises(TypeError, match="grid"):
        targets.kl(jnp.zeros((5, 5)), jnp.zeros((5, 5)), None)
    with pytest.raises(ValueError, match="log_q"):
        targets.kl(jnp.full((5, 5), jnp.nan), jnp.zeros((5, 5)), g)
