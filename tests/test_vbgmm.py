"""Tests for vibook.vbgmm: scikit-learn from the same start, a Monte Carlo ELBO, monotone CAVI, bad input.

scikit-learn's ``BayesianGaussianMixture`` starts by an M-step from a matrix of
responsibilities that its ``init_params`` options draw themselves. To start it
from ours, a three-line subclass overrides ``_initialize_parameters`` (the
method that draws them) to pass ``init_resp`` to ``_initialize`` instead;
everything after that (the priors, the E- and M-steps, ``max_iter`` with
``tol=0``) is scikit-learn's own code.
"""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from jax import enable_x64
from scipy import stats
from scipy.special import gammaln, multigammaln
from sklearn.mixture import BayesianGaussianMixture

from vibook import data, vbgmm


class _FromResp(BayesianGaussianMixture):
    """BayesianGaussianMixture whose first M-step uses ``self.init_resp``."""

    def _initialize_parameters(self, X, random_state, xp=None):
        self._initialize(X, self.init_resp)


def _sklearn_fit(x, prior, resp, num_iters):
    gm = _FromResp(n_components=resp.shape[1], covariance_type="full",
                   weight_concentration_prior_type="dirichlet_distribution",
                   weight_concentration_prior=float(prior.concentration),
                   mean_precision_prior=float(prior.mean_precision), mean_prior=np.asarray(prior.mean),
                   degrees_of_freedom_prior=float(prior.dof),
                   covariance_prior=np.linalg.inv(np.asarray(prior.scale)),
                   reg_covar=0.0, tol=0.0, max_iter=num_iters)
    gm.init_resp = np.asarray(resp, np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")           # ConvergenceWarning: we stop on purpose
        return gm.fit(np.asarray(x, np.float64))


def _blobs(seed, n=80, d=2, k=3, spread=4.0):
    """Points around k random centres with random scales (plain JAX, independent of vibook.data)."""
    key_c, key_l, key_s, key_x = jax.random.split(jax.random.key(seed), 4)
    centres = spread * jax.random.normal(key_c, (k, d))
    labels = jax.random.randint(key_l, (n,), 0, k)
    scales = jnp.exp(0.5 * jax.random.normal(key_s, (k, 1)))
    return centres[labels] + scales[labels] * jax.random.normal(key_x, (n, d))


def _prior(d, concentration=0.5, mean_precision=0.7, dof=None, offset=0.3):
    scale = jnp.eye(d) + 0.3 * (jnp.ones((d, d)) - jnp.eye(d))          # correlated W0
    return vbgmm.VBGMMPrior(concentration, mean_precision, offset * jnp.arange(d, dtype=float),
                            d + 0.5 if dof is None else dof, 0.5 * scale)


# ----------------------------------------------------------- scikit-learn ---

@pytest.mark.parametrize("case", ["faithful", "blobs-3d"])
def test_agrees_with_sklearn_from_the_same_start(case):
    with enable_x64():
        if case == "faithful":
            x, k, prior = data.standardize(data.old_faithful()).astype(jnp.float64), 6, \
                vbgmm.VBGMMPrior(1e-3, 1.0, jnp.zeros(2), 2.0, jnp.eye(2))
        else:
            x, k, prior = _blobs(1, n=150, d=3).astype(jnp.float64), 4, _prior(3)
        num_iters = 60
        start = vbgmm.init(jax.random.key(0), x, k, prior)
        state, trace = vbgmm.fit(jax.random.key(0), x, k, prior, num_iters)
        gm = _sklearn_fit(x, prior, start.resp, num_iters)
        np.testing.assert_allclose(state.concentration, gm.weight_concentration_, rtol=1e-8, atol=1e-9)
        np.testing.assert_allclose(state.mean_precision, gm.mean_precision_, rtol=1e-8)
        np.testing.assert_allclose(state.dof, gm.degrees_of_freedom_, rtol=1e-8)
        np.testing.assert_allclose(state.mean, gm.means_, atol=1e-8)
        np.testing.assert_allclose(vbgmm.expected_covariances(state), gm.covariances_, atol=1e-8)
        np.testing.assert_allclose(vbgmm.expected_weights(state),
                                   gm.weight_concentration_ / gm.weight_concentration_.sum(), atol=1e-10)
        # The next q(z) is scikit-learn's predict_proba.
        np.testing.assert_allclose(vbgmm.update_local(state, x), gm.predict_proba(np.asarray(x)), atol=1e-8)
        assert np.all(np.diff(np.asarray(trace)) >= -1e-9 * np.abs(np.asarray(trace[1:])))


def test_float32_agrees_with_sklearn():
    x = data.standardize(data.old_faithful())
    prior = vbgmm.VBGMMPrior(1e-3, 1.0, jnp.zeros(2), 2.0, jnp.eye(2))
    start = vbgmm.init(jax.random.key(0), x, 6, prior)
    state, _ = vbgmm.fit(jax.random.key(0), x, 6, prior, 100)
    gm = _sklearn_fit(x, prior, start.resp, 100)
    assert state.mean.dtype == jnp.float32
    np.testing.assert_allclose(vbgmm.expected_weights(state),
                               gm.weight_concentration_ / gm.weight_concentration_.sum(), atol=1e-5)
    np.testing.assert_allclose(state.mean, gm.means_, atol=1e-4)
    np.testing.assert_allclose(vbgmm.expected_covariances(state), gm.covariances_, atol=1e-4)


# ------------------------------------------------------------------ ELBO ---

def test_elbo_matches_monte_carlo():
    """Sample pi, mu, Lambda from q with scipy and average log p - log q (z summed exactly)."""
    with enable_x64():
        x = _blobs(2, n=40).astype(jnp.float64)
        prior = _prior(2)
        state, _ = vbgmm.fit(jax.random.key(3), x, 3, prior, 3)
        state = state._replace(resp=0.6 * state.resp + 0.4 / 3)          # off the optimum
        exact = float(vbgmm.elbo(state, x, prior))
        r, alpha, beta, m, nu, w = (np.asarray(a) for a in state)
        a0, b0, nu0 = float(prior.concentration), float(prior.mean_precision), float(prior.dof)
        m0, w0 = np.asarray(prior.mean), np.asarray(prior.scale)
        xs = np.asarray(x)
        rng = np.random.default_rng(0)
        samples = []
        for _ in range(3000):
            pi = rng.dirichlet(alpha)
            value = stats.dirichlet(np.full(3, a0)).logpdf(pi) - stats.dirichlet(alpha).logpdf(pi)
            log_lik = np.empty((xs.shape[0], 3))
            for k in range(3):
                lam = stats.wishart(df=float(nu[k]), scale=w[k]).rvs(random_state=rng)
                mu = rng.multivariate_normal(m[k], np.linalg.inv(beta[k] * lam))
                value += (stats.multivariate_normal(m0, np.linalg.inv(b0 * lam)).logpdf(mu)
                          + stats.wishart(df=nu0, scale=w0).logpdf(lam)
                          - stats.multivariate_normal(m[k], np.linalg.inv(beta[k] * lam)).logpdf(mu)
                          - stats.wishart(df=float(nu[k]), scale=w[k]).logpdf(lam))
                log_lik[:, k] = np.log(pi[k]) + stats.multivariate_normal(mu, np.linalg.inv(lam)).logpdf(xs)
            samples.append(value + np.sum(r * (log_lik - np.log(r))))
        samples = np.array(samples)
        se = samples.std() / np.sqrt(samples.size)
        assert abs(samples.mean() - exact) < 4 * se


def _log_marginal_normal_wishart(x, prior):
    """log p(x) of i.i.d. Gaussian data under the normal-Wishart prior (Murphy 2007, eq. 266)."""
    n, d = x.shape
    beta0, m0, nu0 = float(prior.mean_precision), np.asarray(prior.mean), float(prior.dof)
    t0 = np.linalg.inv(np.asarray(prior.scale))                          # W0^{-1}
    xbar = x.mean(axis=0) if n else m0
    tn = t0 + (x - xbar).T @ (x - xbar) + beta0 * n / (beta0 + n) * np.outer(xbar - m0, xbar - m0)
    return (-0.5 * n * d * np.log(np.pi) + multigammaln((nu0 + n) / 2, d) - multigammaln(nu0 / 2, d)
            + 0.5 * nu0 * np.linalg.slogdet(t0)[1] - 0.5 * (nu0 + n) * np.linalg.slogdet(tn)[1]
            + 0.5 * d * np.log(beta0 / (beta0 + n)))


@pytest.mark.parametrize("k", [1, 3])
def test_elbo_is_log_joint_for_a_fixed_labelling(k):
    """With q(z) a point mass on labels z, update_global gives the exact p(pi, mu, Lambda | x, z),
    so the ELBO equals log p(x, z) = log p(z) + sum_k log p(x_k): a Dirichlet-multinomial term
    and a normal-Wishart marginal likelihood per component, both in closed form."""
    with enable_x64():
        x = _blobs(6, n=30, d=2).astype(jnp.float64)
        prior = _prior(2)
        labels = np.arange(30) % k if k > 1 else np.zeros(30, int)
        labels[:4] = 0                                                    # unequal counts
        state = vbgmm.update_global(x, jax.nn.one_hot(labels, k, dtype=jnp.float64), prior)
        a0, counts = float(prior.concentration), np.bincount(labels, minlength=k)
        log_p_z = (gammaln(k * a0) - gammaln(30 + k * a0) + np.sum(gammaln(a0 + counts) - gammaln(a0)))
        log_p_x = sum(_log_marginal_normal_wishart(np.asarray(x)[labels == j], prior) for j in range(k))
        assert np.isclose(float(vbgmm.elbo(state, x, prior)), log_p_z + log_p_x, rtol=1e-12, atol=1e-9)


@settings(max_examples=12, deadline=None)
@given(data_seed=st.integers(0, 10_000), fit_seed=st.integers(0, 10_000), k=st.integers(1, 5),
       d=st.integers(1, 3), log_concentration=st.floats(-3.0, 1.0),
       mean_precision=st.floats(0.1, 10.0), extra_dof=st.floats(0.1, 5.0))
def test_elbo_never_decreases(data_seed, fit_seed, k, d, log_concentration, mean_precision, extra_dof):
    with enable_x64():
        x = _blobs(data_seed, n=50, d=d).astype(jnp.float64)
        prior = _prior(d, 10.0**log_concentration, mean_precision, dof=d - 1 + extra_dof)
        state, trace = vbgmm.fit(jax.random.key(fit_seed), x, k, prior, 30)
        trace = np.asarray(trace)
        assert trace.dtype == np.float64 and np.all(np.isfinite(trace))
        assert np.all(np.diff(trace) >= -1e-9 * np.abs(trace[1:]))
        np.testing.assert_allclose(np.sum(state.resp, axis=1), 1.0)
        np.testing.assert_allclose(np.sum(state.concentration), k * prior.concentration + x.shape[0])


def test_empty_component_gets_the_prior_and_step_matches_fit():
    x = _blobs(5, n=30)
    prior = _prior(2)
    resp = jnp.zeros((30, 3)).at[:, 0].set(0.25).at[:, 1].set(0.75)       # component 2 empty
    state = vbgmm.update_global(x, resp, prior)
    np.testing.assert_allclose(state.concentration[2], prior.concentration)
    np.testing.assert_allclose(state.mean_precision[2], prior.mean_precision)
    np.testing.assert_allclose(state.mean[2], prior.mean, atol=1e-6)
    np.testing.assert_allclose(state.dof[2], prior.dof)
    np.testing.assert_allclose(state.scale[2], prior.scale, rtol=1e-5)
    # Stepping by hand gives the lax.scan trace.
    s = vbgmm.init(jax.random.key(1), x, 3, prior)
    by_hand = []
    for _ in range(5):
        s, value = vbgmm.step(s, x, prior)
        by_hand.append(float(value))
    fitted, trace = vbgmm.fit(jax.random.key(1), x, 3, prior, 5)
    np.testing.assert_allclose(trace, by_hand, rtol=1e-5)
    np.testing.assert_allclose(fitted.mean, s.mean, atol=1e-5)


def test_far_away_points_are_stable():
    x = jnp.array([[1e3, 1e3], [-1e3, 0.0], [0.0, 1.0], [1.0, 0.0]])
    state, trace = vbgmm.fit(jax.random.key(0), x, 2, _prior(2), 5)
    assert np.all(np.isfinite(np.asarray(trace)))
    np.testing.assert_allclose(np.sum(state.resp, axis=1), 1.0, rtol=1e-6)


# ------------------------------------------------------------- bad input ---

def test_bad_input():
    x = _blobs(0, n=20)
    prior = _prior(2)
    key = jax.random.key(0)
    with pytest.raises(ValueError, match="x"):
        vbgmm.fit(key, x.at[3, 1].set(jnp.nan), 2, prior, 5)
    with pytest.raises(ValueError, match="x"):
        vbgmm.fit(key, x[:, 0], 2, prior, 5)
    with pytest.raises(ValueError, match="num_components"):
        vbgmm.fit(key, x, 21, prior, 5)
    with pytest.raises(ValueError, match="num_components"):
        vbgmm.fit(key, x, 0, prior, 5)
    with pytest.raises(ValueError, match="num_iters"):
        vbgmm.fit(key, x, 2, prior, 0)
    with pytest.raises(TypeError, match="key"):
        vbgmm.fit(0, x, 2, prior, 5)
    for field in ("concentration", "mean_precision"):
        for bad in (0.0, -1.0):
            with pytest.raises(ValueError, match=f"prior.{field}"):
                vbgmm.fit(key, x, 2, prior._replace(**{field: bad}), 5)
    with pytest.raises(ValueError, match="prior.dof"):
        vbgmm.fit(key, x, 2, prior._replace(dof=1.0), 5)                # needs > D - 1 = 1
    with pytest.raises(ValueError, match="prior.scale"):
        vbgmm.fit(key, x, 2, prior._replace(scale=jnp.array([[1.0, 2.0], [2.0, 1.0]])), 5)
    with pytest.raises(ValueError, match="symmetric"):
        vbgmm.fit(key, x, 2, prior._replace(scale=jnp.array([[1.0, 0.5], [0.0, 1.0]])), 5)
    with pytest.raises(ValueError, match="prior.scale"):
        vbgmm.fit(key, x, 2, prior._replace(scale=jnp.eye(3)), 5)
    with pytest.raises(ValueError, match="prior.mean"):
        vbgmm.fit(key, x, 2, prior._replace(mean=jnp.zeros(3)), 5)
    with pytest.raises(TypeError, match="prior"):
        vbgmm.fit(key, x, 2, tuple(prior), 5)
    with pytest.raises(ValueError, match="resp"):
        vbgmm.update_global(x, jnp.ones((20, 2)), prior)                # rows sum to 2
    with pytest.raises(ValueError, match="resp"):
        vbgmm.update_global(x, jnp.ones((19, 2)) / 2, prior)
    state = vbgmm.init(key, x, 2, prior)
    with pytest.raises(TypeError, match="state"):
        vbgmm.elbo(tuple(state), x, prior)
    with pytest.raises(ValueError, match="state.resp"):
        vbgmm.step(state._replace(resp=state.resp[:5]), x, prior)
    with pytest.raises(ValueError, match="state.scale"):
        vbgmm.update_local(state._replace(scale=state.scale[:, :1]), x)
