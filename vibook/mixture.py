r"""CAVI for the Bayesian mixture of unit-variance Gaussians.

The model of Blei, Kucukelbir & McAuliffe (2017, §3) and its mean-field family are

.. math::

    \mu_k \sim \mathcal N(0, \sigma^2 I_D), \quad
    c_i \sim \mathrm{Cat}(1/K), \quad
    x_i \mid c_i, \mu \sim \mathcal N(\mu_{c_i}, I_D), \\
    q(\mu_k) = \mathcal N(m_k, s^2_k I_D), \quad q(c_i) = \mathrm{Cat}(\phi_i).

Mean-field VI maximises the ELBO one factor at a time; with every other factor
held fixed, the best factor is
:math:`\log q_j^*(z_j) = \mathbb{E}_{q_{-j}}[\log p(x, z)] + \text{const}`
(Bishop 2006, eq. 10.9; Blei et al. 2017, eq. 18), so each update can only
raise the ELBO. Here the two updates are :func:`update_local` (every
:math:`q(c_i)`) and :func:`update_global` (every :math:`q(\mu_k)`);
:func:`elbo` evaluates the bound exactly. The algorithm follows the package's
contract: :func:`init`, :func:`step` and :func:`fit` (``lax.scan``).
:mod:`vibook.svi` reuses the two updates on minibatches.
"""

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.scipy.special import xlogy

from vibook import _checks, _scan

_LOG_2PI = math.log(2 * math.pi)      # a Python float: exact in float64 too


class MixtureState(NamedTuple):
    """Variational parameters of the Bayesian mixture.

    Attributes
    ----------
    m : Array
        Shape (K, D). Means of :math:`q(\\mu_k) = \\mathcal{N}(m_k, s^2_k I_D)`.
    s2 : Array
        Shape (K,). Variances :math:`s^2_k > 0` of :math:`q(\\mu_k)`.
    phi : Array
        Shape (N, K). Assignment probabilities of :math:`q(c_i) = \\mathrm{Cat}(\\phi_i)`.
    """

    m: jax.Array
    s2: jax.Array
    phi: jax.Array


class MixtureInfo(NamedTuple):
    """What one :func:`step` reports.

    Attributes
    ----------
    elbo : Array
        Scalar. The ELBO of the new state, a total over the :math:`N` data
        points (not a mean); it never decreases from step to step.
    """

    elbo: jax.Array


# ------------------------------------------------------------------ checks ---

def _check_state(state, x):
    _checks.state(state, MixtureState, "vibook.mixture.init")
    n, d = x.shape
    m = _checks.array(state.m, "state.m", ndim=2, shape=(None, d))
    s2 = _checks.positive_entries(state.s2, "state.s2", shape=(m.shape[0],))
    phi = _checks.array(state.phi, "state.phi", shape=(n, m.shape[0]))
    _checks.simplex(phi, "state.phi")
    return MixtureState(m, s2, phi)


def _check_args(state, x, prior_scale):
    x = _checks.data(x)
    _checks.positive(prior_scale, "prior_scale")
    return _check_state(state, x), x


# ----------------------------------------------------------------- updates ---

def _local(m, s2, x):
    logits = x @ m.T - 0.5 * (jnp.sum(m**2, axis=1) + x.shape[1] * s2)[None, :]   # (N, K)
    return jax.nn.softmax(logits, axis=1)


def update_local(m, s2, x):
    r"""The :math:`q(c)` update: assignment probabilities given :math:`q(\mu)`.

    .. math::

        \phi_{ik} \propto \exp\Big\{ m_k^\top x_i - \tfrac12\big(m_k^\top m_k
        + D\, s^2_k\big) \Big\}

    (Blei et al. 2017, eq. 26), normalised over :math:`k` in log space.

    Parameters
    ----------
    m : array_like, shape (K, D)
    s2 : array_like, shape (K,)
        Variances :math:`s^2_k > 0`.
    x : array_like, shape (N, D)

    Returns
    -------
    Array, shape (N, K)

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from vibook import mixture
    >>> m, s2 = jnp.array([[-1.5], [1.5]]), jnp.ones(2)
    >>> phi = mixture.update_local(m, s2, jnp.array([[-1.0], [2.0]]))
    >>> phi.shape, round(float(phi[0, 0]), 4)          # sigmoid(3): x = -1 is nearer m_0
    ((2, 2), 0.9526)
    """
    x = _checks.data(x)
    m = _checks.array(m, "m", ndim=2, shape=(None, x.shape[1]))
    s2 = _checks.positive_entries(s2, "s2", shape=(m.shape[0],))
    return _local(m, s2, x)


def _global(phi, x, prior_scale, scale=1.0):
    counts = scale * jnp.sum(phi, axis=0)                                 # (K,)
    s2 = 1.0 / (1.0 / prior_scale**2 + counts)                            # (K,)
    m = s2[:, None] * (scale * phi.T @ x)                                 # (K, D)
    return m, s2


def update_global(phi, x, prior_scale, scale=1.0):
    r"""The :math:`q(\mu)` update: component means given the assignments.

    .. math::

        s^2_k = \Big(\frac{1}{\sigma^2} + c\sum_i \phi_{ik}\Big)^{-1}, \qquad
        m_k = s^2_k \; c \sum_i \phi_{ik}\, x_i

    (Blei et al. 2017, eq. 34), where :math:`c` is ``scale``: 1 for CAVI, and
    :math:`N/|B|` when stochastic VI passes a minibatch :math:`B` of the data.

    Parameters
    ----------
    phi : array_like, shape (N, K)
        Rows are distributions over the :math:`K` components.
    x : array_like, shape (N, D)
    prior_scale : float
        :math:`\sigma > 0`, the prior standard deviation of each mean.
    scale : float
        :math:`c > 0`, multiplies the data sums (default 1).

    Returns
    -------
    m : Array, shape (K, D)
    s2 : Array, shape (K,)

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from vibook import mixture
    >>> x = jnp.array([[-2.0], [-1.0], [1.0], [2.0]])
    >>> phi = jnp.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    >>> m, s2 = mixture.update_global(phi, x, prior_scale=1.0)    # s2 = 1 / (1 + 2)
    >>> [round(float(v), 4) for v in m.ravel()], [round(float(v), 4) for v in s2]
    ([-1.0, 1.0], [0.3333, 0.3333])
    """
    x = _checks.data(x)
    phi = _checks.array(phi, "phi", ndim=2, shape=(x.shape[0], None))
    _checks.simplex(phi, "phi")
    _checks.positive(prior_scale, "prior_scale")
    _checks.positive(scale, "scale")
    return _global(phi, x, prior_scale, scale)


# ------------------------------------------------------------------- ELBO ---

def _elbo(state, x, prior_scale, scale=1.0):
    """The ELBO; ``scale`` multiplies the per-point terms (``N/|B|`` for a minibatch)."""
    m, s2, phi = state
    n, d = x.shape
    k = m.shape[0]
    sq_mu = jnp.sum(m**2, axis=1) + d * s2                                # E||mu_k||^2, (K,)
    log_p_mu = jnp.sum(-0.5 * d * (_LOG_2PI + 2 * jnp.log(prior_scale))
                       - sq_mu / (2 * prior_scale**2))
    log_p_c = -n * jnp.log(k)
    # E||x_i - mu_k||^2 = ||x_i||^2 - 2 x_i^T m_k + E||mu_k||^2
    sq_dist = jnp.sum(x**2, axis=1)[:, None] - 2 * x @ m.T + sq_mu[None, :]  # (N, K)
    log_p_x = jnp.sum(phi * (-0.5 * d * _LOG_2PI - 0.5 * sq_dist))
    entropy_c = -jnp.sum(xlogy(phi, phi))
    entropy_mu = jnp.sum(0.5 * d * (_LOG_2PI + 1 + jnp.log(s2)))
    return log_p_mu + entropy_mu + scale * (log_p_c + log_p_x + entropy_c)


def elbo(state, x, prior_scale):
    r"""The exact ELBO of the Bayesian mixture (no Monte Carlo), a total over the N points.

    .. math::

        \mathcal{L} = {} & \sum_k \mathbb{E}[\log p(\mu_k)]
        + \sum_i \mathbb{E}[\log p(c_i)] \\
        & + \sum_i \mathbb{E}[\log p(x_i \mid c_i, \mu)] \\
        & - \sum_i \mathbb{E}[\log q(c_i)] - \sum_k \mathbb{E}[\log q(\mu_k)],

    with every expectation in closed form, using
    :math:`\mathbb{E}\|\mu_k\|^2 = \|m_k\|^2 + D s^2_k` (Blei et al. 2017, eq. 21).

    Parameters
    ----------
    state : MixtureState
    x : array_like, shape (N, D)
    prior_scale : float
        :math:`\sigma > 0`.

    Returns
    -------
    Array, scalar
        The ELBO, total over the :math:`N` data points (not a mean).

    Examples
    --------
    With one component, one sweep makes :math:`q(\mu)` the exact posterior, and the
    ELBO is then the log evidence,
    :math:`\log \mathcal N(x; 0, I + \sigma^2 \mathbf{1}\mathbf{1}^\top)`:

    >>> import jax, jax.numpy as jnp
    >>> from vibook import mixture
    >>> x = jnp.array([[-2.0], [-1.0], [1.0], [2.0]])
    >>> state, _ = mixture.step(mixture.init(jax.random.key(0), x, 1, 1.0), x, 1.0)
    >>> round(float(mixture.elbo(state, x, 1.0)), 3)     # -2 log(2 pi) - log(5) / 2 - 5
    -9.48
    """
    state, x = _check_args(state, x, prior_scale)
    return _elbo(state, x, prior_scale)


# ---------------------------------------------------------------- the loop ---

def init(key, x, num_components, prior_scale):
    """Start CAVI: means at ``num_components`` distinct random data points.

    :math:`q(\\mu_k)` starts at :math:`\\mathcal{N}(x_{j_k}, I_D)` for random
    distinct indices :math:`j_k`, and :math:`q(c)` is set by
    :func:`update_local`, so the first step starts from a consistent state.

    Parameters
    ----------
    key : PRNG key
    x : array_like, shape (N, D)
    num_components : int
        :math:`K \\le N`.
    prior_scale : float
        :math:`\\sigma > 0` (checked here; used by the steps).

    Returns
    -------
    MixtureState

    Examples
    --------
    >>> import jax, jax.numpy as jnp
    >>> from vibook import mixture
    >>> x = jnp.array([[-2.0], [-1.0], [1.0], [2.0]])
    >>> state = mixture.init(jax.random.key(0), x, 2, prior_scale=1.0)
    >>> state.m.shape, state.s2.tolist(), state.phi.shape, bool(jnp.isin(state.m, x).all())
    ((2, 1), [1.0, 1.0], (4, 2), True)
    """
    _checks.key(key)
    x = _checks.data(x)
    k = _checks.num_components(num_components, x.shape[0])
    _checks.positive(prior_scale, "prior_scale")
    idx = jax.random.choice(key, x.shape[0], (k,), replace=False)
    m = x[idx]                                                            # (K, D)
    s2 = jnp.ones(k, dtype=x.dtype)
    return MixtureState(m, s2, _local(m, s2, x))


def _step(state, x, prior_scale):
    phi = _local(state.m, state.s2, x)
    m, s2 = _global(phi, x, prior_scale)
    new = MixtureState(m, s2, phi)
    return new, MixtureInfo(_elbo(new, x, prior_scale))


def step(state, x, prior_scale):
    """One CAVI sweep: update every :math:`q(c_i)`, then every :math:`q(\\mu_k)`.

    Parameters
    ----------
    state : MixtureState
        From :func:`init` or a previous step.
    x : array_like, shape (N, D)
    prior_scale : float
        :math:`\\sigma > 0`.

    Returns
    -------
    state : MixtureState
        The updated variational parameters.
    info : MixtureInfo
        ``info.elbo``: the ELBO of the updated state, total over the :math:`N`
        points (never below the previous one).

    Examples
    --------
    >>> import jax, jax.numpy as jnp
    >>> from vibook import mixture
    >>> x = jnp.array([[-2.0], [-1.0], [1.0], [2.0]])
    >>> state = mixture.init(jax.random.key(0), x, 2, prior_scale=1.0)
    >>> new, info = mixture.step(state, x, 1.0)
    >>> bool(info.elbo >= mixture.elbo(state, x, 1.0))
    True
    """
    state, x = _check_args(state, x, prior_scale)
    state, info = _step(state, x, prior_scale)
    _checks.finite_objective(info.elbo, "ELBO", "x or state holds NaN or inf")
    return state, info


def fit(key, x, num_components, prior_scale, num_steps):
    """Run CAVI for the Bayesian mixture for ``num_steps`` sweeps in ``lax.scan``.

    Parameters
    ----------
    key : PRNG key
        Picks the starting means (:func:`init`).
    x : array_like, shape (N, D)
    num_components : int
        :math:`K \\le N`.
    prior_scale : float
        :math:`\\sigma > 0`.
    num_steps : int
        Number of sweeps.

    Returns
    -------
    state : MixtureState
    info : MixtureInfo
        ``info.elbo``, shape (num_steps,): the ELBO (total over the :math:`N`
        points) after each sweep; non-decreasing.

    Raises
    ------
    FloatingPointError
        If the ELBO stops being finite (naming the step).

    Examples
    --------
    >>> import jax, jax.numpy as jnp
    >>> from vibook import mixture
    >>> x = jnp.array([[-2.0], [-1.0], [1.0], [2.0]])
    >>> state, info = mixture.fit(jax.random.key(0), x, 2, 1.0, num_steps=5)
    >>> info.elbo.shape, bool(jnp.all(jnp.diff(info.elbo) >= -1e-4))
    ((5,), True)
    """
    num_steps = _checks.positive_int(num_steps, "num_steps")
    state = init(key, x, num_components, prior_scale)
    x = jnp.asarray(x, dtype=state.m.dtype)
    return _scan.run(_step, state, (x, prior_scale), num_steps, name="vibook.mixture.fit")
