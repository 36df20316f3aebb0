r"""CAVI for a Gaussian with unknown mean and precision (Bishop 2006, §10.1.3).

The model, with a normal–gamma prior, and the mean-field family are

.. math::

    \tau \sim \mathrm{Gam}(a_0, b_0), \quad
    \mu \mid \tau \sim \mathcal N\big(\mu_0, (\lambda_0\tau)^{-1}\big), \quad
    x_n \mid \mu, \tau \sim \mathcal N(\mu, \tau^{-1}), \\
    q(\mu) = \mathcal N(\mu_N, \lambda_N^{-1}), \quad q(\tau) = \mathrm{Gam}(a_N, b_N).

The exact posterior is again normal–gamma (:func:`posterior`), so the
mean-field answer can be compared with it. CAVI alternates :func:`update_tau`
and :func:`update_mu` (Bishop 2006, eqs. 10.26–10.30); :func:`elbo` is exact.
The algorithm follows the package's contract: :func:`init`, :func:`step` and
:func:`fit` (``lax.scan``).
"""

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.scipy.special import digamma, gammaln

from vibook import _checks, _scan

_LOG_2PI = math.log(2 * math.pi)      # a Python float: exact in float64 too


class NormalGamma(NamedTuple):
    """Normal–gamma distribution
    :math:`\\mathcal{N}(\\mu; m, (\\lambda\\tau)^{-1})\\,\\mathrm{Gam}(\\tau; a, b)`.

    Used for the prior and for the exact posterior.

    Attributes
    ----------
    mean : float
        :math:`m`, the mean of :math:`\\mu`.
    precision_scale : float
        :math:`\\lambda > 0`: :math:`\\mu` has precision :math:`\\lambda\\tau`.
    shape : float
        :math:`a > 0`, the gamma shape of :math:`\\tau`.
    rate : float
        :math:`b > 0`, the gamma rate of :math:`\\tau`.
    """

    mean: float
    precision_scale: float
    shape: float
    rate: float


class NormalGammaState(NamedTuple):
    """Mean-field factors :math:`q(\\mu) = \\mathcal{N}(m, 1/\\ell)` and
    :math:`q(\\tau) = \\mathrm{Gam}(a, b)`.

    Attributes
    ----------
    mu_mean : Array
        :math:`m = \\mu_N`.
    mu_precision : Array
        :math:`\\ell = \\lambda_N > 0`.
    tau_shape : Array
        :math:`a_N > 0`.
    tau_rate : Array
        :math:`b_N > 0`.
    """

    mu_mean: jax.Array
    mu_precision: jax.Array
    tau_shape: jax.Array
    tau_rate: jax.Array


class NormalGammaInfo(NamedTuple):
    """What one :func:`step` reports.

    Attributes
    ----------
    elbo : Array
        Scalar. The ELBO of the new state, a total over the :math:`N` data
        points (a bound on :math:`\\log p(x)`, not a mean); it never decreases.
    """

    elbo: jax.Array


# ------------------------------------------------------------------ checks ---

def _check_prior(prior):
    _checks.state(prior, NormalGamma, "NormalGamma(mean, precision_scale, shape, rate)",
                  name="prior")
    _checks.finite(prior.mean, "prior.mean")
    for name in ("precision_scale", "shape", "rate"):
        _checks.positive(getattr(prior, name), f"prior.{name}")
    return prior


def _check_args(x, prior):
    x = _checks.data(x, ndim=1)
    _check_prior(prior)
    return x, NormalGamma(*(jnp.asarray(v, x.dtype) for v in prior))


def _check_state(state):
    _checks.state(state, NormalGammaState, "vibook.normal_gamma.init")
    _checks.finite(state.mu_mean, "state.mu_mean")
    for name in ("mu_precision", "tau_shape", "tau_rate"):
        _checks.positive(getattr(state, name), f"state.{name}")
    return state


# ------------------------------------------------------------------- exact ---

def posterior(x, prior):
    r"""The exact posterior :math:`p(\mu, \tau \mid x)`, again normal–gamma.

    .. math::

        m_N &= \frac{\lambda_0 \mu_0 + N\bar x}{\lambda_0 + N}, \quad
        \lambda_N = \lambda_0 + N, \quad a_N = a_0 + \frac N2, \\
        b_N &= b_0 + \frac12\sum_n (x_n - \bar x)^2
        + \frac{\lambda_0 N (\bar x - \mu_0)^2}{2(\lambda_0 + N)}

    (Murphy 2012, §4.6.3.3; Bishop 2006, exercise 2.44).

    Parameters
    ----------
    x : array_like, shape (N,)
    prior : NormalGamma

    Returns
    -------
    NormalGamma
        Every field an array.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> post = posterior(jnp.array([1.0, 2.0, 3.0]), NormalGamma(0.0, 1.0, 1.0, 1.0))
    >>> [float(v) for v in post]                    # m_N = 6/4, lambda_N = 1 + 3, a_N = 1 + 3/2
    [1.5, 4.0, 2.5, 3.5]
    """
    x, (mu0, lam0, a0, b0) = _check_args(x, prior)
    n, xbar = x.shape[0], jnp.mean(x)
    mean = (lam0 * mu0 + n * xbar) / (lam0 + n)
    rate = b0 + 0.5 * jnp.sum((x - xbar) ** 2) + lam0 * n * (xbar - mu0) ** 2 / (2 * (lam0 + n))
    return NormalGamma(mean=mean, precision_scale=lam0 + n, shape=a0 + n / 2, rate=rate)


# ----------------------------------------------------------------- updates ---

def _update_mu(tau_mean, x, prior):
    mu0, lam0, _, _ = prior
    n = x.shape[0]
    return (lam0 * mu0 + jnp.sum(x)) / (lam0 + n), (lam0 + n) * tau_mean


def update_mu(tau_mean, x, prior):
    r"""The :math:`q(\mu)` update given :math:`\mathbb{E}[\tau]` (Bishop 2006, eqs. 10.26–10.27).

    .. math::

        \mu_N = \frac{\lambda_0\mu_0 + N\bar x}{\lambda_0 + N}, \qquad
        \lambda_N = (\lambda_0 + N)\,\mathbb{E}[\tau]

    Parameters
    ----------
    tau_mean : float
        :math:`\mathbb{E}[\tau] > 0` under the current :math:`q(\tau)`.
    x : array_like, shape (N,)
    prior : NormalGamma

    Returns
    -------
    mu_mean, mu_precision : Array

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> x, prior = jnp.array([1.0, 2.0, 3.0]), NormalGamma(0.0, 1.0, 1.0, 1.0)
    >>> [float(v) for v in update_mu(2.0, x, prior)]            # 6 / (1 + 3), (1 + 3) * 2
    [1.5, 8.0]
    """
    _checks.positive(tau_mean, "tau_mean")
    return _update_mu(tau_mean, *_check_args(x, prior))


def _update_tau(mu_mean, mu_precision, x, prior):
    mu0, lam0, a0, b0 = prior
    n = x.shape[0]
    var = 1.0 / mu_precision
    expected_sq = jnp.sum((x - mu_mean) ** 2) + n * var + lam0 * ((mu_mean - mu0) ** 2 + var)
    return a0 + (n + 1) / 2 + 0.0 * mu_mean, b0 + 0.5 * expected_sq


def update_tau(mu_mean, mu_precision, x, prior):
    r"""The :math:`q(\tau)` update given :math:`q(\mu)` (Bishop 2006, eqs. 10.29–10.30).

    .. math::

        a_N = a_0 + \frac{N + 1}{2}, \qquad
        b_N = b_0 + \frac12 \mathbb{E}_{\mu}\Big[\sum_n (x_n - \mu)^2
        + \lambda_0(\mu - \mu_0)^2\Big],

    with :math:`\mathbb{E}[(y - \mu)^2] = (y - \mu_N)^2 + 1/\lambda_N`.

    Parameters
    ----------
    mu_mean : float
        :math:`\mu_N`.
    mu_precision : float
        :math:`\lambda_N > 0`.
    x : array_like, shape (N,)
    prior : NormalGamma

    Returns
    -------
    tau_shape, tau_rate : Array

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> x, prior = jnp.array([1.0, 2.0, 3.0]), NormalGamma(0.0, 1.0, 1.0, 1.0)
    >>> [float(v) for v in update_tau(1.5, 4.0, x, prior)]      # 1 + 4/2, 1 + 6/2
    [3.0, 4.0]
    """
    _checks.finite(mu_mean, "mu_mean")
    _checks.positive(mu_precision, "mu_precision")
    return _update_tau(mu_mean, mu_precision, *_check_args(x, prior))


def _elbo(state, x, prior):
    mu0, lam0, a0, b0 = prior
    m, ell, a, b = state
    n = x.shape[0]
    e_tau, e_log_tau = a / b, digamma(a) - jnp.log(b)
    var = 1.0 / ell
    log_lik = 0.5 * n * (e_log_tau - _LOG_2PI) - 0.5 * e_tau * (jnp.sum((x - m) ** 2) + n * var)
    log_p_mu = (0.5 * (jnp.log(lam0) + e_log_tau - _LOG_2PI)
                - 0.5 * lam0 * e_tau * ((m - mu0) ** 2 + var))
    log_p_tau = a0 * jnp.log(b0) - gammaln(a0) + (a0 - 1) * e_log_tau - b0 * e_tau
    entropy_mu = 0.5 * (_LOG_2PI + 1 - jnp.log(ell))
    entropy_tau = a - jnp.log(b) + gammaln(a) + (1 - a) * digamma(a)
    return log_lik + log_p_mu + log_p_tau + entropy_mu + entropy_tau


def elbo(state, x, prior):
    r"""The exact ELBO :math:`\mathbb{E}_q[\log p(x, \mu, \tau)] + H[q(\mu)] + H[q(\tau)]`.

    Uses :math:`\mathbb{E}[\tau] = a_N/b_N` and
    :math:`\mathbb{E}[\log\tau] = \psi(a_N) - \log b_N`.

    Parameters
    ----------
    state : NormalGammaState
    x : array_like, shape (N,)
    prior : NormalGamma

    Returns
    -------
    Array, scalar
        The ELBO, a total over the :math:`N` data points (a lower bound on
        :math:`\log p(x)`).

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> x, prior = jnp.array([1.0, 2.0, 3.0]), NormalGamma(0.0, 1.0, 1.0, 1.0)
    >>> state = init(x, prior)
    >>> new, _ = step(state, x, prior)
    >>> bool(elbo(new, x, prior) >= elbo(state, x, prior))      # a CAVI sweep never lowers it
    True
    """
    return _elbo(_check_state(state), *_check_args(x, prior))


# ---------------------------------------------------------------- the loop ---

def init(x, prior, tau_mean=1.0):
    """Start CAVI from a guess :math:`\\mathbb{E}[\\tau]` = ``tau_mean``.

    :math:`q(\\mu)` is set by :func:`update_mu` for that guess, and
    :math:`q(\\tau)` has the shape :math:`a_0 + (N+1)/2` it keeps throughout and
    the rate that gives the guessed mean.

    Parameters
    ----------
    x : array_like, shape (N,)
    prior : NormalGamma
    tau_mean : float
        Initial guess of :math:`\\mathbb{E}[\\tau] > 0`.

    Returns
    -------
    NormalGammaState

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> x, prior = jnp.array([1.0, 2.0, 3.0]), NormalGamma(0.0, 1.0, 1.0, 1.0)
    >>> [float(v) for v in init(x, prior, tau_mean=2.0)]        # a_N / b_N = 3 / 1.5 = 2
    [1.5, 8.0, 3.0, 1.5]
    """
    return _init(*_check_args(x, prior), tau_mean)


def _init(x, prior, tau_mean):
    """:func:`init` on checked data and prior."""
    _checks.positive(tau_mean, "tau_mean")
    m, ell = _update_mu(jnp.asarray(tau_mean, x.dtype), x, prior)
    a = prior.shape + (x.shape[0] + 1) / 2
    return NormalGammaState(m, ell, a, a / tau_mean)


def _step(state, x, prior):
    a, b = _update_tau(state.mu_mean, state.mu_precision, x, prior)
    m, ell = _update_mu(a / b, x, prior)
    new = NormalGammaState(m, ell, a, b)
    return new, NormalGammaInfo(_elbo(new, x, prior))


def step(state, x, prior):
    """One CAVI sweep: update :math:`q(\\tau)` given :math:`q(\\mu)`, then
    :math:`q(\\mu)` given :math:`q(\\tau)`.

    Parameters
    ----------
    state : NormalGammaState
        From :func:`init` or a previous step.
    x : array_like, shape (N,)
    prior : NormalGamma

    Returns
    -------
    state : NormalGammaState
    info : NormalGammaInfo
        ``info.elbo``: the ELBO of the new state, a total over the :math:`N`
        points (never below the previous one).

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> x, prior = jnp.array([1.0, 2.0, 3.0]), NormalGamma(0.0, 1.0, 1.0, 1.0)
    >>> state, info = step(init(x, prior), x, prior)            # q(tau), then q(mu)
    >>> [float(v) for v in state]                               # lambda_N = (1 + 3) * 3 / 4
    [1.5, 3.0, 3.0, 4.0]
    """
    state, info = _step(_check_state(state), *_check_args(x, prior))
    _checks.finite_objective(info.elbo, "ELBO", "x, state or prior holds NaN, inf "
                             "or a scale that is not > 0")
    return state, info


def fit(x, prior, num_steps, tau_mean=1.0):
    """Run normal–gamma CAVI for ``num_steps`` sweeps in ``lax.scan``, from :func:`init`.

    Parameters
    ----------
    x : array_like, shape (N,)
    prior : NormalGamma
    num_steps : int
        Number of sweeps.
    tau_mean : float
        Initial guess of :math:`\\mathbb{E}[\\tau] > 0`.

    Returns
    -------
    state : NormalGammaState
    info : NormalGammaInfo
        ``info.elbo``, shape (num_steps,): the ELBO (a total over the :math:`N`
        points) after each sweep; non-decreasing.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> x, prior = jnp.array([1.0, 2.0, 3.0]), NormalGamma(0.0, 1.0, 1.0, 1.0)
    >>> state, info = fit(x, prior, 20)
    >>> float(state.mu_mean), float(posterior(x, prior).mean)   # q(mu) and p(mu | x) agree
    (1.5, 1.5)
    >>> bool(jnp.all(jnp.diff(info.elbo) >= -1e-5))             # non-decreasing
    True
    """
    num_steps = _checks.positive_int(num_steps, "num_steps")
    x, prior = _check_args(x, prior)
    state = _init(x, prior, tau_mean)
    return _scan.run(_step, state, (x, prior), num_steps, name="vibook.normal_gamma.fit")
