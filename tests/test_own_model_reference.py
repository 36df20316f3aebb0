"""The appendix "Your own model": its stored NUTS run passes its checks, and a short rerun agrees.

The page prints numbers from the run that ``scripts/references/own_model_nuts.py``
stored, never from a live NUTS run (whose digits depend on the processor).
These tests check the stored run's own diagnostics, and rerun the script's
sampler briefly with another seed: posterior means on the unconstrained scale
must agree with the stored ones within 4 Monte Carlo standard errors of both
runs combined. Bitwise agreement is neither expected nor tested.

The stored run is a float32 run, and under ``jax_enable_x64`` the script
simulates other data (``jax.random.normal`` draws other numbers in float64),
so these tests are marked ``float32`` and left out of the float64 pass.
"""


import jax.numpy as jnp
import numpy as np
import pytest

import reference_scripts
from vibook import mcmc, references

pytestmark = pytest.mark.float32



def _script():
    return reference_scripts.load("own_model_nuts")


def _mean_mcse(draws):
    """Per coordinate: mean and its MCSE (bulk ESS), in float64."""
    draws = jnp.asarray(draws)
    flat = np.asarray(draws, dtype=np.float64).reshape(-1, draws.shape[2])
    ess = np.asarray(mcmc.ess_bulk(draws), dtype=np.float64)
    return flat.mean(0), flat.std(0) / np.sqrt(ess)


def test_stored_run_has_its_script_data_and_shapes():
    run = references.load("own_model_nuts")
    assert run["_meta"]["script"].endswith("scripts/references/own_model_nuts.py")
    assert run["draws"].shape == (4, 1000, 5)
    for field in ("is_divergent", "energy", "tree_depth", "acceptance_rate"):
        assert run[field].shape == (4, 1000), field
    assert np.unique(run["starts"], axis=0).shape[0] == 4        # one start per chain
    x, y = _script().simulate()
    np.testing.assert_allclose(run["x"], x, rtol=1e-6)
    np.testing.assert_allclose(run["y"], y, rtol=1e-6)


def test_stored_run_passes_the_pages_checks():
    run = references.load("own_model_nuts")
    draws = jnp.asarray(run["draws"])
    assert float(mcmc.rhat(draws).max()) < 1.01
    assert float(mcmc.ess_bulk(draws).min()) > 400
    assert float(mcmc.ess_tail(draws).min()) > 400
    assert int(run["is_divergent"].sum()) == 0
    assert int((run["tree_depth"] >= run["max_tree_depth"][:, None]).sum()) == 0
    assert float(mcmc.ebfmi(jnp.asarray(run["energy"])).min()) > 0.3


def test_short_rerun_agrees_with_the_stored_means():
    draws, info, _ = _script().run(num_warmup=500, num_samples=500, seed=1)
    assert int(info.is_divergent.sum()) == 0
    assert float(mcmc.rhat(draws).max()) < 1.05
    mean, mcse = _mean_mcse(draws)
    stored_mean, stored_mcse = _mean_mcse(references.load("own_model_nuts")["draws"])
    assert np.all(np.abs(mean - stored_mean) < 4 * np.hypot(mcse, stored_mcse))
