r"""Variational families: pure functions over small parameter pytrees.

Each family is a :class:`Family`, a NamedTuple of five functions:

* ``init(...)`` builds the parameter pytree from natural-scale values;
* ``sample(key, params, num_samples)`` draws that many reparameterised samples
  :math:`z = g(\epsilon; \phi)`, so gradients flow through them;
* ``log_prob(params, z)`` is :math:`\log q(z; \phi)`, summed over the event
  dimensions;
* ``entropy(params)`` is :math:`\mathbb{H}[q] = -\mathbb{E}_q[\log q(z)]` in
  closed form;
* ``unpack(params)`` returns the natural-scale parameters.

Scales and rates are stored unconstrained and mapped through softplus,
:math:`\mathrm{softplus}(r) = \log(1 + e^r) > 0`, so that an optimiser may move
them anywhere on the real line (Kucukelbir et al. 2017, §2.3).

>>> from vibook import families
>>> params = families.normal.init(0.0, 2.0)
>>> families.normal.unpack(params)   # doctest: +SKIP
(Array(0., dtype=float32), Array(2., dtype=float32))
"""

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy import stats
from jax.scipy.linalg import solve_triangular

from vibook import _checks


class Family(NamedTuple):
    """A variational family as five pure functions (see the module docstring)."""

    init: Callable
    sample: Callable
    log_prob: Callable
    entropy: Callable
    unpack: Callable


class NormalParams(NamedTuple):
    """Mean-field Gaussian: ``loc`` of shape ``()`` or ``(D,)``;
    ``scale = softplus(raw_scale)``."""

    loc: jax.Array
    raw_scale: jax.Array


class FullRankParams(NamedTuple):
    """Full-rank Gaussian: ``loc`` (D,), ``raw_tril`` (D, D) whose softplus diagonal
    gives ``L``."""

    loc: jax.Array
    raw_tril: jax.Array


class ExponentialParams(NamedTuple):
    """Exponential: ``rate = softplus(raw_rate)``, shape ``()`` or ``(D,)``."""

    raw_rate: jax.Array


def inverse_softplus(y):
    r"""The inverse of softplus, :math:`r = y + \log(1 - e^{-y})` for :math:`y > 0`."""
    y = _checks.positive_entries(y, "y")
    return y + jnp.log(-jnp.expm1(-y))


# --- shared checks ---------------------------------------------------------------------------

def _positive_array(value, name, shape):
    """Entries > 0, a scalar broadcast to ``shape`` (loc's)."""
    out = _checks.positive_entries(value, name)
    if out.ndim == 0:
        return jnp.broadcast_to(out, shape)
    if out.shape != shape:
        raise ValueError(f"{name} must be a scalar or have the shape {shape} of loc, "
                         f"got {out.shape}")
    return out


def _params(params, kind):
    """Check a parameter NamedTuple from this family's ``init``: its type, shapes, finiteness.

    The values are checked under ``jit`` too (:func:`vibook._checks.check`): a NaN
    parameter, e.g. after a diverging optimiser step, raises instead of
    propagating.
    """
    if not isinstance(params, kind):
        raise TypeError(f"params must be {kind.__name__} (from this family's init), "
                        f"got {type(params).__name__}")
    leaves = [_checks.array(leaf, f"params.{field}", traced=True)
              for field, leaf in zip(kind._fields, params)]
    first = leaves[0]
    if kind is FullRankParams:
        if first.ndim != 1 or leaves[1].shape != first.shape * 2:
            raise ValueError(f"params must hold loc (D,) and raw_tril (D, D), got shapes "
                             f"{first.shape} and {leaves[1].shape}")
    elif first.ndim > 1 or any(leaf.shape != first.shape for leaf in leaves):
        raise ValueError(f"params' fields must share one shape () or (D,), got "
                         f"{tuple(leaf.shape for leaf in leaves)}")
    return kind(*leaves)


def _event(z, event_shape):
    """Check that ``z`` has shape ``(...,) + event_shape``; return it as an array."""
    z = _checks.array(z, "z", traced=True)
    k = len(event_shape)
    if z.ndim < k or tuple(z.shape[z.ndim - k:]) != tuple(event_shape):
        raise ValueError(f"z must have shape (..., {', '.join(map(str, event_shape))}) "
                         f"matching the parameters, got {z.shape}")
    return z


def _lead(x, ndim):
    """``x`` with leading unit axes up to ``ndim`` dimensions (explicit broadcasting)."""
    return x.reshape((1,) * (ndim - x.ndim) + x.shape)


def _sum_event(x, event_ndim):
    return jnp.sum(x, axis=tuple(range(x.ndim - event_ndim, x.ndim))) if event_ndim else x


# --- mean-field normal -------------------------------------------------------------------------

def _normal_init(loc, scale):
    r"""Parameters of :math:`\mathcal{N}(\mathrm{loc}, \mathrm{diag}(\mathrm{scale}^2))`.

    Parameters
    ----------
    loc : float or array of shape (D,)
        The mean.
    scale : float or array of shape (D,)
        The standard deviations, > 0 (a scalar is broadcast to ``loc``'s shape).
    """
    loc = _checks.array(loc, "loc", ndim=(0, 1))
    scale = _positive_array(scale, "scale", loc.shape)
    return NormalParams(loc, inverse_softplus(scale))


def _normal_unpack(params):
    """``(loc, scale)`` with ``scale = softplus(raw_scale)``."""
    params = _params(params, NormalParams)
    return params.loc, jax.nn.softplus(params.raw_scale)


def _normal_sample(key, params, num_samples):
    r"""``num_samples`` = S draws :math:`z = \mu + \sigma \odot \epsilon`,
    :math:`\epsilon \sim \mathcal{N}(0, I)`; shape ``(S,) + loc.shape``."""
    key = _checks.key(key)
    n = _checks.positive_int(num_samples, "num_samples")
    loc, scale = _normal_unpack(params)
    eps = jax.random.normal(key, (n,) + loc.shape)       # (n,) or (n, D)
    return _lead(loc, eps.ndim) + _lead(scale, eps.ndim) * eps


def _normal_log_prob(params, z):
    r""":math:`\sum_d \log \mathcal{N}(z_d; \mu_d, \sigma_d^2)` for ``z`` of shape
    ``(...,) + loc.shape``."""
    loc, scale = _normal_unpack(params)
    z = _event(z, loc.shape)
    return _sum_event(stats.norm.logpdf(z, _lead(loc, z.ndim), _lead(scale, z.ndim)), loc.ndim)


def _normal_entropy(params):
    r""":math:`\mathbb{H} = \sum_d \tfrac12 \log(2\pi e \sigma_d^2)`."""
    loc, scale = _normal_unpack(params)
    return jnp.sum(0.5 * jnp.log(2 * jnp.pi * jnp.e) + jnp.log(scale))


normal = Family(_normal_init, _normal_sample, _normal_log_prob, _normal_entropy, _normal_unpack)
"""The (mean-field) Gaussian family, 1-D or diagonal over vectors of dimension D."""


# --- full-rank normal ------------------------------------------------------------------------

def _full_rank_init(loc, scale_tril=None):
    r"""Parameters of :math:`\mathcal{N}(\mathrm{loc}, L L^\top)`.

    Parameters
    ----------
    loc : array of shape (D,)
        The mean.
    scale_tril : array of shape (D, D), optional
        A lower-triangular Cholesky factor :math:`L` with a positive diagonal
        (not the covariance :math:`LL^\top`). Default: the identity.
    """
    loc = _checks.array(loc, "loc", ndim=1)
    d = loc.shape[0]
    if scale_tril is None:
        scale_tril = jnp.eye(d)
    scale_tril = _checks.array(scale_tril, "scale_tril", shape=(d, d))
    # NumPy, not jnp: a concrete array closed over inside jit must not be traced.
    if _checks.is_concrete(scale_tril) and np.any(np.triu(np.asarray(scale_tril), 1) != 0):
        raise ValueError("scale_tril must be lower triangular (a Cholesky factor L, e.g. "
                         "jnp.linalg.cholesky(cov)), got nonzero entries above the diagonal")
    tril = jnp.tril(scale_tril)
    diag = _positive_array(jnp.diag(tril), "scale_tril's diagonal", (d,))
    return FullRankParams(loc, tril - jnp.diag(diag) + jnp.diag(inverse_softplus(diag)))


def _full_rank_unpack(params):
    """``(loc, L)`` with ``L`` lower triangular and a softplus diagonal."""
    params = _params(params, FullRankParams)
    raw = jnp.tril(params.raw_tril)
    diag = jnp.diag(raw)
    return params.loc, raw - jnp.diag(diag) + jnp.diag(jax.nn.softplus(diag))


def _full_rank_sample(key, params, num_samples):
    r"""``num_samples`` = S draws :math:`z = \mu + L \epsilon`,
    :math:`\epsilon \sim \mathcal{N}(0, I_D)`;
    shape ``(S, D)``."""
    key = _checks.key(key)
    n = _checks.positive_int(num_samples, "num_samples")
    loc, tril = _full_rank_unpack(params)
    eps = jax.random.normal(key, (n,) + loc.shape)       # (n, D)
    return loc[None, :] + eps @ tril.T


def _full_rank_log_prob(params, z):
    r""":math:`-\tfrac12 \|L^{-1}(z - \mu)\|^2 - \sum_d \log L_{dd} - \tfrac D2 \log 2\pi`."""
    loc, tril = _full_rank_unpack(params)
    z = _event(z, loc.shape)
    batch = z.shape[:-1]
    diff = (z - _lead(loc, z.ndim)).reshape(-1, loc.shape[0])           # (M, D)
    white = solve_triangular(tril, diff.T, lower=True)   # (D, M)
    d = loc.shape[0]
    out = (-0.5 * jnp.sum(white**2, axis=0) - jnp.sum(jnp.log(jnp.diag(tril)))
           - 0.5 * d * jnp.log(2 * jnp.pi))
    return out.reshape(batch)


def _full_rank_entropy(params):
    r""":math:`\mathbb{H} = \tfrac D2 \log(2\pi e) + \sum_d \log L_{dd}`."""
    loc, tril = _full_rank_unpack(params)
    return 0.5 * loc.shape[0] * jnp.log(2 * jnp.pi * jnp.e) + jnp.sum(jnp.log(jnp.diag(tril)))


full_rank_normal = Family(_full_rank_init, _full_rank_sample, _full_rank_log_prob,
                          _full_rank_entropy, _full_rank_unpack)
"""The full-rank Gaussian family over vectors of dimension D."""


# --- exponential -----------------------------------------------------------------------------

def _exponential_init(rate):
    r"""Parameters of :math:`\mathrm{Exp}(\theta)`, density :math:`\theta e^{-\theta z}`
    on :math:`z \ge 0`.

    Parameters
    ----------
    rate : float or array of shape (D,)
        The rate :math:`\theta > 0` (mean :math:`1/\theta`).
    """
    rate = _checks.array(rate, "rate", ndim=(0, 1))
    rate = _positive_array(rate, "rate", rate.shape)
    return ExponentialParams(inverse_softplus(rate))


def _exponential_unpack(params):
    """``rate = softplus(raw_rate)``."""
    return jax.nn.softplus(_params(params, ExponentialParams).raw_rate)


def _exponential_sample(key, params, num_samples):
    r"""``num_samples`` draws by the inverse CDF, :math:`z = -\log(1 - u)/\theta`,
    :math:`u \sim U(0, 1)`.

    The noise :math:`u` does not depend on :math:`\theta`, so this is a
    reparameterisation: :math:`\partial z / \partial\theta = -z/\theta`.
    """
    key = _checks.key(key)
    n = _checks.positive_int(num_samples, "num_samples")
    rate = _exponential_unpack(params)
    u = jax.random.uniform(key, (n,) + rate.shape)       # (n,) or (n, D), in [0, 1)
    return -jnp.log1p(-u) / _lead(rate, u.ndim)


def _exponential_log_prob(params, z):
    r""":math:`\sum_d (\log\theta_d - \theta_d z_d)` for :math:`z \ge 0`, else :math:`-\infty`."""
    rate = _exponential_unpack(params)
    z = _event(z, rate.shape)
    return _sum_event(stats.expon.logpdf(z, scale=1.0 / _lead(rate, z.ndim)), rate.ndim)


def _exponential_entropy(params):
    r""":math:`\mathbb{H} = \sum_d (1 - \log\theta_d)`."""
    return jnp.sum(1.0 - jnp.log(_exponential_unpack(params)))


exponential = Family(_exponential_init, _exponential_sample, _exponential_log_prob,
                     _exponential_entropy, _exponential_unpack)
"""The exponential family :math:`\\mathrm{Exp}(\\theta)` on :math:`z \\ge 0` (one rate or D
independent ones)."""
