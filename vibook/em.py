r"""Expectation–maximisation for Gaussian mixtures, as coordinate ascent on the ELBO.

For a latent-variable model :math:`p(x, c \mid \theta)` and any distribution
:math:`q(c)` over the latents,

.. math::

    \log p(x \mid \theta) &= \mathcal{L}(q, \theta)
    + \mathrm{KL}\big(q(c) \,\|\, p(c \mid x, \theta)\big), \\
    \mathcal{L}(q, \theta) &= \mathbb{E}_q[\log p(x, c \mid \theta) - \log q(c)].

The E-step sets :math:`q(c) = p(c \mid x, \theta)`, which makes the KL zero and
the bound tight; the M-step maximises :math:`\mathcal{L}(q, \theta)` over
:math:`\theta`. The log-likelihood therefore never decreases (Dempster, Laird &
Rubin 1977; Neal & Hinton 1998).

For a mixture of :math:`K` full-covariance Gaussians,
:math:`p(x_i \mid \theta) = \sum_k \pi_k \mathcal{N}(x_i; \mu_k, \Sigma_k)`, and
both steps are in closed form (Bishop 2006, §9.2.2). The E-step works in log
space (log-sum-exp); the loop runs in ``jax.lax.scan`` under ``jit``.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.scipy.special import logsumexp, xlogy

from vibook import _checks, _linalg, _scan


class GMMParams(NamedTuple):
    """Parameters :math:`\\theta` of a Gaussian mixture.

    Attributes
    ----------
    weights : Array
        Shape (K,). Mixing weights :math:`\\pi_k > 0`, summing to 1.
    means : Array
        Shape (K, D). Component means :math:`\\mu_k`.
    covs : Array
        Shape (K, D, D). Component covariances :math:`\\Sigma_k`, symmetric positive definite.
    """

    weights: jax.Array
    means: jax.Array
    covs: jax.Array


class EMState(NamedTuple):
    """State of the EM loop.

    Attributes
    ----------
    params : GMMParams
        The current parameters :math:`\\theta`.
    log_joint : Array
        Shape (N, K). :math:`\\log \\pi_k + \\log\\mathcal{N}(x_i; \\mu_k, \\Sigma_k)` under
        ``params``: kept so that the next E-step reuses the densities that the
        previous iteration computed for its log-likelihood.
    """

    params: GMMParams
    log_joint: jax.Array


# ------------------------------------------------------------------ checks ---

def _check_params(params, x, name="params"):
    """Shapes always; weights and positive-definiteness when values are concrete."""
    if not isinstance(params, GMMParams):
        raise TypeError(f"{name} must be a GMMParams(weights, means, covs), "
                        f"got {type(params).__name__}")
    d = x.shape[1]
    w = _checks.array(params.weights, f"{name}.weights", ndim=1)
    k = w.shape[0]
    if k > x.shape[0]:
        raise ValueError(f"{name} has K = {k} components, "
                         f"more than the N = {x.shape[0]} data points")
    mu = _checks.array(params.means, f"{name}.means", shape=(k, d))
    cov = _checks.array(params.covs, f"{name}.covs", shape=(k, d, d))
    if _checks.is_concrete(w) and (bool(jnp.any(w <= 0)) or abs(float(jnp.sum(w)) - 1) > 1e-4):
        raise ValueError(f"{name}.weights must be > 0 and sum to 1, got {w}")
    if _checks.is_concrete(cov):
        if not bool(jnp.allclose(cov, jnp.swapaxes(cov, 1, 2), rtol=1e-5, atol=1e-6)):
            raise ValueError(f"{name}.covs must be symmetric")
        if not bool(jnp.all(jnp.isfinite(jnp.linalg.cholesky(cov)))):
            raise ValueError(f"{name}.covs must be positive definite")
    return GMMParams(w, mu, cov)


# ------------------------------------------------------------- densities ---

def log_joint(x, params):
    r"""Log joint of each point and component,
    :math:`\log \pi_k + \log\mathcal{N}(x_i; \mu_k, \Sigma_k)`.

    Uses the Cholesky factor :math:`\Sigma_k = L_k L_k^\top`:
    :math:`\log\mathcal{N} = -\tfrac{D}{2}\log 2\pi - \sum_j \log (L_k)_{jj}
    - \tfrac12 \|L_k^{-1}(x_i - \mu_k)\|^2`. The :math:`K` small triangular
    solves :math:`L_k^{-1}` are done once, so the :math:`N`-sized work is one
    matrix product :math:`x\,[L_1^{-\top} \cdots L_K^{-\top}]` for all
    components at once (scikit-learn's "precision Cholesky" form).

    Parameters
    ----------
    x : array_like, shape (N, D)
    params : GMMParams

    Returns
    -------
    Array, shape (N, K)
    """
    x = _checks.data(x)
    w, mu, cov = _check_params(params, x)
    d = x.shape[1]
    chol = jnp.linalg.cholesky(cov)                                       # (K, D, D)
    eye = jnp.broadcast_to(jnp.eye(d, dtype=chol.dtype), chol.shape)
    prec_chol = jnp.swapaxes(jax.scipy.linalg.solve_triangular(chol, eye, lower=True), 1, 2)
    half_log_det = jnp.sum(jnp.log(jnp.diagonal(chol, axis1=1, axis2=2)), axis=1)   # (K,)
    return ((jnp.log(w) - 0.5 * d * jnp.log(2 * jnp.pi) - half_log_det)[None, :]
            - 0.5 * _linalg.sq_norms(x, mu, prec_chol))                    # (N, K)


def log_likelihood(x, params):
    r"""Mean log-likelihood per point,
    :math:`\frac1N \sum_i \log \sum_k \pi_k \mathcal{N}(x_i; \mu_k, \Sigma_k)`.

    Parameters
    ----------
    x : array_like, shape (N, D)
    params : GMMParams

    Returns
    -------
    Array, scalar
    """
    return jnp.mean(logsumexp(log_joint(x, params), axis=1))


def responsibilities(x, params):
    r"""The E-step: the exact posterior :math:`r_{ik} = p(c_i = k \mid x_i, \theta)`.

    .. math::

        \log r_{ik} = \log \pi_k + \log\mathcal{N}(x_i; \mu_k, \Sigma_k)
        - \log\sum_j \pi_j \mathcal{N}(x_i; \mu_j, \Sigma_j)

    (Bishop 2006, eq. 9.23), in log space.

    Returns
    -------
    Array, shape (N, K)
    """
    return jax.nn.softmax(log_joint(x, params), axis=1)


def elbo(x, params, resp):
    r"""The ELBO of any :math:`q(c_i) = \mathrm{Cat}(r_i)`, together with the log-likelihood.

    .. math::

        \mathcal{L}(q, \theta) &= \frac1N \sum_i \sum_k r_{ik}
        \big(\log \pi_k - \log r_{ik} \\
        &\qquad {}+ \log\mathcal{N}(x_i; \mu_k, \Sigma_k)\big) \\
        &\le \frac1N \log p(x \mid \theta),

    with equality exactly when ``resp`` equals ``responsibilities(x, params)``,
    the E-step (Neal & Hinton 1998). Both are per data point.

    Parameters
    ----------
    x : array_like, shape (N, D)
    params : GMMParams
    resp : array_like, shape (N, K)
        Rows are distributions over the components.

    Returns
    -------
    elbo : Array, scalar
    log_lik : Array, scalar
    """
    lj = log_joint(x, params)
    resp = _checks.array(resp, "resp", shape=lj.shape)
    if _checks.is_concrete(resp) and not (
            bool(jnp.all(resp >= 0))
            and bool(jnp.allclose(jnp.sum(resp, axis=1), 1.0, atol=1e-4))):
        raise ValueError("resp must have rows that are distributions (>= 0, summing to 1)")
    bound = jnp.mean(jnp.sum(resp * lj - xlogy(resp, resp), axis=1))
    return bound, jnp.mean(logsumexp(lj, axis=1))


def m_step(x, resp, reg_covar=0.0):
    r"""The M-step: the parameters maximising :math:`\mathcal{L}(q, \theta)` for fixed ``resp``.

    .. math::

        N_k &= \sum_i r_{ik}, \qquad \pi_k = \frac{N_k}{N}, \qquad
        \mu_k = \frac{1}{N_k}\sum_i r_{ik} x_i, \\
        \Sigma_k &= \frac{1}{N_k}\sum_i r_{ik}(x_i - \mu_k)(x_i - \mu_k)^\top
        + \epsilon I

    (Bishop 2006, eqs. 9.24–9.26). ``reg_covar`` :math:`= \epsilon \ge 0` is a
    covariance floor, as in scikit-learn; it keeps a component from collapsing
    onto one point. As in scikit-learn, :math:`N_k` gets :math:`10` machine
    epsilons added so that an empty component gives no 0/0.

    Parameters
    ----------
    x : array_like, shape (N, D)
    resp : array_like, shape (N, K)
    reg_covar : float

    Returns
    -------
    GMMParams
    """
    x = _checks.data(x)
    resp = _checks.array(resp, "resp", ndim=2, shape=(x.shape[0], None))
    _checks.nonnegative(reg_covar, "reg_covar")
    nk = jnp.sum(resp, axis=0) + 10 * jnp.finfo(resp.dtype).eps        # (K,)
    means = (resp.T @ x) / nk[:, None]                                    # (K, D)
    covs = _linalg.scatter(x, resp, means) / nk[:, None, None]
    covs = covs + reg_covar * jnp.eye(x.shape[1])[None, :, :]             # (K, D, D)
    return GMMParams(nk / x.shape[0], means, covs)


# --------------------------------------------------------------- the loop ---

def em_init(x, params):
    """Start EM from ``params`` (checked): computes their log joint.

    Parameters
    ----------
    x : array_like, shape (N, D)
    params : GMMParams

    Returns
    -------
    EMState
    """
    x = _checks.data(x)
    params = _check_params(params, x, "init")
    return EMState(params, log_joint(x, params))


def em_step(state, x, reg_covar=0.0):
    """One EM iteration: E-step from the stored log joint, M-step, new log joint.

    Parameters
    ----------
    state : EMState
    x : array_like, shape (N, D)
    reg_covar : float

    Returns
    -------
    state : EMState
        Holds :math:`\\theta_{t+1}`, the parameters this iteration produced.
    log_lik : Array, scalar
        Mean log-likelihood per point of :math:`\\theta_{t+1}`.
    """
    resp = jax.nn.softmax(state.log_joint, axis=1)                         # (N, K)
    params = m_step(x, resp, reg_covar)
    lj = log_joint(x, params)                                             # (N, K)
    return EMState(params, lj), jnp.mean(logsumexp(lj, axis=1))


def fit_gmm(x, init, num_iters, reg_covar=0.0):
    r"""Fit a Gaussian mixture by EM, from ``init``, for exactly ``num_iters`` iterations.

    Parameters
    ----------
    x : array_like, shape (N, D)
        The data.
    init : GMMParams
        The starting parameters :math:`\theta_0` (e.g. from :func:`init_gmm`).
    num_iters : int
        Number of EM iterations (no early stopping).
    reg_covar : float
        Covariance floor :math:`\epsilon \ge 0` added in every M-step
        (:func:`m_step`); 0 gives plain maximum likelihood.

    Returns
    -------
    params : GMMParams
        :math:`\theta_T`, after ``num_iters`` iterations.
    log_lik : Array, shape (num_iters,)
        ``log_lik[t]`` is the mean log-likelihood per point,
        :math:`\frac1N\log p(x \mid \theta_{t+1})`, of the parameters produced
        by iteration :math:`t+1`; so ``log_lik[-1]`` belongs to the returned
        ``params``. It never decreases. (scikit-learn's ``lower_bound_`` after
        ``max_iter = T`` is instead the value at :math:`\theta_{T-1}`, and its
        ``score(x)`` is ``log_lik[-1]``.)
    """
    num_iters = _checks.positive_int(num_iters, "num_iters")
    _checks.nonnegative(reg_covar, "reg_covar")
    x = _checks.data(x)
    state = em_init(x, init)
    state, trace = _scan.iterate(em_step, state, (x, reg_covar), num_iters)
    return state.params, trace


def init_gmm(key, x, num_components):
    r"""Starting parameters: k-means++ seeding for the means (Arthur & Vassilvitskii 2007).

    The first mean is a uniformly random data point; each next one is a data
    point drawn with probability proportional to its squared distance to the
    nearest mean chosen so far. Weights start uniform, and every covariance
    starts at the covariance of the whole data set (plus :math:`10^{-6} I`, so
    that it is positive definite even for degenerate data).

    Parameters
    ----------
    key : PRNG key
    x : array_like, shape (N, D)
    num_components : int
        :math:`K \le N`.

    Returns
    -------
    GMMParams
    """
    _checks.key(key)
    x = _checks.data(x)
    k = _checks.positive_int(num_components, "num_components")
    n, d = x.shape
    if k > n:
        raise ValueError(f"num_components must be at most the number of points N = {n}, got {k}")
    keys = jax.random.split(key, k)
    means = [x[jax.random.randint(keys[0], (), 0, n)]]
    for key_j in keys[1:]:
        chosen = jnp.stack(means)                                         # (J, D)
        sq_dist = jnp.sum((x[:, None, :] - chosen[None, :, :]) ** 2, axis=-1)  # (N, J)
        dist2 = jnp.min(sq_dist, axis=1)          # to the nearest chosen mean, (N,)
        p = dist2 / jnp.sum(dist2) if float(jnp.sum(dist2)) > 0 else jnp.full(n, 1.0 / n)
        means.append(x[jax.random.choice(key_j, n, p=p)])
    cov = jnp.cov(x.T).reshape(d, d) + 1e-6 * jnp.eye(d) if n > 1 else jnp.eye(d)
    return GMMParams(jnp.full(k, 1.0 / k), jnp.stack(means), jnp.broadcast_to(cov, (k, d, d)))
