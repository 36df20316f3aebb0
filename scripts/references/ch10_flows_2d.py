"""Chapter 10's fits on the three 2-D targets, stored as ``ch10_flows_2d``.

Five families (two Gaussians, a planar, a coupling and an IAF flow) are fitted
to the banana, the funnel and the mixture of ``vibook.targets`` by maximising
the reparameterised ELBO, 16 draws per step, 3000 Adam steps with a
cosine-decayed rate. On the mixture each flow is also refitted from four
further random starts. Flow training amplifies last-bit differences between
processors, so Chapter 10 loads the fitted parameters (and the last stretch of
each ELBO trace, for the convergence check) instead of printing digits that
depend on the CPU. ``tests/test_references_ch10.py`` reruns some fits and
compares them with these.

Run from the repository root: ``python scripts/references/ch10_flows_2d.py``.
"""

import functools

import jax
import jax.numpy as jnp
import optax

from vibook import elbo, families, flows, references, targets, vi

TARGETS = {"banana": targets.banana(), "funnel": targets.funnel(),
           "mixture": targets.mixture()}
FAMILIES = {
    "mean-field": families.normal,
    "full-rank": families.full_rank_normal,
    "planar": flows.planar(2, num_layers=8),
    "coupling": flows.coupling(2, num_layers=6, hidden=32),
    "IAF": flows.iaf(2, num_layers=6, hidden=32),
}
NUM_STEPS = 3000
NUM_RESTARTS = 4      # further random starts of each flow on the mixture
TRACE_TAIL = 600      # the last steps of each ELBO trace that are stored


def start(name, family, key=jax.random.key(3)):
    """The starting parameters: Gaussians at N(0, I), flows as the identity
    (coupling, IAF) or random ridges (planar) on a N(0, I) base."""
    if name == "mean-field":
        return family.init(jnp.zeros(2), 1.0)
    if name == "full-rank":
        return family.init(jnp.zeros(2))
    return family.init(key)


def fit(target, name, init_key=jax.random.key(3), fit_key=jax.random.key(4),
        num_steps=NUM_STEPS):
    """One fit: ``(params, elbo trace)``."""
    family = FAMILIES[name]
    optimizer = optax.adam(optax.cosine_decay_schedule(0.01, num_steps))
    objective = functools.partial(elbo.reparam, log_joint=target.log_density,
                                  family=family, num_samples=16)
    state, info = vi.fit(fit_key, objective, start(name, family, init_key),
                         optimizer, num_steps)
    return state.params, info.elbo


def leaves(params):
    return jax.tree_util.tree_leaves(params)


def main():
    arrays = {}
    for t_name, target in TARGETS.items():
        for f_name in FAMILIES:
            params, trace = fit(target, f_name)
            for i, leaf in enumerate(leaves(params)):
                arrays[f"{t_name}/{f_name}/{i}"] = leaf
            arrays[f"{t_name}/{f_name}/trace"] = trace[-TRACE_TAIL:]
            print(t_name, f_name, float(trace[-100:].mean()), flush=True)
    for f_name in ["planar", "coupling", "IAF"]:
        for r in range(NUM_RESTARTS):
            params, trace = fit(TARGETS["mixture"], f_name,
                                jax.random.key(100 + r), jax.random.key(200 + r))
            for i, leaf in enumerate(leaves(params)):
                arrays[f"restart{r}/{f_name}/{i}"] = leaf
            arrays[f"restart{r}/{f_name}/trace"] = trace[-TRACE_TAIL:]
            print("restart", r, f_name, float(trace[-100:].mean()), flush=True)
    references.save("ch10_flows_2d", script=__file__, **arrays)


if __name__ == "__main__":
    main()
