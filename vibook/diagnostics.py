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
:math:`\hat k` doubles as a diagnostic of :math:`q` itself (Yao et al. 2018).

**SBC.** Simulation-based calibration (Talts et al. 2018): draw
:math:`\theta \sim p(\theta)`, data :math:`y \sim p(y \mid \theta)`, and
posterior draws :math:`\theta_{1:L}` given :math:`y`; if the posterior is
right, the rank of :math:`\theta` among :math:`\theta_{1:L}` is uniform on
:math:`\{0, \dots, L\}`. :func:`sbc_ranks` computes those ranks.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np

from vibook import _checks


def tail_length(num_draws):
    r"""The PSIS tail length :math:`M = \lceil \min(S/5,\ 3\sqrt S) \rceil`.

    Vehtari et al. (2024), §3, with relative efficiency 1 (independent draws).
    """
    num_draws = _checks.positive_int(num_draws, "num_draws")
    return int(math.ceil(min(num_draws / 5.0, 3.0 * math.sqrt(num_draws))))


MIN_DRAWS = 21
"""The fewest draws :func:`psis` accepts: the smallest S with a tail of 5."""


def khat_threshold(num_draws):
    r"""The sample-size-dependent threshold :math:`\min(1 - 1/\log_{10} S,\ 0.7)`.

    Above it the PSIS estimate's error no longer shrinks at a useful rate
    with S (Vehtari et al. 2024, §3.2.4).
    """
    num_draws = _checks.positive_int(num_draws, "num_draws")
    if num_draws < 11:
        raise ValueError(f"num_draws must be at least 11, got {num_draws}")
    return min(1.0 - 1.0 / math.log10(num_draws), 0.7)


def _log_weights(log_weights):
    """A 1-D array of at least MIN_DRAWS log weights; -inf allowed, NaN and +inf not."""
    lw = _checks.array(log_weights, "log_weights", ndim=1, traced=True, allow_neg_inf=True)
    if lw.shape[0] < MIN_DRAWS:
        raise ValueError(f"log_weights must hold at least {MIN_DRAWS} draws for the "
                         f"Pareto tail fit, got {lw.shape[0]}")
    _checks.check(jnp.any(jnp.isfinite(lw)), "log_weights must contain at least one finite value")
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
    Vehtari et al. 2024, App. C).

    Parameters
    ----------
    x : Array of shape (n,)
        Exceedances, sorted in increasing order, :math:`x_n > 0`.

    Returns
    -------
    k, sigma : Array
        The shape (after the prior) and the scale.
    """
    x = _checks.array(x, "x", ndim=1)
    if x.shape[0] < 5:
        raise ValueError(f"x must hold at least 5 exceedances, got {x.shape[0]}")
    values = np.asarray(x) if _checks.is_concrete(x) else None   # NumPy: no tracing under jit
    if values is not None and not (np.all(np.diff(values) >= 0) and values[-1] > 0):
        raise ValueError("x must be sorted in increasing order with a positive largest value")
    n = x.shape[0]
    m = 30 + int(math.sqrt(n))
    j = jnp.arange(1, m + 1, dtype=x.dtype)
    b = 1.0 / x[-1] + (1.0 - jnp.sqrt(m / (j - 0.5))) / (3.0 * x[int(n / 4 + 0.5) - 1])
    k = jnp.mean(jnp.log1p(-b[:, None] * x[None, :]), axis=1)      # (m,)
    log_lik = n * (jnp.log(-b / k) - k - 1.0)                       # (m,)
    weights = 1.0 / jnp.sum(jnp.exp(log_lik[None, :] - log_lik[:, None]), axis=1)
    weights = jnp.where(weights >= 10 * jnp.finfo(x.dtype).eps, weights, 0.0)
    b_post = jnp.sum(b * weights) / jnp.sum(weights)
    k_post = jnp.mean(jnp.log1p(-b_post * x))
    sigma = -k_post / b_post
    return (n * k_post + 10 * 0.5) / (n + 10), sigma


def gpd_quantile(p, k, sigma):
    r"""The GPD's inverse CDF, :math:`\sigma\,((1 - p)^{-k} - 1)/k`
    (:math:`-\sigma\log(1 - p)` at :math:`k = 0`)."""
    p = _checks.array(p, "p")
    if _checks.is_concrete(p) and not np.all((np.asarray(p) >= 0) & (np.asarray(p) < 1)):
        raise ValueError("p must lie in [0, 1)")
    k = _checks.finite(k, "k")
    sigma = _checks.positive(sigma, "sigma")
    tiny = jnp.abs(k) < jnp.finfo(p.dtype).eps
    safe_k = jnp.where(tiny, 1.0, k)
    return sigma * jnp.where(tiny, -jnp.log1p(-p), jnp.expm1(-safe_k * jnp.log1p(-p)) / safe_k)


_UINT = {4: jnp.uint32, 8: jnp.uint64}


def _order_key(x):
    """Unsigned integers that sort like the floats ``x`` (IEEE-754 bit trick)."""
    bits = jax.lax.bitcast_convert_type(x, _UINT[x.dtype.itemsize])
    sign = bits >> (8 * x.dtype.itemsize - 1)                       # 1 if negative
    flip = jnp.where(sign == 1, ~jnp.zeros_like(bits), bits.dtype.type(1) << (
        8 * x.dtype.itemsize - 1))
    return bits ^ flip


def _largest(lw, m):
    """The ``m`` largest values of ``lw`` in increasing order, and their indices.

    A full sort of S values is the slow part of PSIS on a CPU. Only the tail
    is needed, so the m-th largest value is found by bisection on the
    floats' bit patterns (one pass over the data per bit, no sort), and only
    the m values at or above it are sorted. Ties at the m-th largest value
    are broken by position.
    """
    key = _order_key(lw)                                            # (S,)
    bits = 8 * lw.dtype.itemsize

    def bisect(i, lo_hi):
        lo, hi = lo_hi                        # count(key >= lo) >= m > count(key >= hi)
        mid = lo + (hi - lo) // 2
        enough = jnp.sum(key >= mid) >= m
        return jnp.where(enough, mid, lo), jnp.where(enough, hi, mid)

    lo = jnp.zeros((), key.dtype)
    hi = jnp.max(key) + key.dtype.type(1)
    kth, _ = jax.lax.fori_loop(0, bits + 1, bisect, (lo, hi))      # the m-th largest key
    above = jnp.nonzero(key > kth, size=m, fill_value=-1)[0]         # fewer than m real
    at = jnp.nonzero(key == kth, size=m, fill_value=-1)[0]
    n_above = jnp.sum(key > kth)
    slot = jnp.arange(m)
    idx = jnp.where(slot < n_above, above, at[jnp.clip(slot - n_above, 0, m - 1)])  # (m,)
    order = jnp.argsort(lw[idx])
    return lw[idx][order], idx[order]


@jax.jit
def _psis(lw):
    s = lw.shape[0]
    m = tail_length(s)
    lw = lw - jnp.max(lw)                                            # max raw weight: 0
    top, top_idx = _largest(lw, m + 1)                               # (M+1,) increasing
    tail_idx = top_idx[1:]                                           # (M,)
    cutoff = jnp.maximum(top[0], jnp.log(jnp.finfo(lw.dtype).tiny))
    exceed = jnp.exp(top[1:]) - jnp.exp(cutoff)                      # (M,) sorted
    flat = exceed[-1] <= 0                                           # no tail at all
    safe = jnp.where(flat, jnp.linspace(1.0, 2.0, m, dtype=lw.dtype), exceed)
    k, sigma = gpd_fit(safe)
    p = (jnp.arange(m, dtype=lw.dtype) + 0.5) / m
    smoothed = jnp.log(gpd_quantile(p, k, sigma) + jnp.exp(cutoff))  # (M,)
    smoothed = jnp.minimum(smoothed, 0.0)                            # truncate at max raw
    ok = jnp.isfinite(k) & (sigma > 0) & ~flat
    lw = jnp.where(ok, lw.at[tail_idx].set(smoothed), lw)
    khat = jnp.where(flat, -jnp.inf, k)
    return lw - jax.nn.logsumexp(lw), khat


def psis(log_weights):
    r"""Pareto-smoothed importance sampling (Vehtari et al. 2024).

    With :math:`S` log ratios :math:`\log r_s = \log\tilde p(z_s) - \log q(z_s)`
    (normalised or not) and :math:`M = \lceil\min(S/5, 3\sqrt S)\rceil`:

    1. subtract the largest, so the largest raw weight is 1;
    2. fit a generalised Pareto distribution (:func:`gpd_fit`) to the
       exceedances :math:`r_{(S-M+i)} - r_{(S-M)}` of the :math:`M` largest
       weights over the next one;
    3. replace the :math:`i`-th largest of them by
       :math:`r_{(S-M)} + F^{-1}\big((i - 1/2)/M\big)`, keeping the order;
    4. truncate every smoothed weight at the largest raw weight, and normalise.

    The same steps, constants and prior as ArviZ's ``psislw`` (``reff=1``),
    which the tests compare it with. If the tail is flat (every one of the
    :math:`M + 1` largest weights equal, e.g. :math:`q = p` exactly) there is
    nothing to fit: the weights are only normalised and ``khat`` is
    :math:`-\infty`. Ties at the cutoff are kept in the tail (ArviZ drops
    them). The tail is found without sorting all S weights (see
    ``_largest``), which makes this faster than a full sort on a CPU.

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
    """
    return _psis(_log_weights(log_weights))


def psis_expectation(log_weights, values):
    r"""Self-normalised PSIS estimate :math:`\sum_s \tilde w_s f(z_s)` of :math:`\mathbb{E}_p[f]`.

    Parameters
    ----------
    log_weights : array of shape (S,)
        Raw log importance ratios, as for :func:`psis`.
    values : array of shape (S,) or (S, D)
        :math:`f(z_s)`, one row per draw.

    Returns
    -------
    estimate : Array of shape () or (D,)
    khat : Array
        From :func:`psis`.
    """
    lw = _log_weights(log_weights)
    f = _checks.array(values, "values", ndim=(1, 2))
    if f.shape[0] != lw.shape[0]:
        raise ValueError(f"values must have one row per log weight ({lw.shape[0]}), "
                         f"got shape {f.shape}")
    smoothed, khat = psis(lw)
    w = jnp.exp(smoothed)                                            # (S,)
    return (jnp.sum(w * f) if f.ndim == 1 else w @ f), khat


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
    """
    truth = _checks.array(truth, "truth", ndim=(1, 2))
    draws = _checks.array(draws, "draws", ndim=truth.ndim + 1)
    want = (truth.shape[0], None) + truth.shape[1:]
    if draws.shape[0] != truth.shape[0] or draws.shape[2:] != truth.shape[1:]:
        shape = "(" + ", ".join("L" if s is None else str(s) for s in want) + ")"
        raise ValueError(f"draws must have shape {shape} to match truth, got {draws.shape}")
    return jnp.sum(draws < truth[:, None], axis=1)
