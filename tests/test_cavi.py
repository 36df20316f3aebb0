"""Tests for vibook.cavi: fixed points, exact posteriors, monotone ELBOs, bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from jax import enable_x64
from jax.scipy.special import gammaln
from scipy import stats

from vibook import cavi


def _blobs(seed, n=120, d=2, k=3, spread=4.0):
    """Points around k random centres (plain JAX, independent of vibook.data)."""
    key_c, key_l, key_x = jax.random.split(jax.random.key(seed), 3)
    centres = spread * jax.random.normal(key_c, (k, d))
    labels = jax.random.randint(key_l, (n,), 0, k)
    return centres[labels] + jax.random.normal(key_x, (n, d))


# ----------------------------------------------------------------- mixture ---

@settings(max_examples=15, deadline=None)
@given(data_seed=st.integers(0, 10_000), fit_seed=st.integers(0, 10_000),
       k=st.integers(1, 5), d=st.integers(1, 3), prior_scale=st.floats(0.5, 10.0))
def test_mixture_elbo_never_decreases(data_seed, fit_seed, k, d, prior_scale):
    with enable_x64():
        x = _blobs(data_seed, n=60, d=d, k=3).astype(jnp.float64)
        state, trace = cavi.mixture_fit(jax.random.key(fit_seed), x, k, prior_scale, 25)
        assert trace.dtype == jnp.float64
        assert np.all(np.diff(np.asarray(trace)) >= -1e-9 * np.abs(np.asarray(trace[1:])))
        assert np.allclose(state.phi.sum(axis=1), 1.0)


def test_mixture_elbo_matches_monte_carlo():
    x = _blobs(0, n=80)
    prior_scale = 3.0
    state, _ = cavi.mixture_fit(jax.random.key(1), x, 3, prior_scale, 5)
    # Perturb phi away from the optimum so every term of the ELBO matters.
    phi = 0.7 * state.phi + 0.3 / 3
    state = state._replace(phi=phi)
    exact = float(cavi.mixture_elbo(state, x, prior_scale))

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


def test_mixture_fixed_point_and_clusters():
    centres = jnp.array([[-4.0, 0.0], [4.0, 0.0], [0.0, 5.0]])
    labels = jnp.repeat(jnp.arange(3), 50)
    x = centres[labels] + jax.random.normal(jax.random.key(0), (150, 2))
    state, trace = cavi.mixture_fit(jax.random.key(3), x, 3, 10.0, 50)
    # At convergence the updates leave the state unchanged.
    phi = cavi.mixture_local(state.m, state.s2, x)
    m, s2 = cavi.mixture_global(phi, x, 10.0)
    np.testing.assert_allclose(phi, state.phi, atol=1e-4)
    np.testing.assert_allclose(m, state.m, atol=1e-4)
    # Each true centre is recovered by one component, to within a few standard errors.
    dist = jnp.linalg.norm(centres[:, None, :] - state.m[None], axis=-1)     # (3, K)
    assert np.all(np.min(np.asarray(dist), axis=1) < 0.6)
    # Hard assignments match the generating labels up to relabelling.
    hard = np.asarray(jnp.argmax(state.phi, axis=1))
    agree = max(np.mean(hard == perm[np.asarray(labels)]) for perm in
                map(np.array, __import__("itertools").permutations(range(3))))
    assert agree > 0.95


def test_mixture_global_scale_equals_replicated_data():
    x = _blobs(4, n=30)
    phi = cavi.mixture_local(x[:3], jnp.ones(3), x)
    m2, s22 = cavi.mixture_global(phi, x, 2.0, scale=2.0)
    m_rep, s2_rep = cavi.mixture_global(jnp.concatenate([phi, phi]), jnp.concatenate([x, x]), 2.0)
    np.testing.assert_allclose(m2, m_rep, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(s22, s2_rep, rtol=1e-6)


def test_mixture_local_is_stable_far_away():
    x = jnp.array([[1e3, 1e3], [-1e3, 0.0]])
    phi = cavi.mixture_local(jnp.array([[0.0, 0.0], [5.0, 5.0]]), jnp.ones(2), x)
    assert np.all(np.isfinite(phi))
    np.testing.assert_allclose(phi.sum(axis=1), 1.0, rtol=1e-6)


def test_mixture_bad_input():
    x = _blobs(0, n=20)
    key = jax.random.key(0)
    with pytest.raises(ValueError, match="x"):
        cavi.mixture_fit(key, x.at[0, 0].set(jnp.nan), 2, 1.0, 5)
    with pytest.raises(ValueError, match="num_components"):
        cavi.mixture_fit(key, x, 21, 1.0, 5)
    with pytest.raises(ValueError, match="prior_scale"):
        cavi.mixture_fit(key, x, 2, 0.0, 5)
    with pytest.raises(ValueError, match="prior_scale"):
        cavi.mixture_fit(key, x, 2, -1.0, 5)
    with pytest.raises(ValueError, match="num_iters"):
        cavi.mixture_fit(key, x, 2, 1.0, 0)
    with pytest.raises(TypeError, match="key"):
        cavi.mixture_fit(0, x, 2, 1.0, 5)
    with pytest.raises(ValueError, match="x"):
        cavi.mixture_fit(key, x[:, 0], 2, 1.0, 5)
    with pytest.raises(ValueError, match="m"):
        cavi.mixture_local(jnp.zeros((2, 3)), jnp.ones(2), x)
    with pytest.raises(ValueError, match="s2"):
        cavi.mixture_local(jnp.zeros((2, 2)), jnp.ones(3), x)
    with pytest.raises(ValueError, match="phi"):
        cavi.mixture_global(jnp.ones((19, 2)) / 2, x, 1.0)
    with pytest.raises(ValueError, match="scale"):
        cavi.mixture_global(jnp.ones((20, 2)) / 2, x, 1.0, scale=0.0)
    state = cavi.mixture_init(key, x, 2, 1.0)
    with pytest.raises(ValueError, match="state.phi"):
        cavi.mixture_elbo(state._replace(phi=state.phi[:5]), x, 1.0)
    with pytest.raises(TypeError, match="state"):
        cavi.mixture_elbo(tuple(state), x, 1.0)


# ------------------------------------------------------------ normal-gamma ---

PRIOR = cavi.NormalGamma(mean=0.0, precision_scale=0.5, shape=2.0, rate=1.0)


def _log_evidence(x, prior):
    """log p(x) of the normal-gamma model in closed form (Murphy 2012, eq. 4.204)."""
    post = cavi.normal_gamma_posterior(x, prior)
    n = x.shape[0]
    return float(gammaln(post.shape) - gammaln(prior.shape) + prior.shape * np.log(prior.rate)
                 - post.shape * np.log(post.rate) + 0.5 * np.log(prior.precision_scale / post.precision_scale)
                 - 0.5 * n * np.log(2 * np.pi))


def test_normal_gamma_satisfies_bishops_fixed_point():
    with enable_x64():
        x = 1.5 + 0.7 * jax.random.normal(jax.random.key(0), (20,), dtype=jnp.float64)
        state, trace = cavi.normal_gamma_fit(x, PRIOR, 50, tau_mean=0.1)
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
        trace = np.asarray(trace)
        assert np.all(np.diff(trace) >= -1e-10)
        assert trace[-1] < _log_evidence(x, PRIOR)


def test_normal_gamma_moments_close_to_exact_for_large_n():
    with enable_x64():
        x = -2.0 + 0.5 * jax.random.normal(jax.random.key(1), (5000,), dtype=jnp.float64)
        state, trace = cavi.normal_gamma_fit(x, PRIOR, 30)
        post = cavi.normal_gamma_posterior(x, PRIOR)
        # Exact marginals: tau ~ Gam(a, b); mu is Student-t with variance b / ((a - 1) lambda).
        exact = dict(mu_mean=post.mean, mu_var=post.rate / ((post.shape - 1) * post.precision_scale),
                     tau_mean=post.shape / post.rate, tau_var=post.shape / post.rate**2)
        approx = dict(mu_mean=state.mu_mean, mu_var=1 / state.mu_precision,
                      tau_mean=state.tau_shape / state.tau_rate, tau_var=state.tau_shape / state.tau_rate**2)
        for name in exact:
            assert np.isclose(float(approx[name]), float(exact[name]), rtol=2e-3), name
        # The gap to the evidence (a KL) shrinks to almost nothing.
        assert 0 < _log_evidence(x, PRIOR) - float(trace[-1]) < 1e-2
        # Sanity: the exact posterior matches scipy's gamma for tau's mean.
        assert np.isclose(stats.gamma(float(post.shape), scale=1 / float(post.rate)).mean(),
                          float(exact["tau_mean"]))


def test_normal_gamma_bad_input():
    x = jnp.array([0.1, 0.5, -0.3])
    with pytest.raises(ValueError, match="x"):
        cavi.normal_gamma_fit(x.at[0].set(jnp.nan), PRIOR, 5)
    with pytest.raises(ValueError, match="x"):
        cavi.normal_gamma_fit(x[None, :], PRIOR, 5)
    for field in ("precision_scale", "shape", "rate"):
        with pytest.raises(ValueError, match=f"prior.{field}"):
            cavi.normal_gamma_fit(x, PRIOR._replace(**{field: 0.0}), 5)
        with pytest.raises(ValueError, match=f"prior.{field}"):
            cavi.normal_gamma_posterior(x, PRIOR._replace(**{field: -1.0}))
    with pytest.raises(TypeError, match="prior"):
        cavi.normal_gamma_fit(x, (0.0, 1.0, 1.0, 1.0), 5)
    with pytest.raises(ValueError, match="tau_mean"):
        cavi.normal_gamma_fit(x, PRIOR, 5, tau_mean=-1.0)


# ------------------------------------------------------- correlated Gaussian ---

@pytest.mark.parametrize("rho", [0.0, 0.5, 0.9, -0.95])
def test_gaussian_mean_field_closed_form(rho):
    cov = jnp.array([[1.0, rho], [rho, 1.0]]) * jnp.array([[1.0, 2.0], [2.0, 4.0]])   # scales 1, 2
    precision = jnp.linalg.inv(cov)
    mean = jnp.array([1.0, -2.0])
    state, kl = cavi.gaussian_fit(mean, precision, jnp.array([3.0, 3.0]), 200)
    # The optimum: the right means, variances 1 / Lambda_jj = (1 - rho^2) Sigma_jj.
    np.testing.assert_allclose(state.m, mean, atol=1e-3)
    np.testing.assert_allclose(state.var, (1 - rho**2) * jnp.diag(cov), rtol=1e-4)
    # Residual KL = -0.5 log(1 - rho^2), and the KL never increases.
    assert np.isclose(float(kl[-1]), -0.5 * np.log(1 - rho**2), atol=1e-4)
    assert np.all(np.diff(np.asarray(kl)) <= 1e-5)


def test_gaussian_kl_against_monte_carlo():
    cov = jnp.array([[1.0, 0.6], [0.6, 2.0]])
    state = cavi.GaussianState(jnp.array([0.3, -0.4]), jnp.array([0.5, 1.5]))
    m, sd = state.m[None, :], jnp.sqrt(state.var)[None, :]
    z = m + sd * jax.random.normal(jax.random.key(0), (200_000, 2))
    log_q = jnp.sum(jax.scipy.stats.norm.logpdf(z, m, sd), axis=1)
    log_p = stats.multivariate_normal(np.zeros(2), np.asarray(cov)).logpdf(np.asarray(z))
    samples = np.asarray(log_q) - log_p
    exact = float(cavi.gaussian_kl(state, jnp.zeros(2), jnp.linalg.inv(cov)))
    assert abs(samples.mean() - exact) < 4 * samples.std() / np.sqrt(samples.size)


def test_gaussian_bad_input():
    mean, precision = jnp.zeros(2), jnp.eye(2)
    with pytest.raises(ValueError, match="precision"):
        cavi.gaussian_fit(mean, jnp.array([[1.0, 2.0], [2.0, 1.0]]), mean, 5)
    with pytest.raises(ValueError, match="symmetric"):
        cavi.gaussian_fit(mean, jnp.array([[1.0, 0.5], [0.0, 1.0]]), mean, 5)
    with pytest.raises(ValueError, match="precision"):
        cavi.gaussian_fit(mean, jnp.eye(3), mean, 5)
    with pytest.raises(ValueError, match="m0"):
        cavi.gaussian_fit(mean, precision, jnp.zeros(3), 5)
    with pytest.raises(ValueError, match="mean"):
        cavi.gaussian_fit(mean.at[0].set(jnp.inf), precision, mean, 5)
