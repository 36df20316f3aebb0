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
import functools
import json
import sys

import jax
import jax.numpy as jnp
import numpy as np
import optax

from vibook import _scan, data, device, families, svi, vae, vi

sys.path.insert(0, "tests")
from test_vi import _regression_problem

device.setup()
jax.config.update("jax_numpy_rank_promotion", "raise")


def mesh_size(batch_size, devices=None):
    with device.data_parallel(batch_size, devices) as mesh:
        return None if mesh is None else mesh.size


out = {"num_devices": len(jax.devices()),
       "mesh_64": mesh_size(64), "mesh_10": mesh_size(10), "mesh_7": mesh_size(7),
       "mesh_one_device": mesh_size(64, jax.devices()[:1])}

# Record the arguments of the one compiled loop, to count its all-reduces.
calls = []
compiled_loop = _scan._scan


def spy(*args):
    calls.append(args)
    return compiled_loop(*args)


_scan._scan = spy


def rel_diff(a, b):
    """The largest max |a - b| / max |a| over the leaves of two pytrees."""
    return max(float(np.max(np.abs(x - y)) / np.max(np.abs(x)))
               for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))


def compare(name, fit, batch_size):
    """Fit data-parallel (twice) and on one device; record differences, reuse, all-reduces."""
    one = fit()
    one_call = calls[-1]
    with device.data_parallel(batch_size):
        many = fit()
        cached = compiled_loop._cache_size()
        fit()
        out[name + "_recompiled"] = compiled_loop._cache_size() != cached
        hlo = compiled_loop.lower(*calls[-1]).compile().as_text()
    out[name + "_all_reduces"] = hlo.count("all-reduce(")
    out[name + "_rel_diff"] = rel_diff(many, one)
    out[name + "_params_on_devices"] = len(jax.tree.leaves(many)[0].sharding.device_set)
    out[name + "_one_device_all_reduces"] = compiled_loop.lower(*one_call).compile(
        ).as_text().count("all-reduce(")


# The VAE of chapter 8, smaller.
digits = data.digits(jax.random.key(0))
params = vae.init(jax.random.key(1), 64, 4, (32,))
opt = optax.adam(1e-3)
compare("vae", lambda: vae.fit(jax.random.key(2), params, digits.x_train, 2, 64, opt,
                               x_test=digits.x_test), 64)

# Bayesian logistic regression, full-rank Gaussian (tests/test_vi.py's problem).
xy, log_prior, log_lik = _regression_problem()
family = families.full_rank_normal
objective = functools.partial(vi.minibatch_elbo, log_prior=log_prior, log_lik=log_lik,
                              family=family, num_data=120, num_samples=2)
start = family.init(jnp.zeros(3), 0.1 * jnp.eye(3))
opt = optax.adam(0.05)
compare("bbvi", lambda: vi.minibatch_fit(jax.random.key(4), objective, start, opt, xy, 5, 40), 40)

# The mixture of chapter 7, by natural-gradient SVI.
x, _ = data.synthetic_mixture(jax.random.key(5), 2000, jnp.array([[-4.0, 0], [4, 0], [0, 5]]))
state = svi.init(jax.random.key(6), x, 3, 5.0)
compare("mixture", lambda: svi.fit(jax.random.key(7), x, state, 3, 100, 5.0), 100)
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
    assert four_devices["mesh_7"] is None, "batch 7 on 4 devices should not be sharded"
    assert four_devices["mesh_one_device"] is None


@pytest.mark.parametrize("fit", ["vae", "bbvi", "mixture"])
def test_four_devices_give_the_one_device_result(four_devices, fit):
    # Measured: at most 4e-7 relative; only the order of the sums differs.
    diff = four_devices[f"{fit}_rel_diff"]
    assert diff < 1e-5, f"{fit}: 4 devices differ from 1 by {diff:.2g} (relative)"


@pytest.mark.parametrize("fit", ["vae", "bbvi", "mixture"])
def test_the_minibatch_step_is_partitioned(four_devices, fit):
    assert four_devices[f"{fit}_all_reduces"] >= 1, f"{fit}: no all-reduce in the compiled step"
    assert four_devices[f"{fit}_one_device_all_reduces"] == 0, f"{fit}: sharded outside the block"
    assert four_devices[f"{fit}_params_on_devices"] == 4, f"{fit}: result is not on 4 devices"
    assert not four_devices[f"{fit}_recompiled"], f"{fit}: a repeated call compiled again"
