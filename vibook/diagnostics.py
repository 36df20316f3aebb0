r"""Is the approximation any good? Pareto-smoothed importance sampling and SBC.

**PSIS.** For draws :math:`z_s \sim q` and an unnormalised target
:math:`\tilde p`, the importance ratios
:math:`r_s = \tilde p(z_s) / q(z_s)` make :math:`\sum_s r_s f(z_s) / \sum_s r_s`
a consistent estimate of :math:`\mathbb{E}_p[f]`, but when :math:`q` is
narrower than :math:`p` the ratios are heavy-tailed and the estimate is
dominated by a few draws. PSIS (Vehtari et al. 2024) fits a generalised Pareto
distribution to the :math:`M` largest ratios, replaces them by the fitted
distribution's quantiles, and reports the fitted shape :math:`\hat k`: the
estimate is reliable for :math:`\hat k \le \min(0.7, 1 - 1/\log_{10} S)`, and
:math:`\hat k` doubles as a diagnostic of :math:`q` for importance sampling,
read in three bands (Yao et al. 2018): below 0.5 :math:`q` is close; from 0.5
to 0.7 :math:`q` is not good but PSIS-corrected estimates are usable; above
0.7 neither is reliable. A small :math:`\hat k` certifies the corrected
estimate, not the shape of :math:`q`. :func:`psis_ess` and :func:`psis_mcse`
give the estimate's effective sample size and Monte Carlo standard error.

**SBC.** Simulation-based calibration (Talts et al. 2018): draw
:math:`\theta \sim p(\theta)`, data :math:`y \sim p(y \mid \theta)`, and
posterior draws :math:`\theta_{1:L}` given :math:`y`; if the posterior is
right, the rank of :math:`\theta` among :math:`\theta_{1:L}` is uniform on
:math:`\{0, \dots, L\}`. :func:`sbc_ranks` computes those ranks.
"""

import math

from collections.abc import Mapping

import jax
import jax.numpy as jnp
import numpy as np

from vibook import _checks


def tail_length(num_draws):
    r"""The PSIS tail length :math:`M = \lceil \min(S/5,\ 3\sqrt S) \rceil`.

    Vehtari et al. (2024), §3, with relative efficiency 1 (independent draws).

    Raises
    ------
    ValueError
        If ``num_draws`` is not a positive integer.

    Examples
    --------
    >>> tail_length(4000)
    190
    """
    num_draws = _checks.positive_int(num_draws, "num_draws")
    return int(math.ceil(min(num_draws / 5.0, 3.0 * math.sqrt(num_draws))))


#: The fewest draws :func:`psis` accepts (the smallest S with a tail of 5).
MIN_DRAWS = 21


def khat_threshold(num_draws):
    r"""The sample-size-dependent threshold :math:`\min(1 - 1/\log_{10} S,\ 0.7)`.

    Above it the PSIS estimate's error no longer shrinks at a useful rate
    with S (Vehtari et al. 2024, §3.2.4): with a tail of shape k that needs
    :math:`S > 10^{1/(1-k)}`, about 2,150 draws at k = 0.7.

    Raises
    ------
    ValueError
        If ``num_draws`` is not an integer of at least 11.

    Examples
    --------
    >>> round(khat_threshold(100), 2), khat_threshold(4000)
    (0.5, 0.7)
    """
    num_draws = _checks.positive_int(num_draws, "num_draws")
    if num_draws < 11:
        raise ValueError(f"num_draws must be at least 11, got {num_draws}")
    return min(1.0 - 1.0 / math.log10(num_draws), 0.7)


def _log_weights(log_weights):
    """A 1-D array of at least MIN_DRAWS log weights; -inf allowed, NaN and +inf not."""
    message = "log_weights must contain at least one finite value"
    if (isinstance(log_weights, jax.Array) and _checks.is_concrete(log_weights)
            and log_weights.ndim == 1 and log_weights.shape[0] >= MIN_DRAWS
            and jnp.issubdtype(log_weights.dtype, jnp.floating)):
        # The common case in one NumPy pass, in place: the max is NaN if any value
        # is NaN, +inf if any is +inf, -inf if none is finite. Bad values go on to
        # _checks.array below, for its message.
        top = np.max(np.asarray(log_weights))
        if top == -np.inf:
            raise ValueError(message)
        if top < np.inf:
            return log_weights
    lw = _checks.array(log_weights, "log_weights", ndim=1, traced=True, allow_neg_inf=True)
    if lw.shape[0] < MIN_DRAWS:
        raise ValueError(f"log_weights must hold at least {MIN_DRAWS} draws for the "
                         f"Pareto tail fit, got {lw.shape[0]}")
    # NaN and +inf are refused above; a concrete array is checked by NumPy on the host
    any_finite = (np.max(np.asarray(lw)) > -np.inf if _checks.is_concrete(lw)
                  else jnp.any(jnp.isfinite(lw)))
    _checks.check(any_finite, message)
    return lw


def gpd_fit(x):
    r"""Zhang–Stephens fit of a generalised Pareto distribution to exceedances.

    For exceedances :math:`x_1 \le \dots \le x_n` over a threshold, the GPD
    :math:`F(x) = 1 - (1 + kx/\sigma)^{-1/k}` is fitted in the
    parameterisation :math:`b = -k/\sigma`: over a grid of
    :math:`m = 30 + \lfloor\sqrt n\rfloor` values

    .. math::

        b_j = \frac{1}{x_n}
        + \frac{1 - \sqrt{m / (j - 1/2)}}{3\, x_{\lfloor n/4 + 1/2 \rfloor}},

        k(b) = \frac1n \sum_i \log(1 - b x_i),

    the profile log-likelihood :math:`\ell(b) = n(\log(-b/k(b)) - k(b) - 1)`
    weights each :math:`b_j`, their weighted mean :math:`\hat b` gives
    :math:`\hat k = k(\hat b)` and :math:`\hat\sigma = -\hat k / \hat b`, and
    :math:`\hat k` is shrunk towards 1/2 by a weak prior worth 10 draws:
    :math:`\hat k \leftarrow (n\hat k + 5)/(n + 10)` (Zhang & Stephens 2009;
    Vehtari et al. 2024, App. C). At a grid point with :math:`b_j = 0`
    (possible when all exceedances are tied) :math:`-b/k(b)` takes its limit
    :math:`1/\bar x`, where ArviZ returns NaN.

    Parameters
    ----------
    x : Array of shape (n,)
        Exceedances, sorted in increasing order, :math:`x_n > 0`. Zeros (ties
        at the threshold) are left out of the fit, as PSIS leaves them out.

    Returns
    -------
    k, sigma : Array
        The shape (after the prior) and the scale.

    Raises
    ------
    ValueError
        If ``x`` is not 1-D, not sorted, or has fewer than 5 positive values.

    Examples
    --------
    >>> import jax, jax.numpy as jnp
    >>> u = jax.random.uniform(jax.random.key(0), (2000,), minval=1e-6)
    >>> x = jnp.sort((u ** -0.5 - 1) / 0.5)       # a GPD with k = 0.5, sigma = 1
    >>> k, sigma = gpd_fit(x)
    >>> round(float(k), 1), round(float(sigma), 1)
    (0.5, 1.0)
    """
    x = _checks.array(x, "x", ndim=1)
    values = np.asarray(x) if _checks.is_concrete(x) else None   # NumPy: no tracing under jit
    if values is not None and not (np.all(np.diff(values) >= 0) and np.sum(values > 0) >= 5):
        raise ValueError("x must be sorted in increasing order with at least 5 positive "
                         f"exceedances, got {np.sum(values > 0)} positive of {values.size}")
    return _gpd_fit(jnp.maximum(x, 0.0), jnp.sum(x > 0))


def _gpd_fit(x, n, xp=jnp):
    """:func:`gpd_fit` on the ``n`` positive entries of the sorted ``x``, whose other
    entries must be 0 (they then add nothing to the sums); ``n`` may be traced.
    ``xp`` is ``numpy`` or ``jax.numpy``."""
    size = x.shape[0]
    n_f = n.astype(x.dtype)
    m = 30 + xp.floor(xp.sqrt(n_f))
    j = xp.arange(1, 30 + int(math.sqrt(size)) + 1, dtype=x.dtype)  # (m_max,)
    quarter = x[size - n + xp.floor(n_f / 4 + 0.5).astype(n.dtype) - 1]
    b = 1.0 / x[-1] + (1.0 - xp.sqrt(m / (j - 0.5))) / (3.0 * quarter)
    k = xp.log1p(-b[:, None] * x[None, :]).sum(axis=1) / n_f         # (m_max,)
    ratio = xp.where(b == 0, 1.0 / (x.sum() / n_f), -b / xp.where(b == 0, 1.0, k))
    log_lik = xp.where(j <= m, n_f * (xp.log(ratio) - k - 1.0), -xp.inf)
    weights = 1.0 / xp.exp(log_lik[None, :] - log_lik[:, None]).sum(axis=1)
    weights = xp.where((j <= m) & (weights >= 10 * xp.finfo(x.dtype).eps), weights, 0.0)
    b_post = (b * weights).sum() / weights.sum()
    k_post = xp.log1p(-b_post * x).sum() / n_f
    sigma = -k_post / b_post
    return (n_f * k_post + 10 * 0.5) / (n_f + 10), sigma


def gpd_quantile(p, k, sigma):
    r"""The GPD's inverse CDF, :math:`\sigma\,((1 - p)^{-k} - 1)/k`
    (:math:`-\sigma\log(1 - p)` at :math:`k = 0`).

    Raises
    ------
    ValueError
        If ``p`` is outside [0, 1), ``k`` is not finite or ``sigma`` is not positive.

    Examples
    --------
    >>> round(float(gpd_quantile(0.5, 0.0, 1.0)), 4)          # the median of Exp(1)
    0.6931
    """
    p = _checks.array(p, "p")
    if _checks.is_concrete(p) and not np.all((np.asarray(p) >= 0) & (np.asarray(p) < 1)):
        raise ValueError("p must lie in [0, 1)")
    k = _checks.finite(k, "k")
    sigma = _checks.positive(sigma, "sigma")
    return _gpd_quantile(p, k, sigma)


def _gpd_quantile(p, k, sigma, xp=jnp):
    """:func:`gpd_quantile` without the checks; ``xp`` is ``numpy`` or ``jax.numpy``."""
    tiny = xp.abs(k) < xp.finfo(p.dtype).eps
    safe_k = xp.where(tiny, 1.0, k)
    log_survival = -xp.log1p(-p)
    return sigma * xp.where(tiny, log_survival, xp.expm1(safe_k * log_survival) / safe_k)


_UINT = {4: jnp.uint32, 8: jnp.uint64}


def _order_key(x):
    """Unsigned integers that sort like the floats ``x`` (IEEE-754 bit trick)."""
    bits = jax.lax.bitcast_convert_type(x, _UINT[x.dtype.itemsize])
    sign = bits >> (8 * x.dtype.itemsize - 1)                       # 1 if negative
    flip = jnp.where(sign == 1, ~jnp.zeros_like(bits), bits.dtype.type(1) << (
        8 * x.dtype.itemsize - 1))
    return bits ^ flip


def _kth_key(key, m):
    """The ``m``-th largest of the unsigned integers ``key``, by bisection on its bits
    (one pass over ``key`` per bit)."""
    def bisect(i, lo_hi):
        lo, hi = lo_hi                        # count(key >= lo) >= m > count(key >= hi)
        mid = lo + (hi - lo) // 2
        enough = jnp.sum(key >= mid) >= m
        return jnp.where(enough, mid, lo), jnp.where(enough, hi, mid)

    lo = jnp.zeros((), key.dtype)
    hi = jnp.max(key) + key.dtype.type(1)
    return jax.lax.fori_loop(0, 8 * key.dtype.itemsize + 1, bisect, (lo, hi))[0]


def _largest_bisect(lw, m):
    """:func:`_largest` by bisection over all of ``lw``: exact for any input, 65
    passes over the data in float64; ties at the m-th largest value go to the
    first positions."""
    key = _order_key(lw)                                            # (S,)
    kth = _kth_key(key, m)                                          # the m-th largest key
    above = jnp.nonzero(key > kth, size=m, fill_value=-1)[0]         # fewer than m real
    at = jnp.nonzero(key == kth, size=m, fill_value=-1)[0]
    n_above = jnp.sum(key > kth)
    slot = jnp.arange(m)
    idx = jnp.where(slot < n_above, above, at[jnp.clip(slot - n_above, 0, m - 1)])  # (m,)
    order = jnp.argsort(lw[idx])
    return lw[idx][order], idx[order]


#: ``_largest`` estimates a threshold from this many evenly spaced values ...
_SAMPLE = 4096
#: ... when S is at least this (measured on a CPU: 350 us against the bisection's
#: 390 us at S = 10^4, 570 us against 2.2 ms at 32,768; 1.2 ms against 6 ms at 10^5).
_SAMPLE_FROM = 2 * _SAMPLE
_BLOCK = 16


def _compact(mask, size):
    """The positions of the first ``size`` true entries of the 1-D ``mask``, in order
    (then arbitrary valid positions, where fewer are true). Like
    ``jnp.nonzero(mask, size=size)``, but with a cumulative sum over blocks of
    ``_BLOCK`` entries instead of over all of them (measured 1.5 ms instead
    of 24 ms on a CPU at 10^6 entries)."""
    s = mask.shape[0]
    blocks = jnp.pad(mask, (0, -s % _BLOCK)).reshape(-1, _BLOCK)     # (S/B, B)
    ends = jnp.cumsum(jnp.sum(blocks, axis=1, dtype=jnp.int32))      # true entries up to each block
    q = jnp.arange(1, size + 1, dtype=jnp.int32)                     # the q-th true entry
    row = jnp.minimum(jnp.searchsorted(ends, q), blocks.shape[0] - 1)  # (size,) its block
    before = jnp.where(row > 0, ends[row - 1], 0)
    inner = jnp.cumsum(blocks[row], axis=1, dtype=jnp.int32)        # (size, B)
    col = jnp.argmax(inner >= (q - before)[:, None], axis=1)
    return jnp.minimum(row * _BLOCK + col, s - 1)


def _largest(lw, m):
    """The ``m`` largest values of ``lw`` in increasing order, and their indices.

    A full sort of S values is the slow part of PSIS on a CPU, and so is a
    bisection over all S (one pass per bit). Only the tail is needed: the
    value ``t`` ranked so that about 2m of all S values lie at or above it
    is read off ``_SAMPLE`` evenly spaced values (bisection on those only);
    one pass counts the values ``>= t``; if there are from m to 4m of them,
    they are gathered (``_compact``) and only they are sorted (at S = 10^6,
    25 of the 4096 sampled values lie above ``t``: a random order falls
    outside [m, 4m] with probability below 1%). Otherwise (an unlucky or
    adversarial order, e.g. the largest values exactly at the sampled
    positions, or ties spanning the range) the exact bisection over all S
    runs instead, so the result is exact for any input. Equal values keep
    their order of position; which of several values tied at the m-th
    largest is taken does not change PSIS (ties at the cutoff are not
    smoothed).
    """
    s = lw.shape[0]
    if s < _SAMPLE_FROM:
        return _largest_bisect(lw, m)
    cap = 4 * m
    stride = s // _SAMPLE
    sample = jax.lax.slice(lw, (0,), ((_SAMPLE - 1) * stride + 1,), (stride,))  # (_SAMPLE,)
    rank = max(1, round(2 * m * _SAMPLE / s))                       # about 2m of S above
    key = _order_key(lw)                                            # (S,)
    above = key >= _kth_key(_order_key(sample), rank)
    count = jnp.sum(above, dtype=jnp.int32)

    def gather(_):
        idx = _compact(above, cap)                                  # (cap,) in order
        ranked = jnp.where(jnp.arange(cap) < count, key[idx], 0)    # padding ranks lowest
        _, idx = jax.lax.sort((ranked, idx), num_keys=1, is_stable=True)
        return lw[idx[-m:]], idx[-m:]

    return jax.lax.cond((count >= m) & (count <= cap), gather,
                        lambda _: _largest_bisect(lw, m), None)


@jax.jit
def _psis(lw):
    """:func:`psis` in JAX, for traced arrays and arrays on a GPU."""
    m = tail_length(lw.shape[0])
    lw = lw - jnp.max(lw)                                            # max raw weight: 0
    top, top_idx = _largest(lw, m + 1)                               # (M+1,) increasing
    return _write_tail(lw, top, top_idx)


def _psis_host(lw):
    """:func:`psis` on a concrete array in the CPU's memory: the M + 1 largest found by
    NumPy (in place), the rest the compiled :func:`_psis_given_tail`."""
    return _psis_given_tail(lw, _largest_host(np.asarray(lw), tail_length(lw.shape[0]) + 1))


@jax.jit
def _psis_given_tail(lw, top_idx):
    """:func:`_psis` with the indices of the M+1 largest values given, in increasing order."""
    lw = lw - lw[top_idx[-1]]                                        # max raw weight: 0
    return _write_tail(lw, lw[top_idx], top_idx)


def _write_tail(lw, top, top_idx):
    """Steps 2-4 on log weights with maximum 0, given their M+1 largest ``top`` (at
    ``top_idx``): the smoothed tail written back, and all normalised; and khat."""
    new_tail, khat = _smooth_tail(top)
    lw = lw.at[top_idx[1:]].set(new_tail, unique_indices=True)
    return lw - _log_normaliser(lw, top[0], new_tail), khat


def _largest_host(lw, m):
    """The indices of the ``m`` largest values of the NumPy array ``lw``, ordered as
    :func:`_largest` orders them: by ``lw - max(lw)``, then by position."""
    idx = np.argpartition(lw, lw.size - m)[lw.size - m:]           # (m,) unordered
    idx.sort()
    shifted = lw[idx] - lw[idx].max()                               # as psis rounds them
    return idx[np.argsort(shifted, kind="stable")]


def _on_host(x):
    """True when ``x`` holds actual numbers in the CPU's memory (NumPy reads them in place)."""
    if not _checks.is_concrete(x):
        return False
    devices = x.devices()
    return len(devices) == 1 and next(iter(devices)).platform == "cpu"


def _smooth_tail(top, xp=jnp):
    """Steps 2-4 of :func:`psis` on the M+1 largest log weights ``top`` (increasing,
    maximum 0): the M new tail values and khat. ``xp`` is ``numpy`` or ``jax.numpy``."""
    m = top.shape[0] - 1
    tail = top[1:]                                                   # (M,)
    tiny = xp.finfo(top.dtype).tiny
    cutoff = xp.maximum(top[0], xp.log(tiny))
    # Subnormal weights are taken as 0, as XLA flushes them (NumPy would keep them).
    exp_cutoff = xp.exp(cutoff)
    exp_cutoff = xp.where(exp_cutoff >= tiny, exp_cutoff, 0.0)
    exceed = xp.exp(tail) - exp_cutoff                               # (M,) sorted
    # The fit uses only exceedances > 0 (and not subnormal): ties at the cutoff
    # and weights below the float floor are left out, as in ArviZ. They are the
    # smallest, so the n kept are the last n.
    fit = (tail > cutoff) & (exceed >= tiny)                         # (M,)
    n = xp.count_nonzero(fit)
    enough = n >= 5
    # With fewer than 5, a stand-in keeps the fit finite; its result is not used.
    k, sigma = _gpd_fit(xp.where(enough, xp.where(fit, exceed, 0.0),
                                 xp.arange(1, m + 1, dtype=top.dtype)),
                        xp.where(enough, n, m), xp)
    rank = xp.arange(m) - (m - n)                                    # 0..n-1 over the fit
    p = ((rank + 0.5) / xp.maximum(n, 1)).astype(top.dtype)         # < 0 outside it: unused
    smoothed = xp.log(_gpd_quantile(p, k, sigma, xp) + exp_cutoff)  # (M,)
    smoothed = xp.minimum(smoothed, 0.0)                             # truncate at max raw
    ok = enough & xp.isfinite(k) & (sigma > 0)
    new_tail = xp.where(fit & ok, smoothed, tail)
    khat = xp.where(n == 0, -xp.inf, xp.where(enough, k, xp.inf))
    return new_tail, khat


def _log_normaliser(lw, below, new_tail, xp=jnp):
    """``logsumexp(lw)``, its maximum read off the smoothed tail ``new_tail``: the rest
    of ``lw`` is at most ``below``."""
    amax = xp.maximum(new_tail.max(), below)
    amax = xp.where(xp.isfinite(amax), amax, 0.0)
    return xp.log(xp.exp(lw - amax).sum()) + amax


def psis(log_weights):
    r"""Pareto-smoothed importance sampling (Vehtari et al. 2024).

    With :math:`S` log ratios :math:`\log r_s = \log\tilde p(z_s) - \log q(z_s)`
    (normalised or not) and :math:`M = \lceil\min(S/5, 3\sqrt S)\rceil`:

    1. subtract the largest, so the largest raw weight is 1;
    2. fit a generalised Pareto distribution (:func:`gpd_fit`) to the
       exceedances :math:`r_{(S-M+i)} - r_{(S-M)} > 0` of the :math:`M`
       largest weights over the next one;
    3. replace the :math:`i`-th smallest of the :math:`n` fitted ratios by
       :math:`r_{(S-M)} + F^{-1}\big((i - 1/2)/n\big)`, keeping the order;
    4. truncate every smoothed weight at the largest raw weight, and normalise.

    The same steps, constants and prior as ArviZ's ``psislw`` (``reff=1``),
    which the tests compare it with. As there, the fit leaves out tail
    weights tied with the cutoff and weights so small relative to the
    largest that the float type flushes them to zero (below
    ``finfo(dtype).tiny``: a range of :math:`e^{87}` in float32,
    :math:`e^{708}` in float64), so :math:`n \le M`. With fewer than 5 left
    ``khat`` is :math:`+\infty` and nothing is smoothed; with none (every one
    of the :math:`M + 1` largest weights equal, e.g. :math:`q = p` exactly)
    there is no tail and ``khat`` is :math:`-\infty`. In float32 a very wide
    spread of log weights thus gives a :math:`\hat k` from fewer tail draws
    than float64 would use; both are far above any threshold. The tail is
    found without sorting all S weights: on a concrete array in the CPU's
    memory by NumPy's ``argpartition``, under ``jax.jit`` or on a GPU from a
    sampled threshold with an exact fallback (see ``_largest``); both find
    the same tail, and the smoothing is the same compiled code.

    Parameters
    ----------
    log_weights : array of shape (S,)
        :math:`S \ge 21` log importance ratios; ``-inf`` marks a draw of zero
        weight, NaN and ``+inf`` are rejected. Works under ``jax.jit``
        (:math:`M` depends only on :math:`S`).

    Returns
    -------
    smoothed_log_weights : Array of shape (S,)
        The smoothed log weights, normalised: ``logsumexp == 0``.
    khat : Array
        The fitted Pareto shape :math:`\hat k`. Reliable estimates need
        :math:`\hat k \le` :func:`khat_threshold` (S), at most 0.7.

    Raises
    ------
    ValueError
        If ``log_weights`` is not 1-D, has fewer than 21 values, contains NaN
        or ``+inf``, or has no finite value.

    Examples
    --------
    >>> import jax
    >>> z = 0.5 * jax.random.normal(jax.random.key(0), (4000,))  # q = N(0, 0.5^2)
    >>> log_r = -0.5 * z**2 + 0.5 * (z / 0.5) ** 2                # p = N(0, 1)
    >>> smoothed, khat = psis(log_r)
    >>> 0.4 < float(khat) < 0.9                                   # theory: 1 - 0.5^2
    True
    """
    lw = _log_weights(log_weights)
    if _on_host(lw):
        return _psis_host(lw)
    return _psis(lw)


def psis_ess(smoothed_log_weights):
    r"""Effective sample size of normalised importance weights, :math:`1/\sum_s \bar w_s^2`.

    For self-normalised importance sampling with independent draws, the
    variance of an estimate is about that of :math:`1/\sum_s \bar w_s^2`
    independent draws from :math:`p` (Kong 1992; Vehtari et al. 2024, §3,
    with relative efficiency 1). Meaningful only where :math:`\hat k` is
    below the threshold: with a heavier tail the sum of squares is itself
    too noisy to estimate.

    Parameters
    ----------
    smoothed_log_weights : array of shape (S,)
        From :func:`psis` (normalised or not).

    Returns
    -------
    Array, a value in [1, S]

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> float(psis_ess(jnp.zeros(100)))                 # equal weights
    100.0
    """
    lw = _checks.array(smoothed_log_weights, "smoothed_log_weights", ndim=1,
                       allow_neg_inf=True)
    w = jnp.exp(lw - jax.nn.logsumexp(lw))
    return 1.0 / jnp.sum(w**2)


def psis_mcse(smoothed_log_weights, values):
    r"""Monte Carlo standard error of the self-normalised estimate :math:`\sum_s \bar w_s f(z_s)`.

    .. math::

        \mathrm{MCSE} \approx \sqrt{\textstyle\sum_s \bar w_s^2\,
        \big(f(z_s) - \hat{\mathbb E}[f]\big)^2},

    the delta-method variance of a ratio estimate (Vehtari et al. 2024, §3,
    eq. 5, with relative efficiency 1). Like :func:`psis_ess`, trust it only
    where :math:`\hat k` is below the threshold.

    Parameters
    ----------
    smoothed_log_weights : array of shape (S,)
        From :func:`psis`.
    values : array of shape (S,) or (S, D), or a dict of them
        :math:`f(z_s)`, one row per draw (a dict, e.g. the draws of a dict
        model, gives a dict of standard errors).

    Returns
    -------
    Array of shape () or (D,), or a dict of them

    Examples
    --------
    >>> import jax, jax.numpy as jnp
    >>> f = jax.random.normal(jax.random.key(0), (400,))   # equal weights: sd / sqrt(S)
    >>> round(float(psis_mcse(jnp.zeros(400), f)), 2)
    0.05
    """
    if isinstance(values, Mapping):
        return {k: psis_mcse(smoothed_log_weights, v) for k, v in values.items()}
    lw = _checks.array(smoothed_log_weights, "smoothed_log_weights", ndim=1,
                       allow_neg_inf=True)
    f = _checks.array(values, "values", ndim=(1, 2))
    if f.shape[0] != lw.shape[0]:
        raise ValueError(f"values must have one row per log weight ({lw.shape[0]}), "
                         f"got shape {f.shape}")
    w = jnp.exp(lw - jax.nn.logsumexp(lw))                           # (S,)
    w = w if f.ndim == 1 else w[:, None]
    mean = jnp.sum(w * f, axis=0, keepdims=True)                     # (1,) or (1, D)
    return jnp.sqrt(jnp.sum(w**2 * (f - mean) ** 2, axis=0))


def psis_expectation(log_weights, values):
    r"""Self-normalised PSIS estimate :math:`\sum_s \tilde w_s f(z_s)` of :math:`\mathbb{E}_p[f]`.

    Parameters
    ----------
    log_weights : array of shape (S,)
        Raw log importance ratios, as for :func:`psis`.
    values : array of shape (S,) or (S, D), or a dict of them
        :math:`f(z_s)`, one row per draw; a dict (e.g. the draws of a dict
        model from :mod:`vibook.families`) gives a dict of estimates.

    Returns
    -------
    estimate : Array of shape () or (D,), or a dict of them
    khat : Array
        From :func:`psis`.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> draws = {"mu": jnp.arange(40.0), "tau": jnp.ones((40, 2))}
    >>> est, khat = psis_expectation(jnp.zeros(40), draws)   # equal weights: plain means
    >>> round(float(est["mu"]), 4), [round(v, 4) for v in est["tau"].tolist()]
    (19.5, [1.0, 1.0])
    """
    if isinstance(values, Mapping):
        smoothed, khat = psis(log_weights)
        return {k: _weighted_mean(smoothed, v) for k, v in values.items()}, khat
    lw = _log_weights(log_weights)
    f = _checks.array(values, "values", ndim=(1, 2))
    if f.shape[0] != lw.shape[0]:
        raise ValueError(f"values must have one row per log weight ({lw.shape[0]}), "
                         f"got shape {f.shape}")
    smoothed, khat = psis(lw)
    return _weighted_mean(smoothed, f), khat


def _weighted_mean(smoothed, values):
    """``sum_s w_s f(z_s)`` for normalised log weights, ``values`` (S,) or (S, D)."""
    f = _checks.array(values, "values", ndim=(1, 2))
    if f.shape[0] != smoothed.shape[0]:
        raise ValueError(f"values must have one row per log weight ({smoothed.shape[0]}), "
                         f"got shape {f.shape}")
    w = jnp.exp(smoothed)                                            # (S,)
    return jnp.sum(w * f) if f.ndim == 1 else w @ f


def sbc_ranks(truth, draws):
    r"""SBC ranks :math:`\#\{l : \theta_l < \theta\}` of the true parameters among draws.

    Under a correct posterior each rank is uniform on :math:`\{0, \dots, L\}`
    (Talts et al. 2018, Thm. 1).

    Parameters
    ----------
    truth : array of shape (N,) or (N, D)
        The parameter that generated each of N simulated data sets.
    draws : array of shape (N, L) or (N, L, D)
        L posterior (or approximate posterior) draws for each data set.

    Returns
    -------
    ranks : Array of int, shape (N,) or (N, D)
        Values in ``0, ..., L``.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> truth = jnp.array([0.5, 2.0])
    >>> draws = jnp.array([[0.1, 0.9, 0.3], [0.0, 1.0, 3.0]])   # L = 3 draws per data set
    >>> sbc_ranks(truth, draws).tolist()                        # draws below each truth
    [2, 2]
    """
    truth = _checks.array(truth, "truth", ndim=(1, 2))
    draws = _checks.array(draws, "draws", ndim=truth.ndim + 1)
    want = (truth.shape[0], None) + truth.shape[1:]
    if draws.shape[0] != truth.shape[0] or draws.shape[2:] != truth.shape[1:]:
        shape = "(" + ", ".join("L" if s is None else str(s) for s in want) + ")"
        raise ValueError(f"draws must have shape {shape} to match truth, got {draws.shape}")
    return jnp.sum(draws < truth[:, None], axis=1)
