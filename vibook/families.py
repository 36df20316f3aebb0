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

import functools
from collections.abc import Mapping
from typing import Callable, NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy import stats
from jax.flatten_util import ravel_pytree
from jax.scipy.linalg import solve_triangular

from vibook import _checks


class Family(NamedTuple):
    r"""A variational family as five pure functions, and an optional sixth.

    Attributes
    ----------
    init : callable
        ``init(...) -> params`` from natural-scale values (each family's own
        arguments: ``normal.init(loc, scale)``,
        ``full_rank_normal.init(loc, scale_tril=None)``,
        ``exponential.init(rate)``).
    sample : callable
        ``sample(key, params, num_samples) -> z`` of shape ``(S,) + event``,
        reparameterised so that gradients flow through ``z``.
    log_prob : callable
        ``log_prob(params, z) -> (...)``: :math:`\log q(z; \phi)` for ``z`` of
        shape ``(...) + event``, summed over the event dimensions.
    entropy : callable
        ``entropy(params) -> ()``: :math:`\mathbb{H}[q]` in closed form (a flow
        has none and raises ``NotImplementedError``).
    unpack : callable
        ``unpack(params)``: the natural-scale parameters.
    sample_and_log_prob : callable or None
        ``sample_and_log_prob(key, params, num_samples) -> (z, log_q)``: the
        draws of ``sample`` (the same ``z`` for the same key) and their
        :math:`\log q`, computed from the noise :math:`\epsilon` rather than by
        inverting :math:`z = g(\epsilon; \phi)`. ``None`` (the default):
        :mod:`vibook.elbo` calls ``sample`` and then ``log_prob``.

    Examples
    --------
    >>> import jax
    >>> from vibook import families
    >>> params = families.normal.init(0.0, 2.0)
    >>> families.normal.sample(jax.random.key(0), params, 5).shape
    (5,)
    >>> round(float(families.normal.entropy(params)), 4)    # log(2 sqrt(2 pi e))
    2.1121
    """

    init: Callable
    sample: Callable
    log_prob: Callable
    entropy: Callable
    unpack: Callable
    sample_and_log_prob: Optional[Callable] = None


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
    r"""The inverse of softplus, :math:`r = y + \log(1 - e^{-y})` for :math:`y > 0`.

    Raises
    ------
    ValueError
        If an entry of ``y`` is <= 0 or not finite.

    Examples
    --------
    >>> import jax
    >>> round(float(jax.nn.softplus(inverse_softplus(0.3))), 4)
    0.3
    """
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


# --- a dict of named parameters as one vector --------------------------------------------------

def _tree_loc(loc):
    """Check a dict-valued ``loc`` (one array per named parameter); return it and its ravel."""
    if not loc:
        raise ValueError("loc must not be an empty dict")
    loc = {k: _checks.array(v, f"loc[{k!r}]") for k, v in loc.items()}
    return loc, ravel_pytree(loc)


def _tree_values(value, loc, unravel, name):
    """``value`` (a scalar, or a dict with ``loc``'s keys and shapes) as one flat vector."""
    if not isinstance(value, Mapping):
        return value
    if set(value) != set(loc):
        raise ValueError(f"{name} must be a scalar or a dict with loc's keys {sorted(loc)}, "
                         f"got keys {sorted(value)}")
    for k in loc:
        if np.shape(value[k]) != loc[k].shape:
            raise ValueError(f"{name}[{k!r}] must have loc[{k!r}]'s shape {loc[k].shape}, "
                             f"got {np.shape(value[k])}")
    return ravel_pytree({k: _checks.array(value[k], f"{name}[{k!r}]") for k in loc})[0]


def _flatten(params):
    """Params whose ``loc`` is a dict, as the same params over one flat vector, and the unravel.

    Anything else is returned as it is, with ``None``: the family's own checks
    then apply.
    """
    if not isinstance(params, (NormalParams, FullRankParams)) or not isinstance(params.loc,
                                                                                  Mapping):
        return params, None
    loc, unravel = ravel_pytree(params.loc)
    if isinstance(params, NormalParams):
        if not isinstance(params.raw_scale, Mapping) or set(params.raw_scale) != set(params.loc):
            raise ValueError("params.raw_scale must be a dict with loc's keys (from "
                             "normal.init with a dict loc)")
        return NormalParams(loc, ravel_pytree(params.raw_scale)[0]), unravel
    return FullRankParams(loc, params.raw_tril), unravel


def _ravel_draws(z, loc):
    """Draws ``z`` (a dict like ``loc`` with leading axes ``...``) as one array ``(..., D)``."""
    if not isinstance(z, Mapping) or set(z) != set(loc):
        raise ValueError(f"z must be a dict with loc's keys {sorted(loc)}, got "
                         f"{sorted(z) if isinstance(z, Mapping) else type(z).__name__}")
    parts = [_checks.array(z[k], f"z[{k!r}]", traced=True) for k in sorted(loc)]
    batch = parts[0].shape[:parts[0].ndim - loc[sorted(loc)[0]].ndim]
    for k, part in zip(sorted(loc), parts):
        if part.shape != batch + loc[k].shape:
            raise ValueError(f"z[{k!r}] must have shape (..., {', '.join(map(str, loc[k].shape))})"
                             f" with the leading axes {batch} of the others, got {part.shape}")
    return jnp.concatenate([part.reshape(batch + (-1,)) for part in parts], axis=-1)


def _over_dicts(sample, log_prob, entropy, unpack, sample_and_log_prob=None):
    """The family's functions, accepting params whose ``loc`` is a dict (draws as dicts)."""

    @functools.wraps(sample)
    def sample_(key, params, num_samples):
        flat, unravel = _flatten(params)
        z = sample(key, flat, num_samples)
        return z if unravel is None else jax.vmap(unravel)(z)

    @functools.wraps(log_prob)
    def log_prob_(params, z):
        flat, unravel = _flatten(params)
        return log_prob(flat, z if unravel is None else _ravel_draws(z, params.loc))

    @functools.wraps(entropy)
    def entropy_(params):
        return entropy(_flatten(params)[0])

    @functools.wraps(unpack)
    def unpack_(params):
        flat, unravel = _flatten(params)
        if unravel is None:
            return unpack(flat)
        loc, scale = unpack(flat)
        return unravel(loc), (unravel(scale) if scale.ndim == 1 else scale)

    def both_(key, params, num_samples):
        flat, unravel = _flatten(params)
        z, log_q = sample_and_log_prob(key, flat, num_samples)
        return (z if unravel is None else jax.vmap(unravel)(z)), log_q

    if sample_and_log_prob is not None:
        both_ = functools.wraps(sample_and_log_prob)(both_)
    return sample_, log_prob_, entropy_, unpack_, (both_ if sample_and_log_prob else None)


# --- mean-field normal -------------------------------------------------------------------------

def _normal_init(loc, scale):
    r"""Parameters of :math:`\mathcal{N}(\mathrm{loc}, \mathrm{diag}(\mathrm{scale}^2))`.

    Parameters
    ----------
    loc : float, array of shape (D,), or dict of arrays
        The mean; a dict names the parameters (e.g. ``{"beta": jnp.zeros(3),
        "log_sigma": 0.0}``), and the draws are then dicts of the same keys
        with a leading axis ``S``.
    scale : float, array of shape (D,), or dict like ``loc``
        The standard deviations, > 0 (a scalar is broadcast to ``loc``'s shape).

    Returns
    -------
    NormalParams

    Raises
    ------
    ValueError
        If ``scale`` has an entry <= 0, a shape other than ``()`` or ``loc``'s,
        or is a matrix (use :data:`full_rank_normal`); if either is not finite.
    TypeError
        If either is not an array of real numbers.

    See also
    --------
    full_rank_normal : a correlated Gaussian, from a Cholesky factor.
    vibook.optimize.find_mode : a ``loc`` to start from.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> params = normal.init(jnp.zeros(2), 0.5)
    >>> [round(float(s), 4) for s in normal.unpack(params)[1]]
    [0.5, 0.5]
    """
    if isinstance(loc, Mapping):
        loc, (flat, unravel) = _tree_loc(loc)
        scale = _positive_array(_tree_values(scale, loc, unravel, "scale"), "scale", flat.shape)
        return NormalParams(loc, unravel(inverse_softplus(scale)))
    if np.ndim(loc) == 2 or np.ndim(scale) == 2:
        raise ValueError("scale must be a scalar or a vector of standard deviations of loc's "
                         f"shape, and loc a vector; got shapes {np.shape(loc)} and "
                         f"{np.shape(scale)}. For a (D, D) Cholesky factor use "
                         "families.full_rank_normal.init(loc, scale_tril)")
    loc = _checks.array(loc, "loc", ndim=(0, 1))
    scale = _positive_array(scale, "scale", loc.shape)
    return NormalParams(loc, inverse_softplus(scale))


def _normal_unpack(params):
    """``(loc, scale)`` with ``scale = softplus(raw_scale)``.

    Examples
    --------
    >>> loc, scale = normal.unpack(normal.init(1.0, 0.5))
    >>> round(float(loc), 4), round(float(scale), 4)
    (1.0, 0.5)
    """
    params = _params(params, NormalParams)
    return params.loc, jax.nn.softplus(params.raw_scale)


def _normal_sample(key, params, num_samples):
    r"""``num_samples`` = S draws :math:`z = \mu + \sigma \odot \epsilon`,
    :math:`\epsilon \sim \mathcal{N}(0, I)`; shape ``(S,) + loc.shape``.

    Examples
    --------
    >>> import jax, jax.numpy as jnp
    >>> params = normal.init(jnp.zeros(3), 2.0)
    >>> normal.sample(jax.random.key(0), params, 4).shape
    (4, 3)
    """
    key = _checks.key(key)
    n = _checks.positive_int(num_samples, "num_samples")
    loc, scale = _normal_unpack(params)
    eps = jax.random.normal(key, (n,) + loc.shape)       # (n,) or (n, D)
    return _lead(loc, eps.ndim) + _lead(scale, eps.ndim) * eps


def _normal_log_prob(params, z):
    r""":math:`\sum_d \log \mathcal{N}(z_d; \mu_d, \sigma_d^2)` for ``z`` of shape
    ``(...,) + loc.shape``.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> params = normal.init(jnp.zeros(2), 1.0)
    >>> round(float(normal.log_prob(params, jnp.zeros(2))), 4)    # -log(2 pi)
    -1.8379
    >>> normal.log_prob(params, jnp.zeros((5, 2))).shape           # one per draw
    (5,)
    """
    loc, scale = _normal_unpack(params)
    z = _event(z, loc.shape)
    return _sum_event(stats.norm.logpdf(z, _lead(loc, z.ndim), _lead(scale, z.ndim)), loc.ndim)


def _normal_entropy(params):
    r""":math:`\mathbb{H} = \sum_d \tfrac12 \log(2\pi e \sigma_d^2)`.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> params = normal.init(jnp.zeros(2), jnp.array([1.0, 3.0]))
    >>> round(float(normal.entropy(params)), 4)    # log(2 pi e) + log 3
    3.9365
    """
    loc, scale = _normal_unpack(params)
    return jnp.sum(0.5 * jnp.log(2 * jnp.pi * jnp.e) + jnp.log(scale))


normal = Family(_normal_init, *_over_dicts(_normal_sample, _normal_log_prob, _normal_entropy,
                                           _normal_unpack)[:4])
"""The (mean-field) Gaussian family, 1-D or diagonal over vectors of dimension D.

* ``init(loc, scale) -> NormalParams``: ``loc`` () or (D,), ``scale`` > 0, a
  scalar or (D,) (standard deviations, not a matrix: see :data:`full_rank_normal`);
* ``sample(key, params, num_samples) -> (S,) + loc.shape``;
* ``log_prob(params, z) -> (...)`` for ``z`` of shape ``(...) + loc.shape``;
* ``entropy(params) -> ()``;  ``unpack(params) -> (loc, scale)``.
"""


# --- full-rank normal ------------------------------------------------------------------------

def _full_rank_init(loc, scale_tril=None):
    r"""Parameters of :math:`\mathcal{N}(\mathrm{loc}, L L^\top)`.

    Parameters
    ----------
    loc : array of shape (D,), or dict of arrays
        The mean; a dict names the parameters, ``D`` is then their total
        size (in sorted key order, as ``jax.flatten_util.ravel_pytree``
        orders them) and the draws are dicts.
    scale_tril : array of shape (D, D), optional
        A lower-triangular Cholesky factor :math:`L` with a positive diagonal
        (not the covariance :math:`LL^\top`). Default: the identity.

    Returns
    -------
    FullRankParams

    Raises
    ------
    ValueError
        If ``loc`` is not a vector, ``scale_tril`` not (D, D), not lower
        triangular (a covariance passed by mistake), or its diagonal not > 0.

    See also
    --------
    vibook.optimize.laplace_scale_tril : :math:`L` of the Laplace approximation at a mode.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> cov = jnp.array([[1.0, 0.5], [0.5, 2.0]])
    >>> params = full_rank_normal.init(jnp.zeros(2), jnp.linalg.cholesky(cov))
    >>> loc, L = full_rank_normal.unpack(params)
    >>> bool(jnp.allclose(L @ L.T, cov, atol=1e-5))
    True
    """
    tree = isinstance(loc, Mapping)
    if tree:
        tree_loc, (loc, unravel) = _tree_loc(loc)
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
    return FullRankParams(tree_loc if tree else loc,
                          tril - jnp.diag(diag) + jnp.diag(inverse_softplus(diag)))


def _full_rank_unpack(params):
    """``(loc, L)`` with ``L`` lower triangular and a softplus diagonal.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> L = jnp.array([[1.0, 0.0], [0.5, 2.0]])
    >>> loc, tril = full_rank_normal.unpack(full_rank_normal.init(jnp.zeros(2), L))
    >>> loc.shape, bool(jnp.allclose(tril, L, atol=1e-6))
    ((2,), True)
    """
    params = _params(params, FullRankParams)
    raw = jnp.tril(params.raw_tril)
    diag = jnp.diag(raw)
    return params.loc, raw - jnp.diag(diag) + jnp.diag(jax.nn.softplus(diag))


def _full_rank_sample(key, params, num_samples):
    r"""``num_samples`` = S draws :math:`z = \mu + L \epsilon`,
    :math:`\epsilon \sim \mathcal{N}(0, I_D)`;
    shape ``(S, D)``.

    Examples
    --------
    >>> import jax, jax.numpy as jnp
    >>> params = full_rank_normal.init(jnp.zeros(2), jnp.array([[1.0, 0.0], [0.5, 2.0]]))
    >>> full_rank_normal.sample(jax.random.key(0), params, 4).shape
    (4, 2)
    """
    key = _checks.key(key)
    n = _checks.positive_int(num_samples, "num_samples")
    loc, tril = _full_rank_unpack(params)
    eps = jax.random.normal(key, (n,) + loc.shape)       # (n, D)
    return loc[None, :] + eps @ tril.T


def _full_rank_sample_and_log_prob(key, params, num_samples):
    r"""The draws of ``sample`` and their :math:`\log q`, from the noise: no triangular solve.

    .. math::

        \log q(\mu + L\epsilon) = \log \mathcal N(\epsilon; 0, I_D) - \sum_d \log L_{dd}.

    ``log_prob`` recovers :math:`\epsilon = L^{-1}(z - \mu)` by a solve, which
    in float32 loses every digit once :math:`L` is badly conditioned (a
    condition number of :math:`LL^\top` near :math:`10^{12}` gave
    :math:`\log q \approx -10^{19}`); this does not. Its gradient in the
    parameters (with :math:`\epsilon` fixed) equals that of
    ``log_prob(params, sample(...))``.

    Examples
    --------
    >>> import jax, jax.numpy as jnp
    >>> params = full_rank_normal.init(jnp.zeros(2), jnp.array([[1.0, 0.0], [0.5, 2.0]]))
    >>> z, log_q = full_rank_normal.sample_and_log_prob(jax.random.key(0), params, 3)
    >>> z.shape, bool(jnp.allclose(log_q, full_rank_normal.log_prob(params, z), atol=1e-4))
    ((3, 2), True)
    """
    key = _checks.key(key)
    n = _checks.positive_int(num_samples, "num_samples")
    loc, tril = _full_rank_unpack(params)
    eps = jax.random.normal(key, (n,) + loc.shape)       # (n, D)
    z = loc[None, :] + eps @ tril.T
    log_q = (jnp.sum(stats.norm.logpdf(eps), axis=-1)
             - jnp.sum(jnp.log(jnp.diag(tril))))        # (n,)
    return z, log_q


def _full_rank_log_prob(params, z):
    r""":math:`-\tfrac12 \|L^{-1}(z - \mu)\|^2 - \sum_d \log L_{dd} - \tfrac D2 \log 2\pi`.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> params = full_rank_normal.init(jnp.zeros(2), jnp.array([[1.0, 0.0], [0.5, 2.0]]))
    >>> round(float(full_rank_normal.log_prob(params, jnp.zeros(2))), 4)  # -log(2 pi) - log 2
    -2.531
    """
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
    r""":math:`\mathbb{H} = \tfrac D2 \log(2\pi e) + \sum_d \log L_{dd}`.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> params = full_rank_normal.init(jnp.zeros(2))             # L = I
    >>> round(float(full_rank_normal.entropy(params)), 4)       # log(2 pi e)
    2.8379
    """
    loc, tril = _full_rank_unpack(params)
    return 0.5 * loc.shape[0] * jnp.log(2 * jnp.pi * jnp.e) + jnp.sum(jnp.log(jnp.diag(tril)))


full_rank_normal = Family(_full_rank_init, *_over_dicts(
    _full_rank_sample, _full_rank_log_prob, _full_rank_entropy, _full_rank_unpack,
    _full_rank_sample_and_log_prob))
r"""The full-rank Gaussian family :math:`\mathcal N(\mu, LL^\top)` over vectors of dimension D.

* ``init(loc, scale_tril=None) -> FullRankParams``: ``loc`` (D,), ``scale_tril``
  a (D, D) lower-triangular *Cholesky factor* :math:`L` (not the covariance;
  ``jnp.linalg.cholesky(cov)``, or :func:`vibook.optimize.laplace_scale_tril`
  at a mode), default the identity;
* ``sample(key, params, num_samples) -> (S, D)``;
* ``log_prob(params, z) -> (...)`` for ``z`` of shape ``(..., D)``;
* ``entropy(params) -> ()``;  ``unpack(params) -> (loc, L)``;
* ``sample_and_log_prob(key, params, num_samples) -> ((S, D), (S,))``: the
  same draws with :math:`\log q` from the noise (exact in float32 however
  badly conditioned :math:`L` is; used by :mod:`vibook.elbo`).
"""


# --- exponential -----------------------------------------------------------------------------

def _exponential_init(rate):
    r"""Parameters of :math:`\mathrm{Exp}(\theta)`, density :math:`\theta e^{-\theta z}`
    on :math:`z \ge 0`.

    Parameters
    ----------
    rate : float or array of shape (D,)
        The rate :math:`\theta > 0` (mean :math:`1/\theta`).

    Raises
    ------
    ValueError
        If an entry is <= 0 or not finite, or ``rate`` has more than one dimension.

    Examples
    --------
    >>> round(float(exponential.unpack(exponential.init(2.0))), 4)
    2.0
    """
    rate = _checks.array(rate, "rate", ndim=(0, 1))
    rate = _positive_array(rate, "rate", rate.shape)
    return ExponentialParams(inverse_softplus(rate))


def _exponential_unpack(params):
    """``rate = softplus(raw_rate)``.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> [round(float(r), 4) for r in exponential.unpack(exponential.init(jnp.array([0.5, 2.0])))]
    [0.5, 2.0]
    """
    return jax.nn.softplus(_params(params, ExponentialParams).raw_rate)


def _exponential_sample(key, params, num_samples):
    r"""``num_samples`` draws by the inverse CDF, :math:`z = -\log(1 - u)/\theta`,
    :math:`u \sim U(0, 1)`.

    The noise :math:`u` does not depend on :math:`\theta`, so this is a
    reparameterisation: :math:`\partial z / \partial\theta = -z/\theta`.

    Examples
    --------
    >>> import jax
    >>> z = exponential.sample(jax.random.key(0), exponential.init(2.0), 10_000)
    >>> z.shape, bool(z.min() >= 0), bool(abs(z.mean() - 0.5) < 0.02)   # mean 1/rate
    ((10000,), True, True)
    """
    key = _checks.key(key)
    n = _checks.positive_int(num_samples, "num_samples")
    rate = _exponential_unpack(params)
    u = jax.random.uniform(key, (n,) + rate.shape)       # (n,) or (n, D), in [0, 1)
    return -jnp.log1p(-u) / _lead(rate, u.ndim)


def _exponential_log_prob(params, z):
    r""":math:`\sum_d (\log\theta_d - \theta_d z_d)` for :math:`z \ge 0`, else :math:`-\infty`.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> log_q = exponential.log_prob(exponential.init(2.0), jnp.array([0.0, 1.0, -1.0]))
    >>> [round(float(v), 4) for v in log_q]     # log 2, log 2 - 2, outside the support
    [0.6931, -1.3069, -inf]
    """
    rate = _exponential_unpack(params)
    z = _event(z, rate.shape)
    return _sum_event(stats.expon.logpdf(z, scale=1.0 / _lead(rate, z.ndim)), rate.ndim)


def _exponential_entropy(params):
    r""":math:`\mathbb{H} = \sum_d (1 - \log\theta_d)`.

    Examples
    --------
    >>> round(float(exponential.entropy(exponential.init(2.0))), 4)    # 1 - log 2
    0.3069
    """
    return jnp.sum(1.0 - jnp.log(_exponential_unpack(params)))


exponential = Family(_exponential_init, _exponential_sample, _exponential_log_prob,
                     _exponential_entropy, _exponential_unpack)
"""The exponential family :math:`\\mathrm{Exp}(\\theta)` on :math:`z \\ge 0` (one rate or D
independent ones).

* ``init(rate) -> ExponentialParams``: ``rate`` > 0, () or (D,);
* ``sample(key, params, num_samples) -> (S,) + rate.shape``;
* ``log_prob(params, z) -> (...)``;  ``entropy(params) -> ()``;  ``unpack(params) -> rate``.
"""


# Field docstrings: autodoc shows these instead of "Alias for field number N".
for _cls, _docs in {
        Family: {"init": "``init(...) -> params``, from natural-scale values.",
                 "sample": "``sample(key, params, num_samples) -> z``, shape ``(S,) + event``.",
                 "log_prob": "``log_prob(params, z) -> (...)``, summed over the event.",
                 "entropy": "``entropy(params) -> ()``, in closed form.",
                 "unpack": "``unpack(params)``: the natural-scale parameters.",
                 "sample_and_log_prob": "``sample_and_log_prob(key, params, num_samples) -> "
                                        "(z, log_q)``, or None."},
        NormalParams: {"loc": "The mean, () or (D,).",
                       "raw_scale": "``inverse_softplus(scale)``, the shape of loc."},
        FullRankParams: {"loc": "The mean, (D,).",
                         "raw_tril": "L's strict lower triangle, shape (D, D), and "
                                     "``inverse_softplus`` of its diagonal."},
        ExponentialParams: {"raw_rate": "``inverse_softplus(rate)``, () or (D,)."}}.items():
    for _field, _doc in _docs.items():
        getattr(_cls, _field).__doc__ = _doc
