"""Chapter 10's eight-schools runs, stored as ``ch10_eight_schools``.

* The NUTS reference: the non-centred eight-schools posterior, 4 chains from
  dispersed starts, 1000 warm-up steps and 1000 kept draws each, target
  acceptance 0.95, mapped back to the centred coordinates
  ``(mu, log tau, theta_1..8)``.
* Variational fits to the *centred* posterior, each from several starts and
  run until the ELBO is flat: mean-field and full-rank Gaussians (20,000 Adam
  steps, 32 draws per step, rate 0.05 decayed to 0.005) and a coupling flow
  (6 layers of width 32; 16,000 steps, rate 0.01 decayed to 0.001).

NUTS and flow training amplify last-bit differences between processors, so
Chapter 10 loads these instead of printing digits that depend on the CPU.
``tests/test_references_ch10.py`` reruns short versions and compares them
with these statistically.

Run from the repository root: ``python scripts/references/ch10_eight_schools.py``
(``... ch10_eight_schools.py coupling`` refits only the named families and
keeps the rest of the stored run).
"""

import functools
import sys

import jax
import jax.numpy as jnp
import numpy as np
import optax

from vibook import elbo, families, flows, mcmc, models, references, vi

LOG_JOINT = models.eight_schools_centered
FAMILIES = {
    "mean-field": families.normal,
    "full-rank": families.full_rank_normal,
    "coupling": flows.coupling(10, num_layers=6, hidden=32),
}
#: (steps, peak rate, starts) per family
SETTINGS = {"mean-field": (20_000, 0.05, 4), "full-rank": (20_000, 0.05, 4),
            "coupling": (16_000, 0.01, 2)}
TRACE_TAIL = 4000     # the last steps of each ELBO trace that are stored


def nuts_reference(key=jax.random.key(21), num_warmup=1000, num_samples=1000):
    """NUTS on the non-centred form: ``(centred draws (C, S, 10), info)``."""
    # dispersed starts, wider than the posterior in mu (sd about 3)
    scale = jnp.array([10.0, 2.0] + [2.0] * 8)
    starts = mcmc.dispersed_starts(jax.random.key(20), 4, jnp.zeros(10), scale)
    draws, info = mcmc.nuts(key, models.eight_schools_noncentered, starts,
                            num_warmup=num_warmup, num_samples=num_samples,
                            target_acceptance_rate=0.95)
    centred = models.eight_schools_to_centered(draws.reshape(-1, 10))
    return centred.reshape(draws.shape), info


def start(name, restart):
    """Restart 0 starts at zero; the others at a random mean with sd 3."""
    loc = (jnp.zeros(10) if restart == 0 else
           3.0 * jax.random.normal(jax.random.key(100 + restart), (10,)))
    family = FAMILIES[name]
    if name == "mean-field":
        return family.init(loc, 1.0)
    if name == "full-rank":
        return family.init(loc)
    return family.init(jax.random.key(3 + restart), loc)


def fit(name, restart, num_steps=None):
    """One fit from start ``restart``: ``(params, elbo trace)``."""
    steps, rate, _ = SETTINGS[name]
    num_steps = steps if num_steps is None else num_steps
    optimizer = optax.adam(optax.cosine_decay_schedule(rate, num_steps, alpha=0.1))
    objective = functools.partial(elbo.reparam, log_joint=LOG_JOINT,
                                  family=FAMILIES[name], num_samples=32)
    state, info = vi.fit(jax.random.key(30 + restart), objective,
                         start(name, restart), optimizer, num_steps)
    return state.params, info.elbo


def main(only=()):
    if only:                                  # refit some families, keep the rest
        arrays = {k: v for k, v in references.load("ch10_eight_schools").items()
                  if k != "_meta" and k.split("/")[0] not in only}
    else:
        centred, info = nuts_reference()
        arrays = {"nuts/draws": np.asarray(centred),              # (4, 1000, 10)
                  "nuts/is_divergent": np.asarray(info.is_divergent),
                  "nuts/tree_depth": np.asarray(info.tree_depth),
                  "nuts/energy": np.asarray(info.energy)}
        print("NUTS: divergences", int(info.is_divergent.sum()),
              "R-hat", float(mcmc.rhat(centred).max()), flush=True)
    for name in (only or FAMILIES):
        for r in range(SETTINGS[name][2]):
            params, trace = fit(name, r)
            for i, leaf in enumerate(jax.tree_util.tree_leaves(params)):
                arrays[f"{name}/{r}/{i}"] = leaf
            arrays[f"{name}/{r}/trace"] = trace[-TRACE_TAIL:]
            print(name, r, float(trace[-500:].mean()), flush=True)
    references.save("ch10_eight_schools", script=__file__, **arrays)


if __name__ == "__main__":
    main(tuple(sys.argv[1:]))
