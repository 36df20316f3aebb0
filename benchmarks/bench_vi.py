"""Autodiff VI and minibatch SVI against NumPyro SVI, on Bayesian logistic regression.

The model is chapter 7's: the breast-cancer training set (426 × 30, plus an
intercept), weights :math:`w \\sim \\mathcal N(0, I_{31})`, labels
:math:`y_i \\sim \\mathrm{Bernoulli}(\\sigma(x_i^\\top w))`. Both sides fit a
mean-field Gaussian (NumPyro: ``AutoNormal``; vibook: ``families.normal``,
both with softplus scales) from the same start (means 0, scales 0.1), with the
same estimator (the reparameterised ELBO with ``NUM_PARTICLES`` draws and
:math:`\\log q` by Monte Carlo, NumPyro's ``Trace_ELBO``), the same optimiser
(optax Adam with a cosine-decayed step) and the same number of steps, each side
as one jitted ``lax.scan`` (NumPyro: ``SVI.update`` in ``lax.scan``). Full
batch: ``vibook.vi.fit``. Minibatches of ``BATCH``: ``vibook.svi.minibatch_fit``
(reshuffled every epoch) against a ``numpyro.plate`` with ``subsample_size``.

Their random numbers differ, so the fits agree to Monte Carlo noise: the
difference is the largest of :math:`|\\Delta m_j| / s_j` and
:math:`|\\Delta \\log s_j|` over the 31 coordinates.
"""

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
import optax
from numpyro.infer import SVI, Trace_ELBO, init_to_value
from numpyro.infer.autoguide import AutoNormal
from numpyro.optim import optax_to_numpyro

from _harness import compare, median_time, record
from vibook import data, elbo, families, svi, vi

NUM_PARTICLES, BATCH, EPOCHS, TOLERANCE = 8, 32, 150, 0.3


def _problem():
    cancer = data.breast_cancer(jax.random.key(2))
    x = jnp.concatenate([jnp.ones((cancer.x_train.shape[0], 1)), cancer.x_train], axis=1)
    return x, cancer.y_train.astype(jnp.float32)


def log_prior(w):
    return jnp.sum(jax.scipy.stats.norm.logpdf(w))


def log_lik(w, batch):
    """Bernoulli log-likelihood from logits, in the form NumPyro's ``Bernoulli`` uses:
    softplus as max(l, 0) + log1p(exp(-|l|)), one exp per example, reused by the
    gradient (``jax.nn.softplus`` goes through ``logaddexp``, whose gradient evaluates more)."""
    x, y = batch
    logits = x @ w
    return y * logits - jnp.maximum(logits, 0) - jnp.log1p(jnp.exp(-jnp.abs(logits)))


def _numpyro_fit(x, y, optimizer, num_steps, subsample):
    dim = x.shape[1]

    def model(x, y):
        w = numpyro.sample("w", dist.Normal(jnp.zeros(dim), 1.0).to_event(1))
        with numpyro.plate("data", x.shape[0], subsample_size=subsample) as idx:
            numpyro.sample("y", dist.Bernoulli(logits=x[idx] @ w), obs=y[idx])

    guide = AutoNormal(model, init_loc_fn=init_to_value(values={"w": jnp.zeros(dim)}),
                       init_scale=0.1)
    fitter = SVI(model, guide, optax_to_numpyro(optimizer),
                 Trace_ELBO(num_particles=NUM_PARTICLES, vectorize_particles=True))

    @jax.jit
    def fit(key):
        state = fitter.init(key, x, y)
        state, _ = jax.lax.scan(lambda s, _: fitter.update(s, x, y), state, None,
                                length=num_steps)
        params = fitter.get_params(state)
        return params["w_auto_loc"], params["w_auto_scale"]

    return lambda: jax.block_until_ready(fit(jax.random.key(0)))


def case(minibatch):
    x, y = _problem()
    n, dim = x.shape
    num_steps = EPOCHS * (n // BATCH) if minibatch else 2000
    optimizer = optax.adam(optax.cosine_decay_schedule(0.05, num_steps))
    start = families.normal.init(jnp.zeros(dim), 0.1)
    if minibatch:
        def ours():
            params, _ = svi.minibatch_fit(jax.random.key(0), families.normal, start, log_prior,
                                          log_lik, (x, y), EPOCHS, BATCH, optimizer,
                                          num_samples=NUM_PARTICLES)
            return jax.block_until_ready(families.normal.unpack(params))
    else:
        joint = jax.vmap(lambda w: log_prior(w) + jnp.sum(log_lik(w, (x, y))))
        objective = partial(elbo.reparam, log_joint=joint, family=families.normal,
                            n=NUM_PARTICLES)

        def ours():
            params, _ = vi.fit(jax.random.key(0), objective, start, optimizer, num_steps)
            return jax.block_until_ready(families.normal.unpack(params))
    theirs = _numpyro_fit(x, y, optimizer, num_steps, BATCH if minibatch else None)
    times, ((m1, s1), (m2, s2)) = compare(ours, theirs)
    extra = {} if minibatch else _floor(start, optimizer, num_steps)
    diff = max(float(jnp.max(jnp.abs(m1 - m2) / s1)), float(jnp.max(jnp.abs(jnp.log(s1 / s2)))))
    label = (f"Minibatch SVI (svi.minibatch_fit, batch {BATCH})" if minibatch
             else "Autodiff VI, full batch (vi.fit)")
    return [record(f"{label}, Bayesian logistic regression", "vi",
                   dict(N=n, D=dim, steps=num_steps, particles=NUM_PARTICLES,
                        batch=BATCH if minibatch else n),
                   f"NumPyro {numpyro.__version__} SVI (Trace_ELBO, AutoNormal)", times, diff,
                   TOLERANCE, "max over coordinates of |Δm|/s and |Δ log s|", **extra)]


def _floor(start, optimizer, num_steps):
    """What bounds the full-batch loop: the same fit with the data term removed
    (prior only), so that only the fixed per-step work remains (sampling,
    log q, Adam, the loop itself)."""
    objective = partial(elbo.reparam, log_joint=jax.vmap(log_prior), family=families.normal,
                        n=NUM_PARTICLES)
    seconds = median_time(lambda: jax.block_until_ready(
        vi.fit(jax.random.key(0), objective, start, optimizer, num_steps)))
    return dict(vibook_prior_only_s=seconds)


CASES = {"vi_full_batch": partial(case, False), "svi_minibatch": partial(case, True)}
