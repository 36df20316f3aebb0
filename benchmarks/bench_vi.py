"""Autodiff VI: vibook.vi.fit against NumPyro's SVI on the normal-normal model.

Both fit q(mu) = N(m, softplus(r)^2) to the posterior of the book's normal-normal
model (Chapter 4's data set: N = 100, mu_true = 4, sigma = 2, prior N(4.2, 0.3^2))
with the same estimator (the reparameterised Monte Carlo ELBO with 64 draws,
log q estimated by Monte Carlo as in NumPyro's ``Trace_ELBO``), the same start,
the same optimiser (optax Adam with a cosine-decayed step size) and the same
number of steps. Each side runs its whole loop under one ``jax.jit`` (vibook:
``vi.fit``; NumPyro: ``SVI.update`` in ``lax.scan``); both are warmed up first,
so compile time is excluded. Their random numbers differ, so the fits agree to
Monte Carlo noise; both are also compared with the exact posterior.
"""

import functools
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

from vibook import divergences, elbo, families, vi
from vibook.models import NormalNormal

NUM_STEPS = 2000
NUM_SAMPLES = 64


def _best_of(fn, repeats=5):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - start)
    return min(times)


def _problem():
    model = NormalNormal(prior_mean=4.2, prior_scale=0.3, noise_scale=2.0)
    _, data = model.sample(jax.random.key(1), 100, mean=4.0)
    return model, np.asarray(data)


def _optimizer():
    return optax.adam(optax.cosine_decay_schedule(0.1, NUM_STEPS))


def _vibook(model, data):
    objective = functools.partial(elbo.reparam, log_joint=lambda mu: model.log_joint(mu, data),
                                  family=families.normal, n=NUM_SAMPLES)
    fit = jax.jit(lambda key, params: vi.fit(key, objective, params, _optimizer(), NUM_STEPS))
    start = families.normal.init(0.0, 1.0)
    run = lambda: fit(jax.random.key(0), start)  # noqa: E731
    params, _ = run()                                               # warm-up (compiles)
    return families.normal.unpack(params), _best_of(lambda: run()[0])


def _numpyro(model, data):
    import numpyro
    import numpyro.distributions as dist
    from numpyro.infer import SVI, Trace_ELBO
    from numpyro.optim import optax_to_numpyro

    def numpyro_model(x):
        mu = numpyro.sample("mu", dist.Normal(model.prior_mean, model.prior_scale))
        with numpyro.plate("data", x.shape[0]):
            numpyro.sample("x", dist.Normal(mu, model.noise_scale), obs=x)

    def guide(x):
        m = numpyro.param("m", 0.0)
        raw = numpyro.param("raw", families.inverse_softplus(1.0))
        numpyro.sample("mu", dist.Normal(m, jax.nn.softplus(raw)))

    svi = SVI(numpyro_model, guide, optax_to_numpyro(_optimizer()),
              Trace_ELBO(num_particles=NUM_SAMPLES, vectorize_particles=True))
    x = jnp.asarray(data)

    @jax.jit
    def fit(key):
        state = svi.init(key, x)
        state, losses = jax.lax.scan(lambda s, _: svi.update(s, x), state, None, length=NUM_STEPS)
        return svi.get_params(state), losses

    params, _ = fit(jax.random.key(0))                              # warm-up (compiles)
    seconds = _best_of(lambda: fit(jax.random.key(0))[0])
    return (params["m"], jax.nn.softplus(params["raw"])), seconds


def run():
    model, data = _problem()
    mean, scale = model.posterior(data)
    (m1, s1), t1 = _vibook(model, data)
    (m2, s2), t2 = _numpyro(model, data)
    kl1 = float(divergences.kl_normal(m1, s1, mean, scale))
    kl2 = float(divergences.kl_normal(m2, s2, mean, scale))
    agreement = (f"|dm| = {abs(float(m1 - m2)):.1e}, |ds| = {abs(float(s1 - s2)):.1e}; "
                 f"KL(q||exact): vibook {kl1:.1e}, NumPyro {kl2:.1e}")
    return [{
        "task": f"normal-normal VI, {NUM_STEPS} Adam steps x {NUM_SAMPLES} draws",
        "vibook_s": t1, "peer": "NumPyro SVI (Trace_ELBO)", "peer_s": t2,
        "ratio": t1 / t2, "agreement": agreement,
    }]


if __name__ == "__main__":
    for row in run():
        print(row)
