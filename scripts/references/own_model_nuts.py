"""The appendix "Your own model": its NUTS reference run, stored as data.

Run from the repository root: ``python scripts/references/own_model_nuts.py``.
The model is a linear regression with a positive noise scale and predictors
on very different scales (``model()`` below; the appendix builds the same
model in its own cells). NUTS runs on the unconstrained coordinates
``u = (alpha, beta_1, beta_2, beta_3, log sigma)`` that
``vibook.transforms.unconstrain`` makes: 4 chains from dispersed starts (one
per chain), 1000 warm-up and 1000 kept draws per chain.

NUTS amplifies last-bit differences between processors, so the appendix
prints numbers from these stored draws rather than from a live run;
``tests/test_own_model_reference.py`` reruns short chains and compares them
with the stored ones statistically.
"""

import os

os.environ.setdefault("XLA_FLAGS", "--xla_cpu_max_isa=AVX2")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
from jax.scipy import stats  # noqa: E402

from vibook import mcmc, references, transforms  # noqa: E402

NAME = "own_model_nuts"
NUM_WARMUP, NUM_SAMPLES, NUM_CHAINS = 1000, 1000, 4


def simulate(key=jax.random.key(0), n=100):
    """Predictors on three scales (one in the thousands), and y from known parameters."""
    k_x, k_y = jax.random.split(key)
    z = jax.random.normal(k_x, (n, 3))
    x = jnp.stack([z[:, 0],                        # a standardised score
                   3000.0 + 800.0 * z[:, 1],       # an income, in dollars
                   0.05 * z[:, 2]], axis=1)        # a small rate
    alpha, beta, sigma = 1.0, jnp.array([0.5, 0.001, -4.0]), 0.8
    y = alpha + x @ beta + sigma * jax.random.normal(k_y, (n,))
    return x, y


def log_joint(params, x, y):
    """log p(alpha, beta, sigma, y | x) for one set of constrained parameters."""
    alpha, beta, sigma = params["alpha"], params["beta"], params["sigma"]
    return (stats.norm.logpdf(alpha, 0.0, 10.0)
            + jnp.sum(stats.norm.logpdf(beta, 0.0, 10.0))
            + stats.expon.logpdf(sigma)
            + jnp.sum(stats.norm.logpdf(y, alpha + x @ beta, sigma)))


def model():
    """The model on the unconstrained scale (``transforms.unconstrain``)."""
    x, y = simulate()
    return transforms.unconstrain(
        lambda p: log_joint(p, x, y),
        {"alpha": None, "beta": None, "sigma": transforms.positive()},
        {"alpha": 0.0, "beta": jnp.zeros(3), "sigma": 1.0})


def run(num_warmup=NUM_WARMUP, num_samples=NUM_SAMPLES, seed=0):
    """NUTS from dispersed starts (Stan's box, [-2, 2] per coordinate); seed 0 is stored."""
    m = model()
    starts = mcmc.dispersed_starts(jax.random.key(100 + seed), NUM_CHAINS, m.init, scale=2.0)
    draws, info = mcmc.nuts(jax.random.key(seed), m.log_density, starts, num_warmup,
                            num_samples, num_chains=NUM_CHAINS)
    return draws, info, starts


if __name__ == "__main__":
    draws, info, starts = run()
    x, y = simulate()
    references.save(NAME, script=__file__, draws=draws, starts=starts, x=x, y=y,
                    is_divergent=info.is_divergent, energy=info.energy,
                    tree_depth=info.tree_depth, max_tree_depth=info.max_tree_depth,
                    acceptance_rate=info.acceptance_rate, step_size=info.step_size,
                    num_integration_steps=info.num_integration_steps,
                    num_warmup_steps=info.num_warmup_steps)
    print(NAME, draws.shape, "rhat", float(mcmc.rhat(draws).max()),
          "ess_bulk", float(mcmc.ess_bulk(draws).min()),
          "ess_tail", float(mcmc.ess_tail(draws).min()),
          "divergent", int(info.is_divergent.sum()),
          "depth_hit", int((info.tree_depth >= info.max_tree_depth[:, None]).sum()),
          "ebfmi", float(mcmc.ebfmi(info.energy).min()))
    print("means", draws.reshape(-1, 5).mean(0), "sds", draws.reshape(-1, 5).std(0))
