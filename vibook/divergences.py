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
    out = []
    for name, value in values.items():
        value = _checks.array(value, name)
        # NumPy, not jnp: a concrete array closed over inside jit must not be traced.
        if _checks.is_concrete(value) and not np.all(np.asarray(value) > 0):
            raise ValueError(f"{name} must be > 0, got {value}")
        out.append(value)
    return out


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


def kl_monte_carlo(key, sample_p, log_p, log_q, n):
    r"""Monte Carlo :math:`\mathrm{KL}(p\|q) \approx \frac1n \sum_i [\log p(z_i) - \log q(z_i)]`,
    :math:`z_i \sim p`.

    Parameters
    ----------
    key : PRNG key
    sample_p : callable
        ``sample_p(key, n)``: ``n`` draws from :math:`p`.
    log_p, log_q : callable
        Normalised log densities, elementwise (or summed over event dimensions).
    n : int
        Number of draws, ``>= 2``.

    Returns
    -------
    estimate, std_err : Array
        The estimate and its standard error :math:`\mathrm{sd}/\sqrt n`.
    """
    key = _checks.key(key)
    n = _checks.positive_int(n, "n")
    if n < 2:
        raise ValueError(f"n must be at least 2 to estimate a standard error, got {n}")
    for name, fn in [("sample_p", sample_p), ("log_p", log_p), ("log_q", log_q)]:
        _checks.function(fn, name)
    z = sample_p(key, n)
    terms = log_p(z) - log_q(z)                                      # (n,)
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
    log_p, log_q = (jnp.asarray(v, dtype=float) for v in (log_p, log_q))
    for name, v in [("log_p", log_p), ("log_q", log_q)]:
        if v.shape != grid.shape:
            raise ValueError(f"{name} must have the grid's shape {grid.shape}, got {v.shape}")
        if _checks.is_concrete(v):
            v = np.asarray(v)
            if np.any(np.isnan(v) | (v == np.inf)):
                raise ValueError(f"{name} must not contain NaN or +inf")
            if np.all(v == -np.inf):
                raise ValueError(f"{name} is -inf at every grid point: nothing to normalise")
    log_w = jnp.log(weights)
    log_p = log_p - logsumexp(log_p + log_w)
    log_q = log_q - logsumexp(log_q + log_w)
    p = jnp.exp(log_p + log_w)                                       # probability mass per point
    safe_q = jnp.where(p > 0, log_q, 0.0)
    terms = jnp.where(p > 0, p * (log_p - safe_q), 0.0)
    return jnp.sum(terms)
