"""Tests for vibook.gaussian: the mean-field optimum in closed form, the KL by Monte Carlo.

Bad input: tests/test_bad_input.py.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from vibook import gaussian


@pytest.mark.parametrize("rho", [0.0, 0.5, 0.9, -0.95])
def test_mean_field_closed_form(rho):
    cov = jnp.array([[1.0, rho], [rho, 1.0]]) * jnp.array([[1.0, 2.0], [2.0, 4.0]])   # scales 1, 2
    precision = jnp.linalg.inv(cov)
    mean = jnp.array([1.0, -2.0])
    state, info = gaussian.fit(mean, precision, jnp.array([3.0, 3.0]), 200)
    kl = info.kl
    # The optimum: the right means, variances 1 / Lambda_jj = (1 - rho^2) Sigma_jj.
    np.testing.assert_allclose(state.m, mean, atol=1e-3)
    np.testing.assert_allclose(state.var, (1 - rho**2) * jnp.diag(cov), rtol=1e-4)
    # Residual KL = -0.5 log(1 - rho^2), and the KL never increases.
    assert np.isclose(float(kl[-1]), -0.5 * np.log(1 - rho**2), atol=1e-4)
    assert np.all(np.diff(np.asarray(kl)) <= 1e-5)


def test_kl_against_monte_carlo():
    cov = jnp.array([[1.0, 0.6], [0.6, 2.0]])
    state = gaussian.GaussianState(jnp.array([0.3, -0.4]), jnp.array([0.5, 1.5]))
    m, sd = state.m[None, :], jnp.sqrt(state.var)[None, :]
    z = m + sd * jax.random.normal(jax.random.key(0), (200_000, 2))
    log_q = jnp.sum(jax.scipy.stats.norm.logpdf(z, m, sd), axis=1)
    log_p = stats.multivariate_normal(np.zeros(2), np.asarray(cov)).logpdf(np.asarray(z))
    samples = np.asarray(log_q) - log_p
    exact = float(gaussian.kl(state, jnp.zeros(2), jnp.linalg.inv(cov)))
    assert abs(samples.mean() - exact) < 4 * samples.std() / np.sqrt(samples.size)


def test_step_matches_fit_and_bishops_update():
    precision = jnp.array([[2.0, 0.8], [0.8, 1.0]])
    mean, m0 = jnp.array([0.5, -1.0]), jnp.array([2.0, 2.0])
    state = gaussian.init(mean, precision, m0)
    np.testing.assert_allclose(state.var, 1 / jnp.diag(precision))
    state, info = gaussian.step(state, mean, precision)
    # Bishop (2006), eq. 10.13, coordinate 1 then coordinate 2, with numpy.
    m1 = 0.5 - 0.8 / 2.0 * (2.0 - (-1.0))
    m2 = -1.0 - 0.8 / 1.0 * (m1 - 0.5)
    np.testing.assert_allclose(state.m, [m1, m2], rtol=1e-6)
    _, fit_info = gaussian.fit(mean, precision, m0, 1)
    np.testing.assert_allclose(fit_info.kl, [info.kl], rtol=1e-6)
