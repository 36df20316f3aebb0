"""vibook.elbo, and the closed-form Exp(theta) ELBO of models.ExponentialNormal against quad; the gradient estimators against its exact gradient."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from scipy import integrate, optimize, stats

from vibook import elbo, families
from vibook.models import ExponentialNormal

MODEL = ExponentialNormal(rate=1.0, noise_scale=1.0)
X = 1.3
KEY = jax.random.key(0)


def log_joint(z):
    return MODEL.log_joint(z, X)


def quad_elbo(theta, x=X):
    xs = np.atleast_1d(x)
    q = stats.expon(scale=1 / theta)
    integrand = lambda z: q.pdf(z) * (stats.expon.logpdf(z) + stats.norm.logpdf(xs, z, 1.0).sum() - q.logpdf(z))  # noqa: E731
    return integrate.quad(integrand, 0, np.inf)[0]


def test_closed_form_elbo_against_quad():
    for theta in [0.3, 1.0, 1.272, 4.0]:
        np.testing.assert_allclose(MODEL.elbo(X, theta), quad_elbo(theta), rtol=1e-5)
    data = jnp.array([0.4, 2.0, 1.1])
    np.testing.assert_allclose(MODEL.elbo(data, 2.0), quad_elbo(2.0, np.asarray(data)), rtol=1e-5)


def test_book_numbers():
    theta = MODEL.optimal_rate(X)
    best = optimize.minimize_scalar(lambda t: -quad_elbo(t), bounds=(0.1, 10), method="bounded",
                                    options={"xatol": 1e-8})
    np.testing.assert_allclose(theta, best.x, rtol=1e-5)
    assert abs(float(theta) - 1.272146) < 1e-5
    assert abs(float(MODEL.log_marginal(X)) + 1.281410) < 1e-5
    assert abs(float(MODEL.elbo(X, theta)) + 1.386733) < 1e-5
    gap = MODEL.log_marginal(X) - MODEL.elbo(X, theta)
    assert abs(float(gap) - 0.105323) < 1e-5


@settings(max_examples=50, deadline=None)
@given(st.floats(0.05, 30.0), st.floats(-3.0, 5.0))
def test_elbo_below_log_evidence(theta, x):
    assert float(MODEL.elbo(x, theta)) <= float(MODEL.log_marginal(x)) + 1e-4


def test_monte_carlo_elbos_are_unbiased():
    params = families.exponential.init(2.0)
    exact = float(MODEL.elbo(X, 2.0))
    keys = jax.random.split(KEY, 2000)
    for fn in [elbo.reparam, elbo.reparam_entropy, elbo.score_function]:
        values = jax.vmap(lambda k: fn(k, params, log_joint, families.exponential, num_samples=4))(keys)
        assert abs(float(values.mean()) - exact) < 4 * float(values.std()) / np.sqrt(2000) + 1e-5


def test_gradients_agree_in_expectation_with_exact_gradient():
    params = families.exponential.init(2.0)
    exact = jax.grad(lambda p: MODEL.elbo(X, families.exponential.unpack(p)))(params).raw_rate
    keys = jax.random.split(KEY, 4000)
    estimators = {
        "reparam": functools.partial(elbo.reparam, log_joint=log_joint, family=families.exponential, num_samples=4),
        "score": functools.partial(elbo.score_function, log_joint=log_joint, family=families.exponential, num_samples=4),
        "score_mean": functools.partial(elbo.score_function, log_joint=log_joint, family=families.exponential,
                                        num_samples=4, baseline="mean"),
    }
    variances = {}
    for name, fn in estimators.items():
        grads = jax.vmap(lambda k: jax.grad(fn, argnums=1)(k, params).raw_rate)(keys)
        se = float(grads.std()) / np.sqrt(4000)
        assert abs(float(grads.mean()) - float(exact)) < 4 * se, name
        variances[name] = float(grads.var())
    assert variances["reparam"] < variances["score"]


def test_reparam_kl_matches_closed_form_for_exponential():
    from vibook.divergences import kl_exponential
    params = families.exponential.init(2.0)
    keys = jax.random.split(KEY, 2000)
    values = jax.vmap(lambda k: elbo.reparam_kl(
        k, params, lambda z: MODEL.log_likelihood(X, z),
        lambda p: kl_exponential(families.exponential.unpack(p), MODEL.rate), families.exponential, num_samples=4))(keys)
    exact = float(MODEL.elbo(X, 2.0))
    assert abs(float(values.mean()) - exact) < 4 * float(values.std()) / np.sqrt(2000)


def test_bad_input():
    params = families.exponential.init(1.0)
    with pytest.raises(TypeError, match="key"):
        elbo.reparam(0, params, log_joint, families.exponential)
    with pytest.raises(ValueError, match="num_samples"):
        elbo.reparam(KEY, params, log_joint, families.exponential, num_samples=0)
    with pytest.raises(TypeError, match="log_joint"):
        elbo.reparam_entropy(KEY, params, None, families.exponential)
    with pytest.raises(ValueError, match="baseline"):
        elbo.score_function(KEY, params, log_joint, families.exponential, num_samples=4, baseline="median")
    with pytest.raises(ValueError, match="num_samples >= 2"):
        elbo.score_function(KEY, params, log_joint, families.exponential, num_samples=1, baseline="mean")
    with pytest.raises(ValueError, match="rate"):
        MODEL.elbo(X, -1.0)
    with pytest.raises(ValueError, match="x"):
        MODEL.optimal_rate(jnp.ones((2, 2)))


# --- the importance-weighted and Rényi bounds ------------------------------------------------

def quad_renyi(theta, alpha, x=X):
    """(1/(1-alpha)) log int q^alpha p(z, x)^(1-alpha) dz for q = Exp(theta), by quad."""
    q = stats.expon(scale=1 / theta)
    integrand = lambda z: np.exp(alpha * q.logpdf(z) + (1 - alpha) * float(log_joint(z)))  # noqa: E731
    return np.log(integrate.quad(integrand, 0, np.inf)[0]) / (1 - alpha)


def test_renyi_at_alpha_one_is_the_elbo_and_continuous_there():
    params = families.exponential.init(2.0)
    for n in [1, 8]:
        at_one = elbo.renyi(KEY, params, log_joint, families.exponential, 1.0, num_samples=n)
        plain = elbo.reparam(KEY, params, log_joint, families.exponential, num_samples=n)
        np.testing.assert_allclose(at_one, plain, rtol=1e-6)
        for alpha in [1 - 1e-3, 1 + 1e-3]:
            near = elbo.renyi(KEY, params, log_joint, families.exponential, alpha, num_samples=n)
            np.testing.assert_allclose(near, plain, atol=2e-3)


def test_renyi_at_alpha_zero_is_the_importance_weighted_bound():
    params = families.exponential.init(2.0)
    vr = elbo.renyi(KEY, params, log_joint, families.exponential, 0.0, num_samples=16)
    iw = elbo.importance_weighted(KEY, params, log_joint, families.exponential, num_samples=16)
    np.testing.assert_allclose(vr, iw, rtol=1e-6)


def test_both_bounds_equal_log_evidence_when_q_is_exact():
    from vibook.models import NormalNormal
    model = NormalNormal(prior_mean=4.2, prior_scale=0.3, noise_scale=2.0)
    data = jnp.array([3.1, 4.5, 5.2, 2.9])
    loc, scale = model.posterior(data)
    params = families.normal.init(loc, scale)
    joint = lambda mu: model.log_joint(mu, data)  # noqa: E731
    exact = float(model.log_marginal(data))
    for alpha in [-2.0, 0.0, 0.5, 1.0, 3.0]:
        value = elbo.renyi(KEY, params, joint, families.normal, alpha, num_samples=5)
        np.testing.assert_allclose(value, exact, atol=1e-3)
    for k in [1, 7]:
        value = elbo.importance_weighted(KEY, params, joint, families.normal, num_samples=k, num_estimates=3)
        np.testing.assert_allclose(value, exact, atol=1e-3)


def test_iwae_at_k_one_is_the_elbo_and_grows_with_k():
    params = families.exponential.init(2.0)
    np.testing.assert_allclose(
        elbo.importance_weighted(KEY, params, log_joint, families.exponential, num_samples=1, num_estimates=8),
        elbo.reparam(KEY, params, log_joint, families.exponential, num_samples=8), rtol=1e-6)
    exact_elbo = float(MODEL.elbo(X, 2.0))
    log_px = float(MODEL.log_marginal(X))
    keys = jax.random.split(KEY, 4000)
    means = []
    for k in [1, 5, 50]:
        values = jax.vmap(lambda key: elbo.importance_weighted(
            key, params, log_joint, families.exponential, num_samples=k))(keys)
        se = float(values.std()) / np.sqrt(len(keys))
        means.append(float(values.mean()))
        if k == 1:     # unbiased for the ELBO in expectation
            assert abs(means[-1] - exact_elbo) < 4 * se
    assert means[0] < means[1] < means[2] < log_px


def test_renyi_matches_quadrature_and_decreases_in_alpha():
    theta = 2.0
    params = families.exponential.init(theta)
    values = []
    for alpha in [-0.5, 0.0, 0.5]:
        estimate = float(elbo.renyi(KEY, params, log_joint, families.exponential, alpha,
                                    num_samples=200_000))
        np.testing.assert_allclose(estimate, quad_renyi(theta, alpha), atol=5e-3)
        values.append(estimate)
    np.testing.assert_allclose(values[1], float(MODEL.log_marginal(X)), atol=5e-3)
    assert values[0] > values[1] > values[2] > float(MODEL.elbo(X, theta))


def test_renyi_gradient_is_finite_and_fits_under_vi():
    objective = functools.partial(elbo.renyi, log_joint=log_joint, family=families.exponential,
                                  alpha=0.5, num_samples=32)
    grads = jax.grad(objective, argnums=1)(KEY, families.exponential.init(2.0))
    assert np.isfinite(float(grads.raw_rate))


def test_bounds_bad_input():
    params = families.exponential.init(1.0)
    with pytest.raises(TypeError, match="alpha"):
        elbo.renyi(KEY, params, log_joint, families.exponential, "half")
    with pytest.raises(ValueError, match="alpha"):
        elbo.renyi(KEY, params, log_joint, families.exponential, np.nan)
    with pytest.raises(ValueError, match="num_samples"):
        elbo.importance_weighted(KEY, params, log_joint, families.exponential, num_samples=0)
    with pytest.raises(TypeError, match="log_joint"):
        elbo.importance_weighted(KEY, params, "p", families.exponential, num_samples=3)
    with pytest.raises(ValueError, match="return a scalar"):
        elbo.renyi(KEY, params, lambda z: jnp.zeros(2), families.exponential, 0.5, num_samples=4)
    with pytest.raises(TypeError, match="ONE draw"):
        elbo.renyi(KEY, params, lambda z: z[:, 0], families.exponential, 0.5, num_samples=4)


# --- issue 21, bug 2: full-rank VI in float32 with an ill-conditioned Cholesky factor ---------

ILL_LOC = np.full(3, 1000.0)
ILL_TRIL = np.array([[1.0, 0.0, 0.0], [1.0 - 1e-6, 1e-6, 0.0], [0.5, 0.5, 1e-9]])


def _ill_elbo(dtype):
    params = families.full_rank_normal.init(jnp.asarray(np.asarray(ILL_LOC), dtype),
                                            jnp.asarray(np.asarray(ILL_TRIL), dtype))
    log_joint = lambda z: -0.5 * jnp.sum((z - 1000.0) ** 2, axis=-1)    # noqa: E731
    return float(elbo.reparam(KEY, params, log_joint, families.full_rank_normal, 4000))


def test_full_rank_reparam_in_float32_with_an_ill_conditioned_factor_matches_float64():
    """log q of a draw comes from its noise, not from a triangular solve (cond(LL^T) ~ 1e18).

    The solve gave an ELBO of about +3e17 here in float32; the exact value is
    E[log p] + H[q] = -0.5 * tr(LL^T) + 1.5 log(2 pi e) + sum log L_dd.
    """
    exact = (-0.5 * float(np.sum(np.asarray(ILL_TRIL, dtype=np.float64) ** 2))
             + 1.5 * np.log(2 * np.pi * np.e) + np.log(1e-6) + np.log(1e-9))
    f32 = _ill_elbo(jnp.float32)
    with jax.enable_x64(True):
        f64 = _ill_elbo(jnp.float64)
    assert abs(f64 - exact) < 0.1                # Monte Carlo noise of 4000 draws only
    assert abs(f32 - f64) < 0.1


def test_sample_and_log_prob_gives_the_same_draws_and_log_q_as_sample_then_log_prob():
    fr = families.full_rank_normal
    params = fr.init(jnp.array([0.3, -1.0]), jnp.array([[1.2, 0.0], [0.4, 0.7]]))
    z, log_q = fr.sample_and_log_prob(KEY, params, 6)
    np.testing.assert_array_equal(z, fr.sample(KEY, params, 6))
    np.testing.assert_allclose(log_q, fr.log_prob(params, z), rtol=1e-5, atol=1e-5)
    # the same gradient in the parameters as the solve-based estimator
    lj = lambda z: -0.5 * jnp.sum(z**2, axis=-1)                         # noqa: E731

    def by_solve(p):
        zz = fr.sample(KEY, p, 6)
        return jnp.mean(lj(zz) - fr.log_prob(p, zz))

    g_new = jax.grad(lambda p: elbo.reparam(KEY, p, lj, fr, 6))(params)
    g_old = jax.grad(by_solve)(params)
    for a, b in zip(g_new, g_old):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
