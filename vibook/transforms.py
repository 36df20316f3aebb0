r"""Constraint transforms with their log-Jacobians: a constrained model on the whole real line.

VI with a Gaussian :math:`q` and NUTS both need parameters that may take any
real value. A parameter with a constraint (a scale :math:`\sigma > 0`, a
probability, an ordered pair, a simplex, a correlation matrix) is written as
:math:`y = T(u)` of an unconstrained :math:`u`, and the density of :math:`u` is

.. math::

    \log p_u(u) = \log p_y(T(u)) + \log\,\lvert \det J_T(u) \rvert

(the change of variables; Kucukelbir et al. 2017, §2.3; Stan Reference Manual,
"Constraint transforms"). The Jacobian term is the part a hand-made transform
most often forgets (Chapter 4). Each :class:`Transform` here is three pure
functions, ``forward`` (:math:`u \mapsto y`), ``inverse`` and
``log_det_jacobian`` (at :math:`u`, summed over the parameter's entries), and
:func:`unconstrain` turns a log density over a dict of constrained parameters
into one over a flat unconstrained vector, for :func:`vibook.vi.fit`,
:func:`vibook.mcmc.nuts` or :func:`vibook.optimize.find_mode`, and maps draws
back.

>>> import jax.numpy as jnp
>>> from vibook import transforms
>>> t = transforms.interval(0.0, 2.0)
>>> float(t.forward(0.0)), float(t.inverse(1.0))
(1.0, 0.0)

They are written here, as the lesson of Chapter 4, rather than taken from a
library: each is a few lines, and the tests check every log-Jacobian against
the determinant of ``jax.jacfwd`` and against densities from ``scipy.stats``.
The formulas are Stan's, which NumPyro and TensorFlow Probability also use.

Where a constraint is one-sided and tight (a scale near 0, a simplex entry
near 0), float32 holds :math:`u` well but :math:`y = e^u` only to 7 digits
relative: run with ``jax.config.update("jax_enable_x64", True)`` when a
constrained value of interest is below about ``1e-30`` or a log density
needs more than 7 digits.
"""

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from vibook import _checks


class Transform(NamedTuple):
    r"""A bijection :math:`y = T(u)` from unconstrained :math:`u` to constrained :math:`y`.

    Attributes
    ----------
    forward : callable
        ``forward(u) -> y``.
    inverse : callable
        ``inverse(y) -> u``.
    log_det_jacobian : callable
        ``log_det_jacobian(u) -> ()``: :math:`\log\lvert\det \partial T/\partial u\rvert`,
        summed over the entries (for a simplex or a Cholesky factor, of the
        map from :math:`u` to :math:`y`'s free entries).
    name : str
        What the transform is, for messages.
    """

    forward: Callable
    inverse: Callable
    log_det_jacobian: Callable
    name: str


def _u(u):
    return _checks.array(u, "u")


def real():
    """The identity: a parameter with no constraint (log-Jacobian 0).

    Examples
    --------
    >>> float(real().forward(-1.5))
    -1.5
    """
    return Transform(_u, lambda y: _checks.array(y, "y"), lambda u: jnp.zeros(()), "real")


def positive(lower=0.0, kind="exp"):
    r""":math:`y = \mathrm{lower} + e^u` (``kind="exp"``) or :math:`+\,\mathrm{softplus}(u)`.

    .. math::

        \log\lvert J\rvert = \sum_i u_i \quad\text{(exp)}, \qquad
        \sum_i \log \sigma(u_i) \quad\text{(softplus)},

    with :math:`\sigma` the logistic function. ``exp`` is Stan's; softplus
    grows linearly, which keeps gradients tame for large values.

    Parameters
    ----------
    lower : float or array
        The lower bound (0 for a scale). It may be another parameter: pass
        ``lambda c: transforms.positive(lower=c["a"])`` to :func:`unconstrain`.
    kind : {"exp", "softplus"}

    Raises
    ------
    ValueError
        If ``kind`` is neither, or ``lower`` is not finite.

    Examples
    --------
    >>> t = positive()
    >>> float(t.forward(0.0)), float(t.log_det_jacobian(0.0))
    (1.0, 0.0)
    """
    lower = _checks.array(lower, "lower")
    if kind == "exp":
        fwd, inv, ldj = jnp.exp, jnp.log, lambda u: u
    elif kind == "softplus":
        fwd, ldj = jax.nn.softplus, jax.nn.log_sigmoid
        inv = lambda y: y + jnp.log(-jnp.expm1(-y))              # noqa: E731
    else:
        raise ValueError(f'kind must be "exp" or "softplus", got {kind!r}')
    return Transform(lambda u: lower + fwd(_u(u)),
                     lambda y: inv(_checks.array(y, "y") - lower),
                     lambda u: jnp.sum(ldj(_u(u))), f"positive(lower, {kind})")


def interval(lower, upper):
    r""":math:`y = a + (b - a)\,\sigma(u)` on :math:`(a, b)`.

    .. math::

        \log\lvert J\rvert = \sum_i \big[\log(b - a) + \log\sigma(u_i) + \log\sigma(-u_i)\big].

    Parameters
    ----------
    lower, upper : float or array
        :math:`a < b`. Either may be another parameter (see :func:`unconstrain`).

    Raises
    ------
    ValueError
        If ``upper <= lower`` (checked when both are concrete).

    Examples
    --------
    >>> t = interval(-1.0, 1.0)
    >>> round(float(t.forward(10.0)), 3), round(float(t.log_det_jacobian(0.0)), 4)
    (1.0, -0.6931)
    """
    lower, upper = _checks.array(lower, "lower"), _checks.array(upper, "upper")
    if _checks.is_concrete(lower) and _checks.is_concrete(upper) and not np.all(
            np.asarray(upper) > np.asarray(lower)):
        raise ValueError(f"upper must be > lower, got lower={lower}, upper={upper}")
    width = upper - lower

    def ldj(u):
        u = _u(u)
        return jnp.sum(jnp.log(width) + jax.nn.log_sigmoid(u) + jax.nn.log_sigmoid(-u)
                       + jnp.zeros_like(u))

    def inverse(y):
        p = (_checks.array(y, "y") - lower) / width
        return jnp.log(p) - jnp.log1p(-p)

    return Transform(lambda u: lower + width * jax.nn.sigmoid(_u(u)), inverse, ldj,
                     "interval(lower, upper)")


def _vector(u, name="u"):
    return _checks.array(u, name, ndim=1)


def ordered():
    r"""An increasing vector: :math:`y_1 = u_1`, :math:`y_k = y_{k-1} + e^{u_k}`.

    .. math::

        \log\lvert J\rvert = \sum_{k \ge 2} u_k.

    Examples
    --------
    >>> ordered().forward(jnp.array([0.0, 0.0, 0.0])).tolist()
    [0.0, 1.0, 2.0]
    """
    def forward(u):
        u = _vector(u)
        return jnp.cumsum(jnp.concatenate([u[:1], jnp.exp(u[1:])]))

    def inverse(y):
        y = _vector(y, "y")
        return jnp.concatenate([y[:1], jnp.log(jnp.diff(y))])

    return Transform(forward, inverse, lambda u: jnp.sum(_vector(u)[1:]), "ordered()")


def simplex():
    r"""Stick-breaking: :math:`u \in \mathbb R^{K-1}` to :math:`y` on the :math:`K`-simplex.

    With :math:`z_k = \sigma(u_k - \log(K - k))` (so that :math:`u = 0` gives
    the centre :math:`y_k = 1/K`), :math:`y_k = z_k (1 - \sum_{j<k} y_j)` for
    :math:`k < K` and :math:`y_K = 1 - \sum_{j<K} y_j`;

    .. math::

        \log\lvert J\rvert = \sum_{k<K} \big[\log z_k + \log(1 - z_k)
        + \log\big(1 - \textstyle\sum_{j<k} y_j\big)\big],

    the Jacobian of :math:`u \mapsto (y_1, \ldots, y_{K-1})` (Stan Reference
    Manual, "Unit simplex").

    Examples
    --------
    >>> [round(float(y), 4) for y in simplex().forward(jnp.zeros(2))]
    [0.3333, 0.3333, 0.3333]
    """
    def parts(u):
        u = _vector(u)
        k = u.shape[0] + 1
        shifted = u - jnp.log(k - jnp.arange(1, k))                    # (K-1,)
        z = jax.nn.sigmoid(shifted)
        left = jnp.cumprod(jnp.concatenate([jnp.ones(1), 1 - z]))      # (K,) stick left before k
        return shifted, z, left

    def forward(u):
        _, z, left = parts(u)
        return jnp.concatenate([z * left[:-1], left[-1:]])

    def inverse(y):
        y = _vector(y, "y")
        k = y.shape[0]
        left = 1 - jnp.concatenate([jnp.zeros(1), jnp.cumsum(y[:-2])])  # (K-1,)
        z = y[:-1] / left
        return jnp.log(z) - jnp.log1p(-z) + jnp.log(k - jnp.arange(1, k))

    def ldj(u):
        shifted, _, left = parts(u)
        return jnp.sum(jax.nn.log_sigmoid(shifted) + jax.nn.log_sigmoid(-shifted)
                       + jnp.log(left[:-1]))

    return Transform(forward, inverse, ldj, "simplex()")


def _num_tril(m, name):
    """``K`` from ``m = K(K-1)/2``."""
    k = int(round((1 + np.sqrt(1 + 8 * m)) / 2))
    if k * (k - 1) // 2 != m:
        raise ValueError(f"{name} must have K(K-1)/2 entries for some K, got {m}")
    return k


def cholesky_corr():
    r"""The Cholesky factor :math:`L` of a correlation matrix, from :math:`K(K-1)/2` reals.

    Canonical partial correlations :math:`z = \tanh(u)` fill the strictly
    lower triangle row by row: :math:`L_{11} = 1`, and for row :math:`i`,
    :math:`L_{ij} = z_{ij}\sqrt{1 - \sum_{j'<j} L_{ij'}^2}` (:math:`j < i`),
    :math:`L_{ii} = \sqrt{1 - \sum_{j<i} L_{ij}^2}`, so each row has unit norm.

    .. math::

        \log\lvert J\rvert = \sum_{i>j} \Big[\log(1 - z_{ij}^2)
        + \tfrac12 \log\big(1 - \textstyle\sum_{j'<j} L_{ij'}^2\big)\Big],

    the Jacobian of :math:`u \mapsto` the strictly lower entries of :math:`L`
    (Lewandowski et al. 2009; Stan Reference Manual, "Cholesky factors of
    correlation matrices").

    Examples
    --------
    >>> L = cholesky_corr().forward(jnp.array([0.5]))
    >>> bool(jnp.allclose(jnp.sum(L**2, axis=1), 1.0))
    True
    """
    def parts(u):
        u = _vector(u)
        k = _num_tril(u.shape[0], "u")
        z = jnp.zeros((k, k)).at[np.tril_indices(k, -1)].set(jnp.tanh(u))
        rows, sums = [], []
        for i in range(k):                                           # K is small and static
            row, used = [], jnp.zeros(())
            for j in range(i):
                sums.append(used)
                row.append(z[i, j] * jnp.sqrt(1 - used))
                used = used + row[-1] ** 2
            row.append(jnp.sqrt(1 - used))
            rows.append(jnp.concatenate([jnp.stack(row), jnp.zeros(k - i - 1)]))
        return u, jnp.stack(rows), jnp.stack(sums) if sums else jnp.zeros(0)

    def inverse(L):
        L = _checks.array(L, "y", ndim=2)
        k = L.shape[0]
        used = jnp.cumsum(L**2, axis=1) - L**2                         # sum_{j'<j} L_ij'^2
        z = L / jnp.sqrt(1 - used)
        return jnp.arctanh(z[np.tril_indices(k, -1)])

    def ldj(u):
        u, _, used = parts(u)
        return jnp.sum(jnp.log1p(-jnp.tanh(u) ** 2) + 0.5 * jnp.log1p(-used))

    return Transform(lambda u: parts(u)[1], inverse, ldj, "cholesky_corr()")


def cholesky_cov():
    r"""The Cholesky factor :math:`L` of a covariance matrix, from :math:`K(K+1)/2` reals.

    The lower triangle, row by row, holds :math:`u`, with each diagonal entry
    :math:`L_{ii} = e^{u_{ii}} > 0`; :math:`\log\lvert J\rvert = \sum_i u_{ii}`
    (of the map to the lower triangle of :math:`L`).

    Examples
    --------
    >>> cholesky_cov().forward(jnp.zeros(3)).tolist()
    [[1.0, 0.0], [0.0, 1.0]]
    """
    def size(m):
        k = _num_tril(m, "u") - 1                       # m = K(K+1)/2 = (K+1)K/2
        return k

    def forward(u):
        u = _vector(u)
        k = size(u.shape[0])
        raw = jnp.zeros((k, k)).at[np.tril_indices(k)].set(u)
        return raw - jnp.diag(jnp.diag(raw)) + jnp.diag(jnp.exp(jnp.diag(raw)))

    def inverse(L):
        L = _checks.array(L, "y", ndim=2)
        raw = L - jnp.diag(jnp.diag(L)) + jnp.diag(jnp.log(jnp.diag(L)))
        return raw[np.tril_indices(L.shape[0])]

    def ldj(u):
        u = _vector(u)
        k = size(u.shape[0])
        rows, cols = np.tril_indices(k)
        return jnp.sum(jnp.where(jnp.asarray(rows == cols), u, 0.0))

    return Transform(forward, inverse, ldj, "cholesky_cov()")


def affine(loc, scale_tril):
    r""":math:`y = \mathrm{loc} + L u`, a change of scale (whitening) with :math:`\log\lvert J\rvert = \sum_d \log L_{dd}`.

    With ``loc`` a mode and ``L`` the Cholesky factor of the Laplace covariance
    (:func:`vibook.optimize.laplace_scale_tril`), :math:`u` has a posterior
    near :math:`\mathcal N(0, I)`: an optimiser such as Adam, whose steps
    have about the same size in every coordinate, then no longer has to
    resolve posterior standard deviations that differ by orders of
    magnitude (unscaled predictors).

    Parameters
    ----------
    loc : array, shape (D,)
    scale_tril : array, shape (D, D)
        Lower triangular with a positive diagonal.

    Raises
    ------
    ValueError
        If the shapes do not match, ``scale_tril`` has nonzero entries above
        the diagonal, or its diagonal is not positive.

    Examples
    --------
    >>> t = affine(jnp.array([1.0, 2.0]), jnp.array([[2.0, 0.0], [1.0, 0.5]]))
    >>> t.forward(jnp.array([1.0, 2.0])).tolist()
    [3.0, 4.0]
    >>> round(float(t.log_det_jacobian(jnp.zeros(2))), 4)       # log(2 * 0.5)
    0.0
    """
    loc = _checks.array(loc, "loc", ndim=1)
    d = loc.shape[0]
    scale_tril = _checks.array(scale_tril, "scale_tril", shape=(d, d))
    if _checks.is_concrete(scale_tril) and np.any(np.triu(np.asarray(scale_tril), 1) != 0):
        raise ValueError("scale_tril must be lower triangular (a Cholesky factor L, e.g. from "
                         "optimize.laplace_scale_tril), got nonzero entries above the diagonal; "
                         "for another invertible map T write log_density(T @ v) yourself and "
                         "add log|det T|")
    tril = jnp.tril(scale_tril)
    if _checks.is_concrete(tril) and not np.all(np.diag(np.asarray(tril)) > 0):
        raise ValueError("scale_tril must have a positive diagonal (a Cholesky factor)")
    log_det = jnp.sum(jnp.log(jnp.diag(tril)))

    def inverse(y):
        y = _checks.array(y, "y", shape=(d,))
        return jax.scipy.linalg.solve_triangular(tril, y - loc, lower=True)

    return Transform(lambda u: loc + tril @ _checks.array(u, "u", shape=(d,)), inverse,
                     lambda u: log_det + 0.0 * jnp.sum(_u(u)), "affine(loc, scale_tril)")


# --- a model over constrained parameters, on the unconstrained scale -------------------------

class Unconstrained(NamedTuple):
    """What :func:`unconstrain` returns.

    Attributes
    ----------
    log_density : callable
        ``log_density(u) -> ()`` for one flat ``u`` of shape ``(D,)``: the
        model's log density plus the log-Jacobian. For
        :func:`vibook.mcmc.nuts`, :func:`vibook.optimize.find_mode`,
        :mod:`vibook.elbo` and :func:`vibook.flows.reparam_elbo` alike (one
        convention: vibook maps it over draws).
    init : Array
        The flat unconstrained start, of shape ``(D,)``: the inverse transform
        of ``init``.
    constrain : callable
        ``constrain(u)``: flat ``u`` of shape ``(..., D)`` to the dict (pytree)
        of constrained values, each with the leading axes ``...``; maps draws
        back.
    unconstrain : callable
        ``unconstrain(params)``: a constrained pytree to the flat ``u``, ``(D,)``.
    """

    log_density: Callable
    init: Any
    constrain: Callable
    unconstrain: Callable


def _resolve(transform, done, name):
    """A Transform, or a function of the constrained values so far that makes one."""
    if isinstance(transform, Transform):
        return transform
    if transform is None:
        return real()
    if callable(transform):
        try:
            out = transform(done)
        except KeyError as err:
            raise ValueError(f"transforms[{name!r}] depends on the parameter {err}, which must "
                             f"come before {name!r} in transforms") from None
        if isinstance(out, Transform):
            return out
    raise TypeError(f"transforms[{name!r}] must be a vibook.transforms.Transform (e.g. "
                    "transforms.positive()), None, or a function of the constrained "
                    f"parameters before it that returns one; got {type(transform).__name__}")


def unconstrain(log_density, transforms, init):
    r"""A log density over constrained parameters, as one over a flat unconstrained vector.

    .. math::

        \log p_u(u) = \log p\big(T(u)\big) + \sum_k \log\lvert\det J_{T_k}(u_k)\rvert,

    with the parameters unconstrained one by one, in the order of
    ``transforms``, so that a bound may depend on a parameter before it (the
    Jacobian is then triangular by blocks and its log-determinant is the sum).

    Parameters
    ----------
    log_density : callable
        ``log_density(params) -> ()``, :math:`\log p(y, x)` up to a constant,
        for one set of constrained parameters (a dict, or one array when
        ``transforms`` is one Transform).
    transforms : dict of Transform, or one Transform
        A transform for each key of ``init`` (``None`` for an unconstrained
        one), or a function ``lambda c: transforms.positive(lower=c["a"])`` of
        the constrained values of the keys before it.
    init : dict of arrays, or one array
        A constrained starting point (inside the support), which fixes the
        shapes.

    Returns
    -------
    Unconstrained
        ``log_density`` (one ``u``), ``init``,
        ``constrain`` and ``unconstrain``.

    Raises
    ------
    TypeError
        If ``log_density`` is not callable with one argument, or a transform is not one.
    ValueError
        If ``transforms`` and ``init`` have different keys, ``init`` is outside
        the support, or ``log_density`` does not return one finite number at ``init``.

    See also
    --------
    vibook.optimize.find_mode : the mode of ``log_density``, a start for VI and NUTS.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from jax.scipy import stats
    >>> from vibook import transforms
    >>> model = transforms.unconstrain(
    ...     lambda p: stats.norm.logpdf(p["mu"]) + stats.expon.logpdf(p["sigma"]),
    ...     {"mu": None, "sigma": transforms.positive()}, {"mu": 0.0, "sigma": 1.0})
    >>> model.init.tolist()                     # mu, log sigma
    [0.0, 0.0]
    >>> {k: float(v) for k, v in model.constrain(model.init).items()}
    {'mu': 0.0, 'sigma': 1.0}
    >>> float(model.log_density(model.init)) == float(stats.norm.logpdf(0.0) + stats.expon.logpdf(1.0))
    True
    """
    _checks.function(log_density, "log_density", "log_density(params)")
    _checks.signature(log_density, "log_density", "log_density(params)", 1)
    single = not isinstance(transforms, dict)
    if single:
        transforms, init = {"_": transforms}, {"_": init}
    if not isinstance(init, dict) or set(init) != set(transforms):
        raise ValueError(f"init must be a dict with the keys of transforms {list(transforms)}, "
                         f"got {list(init) if isinstance(init, dict) else type(init).__name__}")
    names = list(transforms)
    init = {k: _checks.array(init[k], f"init[{k!r}]") for k in names}

    done, u0 = {}, {}
    for k in names:
        t = _resolve(transforms[k], done, k)
        u0[k] = t.inverse(init[k])
        if not np.all(np.isfinite(np.asarray(u0[k]))):
            raise ValueError(f"init[{k!r}] must be inside the support of {t.name}, "
                             f"got {init[k]}")
        done[k] = t.forward(u0[k])
    flat0, unravel = ravel_pytree(u0)
    d = flat0.shape[0]

    def one(u):
        parts = unravel(u)
        out, ldj = {}, jnp.zeros(())
        for k in names:
            t = _resolve(transforms[k], out, k)
            out[k] = t.forward(parts[k])
            ldj = ldj + t.log_det_jacobian(parts[k])
        return out, ldj

    def outside(c):
        return c["_"] if single else c

    def density(u):
        u = _checks.array(u, "u", shape=(d,))
        c, ldj = one(u)
        value = _checks.user_output(log_density(outside(c)), "log_density",
                                    "log_density(params) for one set of parameters", shape=(),
                                    allow_neg_inf=True)
        return value + ldj

    def constrain(u):
        u = _checks.array(u, "u")
        if u.shape[-1:] != (d,):
            raise ValueError(f"u must have shape (..., {d}), got {u.shape}")
        flat = u.reshape(-1, d)
        c = jax.vmap(lambda v: one(v)[0])(flat)
        c = jax.tree_util.tree_map(lambda a: a.reshape(u.shape[:-1] + a.shape[1:]), c)
        return outside(c)

    def unconstrain_(params):
        params = {"_": params} if single else params
        done_, parts = {}, {}
        for k in names:
            t = _resolve(transforms[k], done_, k)
            done_[k] = _checks.array(params[k], f"params[{k!r}]")
            parts[k] = t.inverse(done_[k])
        return ravel_pytree(parts)[0]

    value = density(flat0)
    if not np.isfinite(float(value)):
        raise ValueError(f"log_density must be finite at init, got {float(value)}")
    return Unconstrained(density, flat0, constrain, unconstrain_)


# Field docstrings: autodoc shows these instead of "Alias for field number N".
for _cls, _docs in {
        Transform: {"forward": "``forward(u) -> y``.", "inverse": "``inverse(y) -> u``.",
                    "log_det_jacobian": "``log_det_jacobian(u) -> ()``.",
                    "name": "What the transform is."},
        Unconstrained: {"log_density": "``log_density(u) -> ()`` for one flat ``u`` (D,).",
                        "init": "The flat unconstrained start, (D,).",
                        "constrain": "``constrain(u)``: flat ``(..., D)`` to the constrained values.",
                        "unconstrain": "``unconstrain(params)``: constrained values to flat (D,)."}}.items():
    for _field, _doc in _docs.items():
        getattr(_cls, _field).__doc__ = _doc
