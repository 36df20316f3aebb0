"""Tests for vibook.vae against closed forms, quadrature and must-hold bounds."""

import jax
import jax.flatten_util
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from scipy import integrate, stats

from vibook import data, vae


@pytest.fixture(scope="module")
def digits():
    return data.digits(jax.random.key(0))


def test_init_shapes():
    params = vae.init(jax.random.key(0), 64, 3, (32, 16))
    assert [w.shape for w, _ in params.encoder] == [(64, 32), (32, 16), (16, 6)]
    assert [w.shape for w, _ in params.decoder] == [(3, 16), (16, 32), (32, 64)]
    assert vae.dims(params) == (64, 3)


def test_analytic_kl_matches_monte_carlo():
    rng = np.random.default_rng(0)
    mean, scale = np.array([0.3, -1.2, 2.0]), np.array([0.5, 1.7, 0.9])
    z = rng.normal(mean, scale, size=(400_000, 3))
    mc = np.mean(np.sum(stats.norm(mean, scale).logpdf(z) - stats.norm().logpdf(z), axis=1))
    analytic = float(jnp.sum(vae.gaussian_kl(jnp.asarray(mean), jnp.asarray(scale))))
    assert analytic == pytest.approx(mc, abs=0.01)
    assert float(jnp.sum(vae.gaussian_kl(jnp.zeros(3), jnp.ones(3)))) == pytest.approx(0.0, abs=1e-6)


def test_bernoulli_log_prob_matches_scipy():
    logits = jnp.array([[-2.0, 0.3, 4.0]])
    x = jnp.array([[0.0, 1.0, 1.0]])
    p = 1 / (1 + np.exp(-np.asarray(logits)))
    expected = np.sum(stats.bernoulli(p).logpmf(np.asarray(x)))
    assert float(vae.bernoulli_log_prob(logits, x)[0]) == pytest.approx(expected, rel=1e-5)


def _log_marginal_by_quadrature(params, x):
    """log p(x) = log ∫ N(z; 0, 1) p(x | z) dz for a VAE with a 1-D latent."""
    def integrand(z):
        logits = vae.decode(params, jnp.array([z]))
        return np.exp(float(vae.bernoulli_log_prob(logits, x)) + stats.norm.logpdf(z))
    return np.log(integrate.quad(integrand, -12, 12, limit=200)[0])


def test_bounds_below_log_marginal_and_iwae_converges():
    params = vae.init(jax.random.key(1), 5, 1, (8,))
    x = jnp.array([[1.0, 0.0, 1.0, 1.0, 0.0], [0.0, 0.0, 1.0, 0.0, 1.0]])
    log_px = np.array([_log_marginal_by_quadrature(params, xi) for xi in x])
    elbo = np.mean(np.stack([vae.elbo(jax.random.key(s), params, x) for s in range(200)]), 0)
    iwae = np.asarray(vae.iwae_bound(jax.random.key(2), params, x, 20_000))
    assert np.all(elbo < log_px)
    np.testing.assert_allclose(iwae, log_px, atol=0.02)


def test_elbo_below_iwae_nondecreasing_in_k(digits):
    params = vae.init(jax.random.key(3), 64, 4, (32,))
    x = digits.x_train[:800]
    key = jax.random.key(4)
    elbo = float(jnp.mean(vae.elbo(key, params, x)))
    bounds = [float(jnp.mean(vae.iwae_bound(key, params, x, k))) for k in (1, 5, 50)]
    assert bounds[0] == pytest.approx(elbo, abs=0.3)     # both estimate the same ELBO
    assert elbo <= bounds[1] <= bounds[2]
    assert bounds[0] <= bounds[1] <= bounds[2]


def test_short_training_improves_test_elbo(digits):
    params = vae.init(jax.random.key(5), 64, 4, (64,))
    key = jax.random.key(6)
    before = float(jnp.mean(vae.elbo(key, params, digits.x_test)))
    trained, trace = vae.fit(jax.random.key(7), params, digits.x_train, 5, 64,
                             optax.adam(1e-3), x_test=digits.x_test)
    after = float(jnp.mean(vae.elbo(key, trained, digits.x_test)))
    assert after > before + 5.0
    assert trace.train_elbo.shape == trace.test_elbo.shape == (5,)
    assert float(trace.test_elbo[-1]) == pytest.approx(after, abs=1.0)
    assert float(trace.train_elbo[-1]) > float(trace.train_elbo[0])


def test_step_is_one_adam_step_on_the_mean_elbo(digits):
    params = vae.init(jax.random.key(5), 64, 2, (16,))
    opt, key, x = optax.adam(1e-2), jax.random.key(6), digits.x_train[:32]
    state, info = vae.step(key, vae.VAEState(params, opt.init(params)), x, opt)
    # The same step by hand: the gradient of the mean of vae.elbo, negated for optax.
    value, grads = jax.value_and_grad(lambda p: -vae.elbo(key, p, x).mean())(params)
    updates, _ = opt.update(grads, opt.init(params), params)
    expected = optax.apply_updates(params, updates)
    assert float(info.elbo) == pytest.approx(-float(value), rel=1e-5)
    for a, b in zip(jax.tree.leaves(state.params), jax.tree.leaves(expected)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


def test_fit_is_steps_over_shuffled_minibatches(digits):
    # One epoch with batch_size = N is one step on all the data (shuffled).
    params = vae.init(jax.random.key(5), 64, 2, (16,))
    x = digits.x_train[:64]
    opt = optax.sgd(1e-2)
    fitted, trace = vae.fit(jax.random.key(7), params, x, 1, 64, opt)
    k_perm, k_batches, _ = jax.random.split(jax.random.split(jax.random.key(7), 1)[0], 3)
    perm = jax.random.permutation(k_perm, 64)
    state, info = vae.step(jax.random.split(k_batches, 1)[0],
                           vae.VAEState(params, opt.init(params)), x[perm], opt)
    assert float(trace.train_elbo[0]) == pytest.approx(float(info.elbo), rel=1e-5)
    for a, b in zip(jax.tree.leaves(fitted), jax.tree.leaves(state.params)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


@pytest.mark.float32   # the divergence is a float32 overflow
def test_diverging_fit_names_the_epoch(digits):
    params = vae.init(jax.random.key(5), 64, 2, (16,))
    with pytest.raises(FloatingPointError, match="vibook.vae.fit diverged"):
        vae.fit(jax.random.key(7), params, digits.x_train[:256], 3, 64, optax.sgd(1e6))


def test_fit_without_test_data_traces_nan(digits):
    params = vae.init(jax.random.key(5), 64, 2, (16,))
    _, trace = vae.fit(jax.random.key(7), params, digits.x_train, 2, 128, optax.adam(1e-3))
    assert np.all(np.isnan(trace.test_elbo)) and np.all(np.isfinite(trace.train_elbo))


def test_beta_scales_the_kl_term(digits):
    params = vae.init(jax.random.key(8), 64, 2, (16,))
    key, x = jax.random.key(9), digits.x_test[:10]
    rec, kl = vae.elbo_terms(key, params, x)
    np.testing.assert_allclose(vae.elbo(key, params, x, beta=3.0), rec - 3.0 * kl, rtol=1e-6)
    assert np.all(np.asarray(kl) >= 0)


def test_reparameterised_gradient_matches_finite_differences():
    with jax.enable_x64(True):    # float64 locally (jax.experimental.enable_x64 in older JAX)
        params = vae.init(jax.random.key(10), 4, 2, (3,))
        x = jnp.array([[1.0, 0.0, 1.0, 1.0], [0.0, 1.0, 1.0, 0.0]], dtype=jnp.float64)
        key = jax.random.key(11)
        flat, unravel = jax.flatten_util.ravel_pytree(params)
        assert flat.dtype == jnp.float64

        def objective(theta):
            return jnp.sum(vae.elbo(key, unravel(theta), x))

        grad = jax.grad(objective)(flat)
        h = 1e-6
        eye = jnp.eye(flat.size)
        fd = jnp.array([(objective(flat + h * e) - objective(flat - h * e)) / (2 * h) for e in eye])
        np.testing.assert_allclose(grad, fd, rtol=1e-5, atol=1e-7)


@pytest.fixture(scope="module")
def small():
    return vae.init(jax.random.key(0), 64, 2, (8,))


def test_bad_batch_size(small, digits):
    with pytest.raises(ValueError, match="batch_size"):
        vae.fit(jax.random.key(0), small, digits.x_train[:10], 1, 11, optax.adam(1e-3))
    with pytest.raises(ValueError, match="batch_size"):
        vae.fit(jax.random.key(0), small, digits.x_train[:10], 1, 0, optax.adam(1e-3))


def test_non_binary_data(small, digits):
    x = digits.x_train[:10].at[0, 0].set(0.5)
    with pytest.raises(ValueError, match="binary"):
        vae.elbo(jax.random.key(0), small, x)
    with pytest.raises(ValueError, match="x_train must be binary"):
        vae.fit(jax.random.key(0), small, x, 1, 5, optax.adam(1e-3))


def test_wrong_data_dim(small, digits):
    with pytest.raises(ValueError, match="data_dim"):
        vae.iwae_bound(jax.random.key(0), small, digits.x_train[:10, :32], 5)
    with pytest.raises(ValueError, match="x_test"):
        vae.fit(jax.random.key(0), small, digits.x_train[:10], 1, 5, optax.adam(1e-3),
                x_test=digits.x_test[:, :10])


def test_other_bad_input(small, digits):
    x = digits.x_train[:10]
    with pytest.raises(TypeError, match="key"):
        vae.elbo(0, small, x)
    with pytest.raises(ValueError, match="beta"):
        vae.elbo(jax.random.key(0), small, x, beta=0.0)
    with pytest.raises(ValueError, match="num_samples"):
        vae.iwae_bound(jax.random.key(0), small, x, 0)
    with pytest.raises(TypeError, match="optimizer"):
        vae.fit(jax.random.key(0), small, x, 1, 5, "adam")
    with pytest.raises(ValueError, match="NaN"):
        vae.elbo(jax.random.key(0), small, x.at[0, 0].set(jnp.nan))
    with pytest.raises(ValueError, match="latent_dim"):
        vae.init(jax.random.key(0), 64, 0)
    with pytest.raises(TypeError, match="data_dim"):
        vae.init(jax.random.key(0), 64.0, 2)
