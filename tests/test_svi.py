"""Tests for vibook.svi against exact posteriors, CAVI and must-hold identities."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from vibook import cavi, families, svi
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
    state = svi.MixtureSVIState(jnp.array([[-4.0]]), jnp.array([5.0]), jnp.zeros((), jnp.int32))
    final, _ = svi.mixture_fit(jax.random.key(1), x, state, 1, batch_size, prior_scale,
                               tau=1.0, kappa=1.0)
    mean, scale = NormalNormal(prior_mean=0.0, prior_scale=prior_scale,
                               noise_scale=1.0).posterior(x[:, 0])
    np.testing.assert_allclose(final.m[0, 0], mean, rtol=1e-4)
    np.testing.assert_allclose(jnp.sqrt(final.s2[0]), scale, rtol=1e-4)


def test_svi_matches_cavi_elbo_on_the_mixture():
    x = _mixture_data(20_000)
    key, prior_scale = jax.random.key(3), 5.0
    cavi_state, cavi_trace = cavi.mixture_fit(key, x, 3, prior_scale, 50)
    start = svi.mixture_init(key, x, 3, prior_scale)
    np.testing.assert_array_equal(start.m, cavi.mixture_init(key, x, 3, prior_scale).m)
    final, (m, s2) = svi.mixture_fit(jax.random.key(4), x, start, 5, 100, prior_scale,
                                     tau=1.0, kappa=0.7)
    svi_elbo = float(svi.mixture_elbo(final.m, final.s2, x, prior_scale))
    cavi_elbo = float(svi.mixture_elbo(cavi_state.m, cavi_state.s2, x, prior_scale))
    assert abs(svi_elbo - cavi_elbo) <= 0.01 * abs(cavi_elbo)
    assert cavi_elbo >= float(cavi_trace[-1]) - 1e-3 * abs(cavi_elbo)   # optimal phi can only help
    assert m.shape == (5 * 200, 3, 2) and s2.shape == (5 * 200, 3)
    traced = svi.mixture_elbo(m[-2:], s2[-2:], x, prior_scale)
    assert float(traced[-1]) == pytest.approx(svi_elbo, rel=1e-5)


def test_intermediate_globals_are_unbiased():
    # Averaging the N/|B|-scaled data sums over a partition into minibatches gives the full sums.
    x = _mixture_data(600)
    m, s2 = x[:3], jnp.ones(3)
    phi = cavi.mixture_local(m, s2, x)
    full = svi.to_natural(*cavi.mixture_global(phi, x, 5.0))
    parts = [svi.to_natural(*cavi.mixture_global(phi[i:i + 50], x[i:i + 50], 5.0, 600 / 50))
             for i in range(0, 600, 50)]
    for j in range(2):
        np.testing.assert_allclose(np.mean([p[j] for p in parts], axis=0), full[j], rtol=1e-4)


def _regression_problem():
    k1, k2 = jax.random.split(jax.random.key(5))
    x = jax.random.normal(k1, (120, 3))
    y = (jax.random.uniform(k2, (120,)) < jax.nn.sigmoid(x @ jnp.array([1.0, -2.0, 0.5]))) * 1.0

    def log_prior(w):
        return jnp.sum(jax.scipy.stats.norm.logpdf(w))

    def log_lik(w, batch):
        xb, yb = batch
        logits = xb @ w
        return yb * logits - jax.nn.softplus(logits)

    return (x, y), log_prior, log_lik


def test_minibatch_elbo_rescaling_is_unbiased():
    data, log_prior, log_lik = _regression_problem()
    params = families.normal.init(jnp.array([0.5, -1.0, 0.2]), jnp.array([0.3, 0.5, 0.4]))
    key = jax.random.key(6)               # the same z samples for every estimate
    full = float(svi.minibatch_elbo(key, families.normal, params, log_prior, log_lik, data, 120, 8))
    # Exactly: the mean over a partition into equal minibatches.
    parts = [svi.minibatch_elbo(key, families.normal, params, log_prior, log_lik,
                                jax.tree.map(lambda a: a[i:i + 20], data), 120, 8)
             for i in range(0, 120, 20)]
    assert float(np.mean(parts)) == pytest.approx(full, rel=1e-5)
    # In expectation: the mean over many uniformly random minibatches.
    idx = jax.vmap(lambda k: jax.random.choice(k, 120, (20,), replace=False))(
        jax.random.split(jax.random.key(7), 4000))
    estimates = jax.vmap(lambda i: svi.minibatch_elbo(
        key, families.normal, params, log_prior, log_lik, jax.tree.map(lambda a: a[i], data),
        120, 8))(idx)
    sem = float(jnp.std(estimates)) / np.sqrt(len(estimates))
    assert abs(float(jnp.mean(estimates)) - full) < 4 * sem


def test_minibatch_fit_recovers_a_conjugate_posterior():
    x = 4.0 + 2.0 * jax.random.normal(jax.random.key(8), (400,))
    model = NormalNormal(prior_mean=4.2, prior_scale=0.3, noise_scale=2.0)
    mean, scale = model.posterior(x)

    def log_prior(mu):
        return jax.scipy.stats.norm.logpdf(mu[0], 4.2, 0.3)

    def log_lik(mu, xb):
        return jax.scipy.stats.norm.logpdf(xb, mu[0], 2.0)

    params = families.normal.init(jnp.zeros(1), jnp.ones(1))
    opt = optax.adam(optax.exponential_decay(0.05, 2000, 0.3))
    fitted, trace = svi.minibatch_fit(jax.random.key(9), families.normal, params, log_prior,
                                      log_lik, x, 200, 20, opt, num_samples=4)
    loc, sd = families.normal.unpack(fitted)
    assert trace.shape == (200 * 20,)
    assert float(loc[0]) == pytest.approx(float(mean), abs=0.02)
    assert float(sd[0]) == pytest.approx(float(scale), rel=0.1)


def test_progress_prints_deterministic_lines(capsys):
    x = _mixture_data(200)
    start = svi.mixture_init(jax.random.key(0), x, 3, 5.0)
    a, _ = svi.mixture_fit(jax.random.key(1), x, start, 4, 20, 5.0, progress=True)
    b, _ = svi.mixture_fit(jax.random.key(1), x, start, 4, 20, 5.0)
    assert capsys.readouterr().out == "".join(f"SVI: {i}/4 epochs\n" for i in range(1, 5))
    np.testing.assert_allclose(a.m, b.m, rtol=1e-6)


@pytest.mark.parametrize("tau, kappa, name", [(0.0, 0.7, "tau"), (-1.0, 0.7, "tau"),
                                              (1.0, 0.0, "kappa"), (1.0, -0.5, "kappa"),
                                              (1.0, 0.5, "kappa"), (1.0, 1.2, "kappa")])
def test_bad_schedule(tau, kappa, name):
    x = _mixture_data(100)
    start = svi.mixture_init(jax.random.key(0), x, 3, 5.0)
    with pytest.raises(ValueError, match=name):
        svi.mixture_fit(jax.random.key(1), x, start, 1, 10, 5.0, tau=tau, kappa=kappa)
    with pytest.raises(ValueError, match=name):
        svi.step_size(1, tau, kappa)


def test_bad_batch_size():
    x = _mixture_data(100)
    start = svi.mixture_init(jax.random.key(0), x, 3, 5.0)
    with pytest.raises(ValueError, match="batch_size"):
        svi.mixture_fit(jax.random.key(1), x, start, 1, 101, 5.0)
    data, log_prior, log_lik = _regression_problem()
    params = families.normal.init(jnp.zeros(3), 1.0)
    with pytest.raises(ValueError, match="batch_size"):
        svi.minibatch_fit(jax.random.key(0), families.normal, params, log_prior, log_lik, data,
                          1, 121, optax.adam(0.01))


def test_other_bad_input():
    x = _mixture_data(100)
    start = svi.mixture_init(jax.random.key(0), x, 3, 5.0)
    with pytest.raises(TypeError, match="key"):
        svi.mixture_fit(1, x, start, 1, 10, 5.0)
    with pytest.raises(ValueError, match="state.m"):
        svi.mixture_fit(jax.random.key(1), x[:, :1], start, 1, 10, 5.0)
    with pytest.raises(ValueError, match="prior_scale"):
        svi.mixture_fit(jax.random.key(1), x, start, 1, 10, -5.0)
    with pytest.raises(ValueError, match="NaN"):
        svi.mixture_fit(jax.random.key(1), x.at[0, 0].set(jnp.inf), start, 1, 10, 5.0)
    data, log_prior, log_lik = _regression_problem()
    params = families.normal.init(jnp.zeros(3), 1.0)
    with pytest.raises(ValueError, match="leading axis"):
        svi.minibatch_fit(jax.random.key(0), families.normal, params, log_prior, log_lik,
                          (data[0], data[1][:10]), 1, 10, optax.adam(0.01))
    with pytest.raises(TypeError, match="optimizer"):
        svi.minibatch_fit(jax.random.key(0), families.normal, params, log_prior, log_lik, data,
                          1, 10, "adam")
    with pytest.raises(ValueError, match="devices"):
        svi.minibatch_fit(jax.random.key(0), families.normal, params, log_prior, log_lik, data,
                          1, 10, optax.adam(0.01), devices=[])
    with pytest.raises(TypeError, match="devices"):
        svi.mixture_fit(jax.random.key(1), x, start, 1, 10, 5.0, devices="cpu")
