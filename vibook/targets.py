r"""Two-dimensional targets with known normalisers, and quadrature on a 2-D grid.

Each target is an *unnormalised* log density :math:`\log \tilde p(z)` over
:math:`z = (z_1, z_2)`, like a log joint with the data fixed, together with
its log normaliser :math:`\log Z = \log \int \tilde p(z)\, dz` in closed form,
so that the ELBO's gap :math:`\log Z - \mathcal L(q) = \mathrm{KL}(q \| p)`
can be checked (Rezende & Mohamed 2015 and Papamakarios et al. 2021 use
targets like these to compare flows):

* :func:`banana`: a Gaussian bent along a parabola;
* :func:`funnel`: Neal's funnel (Neal 2003), whose width varies exponentially;
* :func:`mixture`: two well-separated Gaussian bumps.

In two dimensions a grid is cheap, so :func:`grid`, :func:`log_integral`
and :func:`kl` compute :math:`\log Z` and :math:`\mathrm{KL}(q\|p)` by the
trapezoid rule in each coordinate (:func:`vibook.marginal.trapezoid_weights`).
"""

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import logsumexp

from vibook import _checks, marginal


class Target(NamedTuple):
    """A 2-D target: ``log_density(z)`` for ``z`` of shape ``(..., 2)``, unnormalised;
    ``log_normalizer``, :math:`\\log Z` in closed form; ``limits``, a box
    ``((lo1, hi1), (lo2, hi2))`` outside which the target's mass is negligible."""

    name: str
    log_density: Callable
    log_normalizer: float
    limits: tuple


def _z(z):
    z = _checks.array(z, "z")
    if z.ndim < 1 or z.shape[-1] != 2:
        raise ValueError(f"z must have shape (..., 2), got {z.shape}")
    return z[..., 0], z[..., 1]


def banana(scale=1.25, curvature=0.5):
    r"""A banana: :math:`z_1 \sim \mathcal N(0, a^2)`,
    :math:`z_2 \mid z_1 \sim \mathcal N(b(z_1^2 - a^2), 1)`, with the Gaussian
    constants dropped:

    .. math::

        \log \tilde p(z) = -\frac{z_1^2}{2a^2} - \frac{(z_2 - b(z_1^2 - a^2))^2}{2},
        \qquad Z = 2\pi a.

    Parameters
    ----------
    scale : float
        :math:`a > 0`, the spread of :math:`z_1`.
    curvature : float
        :math:`b`, how strongly :math:`z_2`'s mean bends with :math:`z_1`.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> t = banana()
    >>> t.name, abs(float(t.log_density(jnp.array([0.0, -0.5 * 1.25**2]))))   # the ridge at z1 = 0
    ('banana', 0.0)
    """
    a = float(_checks.positive(scale, "scale"))
    b = float(_checks.finite(curvature, "curvature"))

    def log_density(z):
        z1, z2 = _z(z)
        return -0.5 * (z1 / a) ** 2 - 0.5 * (z2 - b * (z1**2 - a**2)) ** 2

    means = (-b * a**2, b * (4.5**2 - 1) * a**2)               # z2's mean at z1 = 0, 4.5a
    return Target("banana", log_density, float(np.log(2 * np.pi * a)),
                  ((-5.0 * a, 5.0 * a), (min(means) - 5.0, max(means) + 5.0)))


def funnel(scale=1.5):
    r"""Neal's funnel in two dimensions (Neal 2003):
    :math:`v \sim \mathcal N(0, \sigma_v^2)`, :math:`x \mid v \sim \mathcal N(0, e^{v})`,
    with :math:`z = (v, x)` and the Gaussian constants dropped:

    .. math::

        \log \tilde p(v, x) = -\frac{v^2}{2\sigma_v^2} - \frac v2 - \frac{x^2 e^{-v}}{2},
        \qquad Z = 2\pi\sigma_v,

    since :math:`\int e^{-x^2 e^{-v}/2} dx = \sqrt{2\pi}\, e^{v/2}`. The standard
    deviation of :math:`x`, :math:`e^{v/2}`, changes by a factor
    :math:`e^{\sigma_v/2}` per standard deviation of :math:`v`, which no single
    Gaussian can follow. Neal's original has :math:`\sigma_v = 3`;
    the default is milder so that a grid can resolve the neck.

    Parameters
    ----------
    scale : float
        :math:`\sigma_v > 0`.

    Examples
    --------
    >>> t = funnel()
    >>> g = grid(t.limits, 301)
    >>> abs(float(log_integral(t.log_density(g.points), g)) - t.log_normalizer) < 0.01
    True
    """
    s = float(_checks.positive(scale, "scale"))

    def log_density(z):
        v, x = _z(z)
        return -0.5 * (v / s) ** 2 - 0.5 * v - 0.5 * x**2 * jnp.exp(-v)

    v_max = 4.5 * s
    x_max = 3.0 * np.exp(3.0 * s / 2)                              # 3 sd of x at v = 3 sd
    return Target("funnel", log_density, float(np.log(2 * np.pi * s)),
                  ((-v_max, v_max), (-x_max, x_max)))


def mixture(separation=2.0, scale=0.6, weight=0.7):
    r"""Two round Gaussian bumps at :math:`(\pm\delta, 0)` with weights :math:`w` (right)
    and :math:`1 - w` (left), the constants dropped:

    .. math::

        \tilde p(z) = \sum_k w_k \exp\Big(-\frac{\|z - m_k\|^2}{2s^2}\Big),
        \qquad Z = 2\pi s^2.

    Parameters
    ----------
    separation : float
        :math:`\delta > 0`, half the distance between the bumps.
    scale : float
        :math:`s > 0`, each bump's standard deviation.
    weight : float
        :math:`w \in (0, 1)`, the right bump's weight.

    Examples
    --------
    >>> t = mixture()
    >>> g = grid(t.limits)
    >>> abs(float(log_integral(t.log_density(g.points), g)) - t.log_normalizer) < 1e-3
    True
    """
    d = float(_checks.positive(separation, "separation"))
    s = float(_checks.positive(scale, "scale"))
    w = float(_checks.positive(weight, "weight"))
    if not w < 1:
        raise ValueError(f"weight must be in (0, 1), got {w}")
    def log_density(z):
        z1, z2 = _z(z)
        left = np.log(1.0 - w) - 0.5 * ((z1 + d) ** 2 + z2**2) / s**2
        right = np.log(w) - 0.5 * ((z1 - d) ** 2 + z2**2) / s**2
        return jnp.logaddexp(left, right)

    r = d + 6.0 * s
    return Target("mixture", log_density, float(np.log(2 * np.pi * s**2)),
                  ((-r, r), (-6.0 * s, 6.0 * s)))


class Grid(NamedTuple):
    """A 2-D tensor grid: ``points`` of shape ``(K1, K2, 2)`` and the trapezoid
    ``log_weights`` of shape ``(K1, K2)``; ``axes`` are the two 1-D grids."""

    points: jax.Array
    log_weights: jax.Array
    axes: tuple


def grid(limits, num=(201, 201)):
    r"""An evenly spaced tensor grid over ``limits`` with trapezoid weights
    :math:`w_{jk} = w^{(1)}_j w^{(2)}_k`.

    Parameters
    ----------
    limits : ((lo1, hi1), (lo2, hi2))
        The box, e.g. a :class:`Target`'s ``limits``.
    num : int or (int, int)
        Points per axis, each ``>= 2``.

    Returns
    -------
    Grid

    Raises
    ------
    TypeError
        If ``limits`` is not numbers or ``num`` not one or two integers.
    ValueError
        If ``limits`` is not of shape (2, 2) with ``hi > lo``, or ``num < 2``.

    Examples
    --------
    >>> g = grid(((-1.0, 1.0), (0.0, 2.0)), (3, 5))
    >>> g.points.shape, g.log_weights.shape
    ((3, 5, 2), (3, 5))
    """
    box = _checks.array(limits, "limits", shape=(2, 2))               # ((lo1, hi1), (lo2, hi2))
    nums = (num, num) if isinstance(num, (int, np.integer)) else num
    if not isinstance(nums, (tuple, list)) or len(nums) != 2:
        raise TypeError(f"num must be an integer or a pair of integers, got {num!r}")
    axes, log_ws = [], []
    for (lo, hi), k in zip(np.asarray(box), nums):
        k = _checks.positive_int(k, "num")
        if k < 2 or not hi > lo:
            raise ValueError(f"limits must be (lo, hi) pairs with hi > lo and num >= 2 points "
                             f"per axis, got {(float(lo), float(hi))} with num = {k}")
        axis, weights = marginal.trapezoid_weights(jnp.linspace(lo, hi, k))
        axes.append(axis)
        log_ws.append(jnp.log(weights))
    z1, z2 = jnp.meshgrid(axes[0], axes[1], indexing="ij")         # (K1, K2) each
    return Grid(jnp.stack([z1, z2], axis=-1), log_ws[0][:, None] + log_ws[1][None, :],
                tuple(axes))


def _values(log_values, g, name):
    """Log values on the grid ``g``: its shape, no NaN or +inf (-inf is a zero)."""
    g = _checks.state(g, Grid, "vibook.targets.grid", "grid")
    return _checks.array(log_values, name, shape=g.log_weights.shape, allow_neg_inf=True)


def log_integral(log_values, g):
    r""":math:`\log \int f(z)\, dz \approx \log \sum_{jk} w_{jk} f(z_{jk})` by log-sum-exp,
    from ``log_values`` :math:`= \log f` at ``g.points``.

    Raises
    ------
    TypeError
        If ``g`` is not a :class:`Grid`.
    ValueError
        If ``log_values`` does not have the grid's shape, or holds NaN or ``+inf``.

    See also
    --------
    vibook.marginal.trapezoid : the 1-D counterpart.

    Examples
    --------
    >>> t = banana()
    >>> g = grid(t.limits)
    >>> round(float(log_integral(t.log_density(g.points), g)), 3) == round(t.log_normalizer, 3)
    True
    """
    return logsumexp(_values(log_values, g, "log_values") + g.log_weights)


def kl(log_q, log_p, g):
    r""":math:`\mathrm{KL}(q \| p)` on the grid, for a *normalised* :math:`\log q` and an
    unnormalised :math:`\log \tilde p`:

    .. math::

        \mathrm{KL}(q\|p) = \sum_{jk} w_{jk}\, q_{jk} (\log q_{jk} - \log \tilde p_{jk})
        + \log Z, \qquad \log Z = \log \sum_{jk} w_{jk} \tilde p_{jk},

    with :math:`0 \log 0 = 0`. It is :math:`+\infty` where :math:`\tilde p` vanishes
    and :math:`q` does not. The grid must hold nearly all of both densities' mass
    (check ``exp(log_integral(log_q, g))`` is close to 1).

    Parameters
    ----------
    log_q : array, shape (K1, K2)
        :math:`\log q` at ``g.points``, normalised.
    log_p : array, shape (K1, K2)
        :math:`\log \tilde p` at ``g.points``, unnormalised.
    g : Grid
        From :func:`grid`.

    Raises
    ------
    TypeError
        If ``g`` is not a :class:`Grid`.
    ValueError
        If ``log_q`` or ``log_p`` does not have the grid's shape, or holds NaN or ``+inf``.

    Notes
    -----
    :func:`vibook.divergences.kl_grid` is the 1-D counterpart, with other
    conventions: ``kl_grid(log_p, log_q, grid)`` takes the arguments in the
    other order, renormalises *both* densities on an array grid, and returns
    :math:`\mathrm{KL}(p\|q)`; this function returns :math:`\mathrm{KL}(q\|p)`
    with only :math:`\tilde p` renormalised.

    See also
    --------
    vibook.divergences.kl_grid : the 1-D counterpart (see Notes).

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from jax.scipy import stats
    >>> g = grid(((-8.0, 8.0), (-8.0, 8.0)), 161)
    >>> log_q = jnp.sum(stats.norm.logpdf(g.points), axis=-1)          # N(0, I)
    >>> log_p = jnp.sum(stats.norm.logpdf(g.points, 1.0), axis=-1) + 3.0
    >>> round(float(kl(log_q, log_p, g)), 3)                         # |mu|^2 / 2 = 1
    1.0
    """
    log_q, log_p = _values(log_q, g, "log_q"), _values(log_p, g, "log_p")
    mass = jnp.exp(log_q + g.log_weights)                          # (K1, K2)
    terms = jnp.where(mass > 0, mass * (log_q - jnp.where(mass > 0, log_p, 0.0)), 0.0)
    return jnp.sum(terms) + logsumexp(log_p + g.log_weights)
