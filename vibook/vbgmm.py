r"""The full variational Gaussian mixture (Bishop 2006, §10.2).

The model puts priors on every parameter of a :math:`K`-component mixture
(Bishop 2006, eqs. 10.37–10.40):

.. math::

    \pi &\sim \mathrm{Dir}(\alpha_0 \mathbf 1_K), \qquad
    \Lambda_k \sim \mathcal W(W_0, \nu_0), \\
    \mu_k \mid \Lambda_k &\sim \mathcal N\big(m_0, (\beta_0\Lambda_k)^{-1}\big), \\
    z_n \mid \pi &\sim \mathrm{Cat}(\pi), \qquad
    x_n \mid z_n = k \sim \mathcal N(\mu_k, \Lambda_k^{-1}).

With the mean-field family :math:`q(z)\,q(\pi, \mu, \Lambda)` (eq. 10.42) the
optimal factors are :math:`q(z_n) = \mathrm{Cat}(r_n)`,
:math:`q(\pi) = \mathrm{Dir}(\alpha)` and
:math:`q(\mu_k, \Lambda_k)
= \mathcal N\big(m_k, (\beta_k\Lambda_k)^{-1}\big)\,\mathcal W(W_k, \nu_k)`.
CAVI alternates :func:`update_local` (the responsibilities, eqs. 10.46–10.49,
10.64–10.66) and :func:`update_global` (eqs. 10.51–10.63), and :func:`elbo`
evaluates the bound exactly (eqs. 10.70–10.77). With a small :math:`\alpha_0`,
components the data do not need are emptied: their expected weight
:math:`\mathbb E[\pi_k] = \alpha_k / \sum_j \alpha_j` shrinks towards
:math:`\alpha_0 / (N + K\alpha_0)` (Corduneanu & Bishop 2001).

The algorithm follows the package's contract: :func:`init`, :func:`step` and
:func:`fit` (``lax.scan``), each step reporting a :class:`VBGMMInfo`. For
reading a fit: :func:`expected_weights`, :func:`expected_covariances`,
:func:`expected_log_weights` and :func:`expected_log_det_precision`; and
:func:`sklearn_fit` runs scikit-learn's ``BayesianGaussianMixture`` from the
same start, for comparison. The ELBO is a total over the :math:`N` data points.
"""

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import digamma, gammaln, multigammaln, xlogy

from vibook import _checks, _linalg, _scan, _sklearn

_LOG_2PI = math.log(2 * math.pi)      # a Python float: exact in float64 too


class VBGMMPrior(NamedTuple):
    """Hyper-parameters :math:`(\\alpha_0, \\beta_0, m_0, \\nu_0, W_0)` of the prior.

    Attributes
    ----------
    concentration : float
        :math:`\\alpha_0 > 0`, the symmetric Dirichlet concentration of :math:`\\pi`.
    mean_precision : float
        :math:`\\beta_0 > 0`: :math:`\\mu_k` has precision :math:`\\beta_0\\Lambda_k`.
    mean : array_like
        Shape (D,). :math:`m_0`, the prior mean of every :math:`\\mu_k`.
    dof : float
        :math:`\\nu_0 > D - 1`, the Wishart degrees of freedom.
    scale : array_like
        Shape (D, D). :math:`W_0`, the Wishart scale matrix, symmetric positive
        definite; :math:`\\mathbb E[\\Lambda_k] = \\nu_0 W_0`. (scikit-learn's
        ``covariance_prior`` is :math:`W_0^{-1}`.)
    """

    concentration: float
    mean_precision: float
    mean: jax.Array
    dof: float
    scale: jax.Array


class VBGMMState(NamedTuple):
    """The variational factors :math:`q(z)\\,q(\\pi)\\,\\prod_k q(\\mu_k, \\Lambda_k)`.

    Attributes
    ----------
    resp : Array
        Shape (N, K). Responsibilities :math:`r_{nk}` of :math:`q(z_n) = \\mathrm{Cat}(r_n)`.
    concentration : Array
        Shape (K,). :math:`\\alpha_k` of :math:`q(\\pi) = \\mathrm{Dir}(\\alpha)`.
    mean_precision : Array
        Shape (K,). :math:`\\beta_k`.
    mean : Array
        Shape (K, D). :math:`m_k`.
    dof : Array
        Shape (K,). :math:`\\nu_k`.
    scale : Array
        Shape (K, D, D). :math:`W_k`.
    """

    resp: jax.Array
    concentration: jax.Array
    mean_precision: jax.Array
    mean: jax.Array
    dof: jax.Array
    scale: jax.Array


class VBGMMInfo(NamedTuple):
    """What one :func:`step` reports.

    Attributes
    ----------
    elbo : Array
        Scalar. :func:`elbo` of the new factors, a total over the :math:`N`
        data points (not a mean); it never decreases from step to step.
    """

    elbo: jax.Array


# ------------------------------------------------------------------ checks ---

def _check_dof(dof, d, name):
    """Wishart degrees of freedom: every entry > D - 1 (concrete values only)."""
    if _checks.is_concrete(dof) and not np.all(np.asarray(dof) > d - 1):
        raise ValueError(f"{name} must be > D - 1 = {d - 1}, got {np.asarray(dof)}")


def _check_prior(prior, x):
    """Check the hyper-parameters against the data; return them as arrays of x's dtype."""
    _checks.state(prior, VBGMMPrior,
                  "VBGMMPrior(concentration, mean_precision, mean, dof, scale)", name="prior")
    d = x.shape[1]
    _checks.positive(prior.concentration, "prior.concentration")
    _checks.positive(prior.mean_precision, "prior.mean_precision")
    mean = _checks.array(prior.mean, "prior.mean", shape=(d,))
    _checks.finite(prior.dof, "prior.dof")
    _check_dof(prior.dof, d, "prior.dof")
    scale = _checks.array(prior.scale, "prior.scale", shape=(d, d))
    _checks.spd(scale, "prior.scale")
    as_x = lambda v: jnp.asarray(v, x.dtype)                               # noqa: E731
    return VBGMMPrior(as_x(prior.concentration), as_x(prior.mean_precision), as_x(mean),
                      as_x(prior.dof), as_x(scale))


def _check_globals(state, d=None):
    """The global factors of a state (any data), checked; returns the number of components."""
    _checks.state(state, VBGMMState, "vibook.vbgmm.init")
    k = _checks.positive_entries(state.concentration, "state.concentration", ndim=1).shape[0]
    _checks.positive_entries(state.mean_precision, "state.mean_precision", shape=(k,))
    d = _checks.array(state.mean, "state.mean", shape=(k, d)).shape[1]
    _check_dof(_checks.array(state.dof, "state.dof", shape=(k,)), d, "state.dof")
    _checks.spd(_checks.array(state.scale, "state.scale", shape=(k, d, d)), "state.scale", ndim=3)
    return k


def _check_state(state, x):
    k = _check_globals(state, x.shape[1])
    _checks.array(state.resp, "state.resp", shape=(x.shape[0], k))
    _checks.simplex(state.resp, "state.resp")


def _check_resp(resp, x):
    resp = _checks.array(resp, "resp", ndim=2, shape=(x.shape[0], None))
    return _checks.simplex(resp, "resp")


# ------------------------------------------------------------ expectations ---

def _log_det(a):
    """log |A| of symmetric positive-definite matrices, shape (..., D, D) -> (...)."""
    lower = jnp.linalg.cholesky(a)                                        # (..., D, D)
    return 2 * jnp.sum(jnp.log(jnp.diagonal(lower, axis1=-2, axis2=-1)), axis=-1)


def _spd_inv(a):
    """Inverse of symmetric positive-definite matrices (..., D, D), through Cholesky."""
    lower = jnp.linalg.cholesky(a)
    eye = jnp.broadcast_to(jnp.eye(a.shape[-1], dtype=a.dtype), a.shape)
    return jax.scipy.linalg.cho_solve((lower, True), eye)


def _expected_log_det_precision(dof, scale):
    d = scale.shape[-1]
    psi = digamma(0.5 * (dof[:, None] - jnp.arange(d)[None, :]))         # (K, D)
    return jnp.sum(psi, axis=1) + d * math.log(2.0) + _log_det(scale)


def _expected_log_weights(concentration):
    return digamma(concentration) - digamma(jnp.sum(concentration))


def _log_rho(state, x):
    r"""The unnormalised log responsibilities :math:`\ln\rho_{nk}` (eq. 10.46), shape (N, K)."""
    d = x.shape[1]
    maha = _linalg.sq_norms(x, state.mean, jnp.linalg.cholesky(state.scale))   # (N, K)
    expected_quad = d / state.mean_precision[None, :] + state.dof[None, :] * maha   # eq. 10.64
    return (_expected_log_weights(state.concentration)[None, :]
            + 0.5 * _expected_log_det_precision(state.dof, state.scale)[None, :]
            - 0.5 * d * _LOG_2PI - 0.5 * expected_quad)


def _log_wishart_norm(dof, scale):
    r""":math:`\ln B(W, \nu) = -\tfrac\nu2\ln|W| - \tfrac{\nu D}{2}\ln 2 - \ln\Gamma_D(\tfrac\nu2)`
    (eq. B.79)."""
    d = scale.shape[-1]
    return (-0.5 * dof * _log_det(scale) - 0.5 * dof * d * math.log(2.0)
            - multigammaln(0.5 * dof, d))


def _log_dirichlet_norm(concentration):
    r""":math:`\ln C(\alpha) = \ln\Gamma(\sum_k\alpha_k) - \sum_k\ln\Gamma(\alpha_k)`
    (eq. B.23)."""
    return gammaln(jnp.sum(concentration)) - jnp.sum(gammaln(concentration))


# ----------------------------------------------------------------- updates ---

def update_local(state, x):
    r"""The :math:`q(z)` update: responsibilities from the current :math:`q(\pi)\,q(\mu, \Lambda)`.

    .. math::

        \ln\rho_{nk} &= \mathbb E[\ln\pi_k] + \tfrac12\mathbb E[\ln|\Lambda_k|]
        - \tfrac D2\ln 2\pi \\
        &\quad {}- \tfrac12\Big(D\beta_k^{-1}
        + \nu_k (x_n - m_k)^\top W_k (x_n - m_k)\Big), \\
        r_{nk} &= \frac{\rho_{nk}}{\sum_j\rho_{nj}}

    (Bishop 2006, eqs. 10.46, 10.49, 10.64–10.66), normalised in log space.

    Parameters
    ----------
    state : VBGMMState
        Only the global factors are used (``state.resp`` may belong to other data).
    x : array_like, shape (N, D)

    Returns
    -------
    Array, shape (N, K)

    Examples
    --------
    >>> import jax, jax.numpy as jnp
    >>> x = jnp.array([[-2.0, 0.0], [-2.0, 1.0], [2.0, 0.0], [2.0, 1.0]])
    >>> prior = VBGMMPrior(1.0, 1.0, jnp.zeros(2), 2.0, jnp.eye(2))
    >>> state = update_global(x, jax.nn.one_hot(jnp.array([0, 0, 1, 1]), 2), prior)
    >>> update_local(state, x).argmax(axis=1).tolist()       # each point to its pair
    [0, 0, 1, 1]
    """
    x = _checks.data(x)
    _check_globals(state, x.shape[1])
    return _update_local(state, x)


def _update_local(state, x):
    return jax.nn.softmax(_log_rho(state, x), axis=1)                      # (N, K)


def update_global(x, resp, prior):
    r"""The :math:`q(\pi)\,q(\mu, \Lambda)` update from responsibilities ``resp``.

    With :math:`N_k = \sum_n r_{nk}`, :math:`\bar x_k = \frac1{N_k}\sum_n r_{nk} x_n`
    and :math:`S_k = \frac1{N_k}\sum_n r_{nk}(x_n - \bar x_k)(x_n - \bar x_k)^\top`
    (eqs. 10.51–10.53),

    .. math::

        \alpha_k &= \alpha_0 + N_k, \quad \beta_k = \beta_0 + N_k, \quad
        \nu_k = \nu_0 + N_k, \\
        m_k &= \frac{\beta_0 m_0 + N_k\bar x_k}{\beta_k},

    .. math::

        W_k^{-1} &= W_0^{-1} + N_k S_k \\
        &\quad {}+ \frac{\beta_0 N_k}{\beta_0 + N_k}
        (\bar x_k - m_0)(\bar x_k - m_0)^\top

    (eqs. 10.58, 10.60–10.63). An empty component (:math:`N_k = 0`) gets the
    prior back; :math:`\bar x_k` divides by :math:`N_k` plus ten machine
    epsilons, as scikit-learn does, so that this gives no 0/0.

    Parameters
    ----------
    x : array_like, shape (N, D)
    resp : array_like, shape (N, K)
        Rows are distributions over the :math:`K` components.
    prior : VBGMMPrior

    Returns
    -------
    VBGMMState
        Holds ``resp`` and the updated global factors.

    Examples
    --------
    >>> import jax, jax.numpy as jnp
    >>> x = jnp.array([[-2.0, 0.0], [-2.0, 1.0], [2.0, 0.0], [2.0, 1.0]])
    >>> prior = VBGMMPrior(1.0, 1.0, jnp.zeros(2), 2.0, jnp.eye(2))
    >>> state = update_global(x, jax.nn.one_hot(jnp.array([0, 0, 1, 1]), 2), prior)
    >>> state.concentration.tolist(), state.dof.tolist()    # alpha_0 + N_k, nu_0 + N_k
    ([3.0, 3.0], [4.0, 4.0])
    """
    x = _checks.data(x)
    return _update_global(x, _check_resp(resp, x), _check_prior(prior, x))


def _update_global(x, resp, prior):
    alpha0, beta0, m0, nu0, w0 = prior
    nk = jnp.sum(resp, axis=0)                                            # (K,)
    xbar = (resp.T @ x) / (nk + 10 * jnp.finfo(x.dtype).eps)[:, None]     # (K, D)
    nk_sk = _linalg.scatter(x, resp, xbar)                                # N_k S_k, (K, D, D)
    beta = beta0 + nk
    mean = (beta0 * m0[None, :] + nk[:, None] * xbar) / beta[:, None]
    dm = xbar - m0[None, :]                                               # (K, D)
    scale_inv = (_spd_inv(w0)[None] + nk_sk
                 + (beta0 * nk / beta)[:, None, None] * dm[:, :, None] * dm[:, None, :])
    return VBGMMState(resp, alpha0 + nk, beta, mean, nu0 + nk, _spd_inv(scale_inv))


def elbo(state, x, prior):
    r"""The exact ELBO of any :math:`q(z)\,q(\pi)\,q(\mu, \Lambda)` of the form in
    :class:`VBGMMState`.

    .. math::

        \mathcal L &= \mathbb E[\ln p(X \mid Z, \mu, \Lambda)]
        + \mathbb E[\ln p(Z \mid \pi)] \\
        &\quad {}+ \mathbb E[\ln p(\pi)] + \mathbb E[\ln p(\mu, \Lambda)] \\
        &\quad {}- \mathbb E[\ln q(Z)] - \mathbb E[\ln q(\pi)]
        - \mathbb E[\ln q(\mu, \Lambda)]

    with each term in closed form (Bishop 2006, eqs. 10.70–10.77). The first
    two are :math:`\sum_{nk} r_{nk}\ln\rho_{nk}`, the sum of eqs. 10.71–10.72
    written per point (so no division by :math:`N_k`); the Wishart entropy is
    eq. B.82.

    Parameters
    ----------
    state : VBGMMState
    x : array_like, shape (N, D)
    prior : VBGMMPrior

    Returns
    -------
    Array, scalar
        The ELBO, a total over the :math:`N` data points (not a mean).

    Examples
    --------
    >>> import jax, jax.numpy as jnp
    >>> x = jnp.array([[-2.0, 0.0], [-2.0, 1.0], [2.0, 0.0], [2.0, 1.0]])
    >>> prior = VBGMMPrior(1.0, 1.0, jnp.zeros(2), 2.0, jnp.eye(2))
    >>> good = update_global(x, jax.nn.one_hot(jnp.array([0, 0, 1, 1]), 2), prior)
    >>> bad = update_global(x, jax.nn.one_hot(jnp.array([0, 1, 0, 1]), 2), prior)
    >>> bool(elbo(good, x, prior) > elbo(bad, x, prior))
    True
    """
    x = _checks.data(x)
    _check_state(state, x)
    return _elbo(state, x, _check_prior(prior, x))


def _elbo(state, x, prior):
    alpha0, beta0, m0, nu0, w0 = prior
    d = x.shape[1]
    k = state.concentration.shape[0]
    r, alpha, beta, m, nu, w = state
    log_lam = _expected_log_det_precision(nu, w)                          # (K,)
    log_pi = _expected_log_weights(alpha)                                 # (K,)
    # E[ln p(X | Z, mu, Lambda)] + E[ln p(Z | pi)] - E[ln q(Z)]         (10.71, 10.72, 10.75)
    data_term = jnp.sum(r * _log_rho(state, x)) - jnp.sum(xlogy(r, r))
    # E[ln p(pi)] - E[ln q(pi)]                                          (10.73, 10.76)
    pi_term = (_log_dirichlet_norm(jnp.full(k, alpha0)) + (alpha0 - 1) * jnp.sum(log_pi)
               - _log_dirichlet_norm(alpha) - jnp.sum((alpha - 1) * log_pi))
    # E[ln p(mu, Lambda)]                                                (10.74)
    dm = m - m0[None, :]
    log_p_mu_lam = jnp.sum(
        0.5 * (d * (jnp.log(beta0) - _LOG_2PI) + log_lam - d * beta0 / beta
               - beta0 * nu * jnp.einsum("ki,kij,kj->k", dm, w, dm))
        + _log_wishart_norm(nu0, w0) + 0.5 * (nu0 - d - 1) * log_lam
        - 0.5 * nu * jnp.einsum("ij,kji->k", _spd_inv(w0), w))
    # E[ln q(mu, Lambda)]                                                (10.77)
    # with the Wishart entropy H = -ln B - (nu - D - 1)/2 E ln|Lambda| + nu D / 2   (B.82)
    entropy_lam = -_log_wishart_norm(nu, w) - 0.5 * (nu - d - 1) * log_lam + 0.5 * nu * d
    log_q_mu_lam = jnp.sum(0.5 * log_lam + 0.5 * d * (jnp.log(beta) - _LOG_2PI) - 0.5 * d
                           - entropy_lam)
    return data_term + pi_term + log_p_mu_lam - log_q_mu_lam


# ---------------------------------------------------------------- the loop ---

def init(key, x, num_components, prior):
    """Start CAVI from a hard assignment to ``num_components`` random data points.

    Draws :math:`K` distinct data points, gives each point responsibility 1 for
    the nearest of them, and sets the global factors by :func:`update_global`.
    The same responsibilities (``state.resp``) start scikit-learn's
    ``BayesianGaussianMixture`` at the same point.

    Parameters
    ----------
    key : PRNG key
    x : array_like, shape (N, D)
    num_components : int
        :math:`K \\le N`.
    prior : VBGMMPrior

    Returns
    -------
    VBGMMState

    Examples
    --------
    >>> import jax, jax.numpy as jnp
    >>> x = jnp.array([[-2.0, 0.0], [-2.0, 1.0], [2.0, 0.0], [2.0, 1.0]])
    >>> prior = VBGMMPrior(1.0, 1.0, jnp.zeros(2), 2.0, jnp.eye(2))
    >>> state = init(jax.random.key(0), x, 2, prior)
    >>> state.resp.shape, float(state.concentration.sum())       # K alpha_0 + N
    ((4, 2), 6.0)
    """
    _checks.key(key)
    x = _checks.data(x)
    return _init(key, x, num_components, _check_prior(prior, x))


def _init(key, x, num_components, prior):
    """:func:`init` with ``x`` and ``prior`` checked."""
    k = _checks.num_components(num_components, x.shape[0])
    centres = x[jax.random.choice(key, x.shape[0], (k,), replace=False)]  # (K, D)
    dist2 = jnp.sum((x[:, None, :] - centres[None, :, :]) ** 2, axis=-1)  # (N, K)
    resp = jax.nn.one_hot(jnp.argmin(dist2, axis=1), k, dtype=x.dtype)
    return _update_global(x, resp, prior)


def _step(state, x, prior):
    new = _update_global(x, _update_local(state, x), prior)
    return new, VBGMMInfo(_elbo(new, x, prior))


def step(state, x, prior):
    """One CAVI sweep: :func:`update_local`, then :func:`update_global`.

    Parameters
    ----------
    state : VBGMMState
        From :func:`init` or a previous step.
    x : array_like, shape (N, D)
    prior : VBGMMPrior

    Returns
    -------
    state : VBGMMState
        The updated factors.
    info : VBGMMInfo
        ``info.elbo``: :func:`elbo` of the updated factors, a total over the
        :math:`N` points (never below the previous one).

    Examples
    --------
    >>> import jax, jax.numpy as jnp
    >>> x = jnp.array([[-2.0, 0.0], [-2.0, 1.0], [2.0, 0.0], [2.0, 1.0]])
    >>> prior = VBGMMPrior(1.0, 1.0, jnp.zeros(2), 2.0, jnp.eye(2))
    >>> state = init(jax.random.key(0), x, 2, prior)
    >>> new, info = step(state, x, prior)
    >>> bool(info.elbo >= elbo(state, x, prior))                 # never decreases
    True
    """
    x = _checks.data(x)
    _check_state(state, x)
    state, info = _step(state, x, _check_prior(prior, x))
    _checks.finite_objective(info.elbo, "ELBO", "x, state or prior holds NaN, inf or a "
                             "matrix that is not positive definite")
    return state, info


def fit(key, x, num_components, prior, num_steps):
    """Run variational-GMM CAVI for ``num_steps`` sweeps in ``lax.scan``, from :func:`init`.

    Parameters
    ----------
    key : PRNG key
        Picks the starting assignment (:func:`init`).
    x : array_like, shape (N, D)
    num_components : int
        :math:`K \\le N`.
    prior : VBGMMPrior
    num_steps : int
        Number of sweeps.

    Returns
    -------
    state : VBGMMState
    info : VBGMMInfo
        ``info.elbo``, shape (num_steps,): the ELBO (a total over the :math:`N`
        points) after each sweep; non-decreasing.

    Examples
    --------
    >>> import jax, jax.numpy as jnp
    >>> x = jnp.array([[-2.0, 0.0], [-2.0, 1.0], [2.0, 0.0], [2.0, 1.0]])
    >>> prior = VBGMMPrior(1.0, 1.0, jnp.zeros(2), 2.0, jnp.eye(2))
    >>> state, info = fit(jax.random.key(0), x, 2, prior, 10)
    >>> info.elbo.shape, bool(jnp.all(jnp.diff(info.elbo) >= -1e-4))   # non-decreasing
    ((10,), True)
    """
    num_steps = _checks.positive_int(num_steps, "num_steps")
    _checks.key(key)
    x = _checks.data(x)
    prior = _check_prior(prior, x)
    state = _init(key, x, num_components, prior)
    return _scan.run(_step, state, (x, prior), num_steps,
                     name="vibook.vbgmm.fit")


# ------------------------------------------------------------ reading a fit ---

def expected_weights(state):
    r"""Posterior mean of the weights,
    :math:`\mathbb E[\pi_k] = \alpha_k / \sum_j\alpha_j` (eq. B.17).

    Parameters
    ----------
    state : VBGMMState

    Returns
    -------
    Array, shape (K,)

    Examples
    --------
    >>> import jax, jax.numpy as jnp
    >>> x = jnp.array([[-2.0, 0.0], [-2.0, 1.0], [2.0, 0.0], [2.0, 1.0]])
    >>> prior = VBGMMPrior(1.0, 1.0, jnp.zeros(2), 2.0, jnp.eye(2))
    >>> state = update_global(x, jax.nn.one_hot(jnp.array([0, 0, 1, 1]), 2), prior)
    >>> expected_weights(state).tolist()                      # alpha_k / sum_j alpha_j
    [0.5, 0.5]
    """
    _check_globals(state)
    return state.concentration / jnp.sum(state.concentration)


def expected_log_weights(state):
    r""":math:`\ln\tilde\pi_k = \mathbb E\ln\pi_k = \psi(\alpha_k) - \psi(\sum_j \alpha_j)`
    under :math:`q(\pi) = \mathrm{Dir}(\alpha)` (eq. 10.66).

    Parameters
    ----------
    state : VBGMMState

    Returns
    -------
    Array, shape (K,)

    Examples
    --------
    >>> import jax, jax.numpy as jnp
    >>> x = jnp.array([[-2.0, 0.0], [-2.0, 1.0], [2.0, 0.0], [2.0, 1.0]])
    >>> prior = VBGMMPrior(1.0, 1.0, jnp.zeros(2), 2.0, jnp.eye(2))
    >>> state = update_global(x, jax.nn.one_hot(jnp.array([0, 0, 1, 1]), 2), prior)
    >>> [round(v, 4) for v in expected_log_weights(state).tolist()]  # -(1/3 + 1/4 + 1/5)
    [-0.7833, -0.7833]
    """
    _check_globals(state)
    return _expected_log_weights(state.concentration)


def expected_log_det_precision(state):
    r""":math:`\ln\tilde\Lambda_k = \mathbb E\ln|\Lambda_k|
    = \sum_{i=1}^D \psi\big(\tfrac{\nu_k + 1 - i}{2}\big) + D\ln 2 + \ln|W_k|`
    under :math:`q(\Lambda_k) = \mathcal W(W_k, \nu_k)` (eq. 10.65).

    Parameters
    ----------
    state : VBGMMState

    Returns
    -------
    Array, shape (K,)

    Examples
    --------
    >>> import jax, jax.numpy as jnp
    >>> x = jnp.array([[-2.0, 0.0], [-2.0, 1.0], [2.0, 0.0], [2.0, 1.0]])
    >>> prior = VBGMMPrior(1.0, 1.0, jnp.zeros(2), 2.0, jnp.eye(2))
    >>> state = update_global(x, jax.nn.one_hot(jnp.array([0, 0, 1, 1]), 2), prior)
    >>> log_det_mean = jnp.linalg.slogdet(state.dof[:, None, None] * state.scale)[1]
    >>> bool(jnp.all(expected_log_det_precision(state) < log_det_mean))   # Jensen
    True
    """
    _check_globals(state)
    return _expected_log_det_precision(state.dof, state.scale)


def expected_covariances(state):
    r"""The inverse expected precision, :math:`\mathbb E[\Lambda_k]^{-1} = (\nu_k W_k)^{-1}`.

    This is scikit-learn's ``covariances_``. (The posterior mean of
    :math:`\Lambda_k^{-1}` is larger, :math:`W_k^{-1}/(\nu_k - D - 1)`.)

    Parameters
    ----------
    state : VBGMMState

    Returns
    -------
    Array, shape (K, D, D)

    Examples
    --------
    >>> import jax, jax.numpy as jnp
    >>> x = jnp.array([[-2.0, 0.0], [-2.0, 1.0], [2.0, 0.0], [2.0, 1.0]])
    >>> prior = VBGMMPrior(1.0, 1.0, jnp.zeros(2), 2.0, jnp.eye(2))
    >>> state = update_global(x, jax.nn.one_hot(jnp.array([0, 0, 1, 1]), 2), prior)
    >>> expected_precision = state.dof[:, None, None] * state.scale      # nu_k W_k
    >>> product = expected_covariances(state) @ expected_precision
    >>> bool(jnp.allclose(product, jnp.eye(2)[None], atol=1e-5))
    True
    """
    _check_globals(state)
    return _spd_inv(state.scale) / state.dof[:, None, None]


def sklearn_fit(x, prior, resp, num_steps):
    """scikit-learn's variational mixture from the same start: a fitted
    ``sklearn.mixture.BayesianGaussianMixture``.

    The same model: full covariances,
    ``weight_concentration_prior_type="dirichlet_distribution"``, the priors
    of ``prior`` (``covariance_prior`` is :math:`W_0^{-1}`), no covariance floor,
    ``tol=0`` and ``max_iter=num_steps``. scikit-learn starts with an M-step
    from responsibilities; these are ``resp`` (e.g. ``init(...).resp``, the
    ones :func:`init` updates from), set through the one private hook
    scikit-learn needs for it (see ``vibook._sklearn``). The data are
    converted to float64; the ``ConvergenceWarning`` is silenced. Then
    ``weight_concentration_``, ``means_``, ``covariances_`` and
    ``predict_proba`` are comparable with :func:`fit` (``state.concentration``,
    ``state.mean``, :func:`expected_covariances`, :func:`update_local`).

    Parameters
    ----------
    x : array_like, shape (N, D)
    prior : VBGMMPrior
    resp : array_like, shape (N, K)
        The starting responsibilities; rows are distributions.
    num_steps : int

    Returns
    -------
    sklearn.mixture.BayesianGaussianMixture
        Fitted.

    Examples
    --------
    >>> import jax, jax.numpy as jnp
    >>> x = jnp.array([[-2.0, 0.0], [-2.0, 1.0], [2.0, 0.0], [2.0, 1.0]])
    >>> prior = VBGMMPrior(1.0, 1.0, jnp.zeros(2), 2.0, jnp.eye(2))
    >>> state, _ = fit(jax.random.key(0), x, 2, prior, 10)
    >>> model = sklearn_fit(x, prior, init(jax.random.key(0), x, 2, prior).resp, 10)
    >>> bool(jnp.allclose(state.mean, model.means_, atol=1e-4))   # the same fixed point
    True
    """
    checked = _checks.data(x)
    prior = _check_prior(prior, checked)
    resp = _check_resp(resp, checked)
    num_steps = _checks.positive_int(num_steps, "num_steps")
    from sklearn.mixture import BayesianGaussianMixture

    model = _sklearn.started(
        BayesianGaussianMixture, resp, n_components=resp.shape[1], covariance_type="full",
        weight_concentration_prior_type="dirichlet_distribution",
        weight_concentration_prior=float(prior.concentration),
        mean_precision_prior=float(prior.mean_precision),
        mean_prior=np.asarray(prior.mean, np.float64), degrees_of_freedom_prior=float(prior.dof),
        covariance_prior=np.linalg.inv(np.asarray(prior.scale, np.float64)),
        reg_covar=0.0, tol=0.0, max_iter=num_steps)
    return _sklearn.fit(model, x)
