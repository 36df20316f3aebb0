"""Tests for vibook.svi against exact posteriors, CAVI and must-hold identities."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vibook import mixture, svi
from vibook.models import NormalNormal


def _mixture_data(n, key=0, num_components=3, prior_scale=5.0):
    k1, k2, k3 = jax.random.split(jax.random.key(key), 3)
    means = prior_scale * jax.random.normal(k1, (num_components, 2))
    labels = jax.random.randint(k2, (n,), 0, num_components)
    return means[labels] + jax.random.normal(k3, (n, 2))


def test_step_size_schedule():
    rho = svi.step_size(jnp.arange(4), 1.0, 1.0)     # 1/(t + 1)
    np.testing.assert_allclose(rho, [1, 1 / 2, 1 / 3, 1 / 4], rtol=1e-6)
    np.testing.assert_allclose(svi.step_size(3, 2.0, 0.6), 5 ** -0.6, rtol=1e-6)


def test_natural_parameters_round_trip():
    m, s2 = jnp.array([[1.0, -2.0], [0.5, 3.0]]), jnp.array([0.3, 2.0])
    back = svi.from_natural(*svi.to_natural(m, s2))
    np.testing.assert_allclose(back[0], m, rtol=1e-6)
    np.testing.assert_allclose(back[1], s2, rtol=1e-6)


@pytest.mark.parametrize("batch_size", [1, 10])
def test_one_pass_with_rho_one_over_t_gives_exact_posterior(batch_size):
    # One component: no local variables, q(mu) is conjugate to the N(mu, 1) likelihood.
    x = 2.0 + jax.random.normal(jax.random.key(0), (500, 1))
    prior_scale = 3.0
    state = svi.SVIState(jnp.array([[-4.0]]), jnp.array([5.0]), jnp.zeros((), jnp.int32))
    final, info = svi.fit(jax.random.key(1), x, state, 1, batch_size, prior_scale,
                          tau=1.0, kappa=1.0)
    mean, scale = NormalNormal(prior_mean=0.0, prior_scale=prior_scale,
                               noise_scale=1.0).posterior(x[:, 0])
    np.testing.assert_allclose(final.m[0, 0], mean, rtol=1e-4)
    np.testing.assert_allclose(jnp.sqrt(final.s2[0]), scale, rtol=1e-4)
    np.testing.assert_allclose(info.rho, 1 / jnp.arange(1, 500 // batch_size + 1), rtol=1e-6)
    assert int(final.t) == 500 // batch_size


def test_svi_matches_cavi_elbo_on_the_mixture():
    x = _mixture_data(20_000)
    key, prior_scale = jax.random.key(3), 5.0
    cavi_state, cavi_info = mixture.fit(key, x, 3, prior_scale, 50)
    start = svi.init(key, x, 3, prior_scale)
    np.testing.assert_array_equal(start.m, mixture.init(key, x, 3, prior_scale).m)
    final, info = svi.fit(jax.random.key(4), x, start, 5, 100, prior_scale, tau=1.0, kappa=0.7)
    svi_elbo = float(svi.elbo(final.m, final.s2, x, prior_scale))
    cavi_elbo = float(svi.elbo(cavi_state.m, cavi_state.s2, x, prior_scale))
    assert abs(svi_elbo - cavi_elbo) <= 0.01 * abs(cavi_elbo)
    assert cavi_elbo >= float(cavi_info.elbo[-1]) - 1e-3 * abs(cavi_elbo)   # optimal phi helps
    assert info.m.shape == (5 * 200, 3, 2) and info.s2.shape == (5 * 200, 3)
    assert info.elbo.shape == info.rho.shape == (5 * 200,)
    np.testing.assert_array_equal(info.m[-1], final.m)
    traced = svi.elbo(info.m[-2:], info.s2[-2:], x, prior_scale)
    assert float(traced[-1]) == pytest.approx(svi_elbo, rel=1e-5)
    # The minibatch estimates scatter around the full-data ELBO of the last pass.
    last_pass = np.asarray(info.elbo[-200:])
    assert abs(last_pass.mean() - svi_elbo) < 0.01 * abs(svi_elbo)


def test_step_is_the_fits_step_on_the_same_batch():
    x = _mixture_data(200)
    start = svi.init(jax.random.key(0), x, 3, 5.0)
    one, info = svi.step(start, x[:20], 200, 5.0, tau=2.0, kappa=0.6)
    assert int(one.t) == 1 and float(info.rho) == pytest.approx(2.0 ** -0.6, rel=1e-6)
    np.testing.assert_array_equal(info.m, one.m)
    # batch_size = N: the fit's one step sees every point (in another order).
    fitted, _ = svi.fit(jax.random.key(1), x[:20], start, 1, 20, 5.0, tau=2.0, kappa=0.6)
    full, _ = svi.step(start, x[:20], 20, 5.0, tau=2.0, kappa=0.6)
    np.testing.assert_allclose(fitted.m, full.m, rtol=1e-5)


def test_elbo_estimate_is_unbiased_over_a_partition():
    # Averaged over a partition of the data into minibatches, the N/|B|-scaled
    # estimates at fixed globals give exactly the full-data ELBO.
    x = _mixture_data(600)
    state = svi.init(jax.random.key(1), x, 3, 5.0)
    estimates = [float(svi.step(state, x[i:i + 50], 600, 5.0)[1].elbo)
                 for i in range(0, 600, 50)]
    exact = float(svi.elbo(state.m, state.s2, x, 5.0))
    assert np.mean(estimates) == pytest.approx(exact, rel=1e-5)


def test_intermediate_globals_are_unbiased():
    # Averaging the N/|B|-scaled data sums over a partition into minibatches gives the full sums.
    x = _mixture_data(600)
    m, s2 = x[:3], jnp.ones(3)
    phi = mixture.update_local(m, s2, x)
    full = svi.to_natural(*mixture.update_global(phi, x, 5.0))
    parts = [svi.to_natural(*mixture.update_global(phi[i:i + 50], x[i:i + 50], 5.0, 600 / 50))
             for i in range(0, 600, 50)]
    for j in range(2):
        np.testing.assert_allclose(np.mean([p[j] for p in parts], axis=0), full[j], rtol=1e-4)


def test_elbo_gradient_holds_phi_fixed_and_stays_finite():
    x = _mixture_data(300)
    m, s2 = x[:3] + 40.0, jnp.ones(3)          # far away: many phi_ik underflow to 0
    phi = mixture.update_local(m, s2, x)
    assert float(jnp.min(phi)) == 0.0
    grad = jax.grad(svi.elbo, argnums=(0, 1))(m, s2, x, 5.0)
    fixed = jax.grad(lambda m, s2: mixture.elbo(mixture.MixtureState(m, s2, phi), x, 5.0),
                     argnums=(0, 1))(m, s2)
    for g, f in zip(grad, fixed):
        assert np.all(np.isfinite(g))
        np.testing.assert_allclose(g, f, rtol=1e-5)
    # ... and equals the derivative of the objective itself (envelope theorem).
    with jax.enable_x64(True):     # float64 for the finite difference
        m, s2, x = (np.asarray(a, dtype=np.float64) for a in (m, s2, x))
        h = 1e-4
        fd = (svi.elbo(m, s2 + h * np.eye(3)[0], x, 5.0)
              - svi.elbo(m, s2 - h * np.eye(3)[0], x, 5.0)) / (2 * h)
        assert float(jax.grad(svi.elbo, argnums=1)(m, s2, x, 5.0)[0]) == pytest.approx(
            float(fd), rel=1e-6)


@pytest.mark.float32   # 1/s2 overflows float32 only
def test_diverging_fit_names_the_step():
    x = _mixture_data(100)
    start = svi.init(jax.random.key(0), x, 3, 5.0)
    bad = start._replace(s2=jnp.array([1.0, 1.0, 1e-38]))   # 1/s2 overflows float32
    with pytest.raises(FloatingPointError, match="step 0"):
        svi.fit(jax.random.key(1), x, bad, 1, 10, 5.0)


@pytest.mark.parametrize("tau, kappa, name", [(0.0, 0.7, "tau"), (-1.0, 0.7, "tau"), (0.5, 0.7, "tau"),
                                              (1.0, 0.0, "kappa"), (1.0, -0.5, "kappa"),
                                              (1.0, 0.5, "kappa"), (1.0, 1.2, "kappa")])
def test_bad_schedule(tau, kappa, name):
    x = _mixture_data(100)
    start = svi.init(jax.random.key(0), x, 3, 5.0)
    with pytest.raises(ValueError, match=name):
        svi.fit(jax.random.key(1), x, start, 1, 10, 5.0, tau=tau, kappa=kappa)
    with pytest.raises(ValueError, match=name):
        svi.step_size(1, tau, kappa)
