r"""Coordinate-ascent variational inference (CAVI) for conjugate models.

Mean-field VI restricts :math:`q(z) = \prod_j q_j(z_j)` and maximises the ELBO
one factor at a time. With every other factor held fixed, the best factor is

.. math::

    \log q_j^*(z_j) = \mathbb{E}_{q_{-j}}\big[\log p(x, z)\big] + \text{const}

(Bishop 2006, eq. 10.9; Blei, Kucukelbir & McAuliffe 2017, eq. 18). Each such
update can only raise the ELBO, so CAVI climbs it monotonically. Three models
are implemented, each as an ``init``/``step``/``fit`` trio:

* the Bayesian mixture of unit-variance Gaussians of Blei et al. (2017, §3):
  :func:`mixture_init`, :func:`mixture_step`, :func:`mixture_fit`;
* a Gaussian with unknown mean and precision under a normal–gamma prior
  (Bishop 2006, §10.1.3): :func:`normal_gamma_init`, :func:`normal_gamma_step`,
  :func:`normal_gamma_fit`, with the exact posterior
  :func:`normal_gamma_posterior` to compare against;
* a correlated multivariate Gaussian target approximated by a fully factorised
  Gaussian (Bishop 2006, §10.1.2): :func:`gaussian_init`,
  :func:`gaussian_step`, :func:`gaussian_fit`.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.scipy.special import digamma, gammaln, logsumexp, xlogy

from vibook import _checks

_LOG_2PI = jnp.log(2 * jnp.pi)


# ---------------------------------------------------------------------------
# Bayesian mixture of unit-variance Gaussians (Blei, Kucukelbir & McAuliffe 2017, §3)
#   mu_k ~ N(0, sigma^2 I_D),  c_i ~ Cat(1/K),  x_i | c_i, mu ~ N(mu_{c_i}, I_D)
#   q(mu_k) = N(m_k, s2_k I_D),  q(c_i) = Cat(phi_i)
# ---------------------------------------------------------------------------


class MixtureState(NamedTuple):
    """Variational parameters of the Bayesian mixture.

    Attributes
    ----------
    m : Array
        Shape (K, D). Means of :math:`q(\\mu_k) = \\mathcal{N}(m_k, s^2_k I_D)`.
    s2 : Array
        Shape (K,). Variances :math:`s^2_k` of :math:`q(\\mu_k)`.
    phi : Array
        Shape (N, K). Assignment probabilities of :math:`q(c_i) = \\mathrm{Cat}(\\phi_i)`.
    """

    m: jax.Array
    s2: jax.Array
    phi: jax.Array


def _mixture_data(x):
    x = _checks.array(x, "x", ndim=2)
    if x.shape[0] < 1 or x.shape[1] < 1:
        raise ValueError(f"x must have shape (N, D) with N, D >= 1, got {x.shape}")
    return x


def _check_state(state, x):
    n, d = x.shape
    if not isinstance(state, MixtureState):
        raise TypeError(f"state must be a MixtureState, got {type(state).__name__}")
    m = _checks.array(state.m, "state.m", ndim=2, shape=(None, d))
    _checks.array(state.s2, "state.s2", ndim=1, shape=(m.shape[0],))
    _checks.array(state.phi, "state.phi", ndim=2, shape=(n, m.shape[0]))


def mixture_local(m, s2, x):
    r"""The :math:`q(c)` update: assignment probabilities given :math:`q(\mu)`.

    .. math::

        \phi_{ik} \propto \exp\Big\{ m_k^\top x_i - \tfrac12\big(m_k^\top m_k
        + D\, s^2_k\big) \Big\}

    (Blei et al. 2017, eq. 26), normalised over :math:`k` in log space.

    Parameters
    ----------
    m : array_like, shape (K, D)
    s2 : array_like, shape (K,)
    x : array_like, shape (N, D)

    Returns
    -------
    Array, shape (N, K)
    """
    x = _mixture_data(x)
    m = _checks.array(m, "m", ndim=2, shape=(None, x.shape[1]))
    s2 = _checks.array(s2, "s2", ndim=1, shape=(m.shape[0],))
    logits = x @ m.T - 0.5 * (jnp.sum(m**2, axis=1) + x.shape[1] * s2)[None, :]   # (N, K)
    return jnp.exp(logits - logsumexp(logits, axis=1, keepdims=True))


def mixture_global(phi, x, prior_scale, scale=1.0):
    r"""The :math:`q(\mu)` update: component means given the assignments.

    .. math::

        s^2_k = \Big(\frac{1}{\sigma^2} + c\sum_i \phi_{ik}\Big)^{-1}, \qquad
        m_k = s^2_k \; c \sum_i \phi_{ik}\, x_i

    (Blei et al. 2017, eq. 34), where :math:`c` is ``scale``: 1 for CAVI, and
    :math:`N/|B|` when stochastic VI passes a minibatch :math:`B` of the data.

    Parameters
    ----------
    phi : array_like, shape (N, K)
    x : array_like, shape (N, D)
    prior_scale : float
        :math:`\sigma > 0`, the prior standard deviation of each mean.
    scale : float
        Multiplies the data sums (default 1).

    Returns
    -------
    m : Array, shape (K, D)
    s2 : Array, shape (K,)
    """
    x = _mixture_data(x)
    phi = _checks.array(phi, "phi", ndim=2, shape=(x.shape[0], None))
    _checks.positive(prior_scale, "prior_scale")
    _checks.positive(scale, "scale")
    counts = scale * jnp.sum(phi, axis=0)                                 # (K,)
    s2 = 1.0 / (1.0 / prior_scale**2 + counts)                            # (K,)
    m = s2[:, None] * (scale * phi.T @ x)                                 # (K, D)
    return m, s2


def mixture_elbo(state, x, prior_scale):
    r"""The exact ELBO of the Bayesian mixture (no Monte Carlo).

    .. math::

        \mathcal{L} = \sum_k \mathbb{E}[\log p(\mu_k)]
        + \sum_i \Big(\mathbb{E}[\log p(c_i)] + \mathbb{E}[\log p(x_i \mid c_i, \mu)]\Big)
        - \sum_i \mathbb{E}[\log q(c_i)] - \sum_k \mathbb{E}[\log q(\mu_k)],

    with every expectation in closed form, using
    :math:`\mathbb{E}\|\mu_k\|^2 = \|m_k\|^2 + D s^2_k` (Blei et al. 2017, eq. 21).

    Parameters
    ----------
    state : MixtureState
    x : array_like, shape (N, D)
    prior_scale : float

    Returns
    -------
    Array, scalar
    """
    x = _mixture_data(x)
    _check_state(state, x)
    _checks.positive(prior_scale, "prior_scale")
    m, s2, phi = state
    n, d = x.shape
    k = m.shape[0]
    sq_mu = jnp.sum(m**2, axis=1) + d * s2                                # E||mu_k||^2, (K,)
    log_p_mu = jnp.sum(-0.5 * d * (_LOG_2PI + 2 * jnp.log(prior_scale)) - sq_mu / (2 * prior_scale**2))
    log_p_c = -n * jnp.log(k)
    sq_dist = jnp.sum(x**2, axis=1)[:, None] - 2 * x @ m.T + sq_mu[None, :]  # E||x_i - mu_k||^2, (N, K)
    log_p_x = jnp.sum(phi * (-0.5 * d * _LOG_2PI - 0.5 * sq_dist))
    entropy_c = -jnp.sum(xlogy(phi, phi))
    entropy_mu = jnp.sum(0.5 * d * (_LOG_2PI + 1 + jnp.log(s2)))
    return log_p_mu + log_p_c + log_p_x + entropy_c + entropy_mu


def _check_mixture_args(x, num_components, prior_scale):
    x = _mixture_data(x)
    num_components = _checks.positive_int(num_components, "num_components")
    if num_components > x.shape[0]:
        raise ValueError(f"num_components must be at most the number of points N = {x.shape[0]}, "
                         f"got {num_components}")
    _checks.positive(prior_scale, "prior_scale")
    return x, num_components


def mixture_init(key, x, num_components, prior_scale):
    """Start CAVI: means at ``num_components`` distinct random data points.

    :math:`q(\\mu_k)` starts at :math:`\\mathcal{N}(x_{j_k}, I_D)` for random
    distinct indices :math:`j_k`, and :math:`q(c)` is set by
    :func:`mixture_local`, so the first step starts from a consistent state.

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
    """
    _checks.key(key)
    x, k = _check_mixture_args(x, num_components, prior_scale)
    idx = jax.random.choice(key, x.shape[0], (k,), replace=False)
    m = x[idx]                                                            # (K, D)
    s2 = jnp.ones(k, dtype=x.dtype)
    return MixtureState(m, s2, mixture_local(m, s2, x))


def mixture_step(state, x, prior_scale):
    """One CAVI sweep: update every :math:`q(c_i)`, then every :math:`q(\\mu_k)`.

    Parameters
    ----------
    state : MixtureState
    x : array_like, shape (N, D)
    prior_scale : float

    Returns
    -------
    state : MixtureState
        The updated variational parameters.
    elbo : Array, scalar
        The ELBO of the updated state (never below the previous one).
    """
    phi = mixture_local(state.m, state.s2, x)
    m, s2 = mixture_global(phi, x, prior_scale)
    new = MixtureState(m, s2, phi)
    return new, mixture_elbo(new, x, prior_scale)


def mixture_fit(key, x, num_components, prior_scale, num_iters):
    """Run CAVI for the Bayesian mixture for ``num_iters`` sweeps in ``lax.scan``.

    Parameters
    ----------
    key : PRNG key
        Picks the starting means (:func:`mixture_init`).
    x : array_like, shape (N, D)
    num_components : int
    prior_scale : float
    num_iters : int

    Returns
    -------
    state : MixtureState
    elbo_trace : Array, shape (num_iters,)
        The ELBO after each sweep; non-decreasing.
    """
    num_iters = _checks.positive_int(num_iters, "num_iters")
    state = mixture_init(key, x, num_components, prior_scale)
    return _mixture_scan(state, jnp.asarray(x, dtype=state.m.dtype), prior_scale, num_iters)


def _mixture_scan_impl(state, x, prior_scale, num_iters):
    return jax.lax.scan(lambda s, _: mixture_step(s, x, prior_scale), state, None, length=num_iters)


_mixture_scan = jax.jit(_mixture_scan_impl, static_argnames="num_iters")
