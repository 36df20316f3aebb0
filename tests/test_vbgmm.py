"""Tests for vibook.vbgmm: scikit-learn from the same start, a Monte Carlo ELBO, monotone CAVI.

scikit-learn's ``BayesianGaussianMixture`` is started from our responsibilities
by :func:`vibook.vbgmm.sklearn_fit` (one private scikit-learn hook, in
``vibook/_sklearn.py``); everything after that is scikit-learn's own code.
Bad input: tests/test_bad_input.py.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from jax import enable_x64
from scipy import stats
from scipy.special import gammaln, multigammaln

from vibook import data, vbgmm


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
        num_steps = 60
        start = vbgmm.init(jax.random.key(0), x, k, prior)
        state, info = vbgmm.fit(jax.random.key(0), x, k, prior, num_steps)
        trace = info.elbo
        gm = vbgmm.sklearn_fit(x, prior, start.resp, num_steps)
        assert gm.n_iter_ == num_steps and gm.tol == 0.0 and gm.reg_covar == 0.0
        np.testing.assert_allclose(gm.covariance_prior_, np.linalg.inv(np.asarray(prior.scale)))
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


@pytest.mark.float32   # a float32 run by design
def test_float32_agrees_with_sklearn():
    x = data.standardize(data.old_faithful())
    prior = vbgmm.VBGMMPrior(1e-3, 1.0, jnp.zeros(2), 2.0, jnp.eye(2))
    start = vbgmm.init(jax.random.key(0), x, 6, prior)
    state, _ = vbgmm.fit(jax.random.key(0), x, 6, prior, 100)
    gm = vbgmm.sklearn_fit(x, prior, start.resp, 100)
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
        resp = jnp.asarray(np.random.default_rng(3).dirichlet(np.ones(3), size=40))  # (40, 3)
        state = vbgmm.update_global(x, resp, prior)
        state = state._replace(resp=0.6 * resp + 0.4 / 3)                # off the optimum
        exact = float(vbgmm.elbo(state, x, prior))
        r, alpha, beta, m, nu, w = (np.asarray(a) for a in state)
        a0, b0, nu0 = float(prior.concentration), float(prior.mean_precision), float(prior.dof)
        m0, w0 = np.asarray(prior.mean), np.asarray(prior.scale)
        xs = np.asarray(x)
        rng = np.random.default_rng(0)
        samples = []
        for _ in range(1000):
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
        state, info = vbgmm.fit(jax.random.key(fit_seed), x, k, prior, 30)
        trace = np.asarray(info.elbo)
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
    step = jax.jit(vbgmm.step)                        # checks see tracers: shapes only
    for _ in range(5):
        s, info = step(s, x, prior)
        assert isinstance(info, vbgmm.VBGMMInfo)
        by_hand.append(float(info.elbo))
    fitted, info = vbgmm.fit(jax.random.key(1), x, 3, prior, 5)
    np.testing.assert_allclose(info.elbo, by_hand, rtol=1e-5)
    np.testing.assert_allclose(fitted.mean, s.mean, atol=1e-5)


def test_far_away_points_are_stable():
    x = jnp.array([[1e3, 1e3], [-1e3, 0.0], [0.0, 1.0], [1.0, 0.0]])
    state, info = vbgmm.fit(jax.random.key(0), x, 2, _prior(2), 5)
    assert np.all(np.isfinite(np.asarray(info.elbo)))
    np.testing.assert_allclose(np.sum(state.resp, axis=1), 1.0, rtol=1e-6)


# ------------------------------------------------------------ expectations ---

def test_expected_logs_against_monte_carlo():
    """E[ln pi_k] under Dir(alpha) and E[ln |Lambda_k|] under W(W_k, nu_k), sampled with scipy."""
    x = _blobs(3, n=40)
    state, _ = vbgmm.fit(jax.random.key(2), x, 3, _prior(2), 3)
    rng = np.random.default_rng(0)
    pis = stats.dirichlet(np.asarray(state.concentration, np.float64)).rvs(200_000, random_state=rng)
    log_pi = np.log(pis)
    se = log_pi.std(axis=0) / np.sqrt(len(pis))
    assert np.all(np.abs(log_pi.mean(axis=0) - np.asarray(vbgmm.expected_log_weights(state)))
                  < 4 * se + 1e-5)
    exact = np.asarray(vbgmm.expected_log_det_precision(state))
    for k in range(3):
        lam = stats.wishart(df=float(state.dof[k]), scale=np.asarray(state.scale[k], np.float64)
                            ).rvs(50_000, random_state=rng)
        log_det = np.linalg.slogdet(lam)[1]
        assert abs(log_det.mean() - exact[k]) < 4 * log_det.std() / np.sqrt(log_det.size) + 1e-4
    np.testing.assert_allclose(vbgmm.expected_weights(state),
                               state.concentration / state.concentration.sum(), rtol=1e-6)


def test_elbo_is_invariant_to_relabelling_the_components():
    """Label switching: permuting the components gives another q with the same ELBO."""
    x = _blobs(4)
    prior = _prior(2)
    state, info = vbgmm.fit(jax.random.key(1), x, 3, prior, 30)
    perm = np.array([2, 0, 1])
    relabelled = vbgmm.VBGMMState(state.resp[:, perm], *(field[perm] for field in state[1:]))
    assert not np.allclose(relabelled.mean, state.mean)
    assert np.isclose(float(vbgmm.elbo(relabelled, x, prior)), float(info.elbo[-1]), rtol=1e-6)
    # The local step commutes with relabelling.
    assert np.allclose(vbgmm.update_local(relabelled, x), vbgmm.update_local(state, x)[:, perm], atol=1e-6)
