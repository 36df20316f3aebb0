"""Tests for vibook.em: scikit-learn from the same start, monotone log-likelihood, the bound.

Bad input: tests/test_bad_input.py.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from jax import enable_x64
from scipy import stats

from vibook import data, em

BISHOP_START = em.GMMParams(jnp.array([0.5, 0.5]), jnp.array([[-1.0, 1.0], [1.0, -1.0]]),
                            jnp.stack([jnp.eye(2), jnp.eye(2)]))


def _max_diff(params, gm):
    return max(np.max(np.abs(np.asarray(params.weights) - gm.weights_)),
               np.max(np.abs(np.asarray(params.means) - gm.means_)),
               np.max(np.abs(np.asarray(params.covs) - gm.covariances_)))


@pytest.mark.parametrize("num_steps", [1, 2, 5, 20])
def test_fit_gmm_matches_sklearn_old_faithful(num_steps):
    x = data.standardize(data.old_faithful())
    params, log_lik = em.fit_gmm(x, BISHOP_START, num_steps)
    gm = em.sklearn_fit(x, BISHOP_START, num_steps)
    assert gm.n_iter_ == num_steps and gm.max_iter == num_steps and gm.tol == 0.0
    np.testing.assert_allclose(gm.weights_init, BISHOP_START.weights)
    np.testing.assert_allclose(gm.precisions_init, np.linalg.inv(BISHOP_START.covs))
    assert _max_diff(params, gm) < 1e-3
    assert log_lik.shape == (num_steps,)
    # log_lik[-1] is the log-likelihood of the returned parameters = sklearn's score.
    assert abs(float(log_lik[-1]) - gm.score(np.asarray(x, np.float64))) < 1e-4


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fit_gmm_matches_sklearn_k3_with_floor(seed):
    x = data.standardize(data.old_faithful())
    init = em.init_gmm(jax.random.key(seed), x, 3)
    params, _ = em.fit_gmm(x, init, 30, reg_covar=1e-3)
    assert _max_diff(params, em.sklearn_fit(x, init, 30, reg_covar=1e-3)) < 1e-3


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), k=st.integers(1, 4), d=st.integers(1, 3))
def test_log_lik_never_decreases(seed, k, d):
    with enable_x64():
        key_x, key_i = jax.random.split(jax.random.key(seed))
        x = jax.random.normal(key_x, (50, d), dtype=jnp.float64) * jnp.arange(1, d + 1)[None, :]
        x = x.at[:25].add(3.0)
        _, log_lik = em.fit_gmm(x, em.init_gmm(key_i, x, k), 30, reg_covar=1e-6)
        assert log_lik.dtype == jnp.float64
        assert np.all(np.diff(np.asarray(log_lik)) >= -1e-10)


def test_log_joint_against_scipy():
    x = jax.random.normal(jax.random.key(0), (7, 2))
    params = em.GMMParams(jnp.array([0.3, 0.7]), jnp.array([[0.0, 1.0], [-1.0, 0.5]]),
                          jnp.array([[[1.0, 0.3], [0.3, 0.5]], [[2.0, -0.4], [-0.4, 1.0]]]))
    ref = np.stack([np.log(w) + stats.multivariate_normal(m, c).logpdf(np.asarray(x))
                    for w, m, c in zip(*map(np.asarray, params))], axis=1)
    np.testing.assert_allclose(em.log_joint(x, params), ref, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(em.log_likelihood(x, params),
                               np.mean(np.logaddexp(ref[:, 0], ref[:, 1])), rtol=1e-6)


def test_elbo_is_a_bound_tight_at_the_posterior():
    x = data.standardize(data.old_faithful())
    resp = em.responsibilities(x, BISHOP_START)
    bound, log_lik = em.elbo(x, BISHOP_START, resp)
    assert abs(float(bound - log_lik)) < 1e-5
    for seed in range(5):
        other = jax.random.dirichlet(jax.random.key(seed), jnp.ones(2), (x.shape[0],))
        bound, log_lik = em.elbo(x, BISHOP_START, other)
        assert float(bound) < float(log_lik)


def test_m_step_maximises_the_bound():
    """The M-step's parameters beat small perturbations of them at fixed q."""
    x = data.standardize(data.old_faithful())
    resp = em.responsibilities(x, BISHOP_START)
    best = em.m_step(x, resp)
    value = float(em.elbo(x, best, resp)[0])
    for seed in range(5):
        k1, k2 = jax.random.split(jax.random.key(seed))
        moved = best._replace(means=best.means + 0.05 * jax.random.normal(k1, best.means.shape),
                              covs=best.covs * (1 + 0.05 * jax.random.uniform(k2, (2, 1, 1))))
        assert float(em.elbo(x, moved, resp)[0]) < value


def test_init_gmm_picks_data_points():
    x = data.standardize(data.old_faithful())
    init = em.init_gmm(jax.random.key(0), x, 4)
    assert init.means.shape == (4, 2) and init.covs.shape == (4, 2, 2)
    dist = jnp.min(jnp.linalg.norm(x[None, :, :] - init.means[:, None, :], axis=-1), axis=1)
    assert np.all(np.asarray(dist) == 0)
    assert len({tuple(np.asarray(m)) for m in init.means}) == 4
    np.testing.assert_allclose(init.weights, 0.25)


def test_init_step_fit_agree_with_fit_gmm():
    x = data.standardize(data.old_faithful())
    state = em.init(x, BISHOP_START)
    np.testing.assert_allclose(state.log_joint, em.log_joint(x, BISHOP_START), rtol=1e-6)
    step = jax.jit(em.step)                           # checks see tracers: shapes only
    by_hand = []
    for _ in range(4):
        state, info = step(state, x, 1e-3)
        assert isinstance(info, em.EMInfo)
        by_hand.append(float(info.log_likelihood))
    fitted, info = em.fit(x, BISHOP_START, 4, reg_covar=1e-3)
    np.testing.assert_allclose(info.log_likelihood, by_hand, rtol=1e-6)
    params, log_lik = em.fit_gmm(x, BISHOP_START, 4, 1e-3)
    np.testing.assert_array_equal(log_lik, info.log_likelihood)
    for a, b in zip(params, state.params):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    # The objective is a mean per point: the last entry is log_likelihood(x, params).
    np.testing.assert_allclose(log_lik[-1], em.log_likelihood(x, params), rtol=1e-6)


def test_fit_reports_divergence():
    """Two points on a line for one component, no floor: its covariance becomes singular."""
    x = jnp.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [50.0, 50.0], [51.0, 51.0]])
    start = em.GMMParams(jnp.array([0.6, 0.4]), jnp.array([[0.3, 0.3], [50.5, 50.5]]),
                         jnp.stack([jnp.eye(2), jnp.eye(2)]))
    with pytest.raises(FloatingPointError, match="vibook.em.fit diverged.*log_likelihood.*step 0"):
        em.fit(x, start, 5)
    params, _ = em.fit_gmm(x, start, 5, reg_covar=1e-3)                  # a floor rescues it
    assert np.all(np.isfinite(np.asarray(params.covs)))


def test_jitted_step_reports_a_collapse():
    """Under jit the step's own check (on the device) names the remedy, reg_covar."""
    x = jnp.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [50.0, 50.0], [51.0, 51.0]])
    start = em.GMMParams(jnp.array([0.6, 0.4]), jnp.array([[0.3, 0.3], [50.5, 50.5]]),
                         jnp.stack([jnp.eye(2), jnp.eye(2)]))
    with pytest.raises(Exception, match="log-likelihood after this step is NaN.*reg_covar"):
        jax.block_until_ready(jax.jit(em.step)(em.init(x, start), x))


def test_m_step_matches_expected_sufficient_statistics():
    """The M-step is moment matching: E_theta'[T] = E_q[T] for (c_k, c_k x, c_k x x^T)."""
    x = data.standardize(data.old_faithful())
    resp = em.responsibilities(x, BISHOP_START)
    params = em.m_step(x, resp)
    xs, r = np.asarray(x, np.float64), np.asarray(resp, np.float64)
    s0, s1, s2 = r.mean(0), r.T @ xs / len(xs), np.einsum("nk,nd,ne->kde", r, xs, xs) / len(xs)
    # The model's own expected statistics per point, from its parameters.
    w, m, c = (np.asarray(a, np.float64) for a in params)
    assert np.allclose(w, s0, atol=1e-6)
    assert np.allclose(w[:, None] * m, s1, atol=1e-6)
    assert np.allclose(w[:, None, None] * (c + m[:, :, None] * m[:, None, :]), s2, atol=1e-5)


def test_linear_rate_is_the_fraction_of_missing_information():
    """EM for one mean: the error ratio tends to 1 - I_obs / I_c (Dempster et al. 1977), in float64 NumPy."""
    rng = np.random.default_rng(0)
    xs = np.concatenate([rng.normal(-1.0, 1.0, 150), rng.normal(1.5, 1.0, 100)])
    sd, mu2 = 1.0, 1.5

    def log_lik(mu1):
        return np.sum(np.log(0.5 * stats.norm.pdf(xs, mu1, sd) + 0.5 * stats.norm.pdf(xs, mu2, sd)))

    def resp(mu1):
        a, b = stats.norm.pdf(xs, mu1, sd), stats.norm.pdf(xs, mu2, sd)
        return a / (a + b)

    with enable_x64():
        x1 = jnp.asarray(xs[:, None])
        path = [0.5]
        for _ in range(200):
            params = em.GMMParams(jnp.array([0.5, 0.5]), jnp.array([[path[-1]], [mu2]]),
                                  jnp.full((2, 1, 1), sd**2))
            r = em.responsibilities(x1, params)
            path.append(float(em.m_step(x1, r).means[0, 0]))
    path = np.array(path)
    mu_star = path[-1]
    err = np.abs(path - mu_star)
    t = int(np.argmax(err < 1e-4))
    measured = err[t + 1] / err[t]
    h = 1e-4
    i_obs = -(log_lik(mu_star + h) - 2 * log_lik(mu_star) + log_lik(mu_star - h)) / h**2
    i_c = resp(mu_star).sum() / sd**2
    assert 0.1 < measured < 0.99
    assert np.isclose(measured, 1 - i_obs / i_c, atol=2e-3)
