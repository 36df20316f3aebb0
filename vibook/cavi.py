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

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.scipy.special import digamma, gammaln, xlogy

from vibook import _checks, _scan

_LOG_2PI = math.log(2 * math.pi)      # a Python float: exact in float64 too


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
    x = _checks.data(x)
    m = _checks.array(m, "m", ndim=2, shape=(None, x.shape[1]))
    s2 = _checks.array(s2, "s2", ndim=1, shape=(m.shape[0],))
    logits = x @ m.T - 0.5 * (jnp.sum(m**2, axis=1) + x.shape[1] * s2)[None, :]   # (N, K)
    return jax.nn.softmax(logits, axis=1)


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
    x = _checks.data(x)
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

    Returns
    -------
    Array, scalar
    """
    x = _checks.data(x)
    _check_state(state, x)
    _checks.positive(prior_scale, "prior_scale")
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
    return log_p_mu + log_p_c + log_p_x + entropy_c + entropy_mu


def _check_mixture_args(x, num_components, prior_scale):
    x = _checks.data(x)
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
    x = jnp.asarray(x, dtype=state.m.dtype)
    return _scan.iterate(mixture_step, state, (x, prior_scale), num_iters)


# ---------------------------------------------------------------------------
# Gaussian with unknown mean and precision (Bishop 2006, §10.1.3)
#   tau ~ Gam(a0, b0),  mu | tau ~ N(mu0, 1/(lambda0 tau)),  x_n | mu, tau ~ N(mu, 1/tau)
#   q(mu) = N(mu_N, 1/lambda_N),  q(tau) = Gam(a_N, b_N)
# ---------------------------------------------------------------------------


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
        :math:`\\ell = \\lambda_N`.
    tau_shape : Array
        :math:`a_N`.
    tau_rate : Array
        :math:`b_N`.
    """

    mu_mean: jax.Array
    mu_precision: jax.Array
    tau_shape: jax.Array
    tau_rate: jax.Array


def _check_prior(prior):
    if not isinstance(prior, NormalGamma):
        raise TypeError(f"prior must be a NormalGamma(mean, precision_scale, shape, rate), "
                        f"got {type(prior).__name__}")
    _checks.finite(prior.mean, "prior.mean")
    for name in ("precision_scale", "shape", "rate"):
        _checks.positive(getattr(prior, name), f"prior.{name}")


def normal_gamma_posterior(x, prior):
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
    """
    x = _checks.data(x, ndim=1)
    _check_prior(prior)
    mu0, lam0, a0, b0 = prior
    n, xbar = x.shape[0], jnp.mean(x)
    mean = (lam0 * mu0 + n * xbar) / (lam0 + n)
    rate = b0 + 0.5 * jnp.sum((x - xbar) ** 2) + lam0 * n * (xbar - mu0) ** 2 / (2 * (lam0 + n))
    # "+ 0.0 * xbar" makes every field an array, even for a prior of Python floats
    return NormalGamma(mean=mean, precision_scale=lam0 + n + 0.0 * xbar,
                       shape=a0 + n / 2 + 0.0 * xbar, rate=rate)


def normal_gamma_update_mu(tau_mean, x, prior):
    r"""The :math:`q(\mu)` update (Bishop 2006, eqs. 10.26–10.27).

    .. math::

        \mu_N = \frac{\lambda_0\mu_0 + N\bar x}{\lambda_0 + N}, \qquad
        \lambda_N = (\lambda_0 + N)\,\mathbb{E}[\tau]

    Returns
    -------
    mu_mean, mu_precision : Array
    """
    mu0, lam0, _, _ = prior
    n = x.shape[0]
    return (lam0 * mu0 + jnp.sum(x)) / (lam0 + n), (lam0 + n) * tau_mean


def normal_gamma_update_tau(mu_mean, mu_precision, x, prior):
    r"""The :math:`q(\tau)` update (Bishop 2006, eqs. 10.29–10.30).

    .. math::

        a_N = a_0 + \frac{N + 1}{2}, \qquad
        b_N = b_0 + \frac12 \mathbb{E}_{\mu}\Big[\sum_n (x_n - \mu)^2
        + \lambda_0(\mu - \mu_0)^2\Big],

    with :math:`\mathbb{E}[(y - \mu)^2] = (y - \mu_N)^2 + 1/\lambda_N`.

    Returns
    -------
    tau_shape, tau_rate : Array
    """
    mu0, lam0, a0, b0 = prior
    n = x.shape[0]
    var = 1.0 / mu_precision
    expected_sq = jnp.sum((x - mu_mean) ** 2) + n * var + lam0 * ((mu_mean - mu0) ** 2 + var)
    return a0 + (n + 1) / 2 + 0.0 * mu_mean, b0 + 0.5 * expected_sq


def normal_gamma_elbo(state, x, prior):
    r"""The exact ELBO :math:`\mathbb{E}_q[\log p(x, \mu, \tau)] + H[q(\mu)] + H[q(\tau)]`.

    Uses :math:`\mathbb{E}[\tau] = a_N/b_N` and
    :math:`\mathbb{E}[\log\tau] = \psi(a_N) - \log b_N`.

    Returns
    -------
    Array, scalar
    """
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


def normal_gamma_init(x, prior, tau_mean=1.0):
    """Start CAVI from a guess :math:`\\mathbb{E}[\\tau]` = ``tau_mean``.

    :math:`q(\\mu)` is set by :func:`normal_gamma_update_mu` for that guess, and
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
    """
    x = _checks.data(x, ndim=1)
    _check_prior(prior)
    _checks.positive(tau_mean, "tau_mean")
    m, ell = normal_gamma_update_mu(tau_mean, x, prior)
    a = prior.shape + (x.shape[0] + 1) / 2
    return NormalGammaState(jnp.asarray(m, x.dtype), jnp.asarray(ell, x.dtype),
                            jnp.asarray(a, x.dtype), jnp.asarray(a / tau_mean, x.dtype))


def normal_gamma_step(state, x, prior):
    """One CAVI sweep: update :math:`q(\\tau)` given :math:`q(\\mu)`, then
    :math:`q(\\mu)` given :math:`q(\\tau)`.

    Returns
    -------
    state : NormalGammaState
    elbo : Array, scalar
    """
    a, b = normal_gamma_update_tau(state.mu_mean, state.mu_precision, x, prior)
    m, ell = normal_gamma_update_mu(a / b, x, prior)
    new = NormalGammaState(m, ell, a, b)
    return new, normal_gamma_elbo(new, x, prior)


def normal_gamma_fit(x, prior, num_iters, tau_mean=1.0):
    """Run normal–gamma CAVI for ``num_iters`` sweeps in ``lax.scan``.

    Parameters
    ----------
    x : array_like, shape (N,)
    prior : NormalGamma
    num_iters : int
    tau_mean : float
        Initial guess of :math:`\\mathbb{E}[\\tau]`.

    Returns
    -------
    state : NormalGammaState
    elbo_trace : Array, shape (num_iters,)
    """
    num_iters = _checks.positive_int(num_iters, "num_iters")
    state = normal_gamma_init(x, prior, tau_mean)
    x = jnp.asarray(x, state.mu_mean.dtype)
    prior = NormalGamma(*(jnp.asarray(v, x.dtype) for v in prior))
    return _scan.iterate(normal_gamma_step, state, (x, prior), num_iters)


# ---------------------------------------------------------------------------
# Fully factorised Gaussian approximation of a correlated Gaussian (Bishop 2006, §10.1.2)
#   p(z) = N(mean, Lambda^{-1});  q(z) = prod_j N(z_j; m_j, 1/Lambda_jj)
# ---------------------------------------------------------------------------


class GaussianState(NamedTuple):
    """Mean-field factors :math:`q(z_j) = \\mathcal{N}(m_j, v_j)`.

    Attributes
    ----------
    m : Array
        Shape (D,). The factor means.
    var : Array
        Shape (D,). The factor variances :math:`v_j = 1/\\Lambda_{jj}`.
    """

    m: jax.Array
    var: jax.Array


def _check_gaussian(mean, precision):
    mean = _checks.array(mean, "mean", ndim=1)
    precision = _checks.array(precision, "precision", shape=(mean.shape[0], mean.shape[0]))
    if not bool(jnp.allclose(precision, precision.T, rtol=1e-5, atol=1e-6)):
        raise ValueError("precision must be symmetric")
    if not bool(jnp.all(jnp.isfinite(jnp.linalg.cholesky(precision)))):
        raise ValueError("precision must be positive definite")
    return mean, precision


def gaussian_kl(state, mean, precision):
    r"""The exact :math:`\mathrm{KL}(q \,\|\, p)` for
    :math:`p = \mathcal{N}(\text{mean}, \Lambda^{-1})`.

    .. math::

        \mathrm{KL} = \tfrac12\Big[&\operatorname{tr}(\Lambda V)
        + (m - \text{mean})^\top\Lambda(m - \text{mean}) \\
        &{}- D - \log\det\Lambda - \sum_j \log v_j\Big],

    with :math:`V = \operatorname{diag}(v)`.

    Since :math:`p` is normalised, the ELBO is :math:`-\mathrm{KL}`.

    Returns
    -------
    Array, scalar
    """
    diff = state.m - mean
    _, log_det = jnp.linalg.slogdet(precision)
    return 0.5 * (jnp.sum(jnp.diag(precision) * state.var) + diff @ precision @ diff
                  - mean.shape[0] - log_det - jnp.sum(jnp.log(state.var)))


def gaussian_init(mean, precision, m0):
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
    """
    mean, precision = _check_gaussian(mean, precision)
    m0 = _checks.array(m0, "m0", shape=mean.shape)
    return GaussianState(m0, 1.0 / jnp.diag(precision))


def gaussian_step(state, mean, precision):
    r"""One CAVI sweep over the coordinates :math:`j = 1, \dots, D` in turn.

    .. math::

        m_j \leftarrow \text{mean}_j
        - \frac{1}{\Lambda_{jj}} \sum_{k \ne j} \Lambda_{jk}(m_k - \text{mean}_k)

    (Bishop 2006, eq. 10.13).

    Returns
    -------
    state : GaussianState
    kl : Array, scalar
        :math:`\mathrm{KL}(q \| p)` after the sweep (never increases).
    """
    def update(j, m):
        off_diag = precision[j] @ (m - mean) - precision[j, j] * (m[j] - mean[j])
        return m.at[j].set(mean[j] - off_diag / precision[j, j])

    m = jax.lax.fori_loop(0, mean.shape[0], update, state.m)
    new = GaussianState(m, state.var)
    return new, gaussian_kl(new, mean, precision)


def gaussian_fit(mean, precision, m0, num_iters):
    """Run mean-field CAVI on a Gaussian target for ``num_iters`` sweeps in ``lax.scan``.

    Returns
    -------
    state : GaussianState
    kl_trace : Array, shape (num_iters,)
    """
    num_iters = _checks.positive_int(num_iters, "num_iters")
    state = gaussian_init(mean, precision, m0)
    mean, precision = _check_gaussian(mean, precision)
    return _scan.iterate(gaussian_step, state, (mean, precision), num_iters)
