"""vibook.divergences: closed forms against Monte Carlo and scipy; properties with hypothesis."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from scipy import integrate, stats

from vibook import divergences

KEY = jax.random.key(0)
locs = st.floats(-5, 5)
scales = st.floats(0.1, 5)


def test_kl_normal_against_quad_and_monte_carlo():
    p, q = stats.norm(0.5, 0.8), stats.norm(-1.0, 2.0)
    by_quad, _ = integrate.quad(lambda z: p.pdf(z) * (p.logpdf(z) - q.logpdf(z)), -np.inf, np.inf)
    closed = divergences.kl_normal(0.5, 0.8, -1.0, 2.0)
    np.testing.assert_allclose(closed, by_quad, rtol=1e-5)
    est, se = divergences.kl_monte_carlo(
        KEY, lambda k, n: 0.5 + 0.8 * jax.random.normal(k, (n,)),
        lambda z: jax.scipy.stats.norm.logpdf(z, 0.5, 0.8),
        lambda z: jax.scipy.stats.norm.logpdf(z, -1.0, 2.0), 20_000)
    assert abs(float(est) - float(closed)) < 4 * float(se)


def test_kl_exponential_against_quad():
    a, b = 1.7, 0.6
    by_quad, _ = integrate.quad(
        lambda z: stats.expon.pdf(z, scale=1 / a) * (stats.expon.logpdf(z, scale=1 / a)
                                                     - stats.expon.logpdf(z, scale=1 / b)), 0, np.inf)
    np.testing.assert_allclose(divergences.kl_exponential(a, b), by_quad, rtol=1e-5)


def test_kl_grid_matches_closed_form_and_is_asymmetric():
    grid = jnp.linspace(-15.0, 15.0, 3001)
    log_p = jax.scipy.stats.norm.logpdf(grid, 0.5, 0.8)
    log_q = jax.scipy.stats.norm.logpdf(grid, -1.0, 2.0) + 7.0      # unnormalised is fine
    np.testing.assert_allclose(divergences.kl_grid(log_p, log_q, grid),
                               divergences.kl_normal(0.5, 0.8, -1.0, 2.0), rtol=1e-4)
    np.testing.assert_allclose(divergences.kl_grid(log_q, log_p, grid),
                               divergences.kl_normal(-1.0, 2.0, 0.5, 0.8), rtol=1e-4)
    assert abs(float(divergences.kl_grid(log_p, log_q, grid) - divergences.kl_grid(log_q, log_p, grid))) > 0.1


def test_kl_grid_is_infinite_when_q_misses_mass():
    grid = jnp.linspace(-3.0, 3.0, 61)
    log_q = jnp.where(grid > 0, 0.0, -jnp.inf)
    assert float(divergences.kl_grid(jnp.zeros(61), log_q, grid)) == np.inf


@settings(max_examples=50, deadline=None)
@given(locs, scales, locs, scales)
def test_kl_normal_nonnegative_and_zero_on_itself(m1, s1, m2, s2):
    assert float(divergences.kl_normal(m1, s1, m2, s2)) >= -1e-6
    assert abs(float(divergences.kl_normal(m1, s1, m1, s1))) < 1e-6


@settings(max_examples=50, deadline=None)
@given(st.floats(0.05, 20), st.floats(0.05, 20))
def test_kl_exponential_nonnegative_and_zero_on_itself(a, b):
    assert float(divergences.kl_exponential(a, b)) >= -1e-6
    assert abs(float(divergences.kl_exponential(a, a))) < 1e-6


def test_bad_input():
    with pytest.raises(ValueError, match="scale_q"):
        divergences.kl_normal(0.0, 1.0, 0.0, -1.0)
    with pytest.raises(ValueError, match="shape"):
        divergences.kl_normal(jnp.zeros(2), jnp.ones(3), jnp.zeros(2), jnp.ones(2))
    with pytest.raises(ValueError, match="rate_p"):
        divergences.kl_exponential(0.0, 1.0)
    with pytest.raises(ValueError, match="num_samples"):
        divergences.kl_monte_carlo(KEY, None, None, None, 1)
    with pytest.raises(TypeError, match="key"):
        divergences.kl_monte_carlo(0, lambda k, n: k, abs, abs, 10)
    with pytest.raises(TypeError, match="sample_p"):
        divergences.kl_monte_carlo(KEY, None, abs, abs, 10)
    with pytest.raises(ValueError, match="log_q"):
        divergences.kl_grid(jnp.zeros(5), jnp.zeros(4), jnp.linspace(0.0, 1.0, 5))
    with pytest.raises(ValueError, match="grid"):
        divergences.kl_grid(jnp.zeros(5), jnp.zeros(5), jnp.zeros(5))
    with pytest.raises(ValueError, match="log_p"):
        divergences.kl_grid(jnp.full(5, -jnp.inf), jnp.zeros(5), jnp.linspace(0.0, 1.0, 5))


def test_closed_over_arrays_under_jit():
    # Concrete arrays captured by a jitted function are checked, not traced.
    grid = jnp.linspace(-15.0, 15.0, 3001)
    log_p = jax.scipy.stats.norm.logpdf(grid, 0.5, 0.8)
    scale = jnp.array(2.0)
    by_grid = jax.jit(lambda m: divergences.kl_grid(
        log_p, jax.scipy.stats.norm.logpdf(grid, m, scale), grid))(-1.0)
    closed = jax.jit(lambda m: divergences.kl_normal(0.5, 0.8, m, scale))(-1.0)
    np.testing.assert_allclose(by_grid, divergences.kl_normal(0.5, 0.8, -1.0, 2.0), rtol=1e-4)
    np.testing.assert_allclose(closed, divergences.kl_normal(0.5, 0.8, -1.0, 2.0), rtol=1e-6)
