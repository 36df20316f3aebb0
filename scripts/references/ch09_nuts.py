"""Chapter 9's NUTS reference runs, stored as data (``vibook.references``).

Run from the repository root: ``python scripts/references/ch09_nuts.py``.
Four models, each with 4 chains from dispersed starts (one per chain), 1000
warm-up and 1000 kept draws per chain:

* ``ch09_nuts_normal_normal``: the normal-normal model of chapter 4, whose
  posterior is known exactly (the check of the pipeline);
* ``ch09_nuts_logistic``: chapter 7's logistic regression on the
  breast-cancer training set;
* ``ch09_nuts_schools_nc`` and ``ch09_nuts_schools_c``: eight schools,
  non-centred and centred, with a target acceptance rate of 0.95.

Each file holds the draws ``(C, S, D)`` and the sampler's per-draw
diagnostics. NUTS amplifies last-bit differences between processors, so the
chapter prints numbers from these stored draws rather than from a live run;
``tests/test_references_ch09.py`` reruns short chains and compares them with
the stored ones statistically.
"""

import functools
import os

os.environ.setdefault("XLA_FLAGS", "--xla_cpu_max_isa=AVX2")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

from vibook import data, mcmc, models, references  # noqa: E402

NUM_WARMUP, NUM_SAMPLES, NUM_CHAINS = 1000, 1000, 4


def normal_normal():
    """The chapter-4 model and its 100 observations (as in chapter 9)."""
    nn = models.NormalNormal(prior_mean=4.2, prior_scale=0.3, noise_scale=2.0)
    _, x = nn.sample(jax.random.key(0), 100, mean=4.0)
    return nn, x


def logistic_data():
    """Chapter 7's design matrix (intercept first) and labels."""
    cancer = data.breast_cancer(jax.random.key(2), test_fraction=0.25)
    ones = jnp.ones((cancer.x_train.shape[0], 1))
    x = jnp.concatenate([ones, cancer.x_train], axis=1)            # (N, 31)
    return x, cancer.y_train.astype(jnp.float32)


def problems():
    """name: (log density of one z (D,), dispersed starts (C, D), target acceptance)."""
    nn, x_nn = normal_normal()
    x_lr, y_lr = logistic_data()
    # Eight schools: mu and theta (or eta) from a box of half-width 10, wider
    # than the posterior (mu's sd is about 3.4); log tau from [-2, 2].
    schools_scale = jnp.asarray([10.0, 2.0] + [10.0] * 8)
    start = functools.partial(mcmc.dispersed_starts, num_chains=NUM_CHAINS)
    return {
        "ch09_nuts_normal_normal": (
            lambda z: nn.log_joint(z[0], x_nn),
            start(jax.random.key(100), loc=jnp.asarray([4.0]), scale=4.0), 0.8),
        "ch09_nuts_logistic": (
            functools.partial(models.logistic_regression, x=x_lr, y=y_lr),
            start(jax.random.key(101), loc=jnp.zeros(31), scale=2.0), 0.8),
        "ch09_nuts_schools_nc": (
            models.eight_schools_noncentered,
            start(jax.random.key(102), loc=jnp.zeros(10), scale=schools_scale), 0.95),
        "ch09_nuts_schools_c": (
            models.eight_schools_centered,
            start(jax.random.key(102), loc=jnp.zeros(10), scale=schools_scale), 0.95),
    }


def run(name, num_warmup=NUM_WARMUP, num_samples=NUM_SAMPLES, seed=0):
    """NUTS on one problem; ``seed`` 0 is the stored run."""
    log_density, starts, accept = problems()[name]
    key = jax.random.fold_in(jax.random.key(seed), sum(map(ord, name)))
    return mcmc.nuts(key, log_density, starts, num_warmup, num_samples,
                     num_chains=NUM_CHAINS, target_acceptance_rate=accept)


if __name__ == "__main__":
    for name in problems():
        draws, info = run(name)
        references.save(name, script=__file__, draws=draws, starts=problems()[name][1],
                        is_divergent=info.is_divergent, energy=info.energy,
                        tree_depth=info.tree_depth, max_tree_depth=info.max_tree_depth,
                        acceptance_rate=info.acceptance_rate, step_size=info.step_size,
                        num_integration_steps=info.num_integration_steps,
                        num_warmup_steps=info.num_warmup_steps)
        print(name, draws.shape, "rhat", float(mcmc.rhat(draws).max()),
              "divergent", int(info.is_divergent.sum()))
