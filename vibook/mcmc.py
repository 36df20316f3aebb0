r"""Ground truth by MCMC: a thin wrapper over BlackJAX's NUTS, and its diagnostics.

The No-U-Turn Sampler (Hoffman & Gelman 2014) is Hamiltonian Monte Carlo
whose trajectory length is chosen per iteration; BlackJAX's
``window_adaptation`` tunes its step size (by default to a target acceptance rate of
0.8) and a diagonal inverse mass matrix during warm-up, as Stan does
(Cabezas et al. 2024; Carpenter et al. 2017). :func:`nuts` runs that warm-up
and then the sampler for several chains at once (``jax.vmap``), each chain
one compiled ``lax.scan``.

:func:`rhat` and :func:`ess` are BlackJAX's potential scale reduction
(Gelman & Rubin 1992, chains not split) and effective sample size (Gelman et
al. 2013, §11.5) over the chains, one value per coordinate.
"""

from functools import partial
from typing import NamedTuple

import blackjax
import blackjax.diagnostics
import jax
import jax.numpy as jnp

from vibook import _checks


class NUTSInfo(NamedTuple):
    """What the sampler reports, per chain ``(C,)`` or per draw ``(C, S)``.

    ``step_size`` (C,) and ``inverse_mass_matrix`` (C, D) are the adapted
    values; ``acceptance_rate``, ``is_divergent`` and ``num_integration_steps``
    (C, S) are per draw; ``num_warmup_steps`` (C,) is the number of leapfrog
    steps (gradient evaluations) spent in warm-up.
    """

    step_size: jax.Array
    inverse_mass_matrix: jax.Array
    acceptance_rate: jax.Array
    is_divergent: jax.Array
    num_integration_steps: jax.Array
    num_warmup_steps: jax.Array


def _check_log_density(log_density, init):
    """One scalar per position ``(D,)``, finite at every chain's start ``init`` (C, D)."""
    d = init.shape[-1]
    _checks.function(log_density, "log_density", "log_density(z) for z of shape (D,)")
    out = jax.eval_shape(log_density, jax.ShapeDtypeStruct((d,), jnp.result_type(float)))
    if getattr(out, "shape", None) != ():
        raise ValueError("log_density must return a scalar for one position of shape "
                         f"({d},), got shape {getattr(out, 'shape', type(out).__name__)}")
    start = jax.vmap(log_density)(init)                              # (C,)
    bad = ~jnp.isfinite(start)
    if bool(jnp.any(bad)):
        raise ValueError(f"log_density must be finite at init_position; it is "
                         f"{float(start[bad][0])} at chain {int(jnp.argmax(bad))}'s start: "
                         "start inside the support (on the unconstrained space)")


def nuts(key, log_density, init_position, num_warmup, num_samples, num_chains=4,
         target_acceptance_rate=0.8):
    r"""Sample :math:`p(z) \propto \exp(\texttt{log\_density}(z))` with NUTS.

    Each chain runs BlackJAX's ``window_adaptation(blackjax.nuts, ...)`` for
    ``num_warmup`` steps (step size and diagonal mass matrix), then
    ``num_samples`` NUTS steps with the adapted parameters. The chains are
    independent and run in parallel with ``jax.vmap``; the compiled program is
    cached on ``log_density`` and the sizes.

    Parameters
    ----------
    key : PRNG key
    log_density : callable
        ``log_density(z)``: the unnormalised log density at one position ``z``
        of shape (D,), a scalar; on an unconstrained space (transform
        constrained parameters and add the log Jacobian).
    init_position : array of shape (D,) or (num_chains, D)
        Where the chains start: one position for all, or one per chain
        (dispersed starts make :func:`rhat` meaningful).
    num_warmup, num_samples : int
        Adaptation steps (discarded) and kept draws per chain.
    num_chains : int
    target_acceptance_rate : float
        The mean acceptance probability the warm-up tunes the step size for,
        in (0, 1). Raising it (e.g. to 0.95) shortens the steps, which removes
        divergences in mildly difficult geometry at the price of longer
        trajectories.

    Returns
    -------
    draws : Array of shape (num_chains, num_samples, D)
    info : NUTSInfo
    """
    key = _checks.key(key)
    num_warmup = _checks.positive_int(num_warmup, "num_warmup")
    num_samples = _checks.positive_int(num_samples, "num_samples")
    num_chains = _checks.positive_int(num_chains, "num_chains")
    init = _checks.array(init_position, "init_position", ndim=(1, 2))
    d = init.shape[-1]
    if init.ndim == 1:
        init = jnp.broadcast_to(init[None, :], (num_chains, d))
    elif init.shape[0] != num_chains:
        raise ValueError(f"init_position must have shape (D,) or (num_chains={num_chains}, D), "
                         f"got {init.shape}")
    _check_log_density(log_density, init)
    accept = _checks.positive(target_acceptance_rate, "target_acceptance_rate")
    if not float(accept) < 1:
        raise ValueError(f"target_acceptance_rate must be in (0, 1), got {accept}")
    return _nuts(jax.random.split(key, num_chains), init, log_density, num_warmup,
                 num_samples, float(accept))


@partial(jax.jit, static_argnames=("log_density", "num_warmup", "num_samples", "accept"))
def _nuts(keys, init, log_density, num_warmup, num_samples, accept):
    def chain(key, z):
        return _chain(key, z, log_density, num_warmup, num_samples, accept)
    return jax.vmap(chain)(keys, init)


def _chain(key, init, log_density, num_warmup, num_samples, accept):
    key_warmup, key_sample = jax.random.split(key)
    keep = blackjax.adaptation.base.get_filter_adapt_info_fn(
        info_keys={"num_integration_steps"})
    warmup = blackjax.window_adaptation(blackjax.nuts, log_density, adaptation_info_fn=keep,
                                        target_acceptance_rate=accept)
    (state, params), warm_info = warmup.run(key_warmup, init, num_steps=num_warmup)
    kernel = blackjax.nuts(log_density, **params)

    def one_step(state, k):
        state, info = kernel.step(k, state)
        return state, (state.position, info.acceptance_rate, info.is_divergent,
                       info.num_integration_steps)

    keys = jax.random.split(key_sample, num_samples)
    _, (draws, accept, divergent, steps) = jax.lax.scan(one_step, state, keys)
    info = NUTSInfo(params["step_size"], params["inverse_mass_matrix"], accept, divergent,
                    steps, jnp.sum(warm_info.info.num_integration_steps))
    return draws, info                                               # (S, D)


def _draws(draws):
    draws = _checks.array(draws, "draws", ndim=3)
    if draws.shape[0] < 2 or draws.shape[1] < 4:
        raise ValueError("draws must have shape (num_chains >= 2, num_samples >= 4, D), "
                         f"got {draws.shape}")
    return draws


def _per_coordinate(diagnostic, draws):
    """A BlackJAX diagnostic over chains (axis 0) and draws (axis 1), shape (D,)."""
    draws = _draws(draws)
    return diagnostic(draws, 0, 1).reshape(draws.shape[2])


def rhat(draws):
    r"""Potential scale reduction :math:`\hat R` per coordinate (BlackJAX).

    :math:`\hat R = \sqrt{\widehat{\mathrm{var}}^+ / W}`, the pooled variance
    estimate over the mean within-chain variance; near 1 when the chains agree
    (Gelman & Rubin 1992; the chains are not split). Above 1.01: do not trust
    the draws.

    Parameters
    ----------
    draws : array of shape (C, S, D)

    Returns
    -------
    Array of shape (D,)
    """
    return _per_coordinate(blackjax.diagnostics.potential_scale_reduction, draws)


def ess(draws):
    r"""Effective sample size per coordinate (BlackJAX), pooled over chains.

    :math:`\mathrm{ESS} = CS / \hat\tau`, with the integrated autocorrelation
    time :math:`\hat\tau` from Geyer's initial monotone sequence
    (Gelman et al. 2013, §11.5).

    Parameters
    ----------
    draws : array of shape (C, S, D)

    Returns
    -------
    Array of shape (D,)
    """
    return _per_coordinate(blackjax.diagnostics.effective_sample_size, draws)
