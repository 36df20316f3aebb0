r"""The posterior mode by L-BFGS: a start for VI and NUTS that is already near the mass.

.. math::

    \hat z = \arg\max_z \log p(z, x)

found by optax's L-BFGS with a zoom line search (Nocedal & Wright 2006, §7.2
and §3.5; ``optax.lbfgs``). A VI fit started at 0 with a small scale can spend
thousands of steps walking to the mass when the predictors are not
standardised, and its ELBO trace may look flat long before it arrives (issue
21). Starting at :math:`\hat z` removes that walk:

>>> import jax.numpy as jnp
>>> from vibook import optimize
>>> mode = optimize.find_mode(lambda z: -0.5 * jnp.sum((z - 3.0) ** 2), jnp.zeros(2))
>>> [round(float(v), 4) for v in mode.position], bool(mode.grad_norm < 1e-3)
([3.0, 3.0], True)

Recipes (``log_density`` takes one ``z`` of shape (D,) or a pytree, the one
convention of vibook: the same function goes to :mod:`vibook.elbo`,
:func:`vibook.vi.fit`'s objectives and :func:`vibook.mcmc.nuts`):

* mean-field VI: ``families.normal.init(mode.position, 0.1)``, or with the
  Laplace standard deviations ``jnp.sqrt(jnp.diag(L @ L.T))``;
* full-rank VI: ``families.full_rank_normal.init(mode.position, L)`` with
  ``L = optimize.laplace_scale_tril(log_density, mode.position)``;
* NUTS: ``mcmc.nuts(key, log_density, mode.position, ...)``, or dispersed
  starts ``mode.position + 2 * z @ L.T`` for several chains;
* a constrained model: find the mode of
  :func:`vibook.transforms.unconstrain`'s ``log_density`` (on the
  unconstrained scale, Jacobian included, as VI and NUTS see it).
"""

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
import optax.tree_utils as otu
from jax.flatten_util import ravel_pytree

from vibook import _checks


class Mode(NamedTuple):
    """What :func:`find_mode` returns.

    Attributes
    ----------
    position : pytree
        The maximiser, with the structure of ``init``.
    log_density : Array
        Scalar: ``log_density(position)``.
    grad_norm : Array
        Scalar: the Euclidean norm of the gradient at ``position`` (small at a
        mode; compare it with ``tol``).
    num_steps : Array
        Scalar: the L-BFGS iterations taken.
    """

    position: Any
    log_density: jax.Array
    grad_norm: jax.Array
    num_steps: jax.Array


def _scalar_density(log_density, flat_init, unravel):
    value = log_density(unravel(flat_init))
    _checks.user_output(value, "log_density",
                        f"log_density(z) for one z (here of {flat_init.shape[0]} numbers)",
                        shape=(), hint=". It takes one position, not a batch of draws, and "
                        "returns a scalar")
    if not np.isfinite(float(value)):
        raise ValueError(f"log_density must be finite at init, got {float(value)}")


def find_mode(log_density, init, num_steps=500, tol=1e-5, memory_size=10):
    r"""Maximise ``log_density`` from ``init`` with L-BFGS (optax), stopping when the gradient is small.

    Parameters
    ----------
    log_density : callable
        ``log_density(z) -> ()`` for one position ``z`` (an array or any
        pytree, e.g. a dict), as for :func:`vibook.mcmc.nuts`; differentiable.
    init : array or pytree
        The start.
    num_steps : int
        The most L-BFGS iterations.
    tol : float
        Stop once the gradient's norm is below ``tol``, or earlier once a step
        no longer lowers :math:`-\log p` (the floating-point floor).
    memory_size : int
        Past updates kept to approximate the inverse Hessian.

    Returns
    -------
    Mode
        ``position``, ``log_density``, ``grad_norm``, ``num_steps``.

    Raises
    ------
    TypeError
        If ``log_density`` is not callable with one argument.
    ValueError
        If ``log_density`` does not return one finite number at ``init``, or
        ``num_steps``, ``tol`` or ``memory_size`` are out of range.

    Notes
    -----
    In float32 the gradient's norm cannot fall much below about
    :math:`10^{-7}` times the scale of :math:`\log p`; for a tight ``tol``
    on a large log density use ``jax.config.update("jax_enable_x64", True)``.
    Check ``grad_norm``: a value far above ``tol`` means ``num_steps`` ran out
    (or the density has no mode, e.g. an improper posterior).

    See also
    --------
    laplace_scale_tril : a full-rank start's Cholesky factor at the mode.
    vibook.transforms.unconstrain : a constrained model on the real line.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from jax.scipy import stats
    >>> mode = find_mode(lambda p: stats.norm.logpdf(p["a"], 1.0) + stats.norm.logpdf(p["b"], -2.0),
    ...                  {"a": 0.0, "b": 0.0})
    >>> round(float(mode.position["a"]), 4), round(float(mode.position["b"]), 4)
    (1.0, -2.0)
    """
    _checks.function(log_density, "log_density", "log_density(z)")
    _checks.signature(log_density, "log_density", "log_density(z)", 1)
    num_steps = _checks.positive_int(num_steps, "num_steps")
    memory_size = _checks.positive_int(memory_size, "memory_size")
    tol = float(_checks.nonnegative(tol, "tol"))
    leaves = [_checks.array(leaf, "init") for leaf in jax.tree_util.tree_leaves(init)]
    if not leaves:
        raise ValueError("init must contain at least one array")
    init = jax.tree_util.tree_unflatten(jax.tree_util.tree_structure(init), leaves)
    flat, unravel = ravel_pytree(init)
    _scalar_density(log_density, flat, unravel)
    position, value, grad_norm, count = _lbfgs(log_density, flat, unravel, num_steps, tol,
                                               memory_size)
    return Mode(unravel(position), value, grad_norm, count)


def _lbfgs(log_density, flat, unravel, num_steps, tol, memory_size, max_restarts=10):
    """L-BFGS until the gradient is small; restarted with a fresh memory after a stall.

    A line search that finds no decrease (on a badly scaled problem the
    curvature memory can point nowhere useful) stops one run; the next run
    starts from the same point with an empty memory, as a fresh call would.
    Two stalls in a row at the same value are the floating-point floor.
    """
    def loss(u):
        return -log_density(unravel(u))

    opt = optax.lbfgs(memory_size=memory_size)
    value_and_grad = optax.value_and_grad_from_state(loss)

    def body(carry):
        u, state, _ = carry
        before = otu.tree_get(state, "value")
        value, grad = value_and_grad(u, state=state)
        updates, state = opt.update(grad, state, u, value=value, grad=grad, value_fn=loss)
        return optax.apply_updates(u, updates), state, before

    def running(carry, budget):
        _, state, before = carry
        count = otu.tree_get(state, "count")
        grad = otu.tree_get(state, "grad")
        stalled = otu.tree_get(state, "value") >= before      # no decrease
        return (count <= 1) | ((count < budget) & (otu.tree_norm(grad) >= tol) & ~stalled)

    @jax.jit
    def run(u0, budget):
        u, state, _ = jax.lax.while_loop(
            lambda c: running(c, budget), body,
            (u0, opt.init(u0), jnp.asarray(jnp.inf, u0.dtype)))
        return u, otu.tree_get(state, "count")

    u, total, last = flat, 0, None
    with _checks.no_traced_checks():
        for _ in range(max_restarts + 1):
            u, count = run(u, num_steps - total)
            total += int(count)
            value, grad = jax.value_and_grad(loss)(u)
            if total >= num_steps or float(jnp.linalg.norm(grad)) < tol or (
                    last is not None and not float(value) < last):
                break
            last = float(value)
    return u, -value, jnp.linalg.norm(grad), jnp.asarray(total)


def laplace_scale_tril(log_density, position):
    r"""The Cholesky factor :math:`L` of the Laplace covariance :math:`(-\nabla^2 \log p(\hat z))^{-1}`.

    At a mode :math:`\hat z` the Gaussian :math:`\mathcal N(\hat z, LL^\top)` is the
    Laplace approximation (Bishop 2006, §4.4); it is exact for a Gaussian
    posterior and a good start for :data:`vibook.families.full_rank_normal`.

    Parameters
    ----------
    log_density : callable
        ``log_density(z) -> ()`` for one ``z`` of shape (D,).
    position : array, shape (D,)
        A mode, e.g. ``find_mode(...).position``.

    Returns
    -------
    Array, shape (D, D)
        Lower triangular, positive diagonal.

    Raises
    ------
    ValueError
        If the negative Hessian is not positive definite at ``position`` (not a
        strict local maximum), or ``position`` is not a vector.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> L = laplace_scale_tril(lambda z: -0.5 * jnp.sum((z / jnp.array([2.0, 0.5])) ** 2),
    ...                        jnp.zeros(2))
    >>> [round(float(v), 4) for v in jnp.diag(L)]
    [2.0, 0.5]
    """
    _checks.function(log_density, "log_density", "log_density(z)")
    _checks.signature(log_density, "log_density", "log_density(z)", 1)
    position = _checks.array(position, "position", ndim=1)
    precision = -jax.hessian(log_density)(position)                  # (D, D)
    precision = 0.5 * (precision + precision.T)
    chol = jnp.linalg.cholesky(precision)
    if not np.all(np.isfinite(np.asarray(chol))):
        raise ValueError("the negative Hessian of log_density at position is not positive "
                         "definite: position is not a strict local maximum (run find_mode)")
    eye = jnp.eye(position.shape[0], dtype=chol.dtype)
    cov = jax.scipy.linalg.cho_solve((chol, True), eye)
    return jnp.linalg.cholesky(0.5 * (cov + cov.T))


# Field docstrings: autodoc shows these instead of "Alias for field number N".
for _field, _doc in {"position": "The maximiser, shaped like ``init``.",
                     "log_density": "``log_density(position)``.",
                     "grad_norm": "The gradient's Euclidean norm at ``position``.",
                     "num_steps": "L-BFGS iterations taken."}.items():
    getattr(Mode, _field).__doc__ = _doc
