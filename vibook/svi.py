r"""Stochastic variational inference: natural-gradient SVI and black-box minibatch VI.

Two ways to scale VI to many data points, each taking a minibatch :math:`B` of
the :math:`N` points per step:

* **SVI for conjugate models** (Hoffman, Blei, Wang & Paisley 2013), here for
  the Bayesian mixture of Gaussians of :mod:`vibook.cavi`. Each step optimises
  the local factors :math:`q(c_i)` of the minibatch, forms the *intermediate*
  global parameters :math:`\hat\eta` as if the minibatch were repeated
  :math:`N/|B|` times, and moves the natural parameters of the global factors
  a step :math:`\rho_t` towards them:

  .. math:: \eta \leftarrow (1 - \rho_t)\,\eta + \rho_t\,\hat\eta, \qquad
            \rho_t = (t + \tau)^{-\kappa}.

  :math:`\hat\eta - \eta` is the *natural gradient* of the ELBO, so this is
  stochastic natural-gradient ascent; with :math:`\kappa \in (0.5, 1]` and
  :math:`\tau > 0` the steps satisfy the Robbins–Monro conditions.

* **Black-box minibatch VI** (Ranganath et al. 2014; Kucukelbir et al. 2017)
  for any model whose log joint is a prior term plus a sum of per-example
  log-likelihoods. The reparameterised ELBO estimate rescales the minibatch
  log-likelihood by :math:`N/|B|`, which keeps it unbiased, and any
  reparameterisable family of :mod:`vibook.families` serves as :math:`q`.

Both run as ``jax.jit``-compiled ``lax.scan`` loops over shuffled minibatches,
epoch by epoch. ``progress=True`` prints one deterministic line per chunk of
epochs (no timings), so a stored notebook output stays reproducible. Each
minibatch is split over all local devices (see :mod:`vibook.device`).
"""

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from vibook import _checks, cavi, device
from vibook.data import minibatches


# --- the step-size schedule -------------------------------------------------------------------

def check_schedule(tau, kappa):
    """Check the Robbins–Monro schedule's delay ``tau > 0`` and forgetting rate
    ``kappa`` in (0.5, 1]."""
    _checks.positive(tau, "tau")
    _checks.positive(kappa, "kappa")
    if _checks.is_concrete(kappa) and not 0.5 < float(kappa) <= 1.0:
        raise ValueError("kappa must lie in (0.5, 1] for the Robbins-Monro conditions, "
                         f"got {kappa}")


def step_size(t, tau, kappa):
    r""":math:`\rho_t = (t + \tau)^{-\kappa}` for steps :math:`t = 0, 1, 2, \dots`
    (Hoffman et al. 2013, eq. 26).

    For :math:`\kappa \in (0.5, 1]` and :math:`\tau > 0`,
    :math:`\sum_t \rho_t = \infty` and :math:`\sum_t \rho_t^2 < \infty`
    (Robbins & Monro 1951). ``tau = 1, kappa = 1`` gives :math:`\rho_t = 1/(t + 1)`:
    1, 1/2, 1/3, ...
    """
    check_schedule(tau, kappa)
    return (jnp.asarray(t) + tau) ** (-kappa)


def _run_epochs(run_chunk, carry, key, num_epochs, progress, label):
    """Run ``num_epochs`` epochs of ``run_chunk(carry, keys)`` in up to 10 chunks;
    concatenate the chunks' traces."""
    keys = jax.random.split(key, num_epochs)
    num_chunks = min(10, num_epochs) if progress else 1
    bounds = [round(i * num_epochs / num_chunks) for i in range(num_chunks + 1)]
    traces = []
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        carry, trace = run_chunk(carry, keys[lo:hi])
        traces.append(trace)
        if progress:
            print(f"{label}: {hi}/{num_epochs} epochs")
    return carry, jax.tree.map(lambda *t: jnp.concatenate(t), *traces)


# --- SVI for the Bayesian mixture of Gaussians ------------------------------------------------

class MixtureSVIState(NamedTuple):
    r"""Global variational parameters :math:`q(\mu_k) = \mathcal{N}(m_k, s^2_k I)`
    and the step count."""

    m: jax.Array    # (K, D)
    s2: jax.Array   # (K,)
    t: jax.Array    # () number of steps taken


def mixture_init(key, x, num_components, prior_scale):
    """Start SVI exactly where :func:`vibook.cavi.mixture_init` starts CAVI
    (same key, same means)."""
    state = cavi.mixture_init(key, x, num_components, prior_scale)
    return MixtureSVIState(state.m, state.s2, jnp.zeros((), jnp.int32))


def to_natural(m, s2):
    r"""Natural parameters of :math:`\mathcal{N}(m_k, s^2_k I)`:
    :math:`\eta_1 = m_k / s^2_k`, :math:`\eta_2 = -1/(2 s^2_k)`."""
    return m / s2[:, None], -0.5 / s2


def from_natural(eta1, eta2):
    """Inverse of :func:`to_natural`: ``(m, s2)``."""
    s2 = -0.5 / eta2
    return eta1 * s2[:, None], s2


def mixture_step(state, x_batch, num_data, prior_scale, tau, kappa):
    r"""One SVI step on a minibatch (Hoffman et al. 2013, Algorithm 1).

    1. Local step: :math:`\phi_i` for :math:`i \in B` from :func:`vibook.cavi.mixture_local`.
    2. Intermediate globals :math:`(\hat m, \hat s^2)` from
       :func:`vibook.cavi.mixture_global` with the data sums scaled by :math:`N/|B|`.
    3. :math:`\eta \leftarrow (1 - \rho_t)\eta + \rho_t\hat\eta` in natural parameters.

    Parameters
    ----------
    state : MixtureSVIState
    x_batch : array, shape (|B|, D)
    num_data : int
        :math:`N`, the size of the full data set.
    prior_scale, tau, kappa : float

    Returns
    -------
    MixtureSVIState
    """
    phi = cavi.mixture_local(state.m, state.s2, x_batch)                        # (|B|, K)
    m_hat, s2_hat = cavi.mixture_global(phi, x_batch, prior_scale, num_data / x_batch.shape[0])
    rho = step_size(state.t, tau, kappa)
    eta = to_natural(state.m, state.s2)
    eta_hat = to_natural(m_hat, s2_hat)
    m, s2 = from_natural(*((1 - rho) * e + rho * e_hat for e, e_hat in zip(eta, eta_hat)))
    return MixtureSVIState(m, s2, state.t + 1)


@partial(jax.jit, static_argnames=("batch_size", "sharding"))
def _mixture_epochs(state, keys, x, batch_size, prior_scale, tau, kappa, sharding):
    def batch_step(state, idx):
        batch = device.shard_batch(x[idx], sharding)                    # (|B|, D)
        new = mixture_step(state, batch, x.shape[0], prior_scale, tau, kappa)
        return new, (new.m, new.s2)

    def epoch(state, key):
        return jax.lax.scan(batch_step, state, minibatches(key, x.shape[0], batch_size))

    state, (m, s2) = jax.lax.scan(epoch, state, keys)
    return state, (m.reshape(-1, *m.shape[2:]), s2.reshape(-1, s2.shape[-1]))


def mixture_fit(key, x, state, num_epochs, batch_size, prior_scale, tau=1.0, kappa=0.7,
                progress=False, devices=None):
    """Run SVI for the Bayesian mixture for ``num_epochs`` shuffled passes over ``x``.

    Parameters
    ----------
    key : PRNG key
        Shuffles the data every epoch.
    x : array, shape (N, D)
    state : MixtureSVIState
        The start, e.g. :func:`mixture_init`.
    num_epochs, batch_size : int
        Each epoch takes ``N // batch_size`` steps.
    prior_scale : float
    tau, kappa : float
        The schedule :math:`\\rho_t = (t + \\tau)^{-\\kappa}`; ``tau > 0``, ``kappa`` in (0.5, 1].
    progress : bool
        Print one line per chunk of epochs (deterministic text).
    devices : sequence of jax.Device, optional
        Split each minibatch over these devices (all local devices by
        default); see :func:`vibook.device.batch_sharding`.

    Returns
    -------
    state : MixtureSVIState
    trace : tuple of Array
        ``(m, s2)`` after every step, shapes (T, K, D) and (T, K); pass them to
        :func:`mixture_elbo` to trace the ELBO.
    """
    _checks.key(key)
    x = _checks.array(x, "x", ndim=2)
    _checks.array(state.m, "state.m", ndim=2, shape=(None, x.shape[1]))
    num_epochs = _checks.positive_int(num_epochs, "num_epochs")
    batch_size = _checks.batch_size(batch_size, x.shape[0])
    _checks.positive(prior_scale, "prior_scale")
    check_schedule(tau, kappa)
    sharding = device.batch_sharding(batch_size, devices)
    x, state = device.replicate((x, state), sharding)

    def run(s, keys):
        return _mixture_epochs(s, keys, x, batch_size, prior_scale, tau, kappa, sharding)

    return _run_epochs(run, state, key, num_epochs, progress, "SVI")


@jax.jit
def _mixture_elbo(m, s2, x, prior_scale):
    phi = cavi.mixture_local(m, s2, x)
    return cavi.mixture_elbo(cavi.MixtureState(m, s2, phi), x, prior_scale)


def mixture_elbo(m, s2, x, prior_scale):
    r"""The mixture ELBO of global parameters ``(m, s2)``, with every :math:`q(c_i)`
    at its optimum.

    :math:`\mathcal{L}(m, s^2) = \max_\phi \mathcal{L}(m, s^2, \phi)`, the
    objective SVI climbs (Hoffman et al. 2013, §2.3). ``m`` and ``s2`` may carry
    a leading axis of steps (from :func:`mixture_fit`'s trace); the result then
    has that shape.
    """
    x = _checks.array(x, "x", ndim=2)
    _checks.positive(prior_scale, "prior_scale")
    m, s2 = jnp.asarray(m), jnp.asarray(s2)
    if m.ndim == 3:
        return jax.lax.map(lambda ms: _mixture_elbo(*ms, x, prior_scale), (m, s2))
    return _mixture_elbo(m, s2, x, prior_scale)


# --- black-box minibatch VI -------------------------------------------------------------------

def minibatch_elbo(key, family, params, log_prior, log_lik, batch, num_data, num_samples=1):
    r"""Reparameterised ELBO estimate from a minibatch, with the likelihood rescaled
    by :math:`N/|B|`.

    .. math::

        \hat{\mathcal{L}} &= \frac1S \sum_{s=1}^S \Big[\log p(z_s)
        + \frac{N}{|B|}\sum_{i \in B} \log p(x_i \mid z_s)\Big] \\
        &\quad {}+ \mathbb{H}[q], \qquad z_s = g(\epsilon_s; \phi),

    an unbiased estimate of the full-data ELBO when :math:`B` is a uniformly
    random subset (Hoffman et al. 2013; Kucukelbir et al. 2017, §2.6).

    Parameters
    ----------
    key : PRNG key
    family : vibook.families.Family
    params : the family's parameters
    log_prior : callable
        ``log_prior(z) -> scalar`` for one latent ``z``.
    log_lik : callable
        ``log_lik(z, batch) -> (|B|,)`` per-example log-likelihoods for one ``z``.
    batch : pytree of arrays with leading axis |B|
    num_data : int
        :math:`N`.
    num_samples : int
        :math:`S`, Monte Carlo samples of :math:`z`.
    """
    z = family.sample(key, params, num_samples)                          # (S, D)
    size = jax.tree.leaves(batch)[0].shape[0]
    joint = jax.vmap(lambda zs: log_prior(zs) + num_data / size * jnp.sum(log_lik(zs, batch)))(z)
    return jnp.mean(joint) + family.entropy(params)


@partial(jax.jit, static_argnames=("family", "log_prior", "log_lik", "batch_size", "optimizer",
                                   "num_samples", "sharding"))
def _bbvi_epochs(carry, keys, family, log_prior, log_lik, data, batch_size, optimizer,
                 num_samples, sharding):
    n = jax.tree.leaves(data)[0].shape[0]

    def batch_step(carry, inputs):
        params, opt_state = carry
        key, idx = inputs
        batch = device.shard_batch(jax.tree.map(lambda a: a[idx], data), sharding)
        value, grads = jax.value_and_grad(lambda p: -minibatch_elbo(
            key, family, p, log_prior, log_lik, batch, n, num_samples))(params)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), -value

    def epoch(carry, key):
        k_batch, k_sample = jax.random.split(key)
        idx = minibatches(k_batch, n, batch_size)
        return jax.lax.scan(batch_step, carry, (jax.random.split(k_sample, idx.shape[0]), idx))

    carry, elbo = jax.lax.scan(epoch, carry, keys)
    return carry, elbo.reshape(-1)


def minibatch_fit(key, family, params, log_prior, log_lik, data, num_epochs, batch_size,
                  optimizer, num_samples=1, progress=False, devices=None):
    """Black-box minibatch VI: stochastic gradient ascent on :func:`minibatch_elbo`.

    Parameters
    ----------
    key : PRNG key
    family : vibook.families.Family
        E.g. ``families.normal`` (mean-field) or ``families.full_rank_normal``.
    params : the family's initial parameters
    log_prior, log_lik : callable
        See :func:`minibatch_elbo`; pass the same function objects again to
        reuse the compiled code.
    data : pytree of arrays with a common leading axis N
        E.g. ``(x, y)``.
    num_epochs, batch_size : int
        Each epoch shuffles the data and takes ``N // batch_size`` steps.
        ``batch_size = N`` gives full-batch VI.
    optimizer : optax.GradientTransformation
    num_samples : int
        Monte Carlo samples per step.
    progress : bool
        Print one line per chunk of epochs (deterministic text).
    devices : sequence of jax.Device, optional
        Split each minibatch over these devices (all local devices by
        default); see :func:`vibook.device.batch_sharding`.

    Returns
    -------
    params : the fitted parameters
    elbo_trace : Array, shape (num_epochs * (N // batch_size),)
        The minibatch ELBO estimate at every step.
    """
    _checks.key(key)
    leaves = [_checks.array(a, "data") for a in jax.tree.leaves(data)]
    if not leaves or any(a.ndim < 1 or a.shape[0] != leaves[0].shape[0] for a in leaves):
        raise ValueError("data must be arrays that share a leading axis of length N")
    data = jax.tree.unflatten(jax.tree.structure(data), leaves)
    num_epochs = _checks.positive_int(num_epochs, "num_epochs")
    batch_size = _checks.batch_size(batch_size, leaves[0].shape[0])
    num_samples = _checks.positive_int(num_samples, "num_samples")
    _checks.optimizer(optimizer)
    _checks.function(log_prior, "log_prior", "log_prior(z)")
    _checks.function(log_lik, "log_lik", "log_lik(z, batch)")
    sharding = device.batch_sharding(batch_size, devices)
    data, params = device.replicate((data, params), sharding)

    def run(c, keys):
        return _bbvi_epochs(c, keys, family, log_prior, log_lik, data, batch_size,
                            optimizer, num_samples, sharding)

    (params, _), trace = _run_epochs(run, (params, optimizer.init(params)), key, num_epochs,
                                     progress, "VI")
    return params, trace
