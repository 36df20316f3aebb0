"""Tests for vibook.mixture: a Monte Carlo ELBO, fixed points, monotone CAVI.

Bad input: tests/test_bad_input.py.
"""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from jax import enable_x64

from vibook import mixture


def _blobs(seed, n=120, d=2, k=3, spread=4.0):
    """Points around k random centres (plain JAX, independent of vibook.data)."""
    key_c, key_l, key_x = jax.random.split(jax.random.key(seed), 3)
    centres = spread * jax.random.normal(key_c, (k, d))
    labels = jax.random.randint(key_l, (n,), 0, k)
    return centres[labels] + jax.random.normal(key_x, (n, d))


@settings(max_examples=15, deadline=None)
@given(data_seed=st.integers(0, 10_000), fit_seed=st.integers(0, 10_000),
       k=st.integers(1, 5), d=st.integers(1, 3), prior_scale=st.floats(0.5, 10.0))
def test_elbo_never_decreases(data_seed, fit_seed, k, d, prior_scale):
    with enable_x64():
        x = _blobs(data_seed, n=60, d=d, k=3).astype(jnp.float64)
        state, info = mixture.fit(jax.random.key(fit_seed), x, k, prior_scale, 25)
        trace = info.elbo
        assert trace.dtype == jnp.float64
        assert np.all(np.diff(np.asarray(trace)) >= -1e-9 * np.abs(np.asarray(trace[1:])))
        assert np.allclose(state.phi.sum(axis=1), 1.0)


def test_elbo_matches_monte_carlo():
    x = _blobs(0, n=80)
    prior_scale = 3.0
    state, _ = mixture.fit(jax.random.key(1), x, 3, prior_scale, 5)
    # Perturb phi away from the optimum so every term of the ELBO matters.
    phi = 0.7 * state.phi + 0.3 / 3
    state = state._replace(phi=phi)
    exact = float(mixture.elbo(state, x, prior_scale))

    def one_sample(key):
        key_mu, key_c = jax.random.split(key)
        mu = state.m + jnp.sqrt(state.s2)[:, None] * jax.random.normal(key_mu, state.m.shape)
        c = jax.random.categorical(key_c, jnp.log(state.phi))                 # (N,)
        log_p = (jnp.sum(jax.scipy.stats.norm.logpdf(mu, 0.0, prior_scale))
                 - x.shape[0] * jnp.log(3.0)
                 + jnp.sum(jax.scipy.stats.norm.logpdf(x, mu[c], 1.0)))
        log_q = (jnp.sum(jax.scipy.stats.norm.logpdf(mu, state.m, jnp.sqrt(state.s2)[:, None]))
                 + jnp.sum(jnp.log(state.phi[jnp.arange(x.shape[0]), c])))
        return log_p - log_q

    samples = np.asarray(jax.vmap(one_sample)(jax.random.split(jax.random.key(2), 20_000)))
    se = samples.std() / np.sqrt(samples.size)
    assert abs(samples.mean() - exact) < 4 * se + 1e-3 * abs(exact)


def test_fixed_point_and_clusters():
    centres = jnp.array([[-4.0, 0.0], [4.0, 0.0], [0.0, 5.0]])
    labels = jnp.repeat(jnp.arange(3), 50)
    x = centres[labels] + jax.random.normal(jax.random.key(0), (150, 2))
    state, _ = mixture.fit(jax.random.key(3), x, 3, 10.0, 50)
    # At convergence the updates leave the state unchanged.
    phi = mixture.update_local(state.m, state.s2, x)
    m, s2 = mixture.update_global(phi, x, 10.0)
    np.testing.assert_allclose(phi, state.phi, atol=1e-4)
    np.testing.assert_allclose(m, state.m, atol=1e-4)
    # Each true centre is recovered by one component, to within a few standard errors.
    dist = jnp.linalg.norm(centres[:, None, :] - state.m[None], axis=-1)     # (3, K)
    assert np.all(np.min(np.asarray(dist), axis=1) < 0.6)
    # Hard assignments match the generating labels up to relabelling.
    hard = np.asarray(jnp.argmax(state.phi, axis=1))
    agree = max(np.mean(hard == perm[np.asarray(labels)]) for perm in
                map(np.array, itertools.permutations(range(3))))
    assert agree > 0.95


def test_global_scale_equals_replicated_data():
    x = _blobs(4, n=30)
    phi = mixture.update_local(x[:3], jnp.ones(3), x)
    m2, s22 = mixture.update_global(phi, x, 2.0, scale=2.0)
    m_rep, s2_rep = mixture.update_global(jnp.concatenate([phi, phi]), jnp.concatenate([x, x]), 2.0)
    np.testing.assert_allclose(m2, m_rep, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(s22, s2_rep, rtol=1e-6)


def test_local_is_stable_far_away():
    x = jnp.array([[1e3, 1e3], [-1e3, 0.0]])
    phi = mixture.update_local(jnp.array([[0.0, 0.0], [5.0, 5.0]]), jnp.ones(2), x)
    assert np.all(np.isfinite(phi))
    np.testing.assert_allclose(phi.sum(axis=1), 1.0, rtol=1e-6)


def test_step_by_hand_matches_fit_and_jit():
    x = _blobs(5, n=50)
    state = mixture.init(jax.random.key(1), x, 3, 2.0)
    by_hand = []
    step = jax.jit(mixture.step)                      # checks see tracers: shapes only
    for _ in range(5):
        state, info = step(state, x, 2.0)
        assert isinstance(info, mixture.MixtureInfo)
        by_hand.append(float(info.elbo))
    fitted, info = mixture.fit(jax.random.key(1), x, 3, 2.0, 5)
    assert info.elbo.shape == (5,)
    np.testing.assert_allclose(info.elbo, by_hand, rtol=1e-6)
    np.testing.assert_allclose(fitted.m, state.m, atol=1e-6)
    assert float(mixture.elbo(fitted, x, 2.0)) == pytest.approx(by_hand[-1], rel=1e-6)


def test_step_refuses_nan_also_under_jit():
    """The value checks of step run on the device under jit (vibook._checks.check)."""
    x = _blobs(6, n=30)
    state = mixture.init(jax.random.key(0), x, 2, 1.0)
    bad = x.at[0, 0].set(jnp.nan)
    with pytest.raises(ValueError, match="x must not contain NaN"):
        mixture.step(state, bad, 1.0)
    with pytest.raises(Exception, match="ELBO after this step is NaN or inf: x or state"):
        jax.block_until_ready(jax.jit(mixture.step)(state, bad, 1.0))
