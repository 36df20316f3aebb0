"""Named parameters (dicts) and the one log-density convention (issue 21).

Every user log density takes one draw and returns a scalar; vibook maps it over
draws. A dict of named parameters works wherever a model's parameters go:
families, elbo, vi.fit, nuts, and the PSIS and self-normalised expectations.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from jax.flatten_util import ravel_pytree
from scipy import stats

from vibook import diagnostics, divergences, elbo, families, marginal, mcmc, vi

KEY = jax.random.key(0)
LOC = {"beta": jnp.array([1.0, -2.0]), "alpha": jnp.array(0.5)}


@pytest.mark.parametrize("family", [families.normal, families.full_rank_normal],
                         ids=["normal", "full_rank"])
def test_a_dict_loc_gives_dict_draws_and_the_flat_family_s_numbers(family):
    params = family.init(LOC, 0.7) if family is families.normal else family.init(
        LOC, 0.7 * jnp.eye(3))
    z = family.sample(KEY, params, 5)
    assert set(z) == {"alpha", "beta"} and z["beta"].shape == (5, 2) and z["alpha"].shape == (5,)
    flat_loc = ravel_pytree(LOC)[0]                                 # alpha first (sorted keys)
    flat = (family.init(flat_loc, 0.7) if family is families.normal
            else family.init(flat_loc, 0.7 * jnp.eye(3)))
    flat_z = family.sample(KEY, flat, 5)
    np.testing.assert_array_equal(jnp.concatenate([z["alpha"][:, None], z["beta"]], 1), flat_z)
    # log q against SciPy: independent normals with sd 0.7 around LOC
    expected = (stats.norm.logpdf(np.asarray(flat_z), np.asarray(flat_loc), 0.7)).sum(axis=1)
    np.testing.assert_allclose(family.log_prob(params, z), expected, rtol=1e-5)
    np.testing.assert_allclose(family.entropy(params), family.entropy(flat), rtol=1e-6)
    loc, _ = family.unpack(params)
    np.testing.assert_allclose(loc["beta"], LOC["beta"])


def test_vi_fit_on_a_dict_model_finds_the_conjugate_posterior():
    # y_i ~ N(mu, 1), mu ~ N(0, 10^2); b ~ N(3, 0.5^2) a priori only: posteriors known.
    y = jnp.array([0.3, 1.1, 0.8, 1.6])

    def log_joint(z):                                   # one draw, a dict
        return (stats_norm(z["mu"], 0.0, 10.0) + jnp.sum(stats_norm(y, z["mu"], 1.0))
                + stats_norm(z["b"], 3.0, 0.5))

    start = families.normal.init({"mu": 0.0, "b": 0.0}, 1.0)
    objective = functools.partial(elbo.reparam, log_joint=log_joint, family=families.normal,
                                  num_samples=16)
    opt = optax.adam(optax.cosine_decay_schedule(0.05, 3000, alpha=0.01))
    state, _ = vi.fit(KEY, objective, start, opt, 3000)
    loc, scale = families.normal.unpack(state.params)
    prec = 1 / 100 + len(y)
    assert abs(float(loc["mu"]) - float(jnp.sum(y)) / prec) < 0.03
    assert abs(float(scale["mu"]) - prec ** -0.5) < 0.03
    assert abs(float(loc["b"]) - 3.0) < 0.03 and abs(float(scale["b"]) - 0.5) < 0.03


def stats_norm(x, loc, scale):
    return jax.scipy.stats.norm.logpdf(x, loc, scale)


def test_nuts_on_a_dict_equals_nuts_on_the_flat_vector():
    def log_density(p):
        return -0.5 * jnp.sum((p["beta"] - 1.0) ** 2) - 0.5 * (p["alpha"] / 2.0) ** 2

    draws, info = mcmc.nuts(KEY, log_density, LOC, 100, 50, num_chains=2)
    assert draws["beta"].shape == (2, 50, 2) and draws["alpha"].shape == (2, 50)
    flat_loc, unravel = ravel_pytree(LOC)
    flat_draws, flat_info = mcmc.nuts(KEY, lambda z: log_density(unravel(z)), flat_loc, 100,
                                      50, num_chains=2)
    np.testing.assert_allclose(draws["alpha"], flat_draws[..., 0], rtol=1e-6)
    np.testing.assert_allclose(draws["beta"], flat_draws[..., 1:], rtol=1e-6)


def test_psis_and_self_normalised_expectations_of_a_dict():
    values = {"a": jnp.arange(30.0), "b": jnp.ones((30, 2))}
    log_w = jnp.log(jnp.linspace(1.0, 2.0, 30))               # light tail: smoothing changes little
    w = np.linspace(1.0, 2.0, 30) / np.linspace(1.0, 2.0, 30).sum()
    est, khat = diagnostics.psis_expectation(log_w, values)
    smoothed, _ = diagnostics.psis(log_w)
    np.testing.assert_allclose(est["a"], np.sum(np.exp(smoothed) * np.arange(30.0)), rtol=1e-5)
    np.testing.assert_allclose(est["b"], [1.0, 1.0], rtol=1e-5)
    sn = marginal.self_normalised(log_w, values)
    np.testing.assert_allclose(sn["a"].mean, np.sum(w * np.arange(30.0)), rtol=1e-5)
    se = diagnostics.psis_mcse(log_w - jax.nn.logsumexp(log_w), values)
    np.testing.assert_allclose(se["a"], sn["a"].std_err, rtol=1e-5)


def test_the_one_convention_names_itself():
    params = families.normal.init(jnp.zeros(3), 1.0)
    with pytest.raises(TypeError, match=r"ONE draw z \(here of shape \(3,\)\).*z\[:, j\]"):
        elbo.reparam(KEY, params, lambda z: -0.5 * jnp.sum(z[:, 0] ** 2), families.normal, 4)
    with pytest.raises(ValueError, match=r"returned shape \(3,\)"):
        elbo.reparam(KEY, params, lambda z: -0.5 * z**2, families.normal, 4)
    with pytest.raises(TypeError, match="log_density must take ONE draw"):
        mcmc.nuts(KEY, lambda z: z[:, 0], jnp.zeros(2), 10, 10, num_chains=2)
    # under jit too: the check runs while tracing
    with pytest.raises(TypeError, match="ONE draw"):
        jax.jit(lambda p: elbo.reparam(KEY, p, lambda z: z[:, 0], families.normal, 4))(params)


def test_kl_monte_carlo_of_an_infinite_kl_has_zero_standard_error():
    sample_p = lambda key, n: jax.random.normal(key, (n,))          # noqa: E731
    half = lambda z: jnp.where(z > 0, jax.scipy.stats.norm.logpdf(z) + jnp.log(2.0), -jnp.inf)
    kl, se = divergences.kl_monte_carlo(KEY, sample_p, jax.scipy.stats.norm.logpdf, half, 50)
    assert float(kl) == np.inf and float(se) == 0.0
