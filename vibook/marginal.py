r"""Estimating the evidence :math:`\log p(x) = \log \int p(z, x)\, dz`.

Three ways, each in log space so that nothing underflows:

* :func:`trapezoid`: the trapezoid rule on a 1-D grid (deterministic; the
  cost grows as :math:`K^d` with the dimension);
* :func:`naive_monte_carlo`: average the likelihood over draws from the prior;
* :func:`importance_sampling`: average :math:`p(z, x)/r(z)` over draws from a
  proposal :math:`r`, with the effective sample size as a diagnostic.

The Monte Carlo estimators return an :class:`Estimate`. The same weights also
give posterior expectations, :func:`self_normalised`.
"""

from collections.abc import Mapping
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import logsumexp

from vibook import _checks


class Estimate(NamedTuple):
    """A Monte Carlo estimate of the log evidence.

    Attributes
    ----------
    log_marginal : Array
        :math:`\\log \\hat p(x) = \\log \\frac1n \\sum_i w_i`.
    rel_std_err : Array
        The standard error of :math:`\\hat p(x)` divided by :math:`\\hat p(x)`,
        which is also (to first order) the standard error of
        :math:`\\log \\hat p(x)`.
    ess : Array
        The effective sample size :math:`(\\sum_i w_i)^2 / \\sum_i w_i^2`.
    """

    log_marginal: jax.Array
    rel_std_err: jax.Array
    ess: jax.Array


def trapezoid_weights(grid):
    r"""Checked grid and its trapezoid weights :math:`w_k = (z_{k+1} - z_{k-1})/2`.

    The end points get one-sided widths, so that :math:`\sum_k w_k f(z_k)` is the
    trapezoid rule for :math:`\int f(z)\,dz` on the grid.

    Parameters
    ----------
    grid : array of shape (K,)
        Strictly increasing points, ``K >= 2``.

    Returns
    -------
    grid, weights : Array, each of shape (K,)

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from vibook import marginal
    >>> grid, weights = marginal.trapezoid_weights(jnp.array([0.0, 1.0, 2.0, 4.0]))
    >>> weights.tolist()                      # half-widths on either side of each point
    [0.5, 1.0, 1.5, 1.0]
    """
    grid = _checks.array(grid, "grid", ndim=1)
    if grid.shape[0] < 2:
        raise ValueError(f"grid must have at least 2 points, got {grid.shape[0]}")
    steps = jnp.diff(grid)                                            # (K-1,)
    if _checks.is_concrete(grid) and not np.all(np.diff(np.asarray(grid)) > 0):
        raise ValueError("grid must be strictly increasing")
    zero = jnp.zeros(1)
    return grid, 0.5 * (jnp.concatenate([steps, zero]) + jnp.concatenate([zero, steps]))


def trapezoid(log_f, grid, tail_tol=1e-6):
    r"""The trapezoid rule for :math:`\log \int f(z)\, dz`, computed in log space.

    .. math::

        \log \int f \approx \log \sum_k w_k f(z_k), \qquad
        w_k = \tfrac12 (z_{k+1} - z_{k-1})

    (with one-sided widths at the ends), evaluated with log-sum-exp. Its error
    falls as :math:`O(h^2)` in the spacing :math:`h` for smooth :math:`f`
    (Davis & Rabinowitz 1984; Robert & Casella 2004, §3.1).

    Parameters
    ----------
    log_f : callable
        ``log_f(z) -> ()``: :math:`\log f` at one point ``z`` (a scalar),
        e.g. ``lambda z: model.log_joint(z, x)``; vibook maps it over the grid.
    grid : array of shape (K,)
        Strictly increasing points, ``K >= 2``.
    tail_tol : float
        The grid must cover the support: :math:`f` one step beyond either end
        must be below ``tail_tol`` times its largest value on the grid.

    Returns
    -------
    Array
        The estimate of :math:`\log \int f(z)\, dz`.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from vibook import marginal
    >>> log_z = marginal.trapezoid(lambda z: -0.5 * z**2, jnp.linspace(-8.0, 8.0, 401))
    >>> round(float(log_z), 4)                # log sqrt(2 pi)
    0.9189
    """
    _checks.function(log_f, "log_f", "log_f(z)")
    grid, widths = trapezoid_weights(grid)                            # (K,), (K,)
    _checks.positive(tail_tol, "tail_tol")
    log_values = _checks.per_draw(log_f, "log_f", grid, allow_neg_inf=True)   # (K,)
    if _checks.is_concrete(log_values):
        # one step beyond each end (the end widths are half a step)
        beyond = jnp.stack([grid[0] - 2 * widths[0], grid[-1] + 2 * widths[-1]])
        outside = jax.vmap(log_f)(beyond)
        peak = jnp.max(log_values)
        if not bool(jnp.isfinite(peak)):
            raise ValueError("log_f is -inf on the whole grid: check the grid and log_f")
        if bool(jnp.any(outside - peak > jnp.log(tail_tol))):
            raise ValueError(
                f"grid does not cover the support: f just outside [{float(grid[0]):g}, "
                f"{float(grid[-1]):g}] is more than tail_tol={tail_tol:g} times its peak; "
                "widen the grid")
    return logsumexp(log_values + jnp.log(widths))


def from_log_weights(log_w):
    r"""An :class:`Estimate` from log importance weights :math:`\log w_i`.

    .. math::

        \log \hat p = \operatorname{logsumexp}(\log w) - \log n, \qquad
        \mathrm{ESS} = \frac{(\sum_i w_i)^2}{\sum_i w_i^2}

    (Kong 1992; Owen 2013, §9.3). The relative standard error is
    :math:`\mathrm{sd}(w) / (\bar w \sqrt n)`. A weight of :math:`-\infty`
    is a zero weight: a draw where :math:`p(z, x) = 0`.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from vibook import marginal
    >>> est = marginal.from_log_weights(jnp.log(jnp.array([1.0, 1.0, 4.0])))
    >>> round(float(est.log_marginal), 4), round(float(est.ess), 4)   # log 2; 6**2 / 18
    (0.6931, 2.0)
    """
    log_w = _checks.array(log_w, "log_w", ndim=1, traced=True, allow_neg_inf=True)
    n = log_w.shape[0]
    if n < 2:
        raise ValueError(f"log_w must hold at least 2 weights, got {n}")
    _checks.check(jnp.any(log_w > -jnp.inf),
                  "log_w is -inf for every draw: the proposal misses the support")
    log_mean = logsumexp(log_w) - jnp.log(n)
    ratio = jnp.exp(log_w - log_mean)                                 # w_i / mean(w), (n,)
    rel_std_err = jnp.std(ratio, ddof=1) / jnp.sqrt(n)
    ess = jnp.exp(2 * logsumexp(log_w) - logsumexp(2 * log_w))
    return Estimate(log_mean, rel_std_err, ess)


class Expectation(NamedTuple):
    """A self-normalised importance-sampling estimate of a posterior expectation.

    Attributes
    ----------
    mean : Array
        :math:`\\hat\\mu = \\sum_s \\bar w_s f(z_s)`.
    std_err : Array
        Its delta-method standard error
        :math:`\\sqrt{\\sum_s \\bar w_s^2 (f(z_s) - \\hat\\mu)^2}`.
    """

    mean: jax.Array
    std_err: jax.Array


def self_normalised(log_w, values):
    r"""Self-normalised importance sampling: :math:`\mathbb{E}_{p(z \mid x)}[f(z)]`.

    .. math::

        \hat\mu = \sum_{s=1}^S \bar w_s\, f(z_s), \qquad
        \bar w_s = \frac{w_s}{\sum_t w_t}, \qquad
        w_s = \frac{p(z_s, x)}{r(z_s)}, \quad z_s \sim r.

    The unknown :math:`p(x)` cancels in :math:`\bar w_s`, so weights known up
    to a constant suffice. The estimate is consistent, with a bias of order
    :math:`1/S`; its delta-method standard error is
    :math:`\sqrt{\sum_s \bar w_s^2 (f(z_s) - \hat\mu)^2}`, which is about
    :math:`\mathrm{sd}_{p(z \mid x)}[f] / \sqrt{\mathrm{ESS}}` with Kong's
    :math:`\mathrm{ESS} = 1 / \sum_s \bar w_s^2` (Owen 2013, §9.2;
    Kong 1992).

    Parameters
    ----------
    log_w : array of shape (S,)
        Log importance weights, up to a constant; ``-inf`` is a zero weight.
    values : array of shape (S,) or (S, D), or a dict of them
        :math:`f(z_s)` for each draw (a dict, e.g. draws of a dict model,
        gives a dict of Expectations).

    Returns
    -------
    Expectation, or a dict of them
        ``mean`` and ``std_err``, each of shape ``()`` or ``(D,)``.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from vibook import marginal
    >>> est = marginal.self_normalised(jnp.log(jnp.array([1.0, 3.0])),
    ...                                jnp.array([0.0, 4.0]))
    >>> round(float(est.mean), 4)          # (1 * 0 + 3 * 4) / (1 + 3)
    3.0
    """
    if isinstance(values, Mapping):
        return {k: self_normalised(log_w, v) for k, v in values.items()}
    log_w = _checks.array(log_w, "log_w", ndim=1, traced=True, allow_neg_inf=True)
    values = _checks.array(values, "values", ndim=(1, 2), traced=True)
    if values.shape[0] != log_w.shape[0]:
        raise ValueError(f"values must hold one row per weight: log_w has shape "
                         f"{log_w.shape}, values {values.shape}")
    _checks.check(jnp.any(log_w > -jnp.inf),
                  "log_w is -inf for every draw: the proposal misses the support")
    w_bar = jax.nn.softmax(log_w)                                     # (S,)
    mean = jnp.tensordot(w_bar, values, axes=1)                       # () or (D,)
    centred = values - jnp.expand_dims(mean, 0)                      # (S,) or (S, D)
    std_err = jnp.sqrt(jnp.tensordot(w_bar**2, centred**2, axes=1))
    return Expectation(mean, std_err)


def importance_sampling(key, log_joint, sample_proposal, log_proposal, num_samples):
    r"""Importance sampling: :math:`p(x) = \mathbb{E}_{r}[p(z, x)/r(z)]`.

    .. math::

        \hat p(x) = \frac1S \sum_{s=1}^S \frac{p(z_s, x)}{r(z_s)}, \qquad z_s \sim r.

    Unbiased for any proposal :math:`r` that is positive wherever
    :math:`p(z, x)` is; its variance is small when :math:`r` is close to the
    posterior (Owen 2013, ch. 9).

    Parameters
    ----------
    key : PRNG key
    log_joint : callable
        ``log_joint(z) -> ()``: :math:`\log p(z, x)` for one draw, with ``x`` fixed.
    sample_proposal : callable
        ``sample_proposal(key, num_samples)`` returns that many draws from :math:`r`.
    log_proposal : callable
        ``log_proposal(z) -> ()``: :math:`\log r(z)` for one draw.
    num_samples : int
        :math:`S`, the number of draws, ``>= 2``.

    Returns
    -------
    Estimate

    Raises
    ------
    ValueError
        If ``sample_proposal`` does not return ``num_samples`` draws, ``log_joint`` or
        ``log_proposal`` does not return a scalar for one draw (vibook maps them over the draws),
        or they return NaN (under ``jit`` too, see ``vibook._checks``).

    Examples
    --------
    With the exact posterior :math:`\mathcal N(0.5, 0.5)` of :math:`z \sim \mathcal N(0, 1)`,
    :math:`x \mid z \sim \mathcal N(z, 1)`, :math:`x = 1` as the proposal, every weight is
    :math:`p(x) = \mathcal N(1; 0, 2)`:

    >>> import jax, jax.numpy as jnp
    >>> from jax.scipy.stats import norm
    >>> from vibook import marginal
    >>> sd = jnp.sqrt(0.5)
    >>> est = marginal.importance_sampling(
    ...     jax.random.key(0), lambda z: norm.logpdf(z) + norm.logpdf(1.0, z),
    ...     lambda key, n: 0.5 + sd * jax.random.normal(key, (n,)),
    ...     lambda z: norm.logpdf(z, 0.5, sd), 100)
    >>> round(float(est.log_marginal), 4), round(float(est.ess))   # log N(1; 0, 2), all 100
    (-1.5155, 100)
    """
    names = ("log_joint", "sample_proposal", "log_proposal")
    return _importance_sampling(key, num_samples, names, log_joint, sample_proposal, log_proposal)


def _importance_sampling(key, num_samples, names, log_joint, sample, log_proposal):
    """:func:`importance_sampling`, naming the three functions ``names`` in its errors."""
    key = _checks.key(key)
    n = _checks.at_least_two(num_samples, "num_samples")
    for name, fn in zip(names, (log_joint, sample, log_proposal)):
        usage = f"{name}(key, num_samples)" if name.startswith("sample") else f"{name}(z)"
        _checks.function(fn, name, usage)
    z = _checks.user_output(sample(key, n), names[1],
                            f"{names[1]}(key, num_samples) with num_samples = {n}",
                            shape=(n, ...))                          # (S,) + event
    log_p = _checks.per_draw(log_joint, names[0], z, allow_neg_inf=True)      # (S,)
    log_r = _checks.per_draw(log_proposal, names[2], z)                       # (S,)
    return from_log_weights(log_p - log_r)


def naive_monte_carlo(key, log_likelihood, sample_prior, num_samples):
    r"""Naive Monte Carlo: :math:`p(x) = \mathbb{E}_{p(z)}[p(x \mid z)]`.

    .. math::

        \hat p(x) = \frac1S \sum_{s=1}^S p(x \mid z_s), \qquad z_s \sim p(z).

    This is :func:`importance_sampling` with the prior as the proposal, so
    the weights are the likelihoods. It fails when the likelihood is much
    narrower than the prior: almost no draw lands where it is large.

    Parameters
    ----------
    key, num_samples
        As in :func:`importance_sampling`.
    log_likelihood : callable
        ``log_likelihood(z) -> ()``: :math:`\log p(x \mid z)` for one draw.
    sample_prior : callable
        ``sample_prior(key, num_samples)`` returns that many draws from :math:`p(z)`.

    Examples
    --------
    >>> import jax, jax.numpy as jnp
    >>> from jax.scipy.stats import norm
    >>> from vibook import marginal
    >>> est = marginal.naive_monte_carlo(jax.random.key(0), lambda z: norm.logpdf(1.0, z),
    ...                                  lambda key, n: jax.random.normal(key, (n,)), 10_000)
    >>> bool(abs(est.log_marginal - norm.logpdf(1.0, 0.0, jnp.sqrt(2.0))) < 0.05)  # N(1; 0, 2)
    True
    """
    # log w = log p(z, x) - log p(z) = log p(x | z): the prior cancels.
    names = ("log_likelihood", "sample_prior", "log_prior")
    return _importance_sampling(key, num_samples, names, log_likelihood, sample_prior, _zeros)


def _zeros(z):
    return jnp.zeros(())                                             # log p(z) - log p(z)
