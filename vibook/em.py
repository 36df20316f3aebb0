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
space (log-sum-exp). The algorithm follows the package's contract:
:func:`init`, :func:`step` and :func:`fit` (``lax.scan``), each reporting an
:class:`EMInfo`; :func:`fit_gmm` is the short form returning the parameters
and the log-likelihood trace, and :func:`sklearn_fit` runs scikit-learn's EM
from the same start, for comparison.

Every objective here is a **mean per data point** (divided by :math:`N`), as
scikit-learn's ``score`` is.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import logsumexp, xlogy

from vibook import _checks, _linalg, _scan, _sklearn


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


class EMInfo(NamedTuple):
    """What one :func:`step` reports.

    Attributes
    ----------
    log_likelihood : Array
        Scalar. :math:`\\frac1N\\log p(x \\mid \\theta_{t+1})`, the log-likelihood
        of the new parameters as a **mean per data point**; it never decreases
        from step to step.
    """

    log_likelihood: jax.Array


# ------------------------------------------------------------------ checks ---

def _check_params(params, x, name="params"):
    """Shapes always; weights and positive-definiteness when values are concrete."""
    _checks.state(params, GMMParams, "vibook.em.init_gmm or GMMParams(weights, means, covs)",
                  name=name)
    d = x.shape[1]
    w = _checks.positive_entries(params.weights, f"{name}.weights", ndim=1)
    _checks.simplex(w, f"{name}.weights")
    k = w.shape[0]
    if k > x.shape[0]:
        raise ValueError(f"{name} has K = {k} components, "
                         f"more than the N = {x.shape[0]} data points")
    mu = _checks.array(params.means, f"{name}.means", shape=(k, d))
    cov = _checks.array(params.covs, f"{name}.covs", shape=(k, d, d))
    _checks.spd(cov, f"{name}.covs", ndim=3)
    return GMMParams(w, mu, cov)


def _check_resp(resp, x):
    resp = _checks.array(resp, "resp", ndim=2, shape=(x.shape[0], None))
    return _checks.simplex(resp, "resp")


# ------------------------------------------------------------- densities ---

def _log_joint(x, params):
    w, mu, cov = params
    d = x.shape[1]
    chol = jnp.linalg.cholesky(cov)                                       # (K, D, D)
    eye = jnp.broadcast_to(jnp.eye(d, dtype=chol.dtype), chol.shape)
    prec_chol = jnp.swapaxes(jax.scipy.linalg.solve_triangular(chol, eye, lower=True), 1, 2)
    half_log_det = jnp.sum(jnp.log(jnp.diagonal(chol, axis1=1, axis2=2)), axis=1)   # (K,)
    return ((jnp.log(w) - 0.5 * d * jnp.log(2 * jnp.pi) - half_log_det)[None, :]
            - 0.5 * _linalg.sq_norms(x, mu, prec_chol))                    # (N, K)


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

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from vibook import em
    >>> x = jnp.array([[-2.0], [-1.0], [1.0], [2.0]])
    >>> params = em.GMMParams(jnp.full(2, 0.5), jnp.array([[-1.5], [1.5]]), jnp.ones((2, 1, 1)))
    >>> lj = em.log_joint(x, params)
    >>> lj.shape, round(float(lj[0, 0]), 4)     # log 0.5 + log N(-2; -1.5, 1)
    ((4, 2), -1.7371)
    """
    x = _checks.data(x)
    return _log_joint(x, _check_params(params, x))


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
        The log-likelihood, a mean per data point.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from vibook import em
    >>> x = jnp.array([[-2.0], [-1.0], [1.0], [2.0]])
    >>> params = em.GMMParams(jnp.full(2, 0.5), jnp.array([[-1.5], [1.5]]), jnp.ones((2, 1, 1)))
    >>> one = em.GMMParams(jnp.ones(1), jnp.zeros((1, 1)), jnp.ones((1, 1, 1)))  # N(0, 1)
    >>> round(float(em.log_likelihood(x, one)), 4)     # -log(2 pi) / 2 - mean(x**2) / 2
    -2.1689
    """
    return jnp.mean(logsumexp(log_joint(x, params), axis=1))


def responsibilities(x, params):
    r"""The E-step: the exact posterior :math:`r_{ik} = p(c_i = k \mid x_i, \theta)`.

    .. math::

        \log r_{ik} = \log \pi_k + \log\mathcal{N}(x_i; \mu_k, \Sigma_k)
        - \log\sum_j \pi_j \mathcal{N}(x_i; \mu_j, \Sigma_j)

    (Bishop 2006, eq. 9.23), in log space.

    Parameters
    ----------
    x : array_like, shape (N, D)
    params : GMMParams

    Returns
    -------
    Array, shape (N, K)

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from vibook import em
    >>> x = jnp.array([[-2.0], [-1.0], [1.0], [2.0]])
    >>> params = em.GMMParams(jnp.full(2, 0.5), jnp.array([[-1.5], [1.5]]), jnp.ones((2, 1, 1)))
    >>> r = em.responsibilities(x, params)
    >>> bool(jnp.allclose(r.sum(axis=1), 1.0)), round(float(r[1, 0]), 4)   # sigmoid(3) for x = -1
    (True, 0.9526)
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
    the E-step (Neal & Hinton 1998).

    Parameters
    ----------
    x : array_like, shape (N, D)
    params : GMMParams
    resp : array_like, shape (N, K)
        Rows are distributions over the components.

    Returns
    -------
    elbo : Array, scalar
        :math:`\mathcal{L}(q, \theta)`, a mean per data point.
    log_lik : Array, scalar
        :math:`\frac1N\log p(x \mid \theta)`, a mean per data point.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from vibook import em
    >>> x = jnp.array([[-2.0], [-1.0], [1.0], [2.0]])
    >>> params = em.GMMParams(jnp.full(2, 0.5), jnp.array([[-1.5], [1.5]]), jnp.ones((2, 1, 1)))
    >>> bound, log_lik = em.elbo(x, params, em.responsibilities(x, params))
    >>> bool(jnp.allclose(bound, log_lik, atol=1e-5))           # tight at the E-step
    True
    >>> bool(em.elbo(x, params, jnp.full((4, 2), 0.5))[0] < log_lik)  # below it elsewhere
    True
    """
    x = _checks.data(x)
    lj = _log_joint(x, _check_params(params, x))
    resp = _checks.array(_check_resp(resp, x), "resp", shape=lj.shape)
    bound = jnp.mean(jnp.sum(resp * lj - xlogy(resp, resp), axis=1))
    return bound, jnp.mean(logsumexp(lj, axis=1))


def _m_step(x, resp, reg_covar):
    nk = jnp.sum(resp, axis=0) + 10 * jnp.finfo(resp.dtype).eps        # (K,)
    means = (resp.T @ x) / nk[:, None]                                    # (K, D)
    covs = _linalg.scatter(x, resp, means) / nk[:, None, None]
    covs = covs + reg_covar * jnp.eye(x.shape[1])[None, :, :]             # (K, D, D)
    return GMMParams(nk / x.shape[0], means, covs)


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
        Rows are distributions over the components.
    reg_covar : float
        :math:`\epsilon \ge 0`.

    Returns
    -------
    GMMParams

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from vibook import em
    >>> x = jnp.array([[-2.0], [-1.0], [1.0], [2.0]])
    >>> params = em.GMMParams(jnp.full(2, 0.5), jnp.array([[-1.5], [1.5]]), jnp.ones((2, 1, 1)))
    >>> resp = jnp.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    >>> new = em.m_step(x, resp)                  # each component fits its own two points
    >>> new.means.ravel().round(4).tolist(), new.covs.ravel().round(4).tolist()
    ([-1.5, 1.5], [0.25, 0.25])
    """
    x = _checks.data(x)
    resp = _check_resp(resp, x)
    _checks.nonnegative(reg_covar, "reg_covar")
    return _m_step(x, resp, reg_covar)


# --------------------------------------------------------------- the loop ---

def init(x, params):
    """Start EM from ``params`` (checked): computes their log joint.

    Parameters
    ----------
    x : array_like, shape (N, D)
    params : GMMParams
        :math:`\\theta_0`, e.g. from :func:`init_gmm`.

    Returns
    -------
    EMState

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from vibook import em
    >>> x = jnp.array([[-2.0], [-1.0], [1.0], [2.0]])
    >>> params = em.GMMParams(jnp.full(2, 0.5), jnp.array([[-1.5], [1.5]]), jnp.ones((2, 1, 1)))
    >>> state = em.init(x, params)
    >>> bool(jnp.allclose(state.log_joint, em.log_joint(x, params)))
    True
    """
    x = _checks.data(x)
    return _init(x, _check_params(params, x))


def _init(x, params):
    """:func:`init` on checked arguments."""
    return EMState(params, _log_joint(x, params))


def _step(state, x, reg_covar):
    resp = jax.nn.softmax(state.log_joint, axis=1)                         # (N, K)
    params = _m_step(x, resp, reg_covar)
    lj = _log_joint(x, params)                                            # (N, K)
    return EMState(params, lj), EMInfo(jnp.mean(logsumexp(lj, axis=1)))


def step(state, x, reg_covar=0.0):
    """One EM iteration: E-step from the stored log joint, M-step, new log joint.

    Parameters
    ----------
    state : EMState
        From :func:`init` or a previous step.
    x : array_like, shape (N, D)
    reg_covar : float
        Covariance floor :math:`\\epsilon \\ge 0` (:func:`m_step`).

    Returns
    -------
    state : EMState
        Holds :math:`\\theta_{t+1}`, the parameters this iteration produced.
    info : EMInfo
        ``info.log_likelihood``: the log-likelihood of :math:`\\theta_{t+1}`,
        a mean per data point.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from vibook import em
    >>> x = jnp.array([[-2.0], [-1.0], [1.0], [2.0]])
    >>> params = em.GMMParams(jnp.full(2, 0.5), jnp.array([[-1.5], [1.5]]), jnp.ones((2, 1, 1)))
    >>> state, info = em.step(em.init(x, params), x)
    >>> bool(info.log_likelihood >= em.log_likelihood(x, params))    # never decreases
    True
    """
    x = _checks.data(x)
    _checks.state(state, EMState, "vibook.em.init")
    params = _check_params(state.params, x, "state.params")
    k = params.weights.shape[0]
    lj = _checks.array(state.log_joint, "state.log_joint", shape=(x.shape[0], k))
    _checks.nonnegative(reg_covar, "reg_covar")
    state, info = _step(EMState(params, lj), x, reg_covar)
    _checks.finite_objective(info.log_likelihood, "log-likelihood", "a component collapsed "
                             "onto too few points (use reg_covar > 0), or x holds NaN or inf")
    return state, info


def fit(x, params, num_steps, reg_covar=0.0):
    r"""Run EM from ``params`` for exactly ``num_steps`` iterations in ``lax.scan``.

    Parameters
    ----------
    x : array_like, shape (N, D)
        The data.
    params : GMMParams
        The starting parameters :math:`\theta_0` (e.g. from :func:`init_gmm`).
    num_steps : int
        Number of EM iterations (no early stopping).
    reg_covar : float
        Covariance floor :math:`\epsilon \ge 0` added in every M-step
        (:func:`m_step`); 0 gives plain maximum likelihood.

    Returns
    -------
    state : EMState
        Holds :math:`\theta_T`, after ``num_steps`` iterations.
    info : EMInfo
        ``info.log_likelihood``, shape (num_steps,): entry :math:`t` is
        :math:`\frac1N\log p(x \mid \theta_{t+1})`, a mean per data point,
        of the parameters produced by iteration :math:`t+1`; so the last entry
        belongs to the returned parameters. It never decreases.

    Raises
    ------
    FloatingPointError
        If the log-likelihood stops being finite (naming the step), e.g. when
        a component collapses onto one point with ``reg_covar = 0``.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from vibook import em
    >>> x = jnp.array([[-2.0], [-1.0], [1.0], [2.0]])
    >>> params = em.GMMParams(jnp.full(2, 0.5), jnp.array([[-1.5], [1.5]]), jnp.ones((2, 1, 1)))
    >>> state, info = em.fit(x, params, 5, reg_covar=1e-3)
    >>> info.log_likelihood.shape, bool(jnp.all(jnp.diff(info.log_likelihood) >= -1e-6))
    ((5,), True)
    """
    num_steps = _checks.positive_int(num_steps, "num_steps")
    _checks.nonnegative(reg_covar, "reg_covar")
    x = _checks.data(x)
    state = _init(x, _check_params(params, x))
    return _scan.run(_step, state, (x, reg_covar), num_steps, name="vibook.em.fit",
                     objective="log_likelihood")


def fit_gmm(x, init, num_steps, reg_covar=0.0):
    r"""Fit a Gaussian mixture by EM: :func:`fit`, returning the parameters and the trace.

    Parameters
    ----------
    x : array_like, shape (N, D)
        The data.
    init : GMMParams
        The starting parameters :math:`\theta_0` (e.g. from :func:`init_gmm`).
    num_steps : int
        Number of EM iterations (no early stopping).
    reg_covar : float
        Covariance floor :math:`\epsilon \ge 0` (:func:`m_step`).

    Returns
    -------
    params : GMMParams
        :math:`\theta_T`, after ``num_steps`` iterations.
    log_lik : Array, shape (num_steps,)
        ``log_lik[t]`` is the mean log-likelihood per point,
        :math:`\frac1N\log p(x \mid \theta_{t+1})`, of the parameters produced
        by iteration :math:`t+1`; so ``log_lik[-1]`` belongs to the returned
        ``params``. It never decreases. (scikit-learn's ``lower_bound_`` after
        ``max_iter = T`` is instead the value at :math:`\theta_{T-1}`, and its
        ``score(x)`` is ``log_lik[-1]``.)

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from vibook import em
    >>> x = jnp.array([[-2.0], [-1.0], [1.0], [2.0]])
    >>> params = em.GMMParams(jnp.full(2, 0.5), jnp.array([[-1.5], [1.5]]), jnp.ones((2, 1, 1)))
    >>> fitted, log_lik = em.fit_gmm(x, params, 5, reg_covar=1e-3)
    >>> log_lik.shape, bool(jnp.allclose(log_lik[-1], em.log_likelihood(x, fitted)))
    ((5,), True)
    """
    init = _check_params(init, _checks.data(x), "init")    # named as the caller knows it
    state, info = fit(x, init, num_steps, reg_covar)
    return state.params, info.log_likelihood


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

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from vibook import em
    >>> x = jnp.array([[-2.0], [-1.0], [1.0], [2.0]])
    >>> params = em.GMMParams(jnp.full(2, 0.5), jnp.array([[-1.5], [1.5]]), jnp.ones((2, 1, 1)))
    >>> import jax
    >>> start = em.init_gmm(jax.random.key(0), x, 2)
    >>> start.weights.tolist(), start.covs.shape, bool(jnp.isin(start.means, x).all())
    ([0.5, 0.5], (2, 1, 1), True)
    """
    _checks.key(key)
    x = _checks.data(x)
    k = _checks.num_components(num_components, x.shape[0])
    n, d = x.shape
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


def sklearn_fit(x, init, num_steps, reg_covar=0.0):
    """scikit-learn's EM from the same start: a fitted ``sklearn.mixture.GaussianMixture``.

    ``weights_init``, ``means_init`` and ``precisions_init`` (the inverse
    covariances) set :math:`\\theta_0`, and nothing else is drawn (see
    ``vibook/_sklearn.py``);
    ``tol=0`` and ``max_iter=num_steps`` run exactly ``num_steps`` iterations,
    with the same covariance floor. The data and the start are converted to
    float64, scikit-learn's precision; its ``ConvergenceWarning`` (we stop on
    purpose) is silenced. The result's ``weights_``, ``means_`` and
    ``covariances_`` are then comparable with :func:`fit_gmm`'s parameters and
    its ``score(x)`` with the last log-likelihood.

    Parameters
    ----------
    x : array_like, shape (N, D)
    init : GMMParams
        :math:`\\theta_0`, as passed to :func:`fit_gmm`.
    num_steps : int
    reg_covar : float

    Returns
    -------
    sklearn.mixture.GaussianMixture
        Fitted.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from vibook import em
    >>> x = jnp.array([[-2.0], [-1.0], [1.0], [2.0]])
    >>> params = em.GMMParams(jnp.full(2, 0.5), jnp.array([[-1.5], [1.5]]), jnp.ones((2, 1, 1)))
    >>> import numpy as np
    >>> model = em.sklearn_fit(x, params, 5, reg_covar=1e-3)
    >>> log_lik = em.fit_gmm(x, params, 5, reg_covar=1e-3)[1]
    >>> bool(abs(model.score(np.asarray(x)) - float(log_lik[-1])) < 1e-4)  # the same EM
    True
    """
    from sklearn.mixture import GaussianMixture

    init = _check_params(init, _checks.data(x), "init")
    num_steps = _checks.positive_int(num_steps, "num_steps")
    _checks.nonnegative(reg_covar, "reg_covar")
    weights, means, covs = (np.asarray(a, np.float64) for a in init)
    model = _sklearn.started(
        GaussianMixture, n_components=len(weights), covariance_type="full", tol=0.0,
        max_iter=num_steps, reg_covar=float(reg_covar), weights_init=weights / weights.sum(),
        means_init=means, precisions_init=np.linalg.inv(covs))
    return _sklearn.fit(model, x)
