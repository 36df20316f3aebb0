"""The NUTS wrapper against an exact posterior; R-hat and ESS against ArviZ."""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vibook import mcmc
from vibook.models import NormalNormal

with warnings.catch_warnings():
    warnings.simplefilter("ignore", FutureWarning)   # ArviZ announces its refactor
    import arviz

MODEL = NormalNormal(prior_mean=4.2, prior_scale=0.3, noise_scale=2.0)
_, X = MODEL.sample(jax.random.key(0), 100, mean=4.0)


def log_density(z):
    return MODEL.log_joint(z[0], X)


def test_nuts_recovers_the_exact_normal_normal_posterior():
    mean, scale = MODEL.posterior(X)
    init = jnp.asarray([[0.0], [2.0], [6.0], [8.0]])                 # dispersed starts
    draws, info = mcmc.nuts(jax.random.key(1), log_density, init, 300, 1000)
    assert draws.shape == (4, 1000, 1)
    assert info.acceptance_rate.shape == (4, 1000) and info.step_size.shape == (4,)
    assert float(mcmc.rhat(draws)[0]) < 1.01
    ess = float(mcmc.ess(draws)[0])
    assert ess > 500
    flat = np.asarray(draws).ravel()
    # Monte Carlo standard errors: sd / sqrt(ESS) for the mean, about
    # sd / sqrt(2 ESS) for the standard deviation.
    assert abs(flat.mean() - float(mean)) < 4 * float(scale) / np.sqrt(ess)
    assert abs(flat.std() - float(scale)) < 4 * float(scale) / np.sqrt(2 * ess)
    assert not bool(jnp.any(info.is_divergent))
    assert np.all(np.asarray(info.num_warmup_steps) >= 300)


def test_nuts_is_reproducible_and_accepts_one_start_for_all_chains():
    a, _ = mcmc.nuts(jax.random.key(2), log_density, jnp.asarray([4.0]), 100, 50, num_chains=2)
    b, _ = mcmc.nuts(jax.random.key(2), log_density, jnp.asarray([4.0]), 100, 50, num_chains=2)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (2, 50, 1) and not np.array_equal(a[0], a[1])


def _ar1_chains(seed, offsets):
    rng = np.random.default_rng(seed)
    x = np.zeros((4, 500, len(offsets)))
    for t in range(1, 500):
        x[:, t] = 0.6 * x[:, t - 1] + rng.normal(size=(4, len(offsets)))
    return x + np.asarray(offsets)[None, None, :] * np.arange(4)[:, None, None]


def test_rhat_and_ess_match_arviz():
    draws = _ar1_chains(0, [0.0, 0.1, 0.3])
    data = arviz.convert_to_dataset(draws)
    expected_rhat = arviz.rhat(data, method="identity").x.values    # not split, not ranked
    expected_ess = arviz.ess(data, method="identity").x.values
    np.testing.assert_allclose(mcmc.rhat(jnp.asarray(draws)), expected_rhat, rtol=1e-4)
    np.testing.assert_allclose(mcmc.ess(jnp.asarray(draws)), expected_ess, rtol=2e-2)
    assert float(mcmc.rhat(jnp.asarray(draws))[2]) > 1.01           # shifted chains flagged


def test_nuts_rejects_bad_input():
    with pytest.raises(ValueError, match="log_density"):
        mcmc.nuts(jax.random.key(0), lambda z: z, jnp.zeros(2), 10, 10)
    with pytest.raises(TypeError, match="log_density"):
        mcmc.nuts(jax.random.key(0), "density", jnp.zeros(2), 10, 10)
    with pytest.raises(ValueError, match="init_position"):
        mcmc.nuts(jax.random.key(0), log_density, jnp.zeros((3, 1)), 10, 10)
    with pytest.raises(ValueError, match="init_position"):
        mcmc.nuts(jax.random.key(0), log_density, jnp.asarray([jnp.nan]), 10, 10)
    with pytest.raises(TypeError, match="key"):
        mcmc.nuts(0, log_density, jnp.zeros(1), 10, 10)
    with pytest.raises(ValueError, match="num_samples"):
        mcmc.nuts(jax.random.key(0), log_density, jnp.zeros(1), 10, 0)
    with pytest.raises(ValueError, match="target_acceptance_rate"):
        mcmc.nuts(jax.random.key(0), log_density, jnp.zeros(1), 10, 10,
                  target_acceptance_rate=1.0)
    with pytest.raises(ValueError, match="draws"):
        mcmc.rhat(jnp.zeros((1, 100, 2)))
