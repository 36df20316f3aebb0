"""vibook.models against scipy.stats, scipy.integrate.quad and conjugate closed forms."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, stats

from vibook.models import ExponentialNormal, NormalNormal


def quad_log_marginal(model, x):
    """log p(x) for the exponential-normal model by adaptive quadrature, in float64.

    The integrand is rescaled by its value at the mode so that quad's absolute
    tolerance does not swallow tiny evidences.
    """
    x = np.atleast_1d(np.asarray(x, dtype=float))

    prior = stats.expon(scale=1 / model.rate)

    def log_joint(z):
        return prior.logpdf(z) + stats.norm.logpdf(x, z, model.noise_scale).sum()

    mode = max(0.0, x.mean() - model.rate * model.noise_scale**2 / x.size)
    width = 15 * model.noise_scale / np.sqrt(x.size) + 15 / model.rate
    peak = log_joint(mode)
    value, _ = integrate.quad(lambda z: np.exp(log_joint(z) - peak), 0.0, mode + width,
                              points=[mode], limit=200, epsabs=0, epsrel=1e-10)
    return np.log(value) + peak


# ---------------------------------------------------------------- ExponentialNormal

def test_exponential_normal_log_densities_match_scipy():
    model = ExponentialNormal(rate=1.7, noise_scale=0.6)
    z = np.linspace(-1.0, 6.0, 57)
    finite = z >= 0
    prior = np.asarray(model.log_prior(z))
    np.testing.assert_allclose(prior[finite], stats.expon(scale=1 / 1.7).logpdf(z[finite]), rtol=1e-5, atol=2e-5)
    assert np.all(np.isneginf(prior[~finite]))
    x = np.array([0.3, 1.2, 2.5])
    expected = stats.norm(z[:, None], 0.6).logpdf(x[None, :]).sum(axis=1)
    np.testing.assert_allclose(model.log_likelihood(x, z), expected, rtol=1e-5, atol=2e-5)
    np.testing.assert_allclose(model.log_joint(z[finite], x),
                               stats.expon(scale=1 / 1.7).logpdf(z[finite]) + expected[finite], rtol=1e-5, atol=2e-5)


def test_the_book_value_of_the_evidence():
    model = ExponentialNormal(rate=1.0, noise_scale=1.0)
    assert float(jnp.exp(model.log_marginal(1.3))) == pytest.approx(0.277645, abs=1e-6)
    assert float(model.log_marginal(1.3)) == pytest.approx(-1.281410, abs=1e-6)


@pytest.mark.parametrize("rate, noise_scale, x", [
    (1.0, 1.0, 1.3), (0.5, 2.0, -1.0), (3.0, 0.5, 2.2), (1.0, 0.3, -0.4),
    (2.0, 1.0, [0.5, 1.5, 0.9, 1.1]), (0.7, 1.5, [3.0, 2.0, 2.5])])
def test_exponential_normal_marginal_matches_quadrature(rate, noise_scale, x):
    model = ExponentialNormal(rate=rate, noise_scale=noise_scale)
    assert float(model.log_marginal(x)) == pytest.approx(quad_log_marginal(model, x), abs=2e-5)


def test_exponential_normal_posterior_is_a_normalised_truncated_normal():
    model = ExponentialNormal(rate=1.0, noise_scale=1.0)
    z = np.linspace(0.01, 5, 40)
    ref = stats.truncnorm(-0.3, np.inf, loc=0.3, scale=1.0).logpdf(z)
    np.testing.assert_allclose(model.log_posterior(z, 1.3), ref, atol=2e-5)


def test_exponential_normal_marginal_is_finite_far_in_the_tail():
    model = ExponentialNormal(rate=5.0, noise_scale=0.2)
    assert np.isfinite(float(model.log_marginal(-30.0)))


def test_exponential_normal_sample_moments():
    model = ExponentialNormal(rate=2.0, noise_scale=0.5)
    z, x = model.sample(jax.random.key(0), 200_000)
    assert z.shape == x.shape == (200_000,)
    assert float(z.min()) >= 0
    se = 0.5 / np.sqrt(200_000)
    assert float(z.mean()) == pytest.approx(0.5, abs=5 * se)
    assert float(x.mean()) == pytest.approx(0.5, abs=5 * np.sqrt(0.5) / np.sqrt(200_000))
    assert float(x.var()) == pytest.approx(1 / 4 + 1 / 4, rel=0.02)


@settings(max_examples=30, deadline=None)
@given(rate=st.floats(0.2, 5.0), noise_scale=st.floats(0.2, 3.0), x=st.floats(-3.0, 5.0))
def test_exponential_normal_marginal_property(rate, noise_scale, x):
    model = ExponentialNormal(rate=rate, noise_scale=noise_scale)
    assert float(model.log_marginal(x)) == pytest.approx(quad_log_marginal(model, x), abs=1e-4)


# ---------------------------------------------------------------- NormalNormal

def test_normal_normal_log_densities_match_scipy():
    nn = NormalNormal(prior_mean=4.2, prior_scale=0.3, noise_scale=2.0)
    mu = np.linspace(3, 5, 11)
    x = np.array([3.1, 4.4, 5.0, 2.2])
    np.testing.assert_allclose(nn.log_prior(mu), stats.norm(4.2, 0.3).logpdf(mu), rtol=1e-5, atol=2e-5)
    np.testing.assert_allclose(nn.log_likelihood(x, mu),
                               stats.norm(mu[:, None], 2.0).logpdf(x[None]).sum(1), rtol=1e-5, atol=2e-5)


def test_normal_normal_posterior_matches_the_conjugate_closed_form():
    nn = NormalNormal(prior_mean=4.2, prior_scale=0.3, noise_scale=2.0)
    _, x = nn.sample(jax.random.key(1), 100, mean=4.0)
    mean, scale = nn.posterior(x)
    assert float(scale) == pytest.approx(0.6 / np.sqrt(13), rel=1e-6)
    precision = 1 / 0.3**2 + 100 / 2.0**2
    expected_mean = (4.2 / 0.3**2 + float(np.sum(np.asarray(x, dtype=float))) / 4.0) / precision
    assert float(mean) == pytest.approx(expected_mean, rel=1e-5)


def test_normal_normal_marginal_matches_the_multivariate_normal():
    nn = NormalNormal(prior_mean=1.0, prior_scale=0.7, noise_scale=1.3)
    x = np.array([0.2, 1.9, 1.1, 0.4, 2.5])
    cov = 1.3**2 * np.eye(5) + 0.7**2 * np.ones((5, 5))
    expected = stats.multivariate_normal(np.ones(5), cov).logpdf(x)
    assert float(nn.log_marginal(x)) == pytest.approx(expected, abs=1e-4)


def test_normal_normal_posterior_matches_quadrature_normalisation():
    nn = NormalNormal(prior_mean=0.0, prior_scale=2.0, noise_scale=1.0)
    x = np.array([1.2, 0.7, 1.9])
    mean, scale = nn.posterior(x)
    post = lambda m: np.exp(float(nn.log_joint(m, x) - nn.log_marginal(x)))
    lo, hi = float(mean - 12 * scale), float(mean + 12 * scale)
    total, _ = integrate.quad(post, lo, hi)
    first, _ = integrate.quad(lambda m: m * post(m), lo, hi)
    assert total == pytest.approx(1.0, abs=1e-5)
    assert first == pytest.approx(float(mean), abs=1e-5)


def test_normal_normal_prior_sample_moments():
    nn = NormalNormal(prior_mean=-1.0, prior_scale=0.5, noise_scale=1.0)
    keys = jax.random.split(jax.random.key(3), 20_000)
    mus = jax.vmap(lambda k: nn.sample(k, 1)[0])(keys)
    assert float(mus.mean()) == pytest.approx(-1.0, abs=5 * 0.5 / np.sqrt(20_000))
    assert float(mus.std()) == pytest.approx(0.5, rel=0.03)


def test_models_are_pytrees():
    model = ExponentialNormal(rate=2.0, noise_scale=0.5)
    doubled = jax.tree.map(lambda v: 2 * v, model)
    assert doubled == ExponentialNormal(rate=4.0, noise_scale=1.0)
    grad = jax.grad(lambda m: m.log_marginal(1.3))(model)
    assert isinstance(grad, ExponentialNormal) and np.isfinite(grad.rate)


# ---------------------------------------------------------------- bad input

@pytest.mark.parametrize("kwargs, name", [
    ({"rate": 0.0}, "rate"), ({"rate": -1.0}, "rate"), ({"noise_scale": -2.0}, "noise_scale"),
    ({"rate": float("nan")}, "rate"), ({"noise_scale": float("inf")}, "noise_scale")])
def test_exponential_normal_rejects_bad_parameters(kwargs, name):
    with pytest.raises(ValueError, match=name):
        ExponentialNormal(**kwargs)


@pytest.mark.parametrize("kwargs, name", [
    ({"prior_scale": 0.0}, "prior_scale"), ({"noise_scale": -1.0}, "noise_scale"),
    ({"prior_mean": float("nan")}, "prior_mean")])
def test_normal_normal_rejects_bad_parameters(kwargs, name):
    with pytest.raises(ValueError, match=name):
        NormalNormal(**kwargs)


def test_parameters_of_the_wrong_type_raise_type_error():
    with pytest.raises(TypeError, match="rate"):
        ExponentialNormal(rate="fast")
    with pytest.raises(TypeError, match="noise_scale"):
        NormalNormal(noise_scale=np.ones(3))


@pytest.mark.parametrize("x, error", [
    (np.ones((2, 3)), ValueError), (np.array([1.0, np.nan]), ValueError),
    (np.array([np.inf]), ValueError), (np.array([]), ValueError), ("1.3", TypeError)])
def test_bad_data_raise_errors_naming_x(x, error):
    for model in (ExponentialNormal(), NormalNormal()):
        with pytest.raises(error, match="x"):
            model.log_marginal(x)
    with pytest.raises(error, match="x"):
        NormalNormal().posterior(x)


@pytest.mark.parametrize("key", [0, np.array([1, 2, 3]), "key", None])
def test_sampling_needs_a_key(key):
    with pytest.raises(TypeError, match="key"):
        ExponentialNormal().sample(key, 10)


@pytest.mark.parametrize("n, error", [(0, ValueError), (-3, ValueError), (2.5, TypeError)])
def test_sampling_needs_a_positive_integer_size(n, error):
    with pytest.raises(error, match="n"):
        NormalNormal().sample(jax.random.key(0), n)


def test_legacy_uint32_keys_are_accepted():
    z, x = ExponentialNormal().sample(jax.random.PRNGKey(0), 3)
    assert z.shape == (3,)
