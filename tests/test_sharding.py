"""Data-parallel minibatch fits on four CPU devices agree with one device.

``XLA_FLAGS`` must be set before JAX starts, so the four-device runs happen in
a fresh Python process that prints its measurements as JSON.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = r'''
import json
import sys

import jax
import jax.numpy as jnp
import numpy as np
import optax

from vibook import data, device, families, svi, vae

sys.path.insert(0, "tests")
from test_svi import _regression_problem

device.setup()
jax.config.update("jax_numpy_rank_promotion", "raise")
one = jax.devices()[:1]
out = {"num_devices": len(jax.devices()),
       "mesh_64": device.batch_sharding(64).mesh.size,
       "mesh_10": device.batch_sharding(10).mesh.size,
       "mesh_7_is_none": device.batch_sharding(7) is None,
       "mesh_one_device_is_none": device.batch_sharding(64, one) is None}


def rel_diff(a, b):
    """The largest max |a - b| / max |a| over the leaves of two pytrees."""
    return max(float(np.max(np.abs(x - y)) / np.max(np.abs(x)))
               for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))


def compare(name, fit, jitted):
    """Fit on all devices (twice) and on one; record the difference and reuse."""
    many = fit()
    cached = jitted._cache_size()
    fit()
    out[name + "_recompiled"] = jitted._cache_size() != cached
    out[name + "_rel_diff"] = rel_diff(fit(devices=one), many)
    out[name + "_params_on_devices"] = len(jax.tree.leaves(many)[0].sharding.device_set)


def all_reduces(jitted, *args):
    return jitted.lower(*args).compile().as_text().count("all-reduce(")


# The VAE of chapter 8, smaller.
digits = data.digits(jax.random.key(0))
params = vae.init(jax.random.key(1), 64, 4, (32,))
opt = optax.adam(1e-3)
compare("vae", lambda **kw: vae.fit(jax.random.key(2), params, digits.x_train, 2, 64, opt,
                                    x_test=digits.x_test, **kw), vae._fit)
out["vae_all_reduces"] = all_reduces(vae._fit, jax.random.key(2), params, digits.x_train,
                                     None, 2, 64, opt, jnp.float32(1.0),
                                     device.batch_sharding(64))

# Bayesian logistic regression, full-rank Gaussian (tests/test_svi.py's problem).
xy, log_prior, log_lik = _regression_problem()
family = families.full_rank_normal
start = family.init(jnp.zeros(3), 0.1 * jnp.eye(3))
opt = optax.adam(0.05)
compare("bbvi", lambda **kw: svi.minibatch_fit(jax.random.key(4), family, start, log_prior,
                                               log_lik, xy, 5, 40, opt, num_samples=2, **kw),
        svi._bbvi_epochs)
out["bbvi_all_reduces"] = all_reduces(svi._bbvi_epochs, (start, opt.init(start)),
                                      jax.random.split(jax.random.key(4), 5), family, log_prior,
                                      log_lik, xy, 40, opt, 2, device.batch_sharding(40))

# The mixture of chapter 7, by natural-gradient SVI.
x, _ = data.synthetic_mixture(jax.random.key(5), 2000, jnp.array([[-4.0, 0], [4, 0], [0, 5]]))
state = svi.mixture_init(jax.random.key(6), x, 3, 5.0)
compare("mixture", lambda **kw: svi.mixture_fit(jax.random.key(7), x, state, 3, 100, 5.0, **kw),
        svi._mixture_epochs)
out["mixture_all_reduces"] = all_reduces(svi._mixture_epochs, state,
                                         jax.random.split(jax.random.key(7), 3), x, 100, 5.0,
                                         1.0, 0.7, device.batch_sharding(100))
print(json.dumps(out))
'''


@pytest.fixture(scope="module")
def four_devices():
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=4",
           "JAX_PLATFORMS": "cpu"}
    run = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True,
                         text=True, cwd=Path(__file__).parents[1], timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


def test_mesh_uses_the_largest_divisor_of_the_batch_size(four_devices):
    assert four_devices["num_devices"] == 4, "XLA_FLAGS did not give four CPU devices"
    assert four_devices["mesh_64"] == 4
    assert four_devices["mesh_10"] == 2
    assert four_devices["mesh_7_is_none"], "batch 7 on 4 devices should not be sharded"
    assert four_devices["mesh_one_device_is_none"]


@pytest.mark.parametrize("fit", ["vae", "bbvi", "mixture"])
def test_four_devices_give_the_one_device_result(four_devices, fit):
    # Measured: at most 4e-7 relative; only the order of the sums differs.
    diff = four_devices[f"{fit}_rel_diff"]
    assert diff < 1e-5, f"{fit}: 4 devices differ from 1 by {diff:.2g} (relative)"


@pytest.mark.parametrize("fit", ["vae", "bbvi", "mixture"])
def test_the_minibatch_step_is_partitioned(four_devices, fit):
    assert four_devices[f"{fit}_all_reduces"] >= 1, f"{fit}: no all-reduce in the compiled step"
    assert four_devices[f"{fit}_params_on_devices"] == 4, f"{fit}: result is not on 4 devices"
    assert not four_devices[f"{fit}_recompiled"], f"{fit}: a repeated call compiled again"
