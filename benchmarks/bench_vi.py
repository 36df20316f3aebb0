"""Autodiff VI and minibatch SVI against NumPyro SVI, on Bayesian logistic regression.

The model is chapter 7's: the breast-cancer training set (427 × 30, plus an
intercept), weights :math:`w \\sim \\mathcal N(0, I_{31})`, labels
:math:`y_i \\sim \\mathrm{Bernoulli}(\\sigma(x_i^\\top w))`. Both sides fit a
mean-field Gaussian (NumPyro: ``AutoNormal``; vibook: ``families.normal``,
both with softplus scales) from the same start (means 0, scales 0.1), with the
same estimator (the reparameterised ELBO with ``NUM_PARTICLES`` draws and
:math:`\\log q` by Monte Carlo, NumPyro's ``Trace_ELBO``), the same optimiser
(optax Adam with a cosine-decayed step) and the same number of steps, each side
as one jitted ``lax.scan`` (NumPyro: ``SVI.update`` in ``lax.scan``), and each
returns the fit and the ELBO estimate of every step (``vi.fit``'s ``info.elbo``; NumPyro's
losses, as ``SVI.run`` returns them). Full batch: ``vibook.vi.fit``, with the
log joint written for one draw, logits ``z @ x.T`` (as
``vibook.models.logistic_regression`` writes them), mapped over the draws by vibook. Minibatches of ``BATCH``:
``vibook.vi.minibatch_fit`` (reshuffled every epoch) against a ``numpyro.plate``
with ``subsample_size``.

Their random numbers differ, so the fits agree to Monte Carlo noise: the
difference is the largest of :math:`|\\Delta m_j| / s_j` and
:math:`|\\Delta \\log s_j|` over the 31 coordinates.
"""

import os
import re
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

from _harness import COLD_ONLY, compare, in_turn, median_time, record
from vibook import _checks, data, elbo, families, vi

NUM_PARTICLES, BATCH, EPOCHS, TOLERANCE = 8, 32, 150, 0.3


def _problem():
    cancer = data.breast_cancer(jax.random.key(2))
    x = jnp.concatenate([jnp.ones((cancer.x_train.shape[0], 1)), cancer.x_train], axis=1)
    return x, cancer.y_train.astype(jnp.float32)


def log_prior(w):
    return jnp.sum(jax.scipy.stats.norm.logpdf(w))


def _bernoulli(logits, y):
    """Bernoulli log-likelihood from logits, in the form NumPyro's ``Bernoulli`` uses:
    softplus as max(l, 0) + log1p(exp(-|l|)), one exp per example, reused by the
    gradient (``jax.nn.softplus`` goes through ``logaddexp``, whose gradient evaluates more)."""
    return y * logits - jnp.maximum(logits, 0) - jnp.log1p(jnp.exp(-jnp.abs(logits)))


def log_lik(w, batch):
    """Per-example log-likelihood of one weight vector (the form ``vi.minibatch_elbo`` takes)."""
    x, y = batch
    return _bernoulli(x @ w, y)


def log_joint(z, x, y):
    """``log p(w) + sum_i log p(y_i | w)`` for one draw ``z`` of shape (D,): a scalar.

    The same formula as ``log_prior`` plus ``log_lik``, written as vibook's
    one convention asks (one draw in, a scalar out); ``elbo.reparam`` maps it
    over the draws with ``jax.vmap``. The logits are ``z @ x.T``, as
    ``vibook.models.logistic_regression`` writes them: mapped over the draws
    and differentiated, XLA on a CPU runs that form as one fast matrix
    product; the whole fit with the same formula written ``x @ z`` is
    slower (``vibook_x_at_z_s``: 1.2 times as long when this was written)."""
    lik = jnp.sum(_bernoulli(z @ x.T, y))                              # ()
    return jnp.sum(jax.scipy.stats.norm.logpdf(z)) + lik


def _log_joint_x_at_z(z, x, y):
    """:func:`log_joint` with the logits written ``x @ z``."""
    return jnp.sum(jax.scipy.stats.norm.logpdf(z)) + jnp.sum(_bernoulli(x @ z, y))


def _numpyro_fit(x, y, optimizer, num_steps, subsample, losses=True, data=True):
    """NumPyro's fit as a zero-argument callable returning ``((loc, scale), losses)``.
    ``losses=False`` discards the losses (so XLA drops their forward pass);
    ``data=False`` leaves only the prior (the fixed per-step work)."""
    dim = x.shape[1]

    def model(x, y):
        w = numpyro.sample("w", dist.Normal(jnp.zeros(dim), 1.0).to_event(1))
        if data:
            with numpyro.plate("data", x.shape[0], subsample_size=subsample) as idx:
                numpyro.sample("y", dist.Bernoulli(logits=x[idx] @ w), obs=y[idx])

    guide = AutoNormal(model, init_loc_fn=init_to_value(values={"w": jnp.zeros(dim)}),
                       init_scale=0.1)
    fitter = SVI(model, guide, optax_to_numpyro(optimizer),
                 Trace_ELBO(num_particles=NUM_PARTICLES, vectorize_particles=True))

    @jax.jit
    def fit(key):
        state = fitter.init(key, x, y)
        state, trace = jax.lax.scan(lambda s, _: fitter.update(s, x, y), state, None,
                                    length=num_steps)
        params = fitter.get_params(state)
        return (params["w_auto_loc"], params["w_auto_scale"]), (trace if losses else None)

    return lambda: jax.block_until_ready(fit(jax.random.key(0)))


def case(minibatch):
    x, y = _problem()
    n, dim = x.shape
    num_steps = EPOCHS * (n // BATCH) if minibatch else 2000
    optimizer = optax.adam(optax.cosine_decay_schedule(0.05, num_steps))
    start = families.normal.init(jnp.zeros(dim), 0.1)
    if minibatch:
        objective = partial(vi.minibatch_elbo, log_prior=log_prior, log_lik=log_lik,
                            family=families.normal, num_data=n, num_samples=NUM_PARTICLES)

        def ours():
            state, info = vi.minibatch_fit(jax.random.key(0), objective, start, optimizer,
                                           (x, y), EPOCHS, BATCH)
            return jax.block_until_ready((families.normal.unpack(state.params), info.elbo))
    else:
        objective = partial(elbo.reparam, log_joint=partial(log_joint, x=x, y=y),
                            family=families.normal, num_samples=NUM_PARTICLES)

        def ours():
            state, info = vi.fit(jax.random.key(0), objective, start, optimizer, num_steps)
            return jax.block_until_ready((families.normal.unpack(state.params), info.elbo))
    theirs = _numpyro_fit(x, y, optimizer, num_steps, BATCH if minibatch else None)
    times, (((m1, s1), trace1), ((m2, s2), trace2)) = compare(ours, theirs, peer_cache=True)
    extra = {} if minibatch else _floor(x, y, start, optimizer, num_steps, trace1, trace2)
    limit = [] if minibatch else [_limit(x, y, num_steps, times)]
    diff = max(float(jnp.max(jnp.abs(m1 - m2) / s1)), float(jnp.max(jnp.abs(jnp.log(s1 / s2)))))
    label = (f"Minibatch SVI (vi.minibatch_fit, batch {BATCH})" if minibatch
             else "Autodiff VI, full batch (vi.fit)")
    return [record(f"{label}, Bayesian logistic regression", "vi",
                   dict(N=n, D=dim, steps=num_steps, particles=NUM_PARTICLES,
                        batch=BATCH if minibatch else n),
                   f"NumPyro {numpyro.__version__} SVI (Trace_ELBO, AutoNormal)", times, diff,
                   TOLERANCE, "max over coordinates of |Δm|/s and |Δ log s|", **extra)] + limit


ABLATIONS = dict(
    noise_in_advance="the noise eps of every step drawn before the loop and passed in (not "
                     "timed): no jax.random.normal (threefry) inside the loop",
    sgd="optax.sgd(1e-3) in place of Adam with the cosine-decayed step",
    no_log_q="log q dropped from the objective (its value and its gradient)",
    no_reparam="the gradient taken with respect to the draws z alone (z = loc + scale eps "
               "formed outside autodiff) and its mean over the draws given to Adam for both "
               "loc and raw_scale: no backward pass through z = loc + softplus(raw_scale) eps",
    no_value="the ELBO value of each step not returned, so that XLA drops the forward work "
             "that only the value needs (such as the log1p of the log-likelihood, which its "
             "gradient does not use)",
)


def _plain_fit(x, y, num_steps, optimizer, noise_in_advance=False, log_q=True, reparam=True,
               value=True):
    """The full-batch fit written by hand in plain JAX, as one jitted ``lax.scan``;
    each keyword switched from its default removes one piece of the step (``ABLATIONS``).

    Returns ``fit(key)``, or ``fit(eps)`` with ``eps`` of shape (num_steps, S, D) when
    ``noise_in_advance``; it returns the final state and every step's ELBO (or None)."""
    shape = (NUM_PARTICLES, x.shape[1])
    start = families.normal.init(jnp.zeros(x.shape[1]), 0.1)
    joint = jax.vmap(partial(log_joint, x=x, y=y))

    def elbo_at(z, loc, scale):
        log_q_z = jnp.sum(jax.scipy.stats.norm.logpdf(z, loc, scale), axis=-1) if log_q else 0
        return jnp.mean(joint(z) - log_q_z)

    def neg_elbo(params, eps):
        loc, scale = params.loc, jax.nn.softplus(params.raw_scale)
        return -elbo_at(loc + scale * eps, loc, scale)

    def value_and_grad(params, eps):
        if reparam:
            return jax.value_and_grad(neg_elbo)(params, eps)
        loc, scale = params.loc, jax.nn.softplus(params.raw_scale)
        v, g = jax.value_and_grad(lambda z: -elbo_at(z, loc, scale))(loc + scale * eps)
        g = jnp.mean(g, axis=0)                                          # (D,)
        return v, families.NormalParams(g, g)

    def step(carry, noise):
        params, state = carry
        eps = noise if noise_in_advance else jax.random.normal(noise, shape)   # (S, D)
        v, g = value_and_grad(params, eps)
        updates, state = optimizer.update(g, state, params)
        return (optax.apply_updates(params, updates), state), (-v if value else None)

    @jax.jit
    def fit(noise):
        noise = noise if noise_in_advance else jax.random.split(noise, num_steps)
        return jax.lax.scan(step, (start, optimizer.init(start)), noise)

    return fit


def _limit(x, y, num_steps, times):
    """vi.fit's step against the work no implementation can skip: S gradients of the log joint.

    The limit is one jitted ``lax.scan`` of ``num_steps`` steps, each
    ``vmap(grad(log_joint))`` at S = ``NUM_PARTICLES`` draws and nothing else
    (the draws move by a tiny multiple of the gradient, so that no step can be
    hoisted out of the loop). ``multiple = vibook_s / limit_s``; the peer's
    multiple is given too. ``plain_jax_s``: the same fit written by hand in
    plain JAX (draws, log q, the log joint, Adam, one ``lax.scan`` returning
    every step's ELBO), what vi.fit adds over that is its overhead.

    ``ablations_s``: the plain-JAX fit with one piece of its step removed
    (``ablations_how``, from ``ABLATIONS``), and ``empty``, the loop alone;
    ``noise_alone``, the loop drawing the noise and nothing else, and
    ``bits_alone`` the same with the threefry bits alone;
    ``erf_inv_copies``: the instructions of the compiled plain-JAX fit that
    come from the ``erf_inv`` of ``jax.random.normal`` (uniform to normal),
    as a multiple of those in the compiled ``noise_alone`` (one copy): XLA
    recomputing the noise in several of the fused kernels that use it;
    ``saved_per_step_s``: plain JAX minus each ablation, per step, against
    ``gap_per_step_s``, plain JAX minus the limit. ``noise_vectorised_s``:
    the plain-JAX fit with its noise drawn before the loop inside the jitted
    fit, by ``vmap`` of ``jax.random.normal`` over the same step keys (the
    same noise, bit for bit; ``noise_vectorised_trace_diff``: the largest
    difference of the two ELBO traces, from XLA compiling the rest of the
    step differently). All of these, and the limit and plain JAX, are timed
    in turn (``_harness.in_turn``: medians, and ``ablations_min_s`` the fastest
    repeat of each, the limit and plain JAX included)."""
    grad = jax.vmap(jax.grad(partial(log_joint, x=x, y=y)))
    optimizer = optax.adam(optax.cosine_decay_schedule(0.05, num_steps))
    shape = (NUM_PARTICLES, x.shape[1])

    @jax.jit
    def gradients_only(z):
        return jax.lax.scan(lambda z, _: (z + 1e-9 * grad(z), None), z, None,
                            length=num_steps)[0]

    @jax.jit
    def empty(key):
        start = families.normal.init(jnp.zeros(x.shape[1]), 0.1)
        return jax.lax.scan(lambda p, _: (jax.tree.map(lambda a: 0.999 * a + 1e-3, p), None),
                            start, jax.random.split(key, num_steps))[0]

    def noise_alone(draw):
        return jax.jit(lambda key: jax.lax.scan(lambda e, k: (e + draw(k, shape), None),
                                                jnp.zeros(shape, draw(key, shape).dtype),
                                                jax.random.split(key, num_steps))[0])

    key = jax.random.key(0)
    normal_alone = noise_alone(jax.random.normal)
    plain_jax = _plain_fit(x, y, num_steps, optimizer)
    in_advance = _plain_fit(x, y, num_steps, optimizer, noise_in_advance=True)

    @jax.jit
    def noise_vectorised(key):
        eps = jax.vmap(lambda k: jax.random.normal(k, shape))(jax.random.split(key, num_steps))
        return in_advance(eps)

    eps = jax.vmap(lambda k: jax.random.normal(k, shape))(jax.random.split(key, num_steps))
    z = 0.1 * jax.random.normal(jax.random.key(5), shape)
    fits = dict(limit=(gradients_only, z), plain_jax=(plain_jax, key),
                noise_in_advance=(in_advance, eps),
                sgd=(_plain_fit(x, y, num_steps, optax.sgd(1e-3)), key),
                no_log_q=(_plain_fit(x, y, num_steps, optimizer, log_q=False), key),
                no_reparam=(_plain_fit(x, y, num_steps, optimizer, reparam=False), key),
                no_value=(_plain_fit(x, y, num_steps, optimizer, value=False), key),
                noise_and_value=(_plain_fit(x, y, num_steps, optimizer, noise_in_advance=True,
                                            value=False), eps),
                empty=(empty, key), noise_alone=(normal_alone, key),
                bits_alone=(noise_alone(jax.random.bits), key),
                noise_vectorised=(noise_vectorised, key))
    if os.environ.get(COLD_ONLY):
        trace_diff, erf_inv_copies = float("nan"), float("nan")
    else:
        trace_diff = float(jnp.max(jnp.abs(plain_jax(key)[1] - noise_vectorised(key)[1])))
        erf_inv_copies = (_instructions(plain_jax, key, "erf_inv")
                          / _instructions(normal_alone, key, "erf_inv"))
    ablations_s, fastest_s = in_turn({name: lambda f=f: jax.block_until_ready(f[0](f[1]))
                                      for name, f in fits.items()})
    limit_s, plain_jax_s = ablations_s.pop("limit"), ablations_s.pop("plain_jax")
    noise_vectorised_s = ablations_s.pop("noise_vectorised")
    vibook_s = times.get("vibook_s", float("nan"))
    gap = (plain_jax_s - limit_s) / num_steps
    saved = {name: (plain_jax_s - s) / num_steps for name, s in ablations_s.items()
             if name in ABLATIONS}
    return dict(kind="limit", name="Autodiff VI (vi.fit), one step against S gradient "
                "evaluations of the log joint", group="vi",
                size=dict(N=x.shape[0], D=x.shape[1], steps=num_steps,
                          particles=NUM_PARTICLES),
                vibook_s=vibook_s, limit_s=limit_s,
                limit="jitted lax.scan of vmap(grad(log_joint)) alone",
                multiple=vibook_s / limit_s,
                peer_multiple=times.get("peer_s", float("nan")) / limit_s,
                plain_jax_s=plain_jax_s, plain_jax_multiple=plain_jax_s / limit_s,
                per_step_s=dict(vibook=vibook_s / num_steps, limit=limit_s / num_steps,
                                plain_jax=plain_jax_s / num_steps,
                                **{name: s / num_steps for name, s in ablations_s.items()}),
                ablations_s=ablations_s, ablations_min_s=fastest_s,
                ablations_how=dict(ABLATIONS, noise_and_value="noise_in_advance and no_value "
                                   "together", noise_alone="not an ablation: the loop "
                                   "drawing the noise and nothing else (lax.scan of "
                                   "jax.random.normal(key, (S, D)) summed into the carry)",
                                   bits_alone="not an ablation: noise_alone with "
                                   "jax.random.bits (the threefry hash alone, no conversion "
                                   "to normal numbers)",
                                   empty="the loop alone: lax.scan over the step "
                                   "keys, its body only moving the parameters "
                                   "(0.999 p + 0.001)"),
                gap_per_step_s=gap, saved_per_step_s=saved,
                noise_vectorised_s=noise_vectorised_s,
                noise_vectorised_trace_diff=trace_diff, erf_inv_copies=erf_inv_copies,
                cause=_cause({k: 1e6 * v / num_steps for k, v in ablations_s.items()},
                             1e6 * limit_s / num_steps, 1e6 * plain_jax_s / num_steps,
                             1e6 * noise_vectorised_s / num_steps, erf_inv_copies))


def _instructions(fn, arg, primitive):
    """How many instructions of ``fn``'s compiled code (XLA's optimised HLO) come from a
    JAX ``primitive``, by the ``op_name`` each instruction's metadata carries."""
    hlo = fn.lower(arg).compile().as_text()
    return len(re.findall(rf'^\s*(?:ROOT )?%\S+ = .*op_name="[^"]*{primitive}', hlo, re.M))


def _cause(ablations, limit, plain, vectorised, erf_inv_copies):
    """The ablations in words, from times per step in microseconds (None in a run without
    warm times)."""
    if not np.isfinite(plain):
        return None
    gap = plain - limit
    saved = {name: plain - ablations[name] for name in ABLATIONS}
    pieces = dict(noise_in_advance="drawing the noise inside the loop (jax.random.normal)",
                  no_value="the ELBO value of each step",
                  sgd="Adam with its cosine schedule (against SGD)", no_log_q="log q",
                  no_reparam="the backward pass through z = loc + scale eps")
    parts = "; ".join(f"{pieces[k]} {saved[k]:.1f} us ({100 * saved[k] / gap:.0f}%)"
                      for k in sorted(saved, key=saved.get, reverse=True))
    both, noise, bits = (ablations[k] for k in ("noise_and_value", "noise_alone", "bits_alone"))
    return (f"The plain-JAX fit takes {plain:.1f} us a step, the limit {limit:.1f} us: a gap of "
            f"{gap:.1f} us. Removed one at a time, each piece of the step saves: {parts}; "
            f"{sum(saved.values()):.1f} us in all (removed separately, the savings need not "
            f"add up to the gap). With the noise drawn in advance and no ELBO value together "
            f"the step takes {both:.1f} us, {both / limit:.2f} times the limit. The loop "
            f"alone, with an empty body, takes {ablations['empty']:.1f} us a step, and "
            f"drawing the noise in it and nothing else {noise:.1f} us ({bits:.1f} us for the "
            f"threefry bits alone); the compiled plain-JAX fit holds {erf_inv_copies:.1f} "
            f"times the instructions of the noise's erf_inv (uniform to normal) that the "
            f"compiled noise-only loop holds. The same "
            f"noise drawn before the loop inside the jitted fit (vmap of jax.random.normal "
            f"over the step keys) instead of in it: {vectorised:.1f} us a step, "
            f"{plain - vectorised:.1f} us less.")


def _floor(x, y, start, optimizer, num_steps, trace1, trace2):
    """Where the full-batch step's time goes, each a median warm time of the whole fit.

    ``*_prior_only_s``: the data term removed on both sides, so that only the
    fixed per-step work remains (sampling, log q, Adam, the loop itself).
    ``peer_no_losses_s``: NumPyro discarding its losses, so that XLA removes the
    forward pass of the loss; ``vibook_no_trace_s``: the same for vibook,
    ``vi.step`` in a ``lax.scan`` that drops the ELBO value (traced without
    the device-side finiteness check, as ``vi.fit`` traces its steps).
    ``vibook_x_at_z_s``: the log joint's logits written ``x @ z``.
    ``*_final_elbo``: the mean ELBO estimate over the last 10% of
    the steps on each side."""
    def objective(log_joint):
        return partial(elbo.reparam, log_joint=log_joint, family=families.normal,
                       num_samples=NUM_PARTICLES)

    def vibook(log_joint):
        fixed = objective(log_joint)      # one object, so that fit's compiled loop is reused
        return median_time(lambda: jax.block_until_ready(
            vi.fit(jax.random.key(0), fixed, start, optimizer, num_steps)))

    @jax.jit
    def no_trace(key):
        step = partial(vi.step, objective=objective(partial(log_joint, x=x, y=y)),
                       optimizer=optimizer)
        state, _ = jax.lax.scan(lambda s, k: (step(k, s)[0], None),
                                vi.VIState(start, optimizer.init(start)),
                                jax.random.split(key, num_steps))
        return state.params

    tail = num_steps // 10
    return dict(vibook_prior_only_s=vibook(log_prior),
                vibook_x_at_z_s=vibook(partial(_log_joint_x_at_z, x=x, y=y)),
                peer_prior_only_s=median_time(
                    _numpyro_fit(x, y, optimizer, num_steps, None, data=False)),
                peer_no_losses_s=median_time(
                    _numpyro_fit(x, y, optimizer, num_steps, None, losses=False)),
                vibook_no_trace_s=_without_traced_checks(lambda: median_time(
                    lambda: jax.block_until_ready(no_trace(jax.random.key(0))))),
                vibook_final_elbo=float(jnp.mean(trace1[-tail:])),
                peer_final_elbo=float(-jnp.mean(trace2[-tail:])))


def _without_traced_checks(f):
    with _checks.no_traced_checks():
        return f()


CASES = {"vi_full_batch": partial(case, False), "svi_minibatch": partial(case, True)}
