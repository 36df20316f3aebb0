"""The NUTS wrapper against an exact posterior and BlackJAX; R-hat, ESS and E-BFMI against ArviZ."""

import warnings

import blackjax
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


def _ar1_chains(seed, offsets, num_samples=500):
    rng = np.random.default_rng(seed)
    x = np.zeros((4, num_samples, len(offsets)))
    for t in range(1, num_samples):
        x[:, t] = 0.6 * x[:, t - 1] + rng.normal(size=(4, len(offsets)))
    return x + np.asarray(offsets)[None, None, :] * np.arange(4)[:, None, None]


@pytest.mark.parametrize("num_samples", [500, 501, 37])
def test_rank_rhat_and_bulk_tail_ess_match_arviz(num_samples):
    draws = _ar1_chains(0, [0.0, 0.1, 0.3], num_samples)
    draws[:, :, 0] = np.round(draws[:, :, 0], 1)                     # ties in the ranks
    data = arviz.convert_to_dataset(draws)
    x = jnp.asarray(draws)
    np.testing.assert_allclose(mcmc.rhat(x), arviz.rhat(data, method="rank").x.values,
                               rtol=1e-5)
    for ours, method in [(mcmc.ess, "mean"), (mcmc.ess_bulk, "bulk"), (mcmc.ess_tail, "tail")]:
        np.testing.assert_allclose(ours(x), arviz.ess(data, method=method).x.values,
                                   rtol=1e-4, err_msg=method)
    if num_samples == 500:
        assert float(mcmc.rhat(x)[2]) > 1.01                         # shifted chains flagged


def test_rank_rhat_flags_chains_that_differ_only_in_scale():
    # The classic R-hat compares means only; the folded half of the rank
    # version sees chains with equal means and different spreads.
    rng = np.random.default_rng(1)
    x = rng.normal(size=(4, 1000, 1)) * np.asarray([1.0, 1.0, 1.0, 3.0])[:, None, None]
    classic = arviz.rhat(arviz.convert_to_dataset(x), method="identity").x.values
    assert float(classic[0]) < 1.01 < float(mcmc.rhat(jnp.asarray(x))[0])


def test_ebfmi_matches_arviz():
    rng = np.random.default_rng(2)
    energy = rng.normal(size=(3, 300)).cumsum(axis=1) * 0.2 + rng.normal(size=(3, 300))
    np.testing.assert_allclose(mcmc.ebfmi(jnp.asarray(energy)), arviz.bfmi(energy),
                               rtol=1e-5)


def test_nuts_matches_blackjax_run_by_hand():
    """Same keys, same settings: the wrapper's draws, energies and tree depths are BlackJAX's."""
    def ld(z):
        return -0.5 * jnp.sum(z**2 / jnp.asarray([1.0, 100.0]))
    starts = mcmc.dispersed_starts(jax.random.key(0), 2, jnp.zeros(2),
                                   scale=jnp.asarray([2.0, 20.0]))
    draws, info = mcmc.nuts(jax.random.key(1), ld, starts, 100, 50, num_chains=2,
                            target_acceptance_rate=0.9, max_tree_depth=3)

    def chain(key, z):
        key_warmup, key_sample = jax.random.split(key)
        warmup = blackjax.window_adaptation(blackjax.nuts, ld, target_acceptance_rate=0.9,
                                            max_num_doublings=3)
        (state, params), _ = warmup.run(key_warmup, z, num_steps=100)
        kernel = blackjax.nuts(ld, params["step_size"], params["inverse_mass_matrix"],
                               max_num_doublings=3)

        def step(state, k):
            state, i = kernel.step(k, state)
            return state, (state.position, i.energy, i.num_trajectory_expansions,
                           i.acceptance_rate)
        return jax.lax.scan(step, state, jax.random.split(key_sample, 50))[1]

    keys = jax.random.split(jax.random.key(1), 2)
    position, energy, depth, accept = jax.jit(jax.vmap(chain))(keys, starts)
    np.testing.assert_allclose(draws, position, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(info.energy, energy, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(info.tree_depth, depth)
    np.testing.assert_allclose(info.acceptance_rate, accept, rtol=1e-5)
    assert int(info.tree_depth.max()) <= 3 and np.all(np.asarray(info.max_tree_depth) == 3)
    assert np.all(np.asarray(info.num_integration_steps) <= 2**3)
    assert float(starts[0, 1]) != float(starts[1, 1])                 # one start per chain


def test_nuts_target_acceptance_rate_sets_the_step_size():
    # A higher target acceptance rate gives shorter steps and a higher mean acceptance.
    runs = {a: mcmc.nuts(jax.random.key(3), log_density, jnp.asarray([4.0]), 300, 300,
                         num_chains=2, target_acceptance_rate=a)[1] for a in (0.6, 0.95)}
    assert float(runs[0.95].step_size.max()) < float(runs[0.6].step_size.min())
    assert float(runs[0.95].acceptance_rate.mean()) > float(runs[0.6].acceptance_rate.mean())
    assert float(mcmc.ebfmi(runs[0.95].energy).min()) > 0.3        # a Gaussian: no warning


def test_dispersed_starts_rejects_bad_input():
    with pytest.raises(ValueError, match="scale"):
        mcmc.dispersed_starts(jax.random.key(0), 4, jnp.zeros(2), scale=-1.0)
    with pytest.raises(ValueError, match="scale"):
        mcmc.dispersed_starts(jax.random.key(0), 4, jnp.zeros(2), scale=jnp.ones(3))
    with pytest.raises(ValueError, match="num_chains"):
        mcmc.dispersed_starts(jax.random.key(0), 0, jnp.zeros(2))
    with pytest.raises(ValueError, match="energy"):
        mcmc.ebfmi(jnp.zeros((2, 3)))


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
    with pytest.raises(ValueError, match="max_tree_depth"):
        mcmc.nuts(jax.random.key(0), log_density, jnp.zeros(1), 10, 10, max_tree_depth=0)
