"""Tests for vibook.normal_gamma: Bishop's fixed point, the exact posterior and evidence.

Bad input: tests/test_bad_input.py.
"""

import jax
import jax.numpy as jnp
import numpy as np
from jax import enable_x64
from jax.scipy.special import gammaln
from scipy import stats

from vibook import normal_gamma

PRIOR = normal_gamma.NormalGamma(mean=0.0, precision_scale=0.5, shape=2.0, rate=1.0)


def _log_evidence(x, prior):
    """log p(x) of the normal-gamma model in closed form (Murphy 2012, eq. 4.204)."""
    post = normal_gamma.posterior(x, prior)
    n = x.shape[0]
    return float(gammaln(post.shape) - gammaln(prior.shape) + prior.shape * np.log(prior.rate)
                 - post.shape * np.log(post.rate) + 0.5 * np.log(prior.precision_scale / post.precision_scale)
                 - 0.5 * n * np.log(2 * np.pi))


def test_satisfies_bishops_fixed_point():
    with enable_x64():
        x = 1.5 + 0.7 * jax.random.normal(jax.random.key(0), (20,), dtype=jnp.float64)
        state, info = normal_gamma.fit(x, PRIOR, 50, tau_mean=0.1)
        xs, n = np.asarray(x), 20
        mu0, lam0, a0, b0 = PRIOR
        e_tau = float(state.tau_shape / state.tau_rate)
        # Bishop (2006), eqs. 10.26, 10.27, 10.29, 10.30, written out with numpy.
        assert np.isclose(float(state.mu_mean), (lam0 * mu0 + xs.sum()) / (lam0 + n), rtol=1e-12)
        assert np.isclose(float(state.mu_precision), (lam0 + n) * e_tau, rtol=1e-10)
        assert np.isclose(float(state.tau_shape), a0 + (n + 1) / 2)
        m, v = float(state.mu_mean), 1 / float(state.mu_precision)
        b_n = b0 + 0.5 * (np.sum(xs**2) - 2 * m * xs.sum() + n * (m**2 + v)
                          + lam0 * (m**2 + v - 2 * mu0 * m + mu0**2))
        assert np.isclose(float(state.tau_rate), b_n, rtol=1e-10)
        # Monotone ELBO, below the exact log evidence.
        trace = np.asarray(info.elbo)
        assert np.all(np.diff(trace) >= -1e-10)
        assert trace[-1] < _log_evidence(x, PRIOR)


def test_moments_close_to_exact_for_large_n():
    with enable_x64():
        x = -2.0 + 0.5 * jax.random.normal(jax.random.key(1), (5000,), dtype=jnp.float64)
        state, info = normal_gamma.fit(x, PRIOR, 30)
        post = normal_gamma.posterior(x, PRIOR)
        # Exact marginals: tau ~ Gam(a, b); mu is Student-t with variance b / ((a - 1) lambda).
        exact = dict(mu_mean=post.mean, mu_var=post.rate / ((post.shape - 1) * post.precision_scale),
                     tau_mean=post.shape / post.rate, tau_var=post.shape / post.rate**2)
        approx = dict(mu_mean=state.mu_mean, mu_var=1 / state.mu_precision,
                      tau_mean=state.tau_shape / state.tau_rate, tau_var=state.tau_shape / state.tau_rate**2)
        for name in exact:
            assert np.isclose(float(approx[name]), float(exact[name]), rtol=2e-3), name
        # The gap to the evidence (a KL) shrinks to almost nothing.
        assert 0 < _log_evidence(x, PRIOR) - float(info.elbo[-1]) < 1e-2
        # Sanity: the exact posterior matches scipy's gamma for tau's mean.
        assert np.isclose(stats.gamma(float(post.shape), scale=1 / float(post.rate)).mean(),
                          float(exact["tau_mean"]))


def test_step_matches_fit_and_the_updates():
    x = 0.3 + jax.random.normal(jax.random.key(2), (15,))
    state = normal_gamma.init(x, PRIOR, tau_mean=0.5)
    for _ in range(3):
        a, b = normal_gamma.update_tau(state.mu_mean, state.mu_precision, x, PRIOR)
        m, ell = normal_gamma.update_mu(a / b, x, PRIOR)
        state, info = normal_gamma.step(state, x, PRIOR)
        np.testing.assert_allclose([m, ell, a, b], list(state), rtol=1e-6)
    fitted, fit_info = normal_gamma.fit(x, PRIOR, 3, tau_mean=0.5)
    np.testing.assert_allclose(fit_info.elbo[-1], info.elbo, rtol=1e-6)
    np.testing.assert_allclose(normal_gamma.elbo(fitted, x, PRIOR), info.elbo, rtol=1e-6)


def test_fixed_point_matches_the_exact_posterior_mean_precision_and_jensen_ratio():
    """At the CAVI fixed point E_q[tau] = a'/b' exactly and Var_q(mu) / Var_p(mu) = (a' - 1)/a'.

    Both sides in closed form from the exact posterior (scipy's gamma moments), not from vibook's CAVI.
    """
    with enable_x64():
        for n, seed in [(5, 1), (10, 2), (40, 3)]:
            x = 0.3 + 1.3 * jax.random.normal(jax.random.key(seed), (n,), dtype=jnp.float64)
            state, _ = normal_gamma.fit(x, PRIOR, 200, tau_mean=0.1)
            post = normal_gamma.posterior(x, PRIOR)
            a, b, lam = float(post.shape), float(post.rate), float(post.precision_scale)
            gamma = stats.gamma(a, scale=1 / b)
            assert np.isclose(float(state.tau_shape / state.tau_rate), gamma.mean(), rtol=1e-10)
            e_inv_tau = gamma.expect(lambda t: 1 / t)                      # E_p[1/tau], by quadrature
            var_p = e_inv_tau / lam                                        # Var_p(mu)
            var_q = 1 / float(state.mu_precision)
            assert np.isclose(var_q / var_p, (a - 1) / a, rtol=1e-7)
            assert var_q / var_p < 1                                       # Jensen
