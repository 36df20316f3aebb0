r"""Flow VI (``vibook.flows.iaf`` with ``vi.fit``) against NumPyro's ``AutoIAFNormal``.

The targets are chapter 10's 2-D unnormalised densities (``vibook.targets``:
banana, funnel, two-bump mixture). Both sides fit an inverse autoregressive
flow of ``LAYERS`` layers, each a masked MLP with two hidden layers of width
``HIDDEN``, the order reversed between layers, with the same estimator (the
reparameterised ELBO with ``PARTICLES`` draws and :math:`\\log q` by the change
of variables; NumPyro's ``Trace_ELBO``), the same optimiser (optax Adam with a
cosine-decayed step) and the same number of steps, each as one jitted
``lax.scan`` (NumPyro: ``SVI.update`` in ``lax.scan``). The architectures differ
in their details (NumPyro: ELU hidden units, log-scales clipped to [-5, 3], a
fixed N(0, I) base; vibook: tanh units, log-scales bounded by 3 tanh(s/3), a
learned diagonal Gaussian base), so the comparison is made at equal *result*:
the final :math:`\mathrm{KL}(q\|p) = \log Z - \mathrm{ELBO}`, with the closed-form
:math:`\log Z` of the target and the ELBO estimated from ``DRAWS`` fresh draws of
each fitted :math:`q` (NumPyro: its log density from the sampling pass's
intermediates). Their random numbers differ, so the two KLs are equal when they
agree to four combined standard errors plus ``KL_TOLERANCE`` nats. The KLs by
quadrature on a ``GRID`` x ``GRID`` grid, where both sides invert their flows,
are recorded too.
"""

from functools import partial

import jax
import jax.numpy as jnp
import numpyro
import numpyro.distributions as dist
import optax
from numpyro.infer import SVI, Trace_ELBO
from numpyro.infer.autoguide import AutoIAFNormal
from numpyro.optim import optax_to_numpyro

from _harness import compare, record
from vibook import elbo, flows, targets, vi

STEPS, PARTICLES, LAYERS, HIDDEN, GRID, DRAWS = 3000, 16, 6, 32, 301, 20_000
KL_TOLERANCE = 0.01


def _numpyro_fit(target, optimizer):
    def model():
        z = numpyro.sample("z", dist.ImproperUniform(dist.constraints.real_vector, (),
                                                    event_shape=(2,)))
        numpyro.factor("log_density", target.log_density(z))

    guide = AutoIAFNormal(model, num_flows=LAYERS, hidden_dims=[HIDDEN, HIDDEN])
    fitter = SVI(model, guide, optax_to_numpyro(optimizer),
                 Trace_ELBO(num_particles=PARTICLES, vectorize_particles=True))

    @jax.jit
    def fit(key):
        state = fitter.init(key)
        state, _ = jax.lax.scan(lambda s, _: fitter.update(s), state, None, length=STEPS)
        return fitter.get_params(state)

    return guide, lambda: jax.block_until_ready(fit(jax.random.key(0)))


def case(name):
    target = {"banana": targets.banana, "funnel": targets.funnel,
              "mixture": targets.mixture}[name]()
    optimizer = optax.adam(optax.cosine_decay_schedule(0.01, STEPS))
    family = flows.iaf(2, LAYERS, HIDDEN)
    objective = partial(elbo.reparam, log_joint=target.log_density, family=family,
                        num_samples=PARTICLES)
    start = family.init(jax.random.key(3))

    def ours():
        state, _ = vi.fit(jax.random.key(0), objective, start, optimizer, STEPS)
        return jax.block_until_ready(state.params)

    guide, theirs = _numpyro_fit(target, optimizer)
    times, (ours_params, their_params) = compare(ours, theirs)

    # KL(q||p) = log Z - ELBO, by Monte Carlo on DRAWS fresh draws from each q
    z = family.sample(jax.random.key(1), ours_params, DRAWS)
    ours_w = target.log_density(z) - family.log_prob(ours_params, z)
    posterior = guide.get_posterior(their_params)
    z, intermediates = posterior.sample_with_intermediates(jax.random.key(1), (DRAWS,))
    their_w = target.log_density(z) - posterior.log_prob(z, intermediates)
    kl_ours, kl_theirs = (float(target.log_normalizer - w.mean()) for w in (ours_w, their_w))
    se = float(jnp.sqrt(ours_w.var() / DRAWS + their_w.var() / DRAWS))
    # and on the grid, where both sides invert their flows
    grid = targets.grid(target.limits, GRID)
    log_p = target.log_density(grid.points)
    log_q_theirs = posterior.log_prob(grid.points.reshape(-1, 2)).reshape(log_p.shape)
    grid_kls = [float(targets.kl(log_q, log_p, grid))
                for log_q in (family.log_prob(ours_params, grid.points), log_q_theirs)]
    return [record(f"Flow VI (IAF, vi.fit), {name} target", "flows",
                   dict(N=1, D=2, steps=STEPS, particles=PARTICLES, layers=LAYERS,
                        hidden=HIDDEN),
                   f"NumPyro {numpyro.__version__} SVI (Trace_ELBO, AutoIAFNormal)", times,
                   abs(kl_ours - kl_theirs), 4 * se + KL_TOLERANCE,
                   "|KL(q||p) vibook - KL(q||p) NumPyro|, log Z - ELBO by Monte Carlo",
                   kl_vibook=kl_ours, kl_peer=kl_theirs, kl_std_err=se,
                   kl_grid_vibook=grid_kls[0], kl_grid_peer=grid_kls[1])]


CASES = {f"iaf_{name}": partial(case, name) for name in ["banana", "funnel", "mixture"]}
