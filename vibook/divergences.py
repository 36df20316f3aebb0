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
    elementwise, for the rates :math:`a` = ``rate_p`` and :math:`b` = ``rate_q``."""
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
        Normalised log densities, elementwise (or summed over event dimensions).
    num_samples : int
        :math:`S`, the number of draws, ``>= 2``.

    Returns
    -------
    estimate, std_err : Array
        The estimate and its standard error :math:`\mathrm{sd}/\sqrt S`.
    """
    key = _checks.key(key)
    n = _checks.at_least_two(num_samples, "num_samples")
    _checks.function(sample_p, "sample_p", "sample_p(key, num_samples)")
    _checks.function(log_p, "log_p", "log_p(z)")
    _checks.function(log_q, "log_q", "log_q(z)")
    z = _checks.user_output(sample_p(key, n), "sample_p",
                            f"sample_p(key, num_samples) with num_samples = {n}",
                            shape=(n, ...))                          # (S,) + event
    usage = f"{{}}(z) for p's draws z of shape {z.shape}"
    terms = (_checks.user_output(log_p(z), "log_p", usage.format("log_p"), shape=(n,))
             # log q = -inf where q misses p's support: the KL is then +inf, correctly.
             - _checks.user_output(log_q(z), "log_q", usage.format("log_q"), shape=(n,),
                                   allow_neg_inf=True))                 # (S,)
    return jnp.mean(terms), jnp.std(terms, ddof=1) / jnp.sqrt(n)


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
