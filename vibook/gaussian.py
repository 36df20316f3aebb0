r"""Mean-field CAVI for a correlated Gaussian target (Bishop 2006, §10.1.2).

The target is :math:`p(z) = \mathcal N(\text{mean}, \Lambda^{-1})` and the
family is fully factorised, :math:`q(z) = \prod_j \mathcal N(z_j; m_j, v_j)`.
The optimal variances are :math:`v_j = 1/\Lambda_{jj}` from the start, and each
CAVI sweep updates the means one coordinate at a time (Bishop 2006,
eq. 10.13). Since :math:`p` is normalised, the ELBO is
:math:`-\mathrm{KL}(q \,\|\, p)`, computed exactly by :func:`kl`. The
algorithm follows the package's contract: :func:`init`, :func:`step` and
:func:`fit` (``lax.scan``); its ``Info`` holds the KL (which never increases)
rather than the ELBO.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp

from vibook import _checks, _scan


class GaussianState(NamedTuple):
    """Mean-field factors :math:`q(z_j) = \\mathcal{N}(m_j, v_j)`.

    Attributes
    ----------
    m : Array
        Shape (D,). The factor means.
    var : Array
        Shape (D,). The factor variances :math:`v_j > 0` (:math:`1/\\Lambda_{jj}`
        from :func:`init` on).
    """

    m: jax.Array
    var: jax.Array


class GaussianInfo(NamedTuple):
    """What one :func:`step` reports.

    Attributes
    ----------
    kl : Array
        Scalar. :math:`\\mathrm{KL}(q \\,\\|\\, p) = -\\mathrm{ELBO}` of the new
        state (the target has no data: nothing to total or average over); it
        never increases.
    """

    kl: jax.Array


# ------------------------------------------------------------------ checks ---

def _check_target(mean, precision):
    mean = _checks.array(mean, "mean", ndim=1)
    precision = _checks.spd(precision, "precision")
    _checks.array(precision, "precision", shape=(mean.shape[0], mean.shape[0]))
    return mean, precision


def _check_state(state, mean):
    _checks.state(state, GaussianState, "vibook.gaussian.init")
    m = _checks.array(state.m, "state.m", shape=mean.shape)
    var = _checks.positive_entries(state.var, "state.var", shape=mean.shape)
    return GaussianState(m, var)


# --------------------------------------------------------------------- KL ---

def _kl(state, mean, precision):
    diff = state.m - mean
    _, log_det = jnp.linalg.slogdet(precision)
    return 0.5 * (jnp.sum(jnp.diag(precision) * state.var) + diff @ precision @ diff
                  - mean.shape[0] - log_det - jnp.sum(jnp.log(state.var)))


def kl(state, mean, precision):
    r"""The exact :math:`\mathrm{KL}(q \,\|\, p)` for
    :math:`p = \mathcal{N}(\text{mean}, \Lambda^{-1})`.

    .. math::

        \mathrm{KL} = \tfrac12\Big[&\operatorname{tr}(\Lambda V)
        + (m - \text{mean})^\top\Lambda(m - \text{mean}) \\
        &{}- D - \log\det\Lambda - \sum_j \log v_j\Big],

    with :math:`V = \operatorname{diag}(v)`.

    Since :math:`p` is normalised, the ELBO is :math:`-\mathrm{KL}`.

    Parameters
    ----------
    state : GaussianState
    mean : array_like, shape (D,)
    precision : array_like, shape (D, D)
        :math:`\Lambda`, symmetric positive definite.

    Returns
    -------
    Array, scalar

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> precision = jnp.array([[1.0, 0.9], [0.9, 1.0]])
    >>> state = init(jnp.zeros(2), precision, jnp.zeros(2))     # the mean-field optimum
    >>> round(float(kl(state, jnp.zeros(2), precision)), 4)     # -1/2 log(1 - 0.9^2)
    0.8304
    """
    mean, precision = _check_target(mean, precision)
    return _kl(_check_state(state, mean), mean, precision)


# ---------------------------------------------------------------- the loop ---

def init(mean, precision, m0):
    """Start from factor means ``m0``; the variances are :math:`1/\\Lambda_{jj}` from the start.

    Parameters
    ----------
    mean : array_like, shape (D,)
    precision : array_like, shape (D, D)
        :math:`\\Lambda`, symmetric positive definite.
    m0 : array_like, shape (D,)

    Returns
    -------
    GaussianState

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> state = init(jnp.zeros(2), jnp.array([[2.0, 0.5], [0.5, 4.0]]), jnp.ones(2))
    >>> state.var.tolist()                                      # 1 / Lambda_jj
    [0.5, 0.25]
    """
    return _init(*_check_target(mean, precision), m0)


def _init(mean, precision, m0):
    """:func:`init` on a checked target."""
    m0 = _checks.array(m0, "m0", shape=mean.shape)
    return GaussianState(m0, 1.0 / jnp.diag(precision))


def _step(state, mean, precision):
    def update(j, m):
        off_diag = precision[j] @ (m - mean) - precision[j, j] * (m[j] - mean[j])
        return m.at[j].set(mean[j] - off_diag / precision[j, j])

    m = jax.lax.fori_loop(0, mean.shape[0], update, state.m)
    new = GaussianState(m, state.var)
    return new, GaussianInfo(_kl(new, mean, precision))


def step(state, mean, precision):
    r"""One CAVI sweep over the coordinates :math:`j = 1, \dots, D` in turn.

    .. math::

        m_j \leftarrow \text{mean}_j
        - \frac{1}{\Lambda_{jj}} \sum_{k \ne j} \Lambda_{jk}(m_k - \text{mean}_k)

    (Bishop 2006, eq. 10.13).

    Parameters
    ----------
    state : GaussianState
        From :func:`init` or a previous step.
    mean : array_like, shape (D,)
    precision : array_like, shape (D, D)

    Returns
    -------
    state : GaussianState
    info : GaussianInfo
        ``info.kl``: :math:`\mathrm{KL}(q \| p)` after the sweep (never increases).

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> precision = jnp.array([[1.0, 0.5], [0.5, 1.0]])
    >>> state = init(jnp.zeros(2), precision, jnp.ones(2))
    >>> state, info = step(state, jnp.zeros(2), precision)
    >>> state.m.tolist()                 # m1 <- -0.5 m2 = -0.5, then m2 <- -0.5 m1 = 0.25
    [-0.5, 0.25]
    """
    mean, precision = _check_target(mean, precision)
    state, info = _step(_check_state(state, mean), mean, precision)
    _checks.finite_objective(info.kl, "KL", "mean, precision or state holds NaN or inf, "
                             "or precision is not positive definite")
    return state, info


def fit(mean, precision, m0, num_steps):
    """Run mean-field CAVI on a Gaussian target for ``num_steps`` sweeps in ``lax.scan``.

    Parameters
    ----------
    mean : array_like, shape (D,)
    precision : array_like, shape (D, D)
        :math:`\\Lambda`, symmetric positive definite.
    m0 : array_like, shape (D,)
        The starting factor means.
    num_steps : int
        Number of sweeps.

    Returns
    -------
    state : GaussianState
    info : GaussianInfo
        ``info.kl``, shape (num_steps,): the KL after each sweep; non-increasing.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> precision = jnp.array([[1.0, 0.5], [0.5, 1.0]])
    >>> state, info = fit(jnp.ones(2), precision, jnp.zeros(2), 30)
    >>> [round(v, 4) for v in state.m.tolist()]                 # the means are exact
    [1.0, 1.0]
    """
    num_steps = _checks.positive_int(num_steps, "num_steps")
    mean, precision = _check_target(mean, precision)
    state = _init(mean, precision, m0)
    return _scan.run(_step, state, (mean, precision), num_steps, name="vibook.gaussian.fit",
                     objective="kl")
