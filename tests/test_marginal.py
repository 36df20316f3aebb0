"""vibook.marginal against the exact evidence and scipy.integrate.quad."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate, stats

from vibook import marginal
from vibook.models import ExponentialNormal

MODEL = ExponentialNormal(rate=1.0, noise_scale=1.0)
X = 1.3
KEY = jax.random.key(0)


def quad_log_evidence(x):
    xs = np.atleast_1d(x)
    value, _ = integrate.quad(lambda z: stats.expon.pdf(z) * np.prod(stats.norm.pdf(xs, z, 1.0)), 0, np.inf)
    return np.log(value)


def prior_sampler(key, n):
    return jax.random.exponential(key, (n,)) / MODEL.rate


def test_exact_evidence_matches_quad():
    assert abs(float(jnp.exp(MODEL.log_marginal(X))) - 0.277645) < 1e-6
    np.testing.assert_allclose(MODEL.log_marginal(X), quad_log_evidence(X), rtol=1e-6)


def test_trapezoid_converges_at_second_order():
    errors = []
    for k in [101, 201, 401]:
        grid = jnp.linspace(0.0, 12.0, k)
        est = marginal.trapezoid(lambda z: MODEL.log_joint(z, X), grid)
        errors.append(abs(float(jnp.exp(est)) - np.exp(quad_log_evidence(X))))
    assert errors[-1] < 1e-5
    assert 3.0 < errors[0] / errors[1] < 5.0          # halving h divides the error by ~4


def test_trapezoid_against_quad_for_many_points():
    data = jnp.array([0.8, 1.1, 1.9, 1.4, 0.6])
    grid = jnp.linspace(0.0, 10.0, 4001)
    est = marginal.trapezoid(lambda z: MODEL.log_joint(z, data), grid)
    np.testing.assert_allclose(est, quad_log_evidence(np.asarray(data)), atol=1e-4)
    np.testing.assert_allclose(est, MODEL.log_marginal(data), atol=1e-4)


def test_naive_monte_carlo_within_standard_errors():
    est = marginal.naive_monte_carlo(KEY, lambda z: MODEL.log_likelihood(X, z), prior_sampler, 20_000)
    exact = float(MODEL.log_marginal(X))
    assert abs(float(est.log_marginal) - exact) < 4 * float(est.rel_std_err)
    assert 0 < float(est.ess) <= 20_000


def test_importance_sampling_with_good_proposal_beats_prior():
    data = 1.3 + 0.5 * jax.random.normal(jax.random.key(3), (200,))
    exact = float(MODEL.log_marginal(data))
    naive = marginal.naive_monte_carlo(KEY, lambda z: MODEL.log_likelihood(data, z), prior_sampler, 2000)
    s = MODEL.noise_scale / np.sqrt(200)
    mean = float(jnp.mean(data))
    good = marginal.importance_sampling(
        KEY, lambda z: MODEL.log_joint(z, data),
        lambda k, n: mean + 2 * s * jax.random.normal(k, (n,)),
        lambda z: jax.scipy.stats.norm.logpdf(z, mean, 2 * s), 2000)
    assert abs(float(good.log_marginal) - exact) < 4 * float(good.rel_std_err) + 1e-3
    assert float(good.ess) > 5 * float(naive.ess)


def test_ess_of_equal_weights_is_n():
    est = marginal.from_log_weights(jnp.full(50, -3.0))
    np.testing.assert_allclose(est.ess, 50.0, rtol=1e-5)
    np.testing.assert_allclose(est.log_marginal, -3.0, rtol=1e-6)
    assert float(est.rel_std_err) < 1e-6


def test_bad_input():
    log_f = lambda z: MODEL.log_joint(z, X)  # noqa: E731
    with pytest.raises(ValueError, match="grid does not cover the support"):
        marginal.trapezoid(log_f, jnp.linspace(0.0, 3.0, 101))
    with pytest.raises(ValueError, match="grid does not cover the support"):
        marginal.trapezoid(log_f, jnp.linspace(0.5, 12.0, 101))
    with pytest.raises(ValueError, match="grid"):
        marginal.trapezoid(log_f, jnp.linspace(12.0, 0.0, 101))
    with pytest.raises(ValueError, match="grid"):
        marginal.trapezoid(log_f, jnp.ones((3, 3)))
    with pytest.raises(ValueError, match="grid"):
        marginal.trapezoid(log_f, jnp.linspace(-5.0, -1.0, 11))
    with pytest.raises(TypeError, match="log_f"):
        marginal.trapezoid(3.0, jnp.linspace(0.0, 1.0, 11))
    with pytest.raises(ValueError, match="num_samples"):
        marginal.naive_monte_carlo(KEY, log_f, prior_sampler, 0)
    with pytest.raises(ValueError, match="num_samples must be at least 2"):
        marginal.naive_monte_carlo(KEY, log_f, prior_sampler, 1)
    with pytest.raises(TypeError, match="key"):
        marginal.naive_monte_carlo(42, log_f, prior_sampler, 10)
    with pytest.raises(TypeError, match="log_proposal"):
        marginal.importance_sampling(KEY, log_f, prior_sampler, None, 10)
    with pytest.raises(ValueError, match="log_w"):
        marginal.from_log_weights(jnp.array([0.0, jnp.nan]))
    with pytest.raises(ValueError, match="log_w"):
        marginal.from_log_weights(jnp.array([0.0, jnp.inf]))
    with pytest.raises(ValueError, match="log_w"):
        marginal.from_log_weights(jnp.full(3, -jnp.inf))
    with pytest.raises(ValueError, match="NaN"):
        marginal.trapezoid(lambda z: jnp.where(z > 1.0, jnp.nan, -z), jnp.linspace(0.0, 30.0, 101))


def test_importance_sampling_with_draws_outside_the_support():
    # A normal proposal puts some draws at z < 0, where p(z, x) = 0: those are
    # zero weights (log w = -inf), and the estimate stays unbiased.
    est = marginal.importance_sampling(
        KEY, lambda z: MODEL.log_joint(z, X),
        lambda k, n: 1.0 + jax.random.normal(k, (n,)),
        lambda z: jax.scipy.stats.norm.logpdf(z, 1.0, 1.0), 20_000)
    exact = float(MODEL.log_marginal(X))
    assert abs(float(est.log_marginal) - exact) < 4 * float(est.rel_std_err)
    assert 0 < float(est.ess) < 20_000


def test_self_normalised_posterior_mean_against_truncnorm():
    # E[z | x] and E[z^2 | x] of the truncated-normal posterior, from a normal
    # proposal; the weights are known only up to p(x), which cancels.
    s = 50_000
    z = 1.0 + 1.5 * jax.random.normal(KEY, (s,))
    log_w = MODEL.log_joint(z, X) - jax.scipy.stats.norm.logpdf(z, 1.0, 1.5)
    est = marginal.self_normalised(log_w + 123.0, jnp.stack([z, z**2], axis=1))
    post = stats.truncnorm(-0.3, np.inf, loc=0.3)
    exact = np.array([post.mean(), post.moment(2)])
    assert est.mean.shape == (2,) and est.std_err.shape == (2,)
    assert np.all(np.abs(np.asarray(est.mean) - exact) < 4 * np.asarray(est.std_err))
    ess = float(marginal.from_log_weights(log_w).ess)
    # std_err ~ sd / sqrt(ESS)
    np.testing.assert_allclose(float(est.std_err[0]), post.std() / np.sqrt(ess), rtol=0.2)


def test_self_normalised_equal_weights_is_the_sample_mean():
    values = jnp.arange(10.0)
    est = marginal.self_normalised(jnp.zeros(10), values)
    np.testing.assert_allclose(est.mean, 4.5, rtol=1e-6)
    np.testing.assert_allclose(est.std_err, float(jnp.std(values)) / np.sqrt(10), rtol=1e-5)
    zero = marginal.self_normalised(jnp.array([0.0, -jnp.inf, 0.0]), jnp.array([1.0, 100.0, 3.0]))
    np.testing.assert_allclose(zero.mean, 2.0, rtol=1e-6)       # a -inf weight is a zero


def test_self_normalised_bad_input():
    with pytest.raises(ValueError, match="values"):
        marginal.self_normalised(jnp.zeros(3), jnp.zeros(4))
    with pytest.raises(ValueError, match="values"):
        marginal.self_normalised(jnp.zeros(3), jnp.array([0.0, jnp.nan, 1.0]))
    with pytest.raises(ValueError, match="log_w"):
        marginal.self_normalised(jnp.full(3, -jnp.inf), jnp.zeros(3))
    with pytest.raises(TypeError, match="log_w"):
        marginal.self_normalised("w", jnp.zeros(3))
