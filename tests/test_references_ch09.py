"""Chapter 9's stored NUTS runs: they pass their own checks, and short reruns agree.

The chapter prints numbers from the runs that ``scripts/references/ch09_nuts.py``
stored, never from a live NUTS run (whose digits depend on the processor).
These tests rerun that script's samplers briefly, with another key, and
compare the draws with the stored ones *statistically*: posterior means and
standard deviations within 4 Monte Carlo standard errors of both runs
combined. Bitwise agreement is neither expected nor tested.
"""


import jax.numpy as jnp
import numpy as np
import pytest

import reference_scripts
from vibook import mcmc, references

NAMES = ["ch09_nuts_normal_normal", "ch09_nuts_logistic", "ch09_nuts_schools_nc",
         "ch09_nuts_schools_c"]


def _script():
    return reference_scripts.load("ch09_nuts")


def _mean_sd_mcse(draws):
    """Per coordinate: mean, sd, and the MCSEs of both (split-chain ESS)."""
    draws = jnp.asarray(draws)
    flat = np.asarray(draws, dtype=np.float64).reshape(-1, draws.shape[2])
    mean, sd = flat.mean(0), flat.std(0)
    ess_mean = np.asarray(mcmc.ess(draws), dtype=np.float64)
    ess_sq = np.asarray(mcmc.ess((draws - draws.mean(axis=(0, 1))[None, None]) ** 2),
                        dtype=np.float64)
    return mean, sd, sd / np.sqrt(ess_mean), sd / np.sqrt(2 * ess_sq)


@pytest.mark.parametrize("name", NAMES)
def test_stored_run_has_its_script_and_shapes(name):
    run = references.load(name)
    assert run["_meta"]["script"].endswith("scripts/references/ch09_nuts.py")
    chains, samples, _ = run["draws"].shape
    assert (chains, samples) == (4, 1000)
    for field in ("is_divergent", "energy", "tree_depth", "acceptance_rate",
                  "num_integration_steps"):
        assert run[field].shape == (chains, samples), field
    assert np.unique(run["starts"], axis=0).shape[0] == chains     # one start per chain


@pytest.mark.parametrize("name", NAMES[:3])
def test_reference_runs_pass_the_chapters_checks(name):
    run = references.load(name)
    draws = jnp.asarray(run["draws"])
    assert float(mcmc.rhat(draws).max()) < 1.01
    assert float(mcmc.ess_bulk(draws).min()) > 400
    assert float(mcmc.ess_tail(draws).min()) > 400
    assert int(run["is_divergent"].sum()) == 0
    assert int((run["tree_depth"] >= run["max_tree_depth"][:, None]).sum()) == 0
    assert float(mcmc.ebfmi(jnp.asarray(run["energy"])).min()) > 0.3


def test_centred_reference_is_flagged():
    run = references.load("ch09_nuts_schools_c")
    assert int(run["is_divergent"].sum()) > 0
    assert float(mcmc.rhat(jnp.asarray(run["draws"]))[1]) > 1.01


def test_exact_posterior_is_recovered_by_the_stored_run():
    nn, x = _script().normal_normal()
    mean, scale = (float(v) for v in nn.posterior(x))
    m, sd, mcse_m, mcse_sd = _mean_sd_mcse(references.load("ch09_nuts_normal_normal")["draws"])
    assert abs(m[0] - mean) < 4 * mcse_m[0]
    assert abs(sd[0] - scale) < 4 * mcse_sd[0]


@pytest.mark.parametrize("name", ["ch09_nuts_normal_normal", "ch09_nuts_schools_nc"])
def test_short_rerun_agrees_with_the_stored_run(name):
    draws, info = _script().run(name, num_warmup=300, num_samples=300, seed=1)
    assert float(mcmc.rhat(draws).max()) < 1.05
    assert int(info.is_divergent.sum()) == 0
    m_new, sd_new, se_m_new, se_sd_new = _mean_sd_mcse(draws)
    m_ref, sd_ref, se_m_ref, se_sd_ref = _mean_sd_mcse(references.load(name)["draws"])
    assert np.all(np.abs(m_new - m_ref) < 4 * np.hypot(se_m_new, se_m_ref))
    assert np.all(np.abs(sd_new - sd_ref) < 4 * np.hypot(se_sd_new, se_sd_ref))
