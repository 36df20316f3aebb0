r"""Ground truth by MCMC: a thin wrapper over BlackJAX's NUTS, and its diagnostics.

The No-U-Turn Sampler (Hoffman & Gelman 2014) is Hamiltonian Monte Carlo
whose trajectory length is chosen per iteration; BlackJAX's
``window_adaptation`` tunes its step size (to a target acceptance rate, 0.8
by default) and a diagonal inverse mass matrix during warm-up, as Stan does
(Cabezas et al. 2024; Carpenter et al. 2017). :func:`nuts` runs that warm-up
and then the sampler for several chains at once (``jax.vmap``), each chain
one compiled ``lax.scan``; :func:`dispersed_starts` gives each chain its own
start.

The convergence diagnostics are those of Vehtari et al. (2021), written out
here as the lesson and tested against ArviZ:

* :func:`rhat`, the rank-normalised split :math:`\hat R` (bulk and folded),
  to be compared with 1.01;
* :func:`ess_bulk` and :func:`ess_tail`, the effective sample sizes of the
  rank-normalised draws and of the 5% and 95% quantile indicators;
* :func:`ess`, the split-chain effective sample size of the draws themselves,
  which gives the Monte Carlo standard error of a posterior mean,
  :math:`\mathrm{sd}/\sqrt{\mathrm{ESS}}`;
* :func:`ebfmi`, the energy Bayesian fraction of missing information of each
  chain (Betancourt 2016).
"""

from collections.abc import Mapping
from functools import lru_cache, partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

from vibook import _checks


class NUTSInfo(NamedTuple):
    """What the sampler reports, per chain ``(C,)`` or per draw ``(C, S)``.

    ``step_size`` (C,) and ``inverse_mass_matrix`` (C, D) are the adapted
    values; ``acceptance_rate``, ``is_divergent`` and ``num_integration_steps``
    (C, S) are per draw; ``num_warmup_steps`` (C,) is the number of leapfrog
    steps (gradient evaluations) spent in warm-up. ``energy`` (C, S) is the
    Hamiltonian at each kept draw (for :func:`ebfmi`), ``tree_depth`` (C, S)
    the number of trajectory doublings of each draw, and ``max_tree_depth``
    (C,) the cap it ran under: a draw with ``tree_depth == max_tree_depth``
    stopped because of the cap, not because the trajectory turned.
    """

    step_size: jax.Array
    inverse_mass_matrix: jax.Array
    acceptance_rate: jax.Array
    is_divergent: jax.Array
    num_integration_steps: jax.Array
    num_warmup_steps: jax.Array
    energy: jax.Array
    tree_depth: jax.Array
    max_tree_depth: jax.Array


def _check_log_density(log_density, init):
    """One scalar per position ``(D,)``, finite at every chain's start ``init`` (C, D)."""
    _checks.function(log_density, "log_density", "log_density(z) for z of shape (D,)")
    _checks.signature(log_density, "log_density", "log_density(z)", 1)
    start = _checks.per_draw(log_density, "log_density", init, allow_neg_inf=True)   # (C,)
    bad = ~jnp.isfinite(start)
    if bool(jnp.any(bad)):
        raise ValueError(f"log_density must be finite at init_position; it is "
                         f"{float(start[bad][0])} at chain {int(jnp.argmax(bad))}'s start: "
                         "start inside the support (on the unconstrained space)")


def dispersed_starts(key, num_chains, loc, scale=2.0):
    r"""One start per chain, uniform on :math:`[\mathrm{loc} - \mathrm{scale},\ \mathrm{loc} + \mathrm{scale}]`.

    :func:`rhat` can detect chains that have not mixed only if they started
    far apart: ideally more dispersed than the posterior (Gelman & Rubin
    1992; Vehtari et al. 2021). Stan's default is ``loc = 0``, ``scale = 2``
    on the unconstrained space; widen ``scale`` for coordinates whose
    posterior is wider than that.

    Parameters
    ----------
    key : PRNG key
    num_chains : int
    loc : array of shape (D,)
        The centre of the starts.
    scale : float or array of shape (D,)
        Half-width of the box, per coordinate if an array; positive.

    Returns
    -------
    Array of shape (num_chains, D)

    Examples
    --------
    >>> import jax, jax.numpy as jnp
    >>> starts = dispersed_starts(jax.random.key(0), 4, jnp.zeros(3), scale=10.0)
    >>> starts.shape, bool(jnp.all(jnp.abs(starts) <= 10.0))
    ((4, 3), True)
    """
    key = _checks.key(key)
    num_chains = _checks.positive_int(num_chains, "num_chains")
    loc = _checks.array(loc, "loc", ndim=1)
    scale = _checks.array(scale, "scale", ndim=(0, 1))
    if scale.ndim == 1 and scale.shape != loc.shape:
        raise ValueError(f"scale must be a scalar or have the shape of loc {loc.shape}, "
                         f"got {scale.shape}")
    if not bool(jnp.all(scale > 0)):
        raise ValueError("scale must be > 0 in every coordinate")
    u = jax.random.uniform(key, (num_chains, loc.shape[0]), minval=-1.0, maxval=1.0)
    return loc[None, :] + (scale if scale.ndim == 0 else scale[None, :]) * u   # (C, D)


def nuts(key, log_density, init_position, num_warmup, num_samples, num_chains=4,
         target_acceptance_rate=0.8, max_tree_depth=10):
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
    init_position : array of shape (D,) or (num_chains, D), or a dict
        Where the chains start: one position for all, or one per chain
        (dispersed starts, e.g. from :func:`dispersed_starts`, make
        :func:`rhat` meaningful). A dict of arrays (one start, shared by the
        chains) names the parameters: ``log_density`` then takes such a dict,
        and the draws come back as a dict whose entries have the leading axes
        ``(num_chains, num_samples)``. (For one start per chain of a dict
        model, use :func:`vibook.transforms.unconstrain`'s flat ``u``.)
    num_warmup, num_samples : int
        Adaptation steps (discarded) and kept draws per chain.
    num_chains : int
    target_acceptance_rate : float
        The mean acceptance probability the warm-up tunes the step size for,
        in (0, 1). Raising it (e.g. to 0.95) shortens the steps, which removes
        divergences in mildly difficult geometry at the price of longer
        trajectories.
    max_tree_depth : int
        The most trajectory doublings per draw (BlackJAX's
        ``max_num_doublings``, Stan's ``max_treedepth``), so at most
        :math:`2^{\texttt{max\_tree\_depth}}` leapfrog steps. Draws that hit
        it (``info.tree_depth == max_tree_depth``) signal a step size too
        small for the posterior's scale.

    Returns
    -------
    draws : Array of shape (num_chains, num_samples, D), or a dict
        A dict like ``init_position`` when it is one.
    info : NUTSInfo

    Raises
    ------
    ValueError
        If a size is not a positive integer, ``init_position`` has the wrong
        shape or a start where ``log_density`` is not finite, ``log_density``
        does not return a scalar, or ``target_acceptance_rate`` is not in (0, 1).
    TypeError
        If ``key`` is not a single PRNG key or ``log_density`` is not callable.

    Examples
    --------
    >>> import jax, jax.numpy as jnp
    >>> log_density = lambda z: -0.5 * jnp.sum(z**2)
    >>> starts = dispersed_starts(jax.random.key(0), 2, jnp.zeros(1))
    >>> draws, info = nuts(jax.random.key(1), log_density, starts, 50, 20, num_chains=2)
    >>> draws.shape, info.energy.shape
    ((2, 20, 1), (2, 20))
    """
    if isinstance(init_position, Mapping):
        start = {k: _checks.array(v, f"init_position[{k!r}]") for k, v in init_position.items()}
        _checks.function(log_density, "log_density", "log_density(params)")
        flat_density, unravel = _on_flat(log_density, tuple(
            (k, v.shape, v.dtype) for k, v in sorted(start.items())))
        draws, info = nuts(key, flat_density, ravel_pytree(start)[0], num_warmup, num_samples,
                           num_chains, target_acceptance_rate, max_tree_depth)
        return jax.vmap(jax.vmap(unravel))(draws), info
    key = _checks.key(key)
    num_warmup = _checks.positive_int(num_warmup, "num_warmup")
    num_samples = _checks.positive_int(num_samples, "num_samples")
    num_chains = _checks.positive_int(num_chains, "num_chains")
    max_tree_depth = _checks.positive_int(max_tree_depth, "max_tree_depth")
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
                 num_samples, float(accept), max_tree_depth)


@lru_cache(maxsize=32)
def _on_flat(log_density, template):
    """``log_density`` of a dict as one of a flat vector, and the unravel; the same
    function for the same model and shapes, so that the compiled NUTS is reused."""
    unravel = ravel_pytree({k: jnp.zeros(shape, dtype) for k, shape, dtype in template})[1]

    def flat_density(z):
        return log_density(unravel(z))
    return flat_density, unravel


@partial(jax.jit, static_argnames=("log_density", "num_warmup", "num_samples", "accept",
                                   "depth"))
def _nuts(keys, init, log_density, num_warmup, num_samples, accept, depth):
    def chain(key, z):
        return _chain(key, z, log_density, num_warmup, num_samples, accept, depth)
    return jax.vmap(chain)(keys, init)


def _chain(key, init, log_density, num_warmup, num_samples, accept, depth):
    # imported here, not at the top: importing BlackJAX starts JAX's CPU backend, and
    # device.setup()'s dispatch setting only takes effect before that
    import blackjax

    key_warmup, key_sample = jax.random.split(key)
    keep = blackjax.adaptation.base.get_filter_adapt_info_fn(
        info_keys={"num_integration_steps"})
    warmup = blackjax.window_adaptation(blackjax.nuts, log_density, adaptation_info_fn=keep,
                                        target_acceptance_rate=accept,
                                        max_num_doublings=depth)
    (state, params), warm_info = warmup.run(key_warmup, init, num_steps=num_warmup)
    kernel = blackjax.nuts(log_density, params["step_size"], params["inverse_mass_matrix"],
                           max_num_doublings=depth)

    def one_step(state, k):
        state, info = kernel.step(k, state)
        return state, (state.position, info.acceptance_rate, info.is_divergent,
                       info.num_integration_steps, info.energy,
                       info.num_trajectory_expansions)

    keys = jax.random.split(key_sample, num_samples)
    _, (draws, accept, divergent, steps, energy, doublings) = jax.lax.scan(
        one_step, state, keys)
    info = NUTSInfo(params["step_size"], params["inverse_mass_matrix"], accept, divergent,
                    steps, jnp.sum(warm_info.info.num_integration_steps), energy,
                    doublings, jnp.asarray(depth))
    return draws, info                                               # (S, D)


def ebfmi(energy):
    r"""Energy Bayesian fraction of missing information, one value per chain.

    .. math::

        \mathrm{E\text{-}BFMI} = \frac{\frac{1}{S-1}\sum_{s=2}^{S} (E_s - E_{s-1})^2}
        {\frac{1}{S-1}\sum_{s=1}^{S} (E_s - \bar E)^2},

    with :math:`E_s` the Hamiltonian at draw :math:`s` (Betancourt 2016,
    §6; the estimator of ArviZ's ``bfmi``). It compares how far the momentum
    refresh moves the energy with the spread of the energy's marginal; below
    0.3 the sampler explores the energy levels too slowly (heavy tails, or a
    funnel), and Stan warns.

    Parameters
    ----------
    energy : array of shape (C, S)
        ``info.energy`` from :func:`nuts`.

    Returns
    -------
    Array of shape (C,)

    Examples
    --------
    >>> import jax
    >>> e = jax.random.normal(jax.random.key(0), (2, 1000))   # independent
    >>> [round(float(v), 1) for v in ebfmi(e)]
    [2.0, 2.0]
    """
    energy = _checks.array(energy, "energy", ndim=2)
    if energy.shape[1] < 4:
        raise ValueError(f"energy must have shape (C, S >= 4), got {energy.shape}")
    num = jnp.mean(jnp.diff(energy, axis=1) ** 2, axis=1)
    return num / jnp.var(energy, axis=1, ddof=1)


# ---------------------------------------------------------------- R-hat and ESS

def _draws(draws, min_chains=2):
    draws = _checks.array(draws, "draws", ndim=3)
    if draws.shape[0] < min_chains or draws.shape[1] < 4:
        raise ValueError(f"draws must have shape (num_chains >= {min_chains}, "
                         f"num_samples >= 4, D), got {draws.shape}")
    return draws


def _split(x):
    """Each chain's first and last halves as two chains (the middle draw of an odd S dropped)."""
    half = x.shape[1] // 2
    return jnp.concatenate([x[:, :half], x[:, -half:]], axis=0)     # (2C, S//2, D)


@jax.jit
def _rank_normalise(x):
    r"""Normal scores :math:`\Phi^{-1}((r - 3/8)/(n + 1/4))` of the pooled ranks (ties averaged)."""
    n = x.shape[0] * x.shape[1]
    flat = x.reshape(n, -1)                                          # (CS, D)
    pooled = jnp.sort(flat, axis=0)

    def rank(sorted_d, x_d):                                         # 1-based, ties averaged
        below = jnp.searchsorted(sorted_d, x_d, side="left")
        at_most = jnp.searchsorted(sorted_d, x_d, side="right")
        return (below + 1 + at_most) / 2.0
    r = jax.vmap(rank, in_axes=1, out_axes=1)(pooled, flat)           # (CS, D)
    return jax.scipy.stats.norm.ppf((r - 0.375) / (n + 0.25)).reshape(x.shape)


@jax.jit
def _classic_rhat(x):
    r""":math:`\sqrt{((S-1)/S\,W + B/S)/W}` over chains (axis 0) of ``x`` (C, S, D)."""
    s = x.shape[1]
    w = jnp.mean(jnp.var(x, axis=1, ddof=1), axis=0)                 # (D,)
    b = s * jnp.var(jnp.mean(x, axis=1), axis=0, ddof=1)             # (D,)
    return jnp.sqrt(((s - 1) / s * w + b / s) / w)


def _autocov(x):
    """Autocovariance of each chain at every lag, by FFT, biased (divided by S)."""
    s = x.shape[1]
    centred = x - x.mean(axis=1, keepdims=True)
    f = jnp.fft.rfft(centred, n=2 * s, axis=1)
    return jnp.fft.irfft(f * jnp.conj(f), n=2 * s, axis=1)[:, :s] / s   # (C, S, D)


@jax.jit
def _ess(x):
    r"""ESS of ``x`` (C, S, D) over all chains, Geyer's initial monotone sequence.

    With autocovariances :math:`\hat\gamma_{c,t}`,
    :math:`W = \frac{S}{S-1}\overline{\hat\gamma_{\cdot,0}}`,
    :math:`\widehat{\mathrm{var}}^+ = \frac{S-1}{S}W + \mathrm{var}(\bar x_c)`
    and :math:`\hat\rho_t = 1 - (W - \overline{\hat\gamma_{\cdot,t}})/\widehat{\mathrm{var}}^+`,
    sum the pairs :math:`P_k = \hat\rho_{2k} + \hat\rho_{2k+1}` while they are
    positive, made non-increasing, and :math:`\mathrm{ESS} = CS/\hat\tau`,
    :math:`\hat\tau = -1 + 2\sum_k P_k` (Vehtari et al. 2021, eqs. 10-11; the
    same steps and end corrections as Stan and ArviZ).
    """
    c, s = x.shape[:2]
    acov = _autocov(x).mean(axis=0)                                  # (S, D)
    w = acov[0] * s / (s - 1)
    var_plus = w * (s - 1) / s + jnp.var(jnp.mean(x, axis=1), axis=0, ddof=1)
    rho = (1.0 - (w[None] - acov) / var_plus[None]).at[0].set(1.0)   # (S, D)
    num_pairs = (s - 1) // 2                                         # as far as Geyer reads
    pairs = rho[:2 * num_pairs:2] + rho[1:2 * num_pairs:2]           # (K, D)
    k = jnp.arange(num_pairs)[:, None]
    stop = jnp.min(jnp.where(pairs <= 0, k, num_pairs - 1), axis=0)  # (D,) the last pair read
    monotone = jax.lax.cummin(pairs, axis=0)
    tau = -1.0 + 2.0 * jnp.sum(jnp.where(k < stop[None], monotone, 0.0), axis=0)
    even = jnp.take_along_axis(rho[0:2 * num_pairs:2], stop[None], axis=0)[0]
    last_positive = jnp.take_along_axis(pairs, stop[None], axis=0)[0] > 0
    tau = tau + jnp.where(last_positive, even, jnp.maximum(even, 0.0))
    tau = jnp.maximum(tau, 1.0 / jnp.log10(c * s))
    constant = jnp.ptp(x.reshape(c * s, -1), axis=0) < jnp.finfo(x.dtype).resolution
    return jnp.where(constant, c * s, c * s / tau)


def rhat(draws):
    r"""Rank-normalised split :math:`\hat R` per coordinate (Vehtari et al. 2021).

    1. Split each of the C chains in half, giving 2C chains of
       :math:`S' = \lfloor S/2\rfloor` draws: a chain that drifts then
       disagrees with itself.
    2. Replace every draw by the normal score of its rank among all
       :math:`2CS'` draws, :math:`z = \Phi^{-1}((r - 3/8)/(2CS' + 1/4))`, so
       heavy tails cannot hide a disagreement.
    3. Compute the classic potential scale reduction on these scores,

       .. math::

           \hat R = \sqrt{\frac{\frac{S'-1}{S'} W + \frac{1}{S'} B}{W}},

       with :math:`W` the mean within-chain variance and :math:`B/S'` the
       variance of the chain means (Gelman & Rubin 1992): the bulk
       :math:`\hat R`.
    4. Do the same for the folded draws :math:`|x - \mathrm{median}(x)|`,
       which compares the chains' scales: the tail :math:`\hat R`.
    5. Report the larger. Below 1.01 the chains agree (Vehtari et al. 2021,
       §4).

    Parameters
    ----------
    draws : array of shape (C, S, D)
        :math:`C \ge 2` chains of :math:`S \ge 4` draws.

    Returns
    -------
    Array of shape (D,)

    Raises
    ------
    ValueError
        If ``draws`` has fewer than 2 chains or 4 draws, or contains NaN.

    Examples
    --------
    >>> import jax, jax.numpy as jnp
    >>> x = jax.random.normal(jax.random.key(0), (4, 500, 2))
    >>> bool(rhat(x)[0] < 1.01), bool(rhat(x.at[0].add(1.0))[0] > 1.01)
    (True, True)
    """
    return _rhat(_split(_draws(draws)))


@jax.jit
def _rhat(x):
    folded = jnp.abs(x - jnp.median(x.reshape(-1, x.shape[2]), axis=0)[None, None])
    return jnp.maximum(_classic_rhat(_rank_normalise(x)),
                       _classic_rhat(_rank_normalise(folded)))


def ess(draws):
    r"""Effective sample size of the draws themselves, per coordinate (split chains).

    :math:`\mathrm{ESS} = CS/\hat\tau` over the split chains, with the
    integrated autocorrelation time :math:`\hat\tau = 1 + 2\sum_t\hat\rho_t`
    from Geyer's initial monotone sequence (Vehtari et al. 2021, §3; ArviZ's
    ``ess(method="mean")``). The Monte Carlo standard error of a posterior
    mean is :math:`\mathrm{sd}/\sqrt{\mathrm{ESS}}`; for a standard deviation
    use the ESS of :math:`(z - \bar z)^2`, ``ess((draws - mean)**2)``. Use
    :func:`ess_bulk` and :func:`ess_tail` to judge a run.

    Parameters
    ----------
    draws : array of shape (C, S, D)
        :math:`C \ge 2` chains of :math:`S \ge 4` draws.

    Returns
    -------
    Array of shape (D,)

    Examples
    --------
    >>> import jax
    >>> x = jax.random.normal(jax.random.key(0), (4, 500, 1))   # independent draws
    >>> 1500 < float(ess(x)[0]) < 2500
    True
    """
    return _ess(_split(_draws(draws)))


def ess_bulk(draws):
    r"""Bulk effective sample size: the ESS of the rank-normalised split chains.

    :func:`ess` of the normal scores of :func:`rhat`'s step 2: how many
    independent draws the chains are worth for the centre of the
    distribution, finite even when the draws have no variance (Vehtari et al.
    2021, §3.2). Ask for at least 100 per chain.

    Parameters
    ----------
    draws : array of shape (C, S, D)

    Returns
    -------
    Array of shape (D,)

    Examples
    --------
    >>> import jax
    >>> x = jax.random.cauchy(jax.random.key(0), (4, 500, 1))   # no variance
    >>> 1500 < float(ess_bulk(x)[0]) < 2500
    True
    """
    return _ess(_rank_normalise(_split(_draws(draws))))


def ess_tail(draws):
    r"""Tail effective sample size: the smaller ESS of the 5% and 95% quantiles.

    For :math:`q` the 5% (then 95%) quantile of all draws, :func:`ess` of the
    indicators :math:`I(z \le q)` on the split chains; the smaller of the two
    says how well the chains estimate the tails, e.g. a 90% interval
    (Vehtari et al. 2021, §4.3).

    Parameters
    ----------
    draws : array of shape (C, S, D)

    Returns
    -------
    Array of shape (D,)

    Examples
    --------
    >>> import jax
    >>> x = jax.random.normal(jax.random.key(0), (4, 500, 1))
    >>> 1000 < float(ess_tail(x)[0]) < 3000
    True
    """
    return _ess_tail(_draws(draws))


@jax.jit
def _ess_tail(draws):
    x = _split(draws)
    pooled = draws.reshape(-1, draws.shape[2])
    low, high = jnp.quantile(pooled, 0.05, axis=0), jnp.quantile(pooled, 0.95, axis=0)
    return jnp.minimum(_ess((x <= low[None, None]).astype(x.dtype)),
                       _ess((x <= high[None, None]).astype(x.dtype)))
