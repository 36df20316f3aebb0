r"""Kullback–Leibler divergences: closed forms, Monte Carlo and on a grid.

.. math::

    \mathrm{KL}(p \,\|\, q) = \int p(z) \log \frac{p(z)}{q(z)}\, dz \;\ge\; 0,

with equality only when :math:`p = q` (Kullback & Leibler 1951). It is not
symmetric: :math:`\mathrm{KL}(q\|p)` ("reverse", used by VI) and
:math:`\mathrm{KL}(p\|q)` ("forward") prefer different approximations
(Minka 2005; Murphy 2023, §5.1).
"""

import jax.numpy as jnp
import numpy as np
from jax.scipy.special import logsumexp

from vibook import _checks, marginal


def _positive_arrays(**values):
    return [_checks.positive_entries(value, name) for name, value in values.items()]


def _same_shape(**values):
    shapes = {name: jnp.shape(v) for name, v in values.items()}
    if len(set(shapes.values())) > 1:
        raise ValueError(f"arguments must have the same shape, got {shapes}")


def kl_normal(loc_p, scale_p, loc_q, scale_q):
    r"""Closed-form
    :math:`\mathrm{KL}(\mathcal N(\mu_p, \sigma_p^2) \,\|\, \mathcal N(\mu_q, \sigma_q^2))`.

    .. math::

        \log\frac{\sigma_q}{\sigma_p} + \frac{\sigma_p^2 + (\mu_p - \mu_q)^2}{2\sigma_q^2}
        - \frac12

    (Bishop 2006, ex. 1.30), elementwise; all four arguments share one shape.

    Examples
    --------
    >>> round(float(kl_normal(0.0, 1.0, 1.0, 2.0)), 4)     # log 2 + 2/8 - 1/2
    0.4431
    """
    loc_p = _checks.array(loc_p, "loc_p")
    loc_q = _checks.array(loc_q, "loc_q")
    scale_p, scale_q = _positive_arrays(scale_p=scale_p, scale_q=scale_q)
    _same_shape(loc_p=loc_p, scale_p=scale_p, loc_q=loc_q, scale_q=scale_q)
    return (jnp.log(scale_q / scale_p)
            + (scale_p**2 + (loc_p - loc_q) ** 2) / (2 * scale_q**2) - 0.5)


def kl_exponential(rate_p, rate_q):
    r"""Closed-form
    :math:`\mathrm{KL}(\mathrm{Exp}(a) \,\|\, \mathrm{Exp}(b)) = \log\frac ab + \frac ba - 1`,
    elementwise, for the rates :math:`a` = ``rate_p`` and :math:`b` = ``rate_q``.

    Examples
    --------
    >>> round(float(kl_exponential(2.0, 0.5)), 4)          # log 4 + 1/4 - 1
    0.6363
    """
    rate_p, rate_q = _positive_arrays(rate_p=rate_p, rate_q=rate_q)
    _same_shape(rate_p=rate_p, rate_q=rate_q)
    return jnp.log(rate_p / rate_q) + rate_q / rate_p - 1.0


def kl_monte_carlo(key, sample_p, log_p, log_q, num_samples):
    r"""Monte Carlo :math:`\mathrm{KL}(p\|q) \approx \frac1S \sum_s [\log p(z_s) - \log q(z_s)]`,
    :math:`z_s \sim p`.

    Parameters
    ----------
    key : PRNG key
    sample_p : callable
        ``sample_p(key, num_samples)``: that many draws from :math:`p`.
    log_p, log_q : callable
        Normalised log densities of one draw, ``log_p(z) -> ()``; vibook maps
        them over the draws.
    num_samples : int
        :math:`S`, the number of draws, ``>= 2``.

    Returns
    -------
    estimate, std_err : Array
        The estimate and its standard error :math:`\mathrm{sd}/\sqrt S`. A
        draw where :math:`q = 0 < p` proves :math:`\mathrm{KL} = +\infty`: the
        estimate is then ``inf`` and its standard error 0 (not NaN).

    Raises
    ------
    TypeError
        If a function is not callable as shown, or ``log_p``/``log_q`` fails on
        one draw (written for a batch).
    ValueError
        If ``num_samples < 2``, ``sample_p`` does not return that many draws,
        or ``log_p``/``log_q`` does not return a scalar for one draw.

    Examples
    --------
    >>> import jax, jax.numpy as jnp
    >>> from jax.scipy import stats
    >>> sample_p = lambda key, n: jax.random.normal(key, (n,))
    >>> log_p = lambda z: stats.norm.logpdf(z)
    >>> kl, se = kl_monte_carlo(jax.random.key(0), sample_p, log_p, log_p, 100)
    >>> float(kl), float(se)
    (0.0, 0.0)
    >>> half = lambda z: jnp.where(z > 0, stats.norm.logpdf(z) + jnp.log(2.0), -jnp.inf)
    >>> kl, se = kl_monte_carlo(jax.random.key(0), sample_p, log_p, half, 100)
    >>> float(kl), float(se)
    (inf, 0.0)
    """
    key = _checks.key(key)
    n = _checks.at_least_two(num_samples, "num_samples")
    _checks.function(sample_p, "sample_p", "sample_p(key, num_samples)")
    _checks.function(log_p, "log_p", "log_p(z)")
    _checks.function(log_q, "log_q", "log_q(z)")
    z = _checks.user_output(sample_p(key, n), "sample_p",
                            f"sample_p(key, num_samples) with num_samples = {n}",
                            shape=(n, ...))                          # (S,) + event
    terms = (_checks.per_draw(log_p, "log_p", z)
             # log q = -inf where q misses p's support: the KL is then +inf, correctly.
             - _checks.per_draw(log_q, "log_q", z, allow_neg_inf=True))   # (S,)
    estimate = jnp.mean(terms)
    # One draw with q = 0 < p proves KL = +inf exactly: no sampling error is left.
    std_err = jnp.where(jnp.isposinf(estimate), 0.0, jnp.std(terms, ddof=1) / jnp.sqrt(n))
    return estimate, std_err


def kl_grid(log_p, log_q, grid):
    r""":math:`\mathrm{KL}(p\|q)` for two 1-D densities given by their (unnormalised) logs
    on a grid.

    Both are normalised on the grid by the trapezoid rule, then

    .. math::

        \mathrm{KL}(p\|q) \approx \sum_k w_k\, p_k (\log p_k - \log q_k),

    with :math:`0 \log 0 = 0`. It is :math:`+\infty` when :math:`q` vanishes
    where :math:`p` does not.

    Parameters
    ----------
    log_p, log_q : array of shape (K,)
        Log densities (up to constants) at the grid points; ``-inf`` allowed.
    grid : array of shape (K,)
        Strictly increasing points.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from jax.scipy import stats
    >>> grid = jnp.linspace(-12.0, 12.0, 4001)
    >>> kl = kl_grid(stats.norm.logpdf(grid), stats.norm.logpdf(grid, 1.0, 2.0), grid)
    >>> round(float(kl), 3) == round(float(kl_normal(0.0, 1.0, 1.0, 2.0)), 3)
    True
    """
    grid, weights = marginal.trapezoid_weights(grid)                  # (K,), (K,)
    log_p, log_q = (_checks.array(v, name, shape=grid.shape, allow_neg_inf=True)
                    for v, name in ((log_p, "log_p"), (log_q, "log_q")))
    for name, v in [("log_p", log_p), ("log_q", log_q)]:
        if _checks.is_concrete(v) and np.all(np.asarray(v) == -np.inf):
            raise ValueError(f"{name} is -inf at every grid point: nothing to normalise")
    log_w = jnp.log(weights)
    log_p = log_p - logsumexp(log_p + log_w)
    log_q = log_q - logsumexp(log_q + log_w)
    p = jnp.exp(log_p + log_w)                                       # probability mass per point
    safe_q = jnp.where(p > 0, log_q, 0.0)
    terms = jnp.where(p > 0, p * (log_p - safe_q), 0.0)
    return jnp.sum(terms)
