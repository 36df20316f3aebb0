r"""Stochastic variational inference (SVI) for the Bayesian mixture of Gaussians.

SVI (Hoffman, Blei, Wang & Paisley 2013) scales coordinate ascent to many
data points for the mixture of :mod:`vibook.mixture`. Each step takes a
minibatch :math:`B` of the :math:`N` points, optimises its local factors
:math:`q(c_i)`, forms the *intermediate* global parameters :math:`\hat\eta`
as if the minibatch were repeated :math:`N/|B|` times, and moves the natural
parameters of the global factors :math:`q(\mu_k)` a step :math:`\rho_t`
towards them:

.. math:: \eta \leftarrow (1 - \rho_t)\,\eta + \rho_t\,\hat\eta, \qquad
          \rho_t = (t + \tau)^{-\kappa}.

:math:`\hat\eta - \eta` is the *natural gradient* of the ELBO, so this is
stochastic natural-gradient ascent; with :math:`\kappa \in (0.5, 1]` and
:math:`\tau \ge 1` the steps satisfy the Robbins–Monro conditions.

The module follows the algorithm contract: :func:`init`, :func:`step` (one
minibatch; deterministic given the batch) and :func:`fit` (shuffled epochs in
``lax.scan``, data-parallel inside :func:`vibook.device.data_parallel`).
:func:`elbo` is the full-data objective SVI climbs. Minibatch VI without
conjugacy is :func:`vibook.vi.minibatch_fit`.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp

from vibook import _checks, _scan, mixture


class SVIState(NamedTuple):
    r"""Global variational parameters :math:`q(\mu_k) = \mathcal{N}(m_k, s^2_k I)` and the step count."""

    m: jax.Array    # (K, D)
    s2: jax.Array   # (K,)
    t: jax.Array    # () number of steps taken


class SVIInfo(NamedTuple):
    r"""What one :func:`step` reports.

    Attributes
    ----------
    elbo : Array
        Scalar: an unbiased minibatch estimate of the full-data objective
        :math:`\mathcal{L}(\eta)` (:func:`elbo`) at the globals *before* the
        step, a total over the :math:`N` points: the global terms plus the
        minibatch's local terms scaled by :math:`N/|B|`.
    rho : Array
        Scalar: the step size :math:`\rho_t` used.
    m : Array
        Shape (K, D): the variational means *after* the step, so that a
        fit's trajectory can be scored with :func:`elbo`.
    s2 : Array
        Shape (K,): the variational variances after the step.
    """

    elbo: jax.Array
    rho: jax.Array
    m: jax.Array
    s2: jax.Array


# --- the step-size schedule -------------------------------------------------------------------

def _check_schedule(tau, kappa):
    _checks.positive(tau, "tau")
    if _checks.is_concrete(tau) and float(tau) < 1.0:
        raise ValueError("tau must be >= 1: the first step is rho_0 = tau**(-kappa), and tau < 1 "
                         f"gives rho_0 > 1, a step that extrapolates, got tau={tau}")
    _checks.positive(kappa, "kappa")
    if _checks.is_concrete(kappa) and not 0.5 < float(kappa) <= 1.0:
        raise ValueError("kappa must lie in (0.5, 1] for the Robbins-Monro conditions, "
                         f"got {kappa}")


def step_size(t, tau, kappa):
    r""":math:`\rho_t = (t + \tau)^{-\kappa}` for steps :math:`t = 0, 1, 2, \dots`
    (Hoffman et al. 2013, eq. 26).

    For :math:`\kappa \in (0.5, 1]` and :math:`\tau \ge 1` (so that :math:`\rho_0 \le 1`),
    :math:`\sum_t \rho_t = \infty` and :math:`\sum_t \rho_t^2 < \infty`
    (Robbins & Monro 1951). ``tau = 1, kappa = 1`` gives :math:`\rho_t = 1/(t + 1)`:
    1, 1/2, 1/3, ... ``t`` may be an array of steps (each :math:`\ge 0`).

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> [round(r, 4) for r in step_size(jnp.arange(3), 1.0, 1.0).tolist()]   # 1 / (t + 1)
    [1.0, 0.5, 0.3333]
    """
    _check_schedule(tau, kappa)
    t = _checks.array(t, "t")
    if _checks.is_concrete(t) and t.size and float(jnp.min(t)) < 0:
        raise ValueError(f"t must be >= 0 (a step count), got a minimum of {float(jnp.min(t))}")
    return (t + tau) ** (-kappa)


# --- natural parameters -----------------------------------------------------------------------

def _to_natural(m, s2):
    return m / s2[:, None], -0.5 / s2


def _from_natural(eta1, eta2):
    s2 = -0.5 / eta2
    return eta1 * s2[:, None], s2


def to_natural(m, s2):
    r"""Natural parameters of :math:`q(\mu_k) = \mathcal{N}(m_k, s^2_k I)`:
    :math:`\eta_{k,1} = m_k / s^2_k`, :math:`\eta_{k,2} = -1/(2 s^2_k)`.

    Parameters
    ----------
    m : array_like, shape (K, D)
    s2 : array_like, shape (K,)
        Every entry :math:`> 0`.

    Returns
    -------
    eta1 : Array, shape (K, D)
    eta2 : Array, shape (K,)

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> eta1, eta2 = to_natural(jnp.array([[1.0, 2.0]]), jnp.array([0.5]))
    >>> eta1.tolist(), eta2.tolist()                            # m / s2, -1 / (2 s2)
    ([[2.0, 4.0]], [-1.0])
    """
    m = _checks.array(m, "m", ndim=2)
    return _to_natural(m, _checks.positive_entries(s2, "s2", shape=(m.shape[0],)))


def from_natural(eta1, eta2):
    """Inverse of :func:`to_natural`: ``(m, s2)`` from ``eta1`` (K, D) and ``eta2`` (K,), every entry < 0.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> m, s2 = from_natural(jnp.array([[2.0, 4.0]]), jnp.array([-1.0]))
    >>> m.tolist(), s2.tolist()                                 # undoes to_natural
    ([[1.0, 2.0]], [0.5])
    """
    eta1 = _checks.array(eta1, "eta1", ndim=2)
    eta2 = _checks.array(eta2, "eta2", shape=(eta1.shape[0],))
    if _checks.is_concrete(eta2) and not bool(jnp.all(eta2 < 0)):
        raise ValueError("eta2 must have every entry < 0 (eta2 = -1 / (2 s2))")
    return _from_natural(eta1, eta2)


# --- the algorithm ----------------------------------------------------------------------------

def init(key, x, num_components, prior_scale):
    """Start SVI where :func:`vibook.mixture.init` starts CAVI (same key, same means), at ``t = 0``.

    Parameters
    ----------
    key : PRNG key
    x : array_like, shape (N, D)
    num_components : int
        :math:`K \\le N`.
    prior_scale : float
        :math:`\\sigma > 0`.

    Returns
    -------
    SVIState

    Examples
    --------
    >>> import jax
    >>> x = jax.random.normal(jax.random.key(0), (20, 2))
    >>> state = init(jax.random.key(1), x, 2, 1.0)
    >>> state.m.shape, state.s2.shape, int(state.t)
    ((2, 2), (2,), 0)
    """
    state = mixture.init(key, x, num_components, prior_scale)
    return SVIState(state.m, state.s2, jnp.zeros((), jnp.int32))


def _check_state(state, dim):
    if isinstance(state, mixture.MixtureState):
        raise TypeError("state must be an SVIState, made by vibook.svi.init (which starts where "
                        "vibook.mixture.init does, from the same key); got a MixtureState")
    _checks.state(state, SVIState, "vibook.svi.init")
    m = _checks.array(state.m, "state.m", ndim=2, shape=(None, dim))
    _checks.positive_entries(state.s2, "state.s2", shape=(m.shape[0],))


def _step(state, x_batch, num_data, prior_scale, tau, kappa):
    scale = num_data / x_batch.shape[0]                                  # N / |B|
    phi = mixture.update_local(state.m, state.s2, x_batch)              # (|B|, K)
    estimate = mixture._elbo(mixture.MixtureState(state.m, state.s2, phi), x_batch,
                             prior_scale, scale)
    m_hat, s2_hat = mixture.update_global(phi, x_batch, prior_scale, scale)
    rho = (state.t + tau) ** (-kappa)                                    # step_size(t)
    eta, eta_hat = _to_natural(state.m, state.s2), _to_natural(m_hat, s2_hat)
    m, s2 = _from_natural(*((1 - rho) * e + rho * e_hat for e, e_hat in zip(eta, eta_hat)))
    return SVIState(m, s2, state.t + 1), SVIInfo(estimate, rho, m, s2)


def step(state, x_batch, num_data, prior_scale, tau=1.0, kappa=0.7):
    r"""One SVI step on a minibatch (Hoffman et al. 2013, Algorithm 1).

    1. Local step: :math:`\phi_i` for :math:`i \in B` by :func:`vibook.mixture.update_local`.
    2. Intermediate globals :math:`(\hat m, \hat s^2)` by
       :func:`vibook.mixture.update_global` with the data sums scaled by :math:`N/|B|`.
    3. :math:`\eta \leftarrow (1 - \rho_t)\eta + \rho_t\hat\eta` in natural parameters.

    Deterministic given the minibatch: the caller draws it (:func:`fit` shuffles).

    Parameters
    ----------
    state : SVIState
        From :func:`init` or a previous step.
    x_batch : array_like, shape (|B|, D)
    num_data : int
        :math:`N \ge |B|`, the size of the whole data set.
    prior_scale : float
        :math:`\sigma > 0`.
    tau, kappa : float
        The schedule :math:`\rho_t = (t + \tau)^{-\kappa}`; ``tau >= 1`` (so that :math:`\rho_0 \le 1`), ``kappa`` in (0.5, 1].

    Returns
    -------
    state : SVIState
    info : SVIInfo

    Examples
    --------
    >>> import jax
    >>> x = jax.random.normal(jax.random.key(0), (20, 2))
    >>> state, info = step(init(jax.random.key(1), x, 2, 1.0), x[:5], 20, 1.0)
    >>> float(info.rho), int(state.t)                           # rho_0 = (0 + 1)^(-0.7)
    (1.0, 1)
    """
    x_batch = _checks.data(x_batch, "x_batch")
    _check_state(state, x_batch.shape[1])
    num_data = _checks.positive_int(num_data, "num_data")
    _checks.at_most(x_batch.shape[0], num_data, "the minibatch size |B|", "num_data")
    _checks.positive(prior_scale, "prior_scale")
    _check_schedule(tau, kappa)
    return _step(state, x_batch, num_data, prior_scale, tau, kappa)


def _epoch(key, state, x, prior_scale, tau, kappa, *, batch_size):
    return _scan.epoch(_step, state, x, batch_size, key,
                       args=(x.shape[0], prior_scale, tau, kappa))


def fit(key, x, state, num_epochs, batch_size, prior_scale, tau=1.0, kappa=0.7):
    r"""Run SVI for ``num_epochs`` shuffled passes over ``x``, in one compiled ``lax.scan``.

    Parameters
    ----------
    key : PRNG key
        Shuffles the data every epoch.
    x : array_like, shape (N, D)
    state : SVIState
        The start, from :func:`init` (not a :class:`vibook.mixture.MixtureState`).
    num_epochs, batch_size : int
        Each epoch takes ``N // batch_size`` steps (the rest of the shuffled
        points sit it out).
    prior_scale : float
        :math:`\sigma > 0`.
    tau, kappa : float
        The schedule :math:`\rho_t = (t + \tau)^{-\kappa}`; ``tau >= 1`` (so that :math:`\rho_0 \le 1`), ``kappa`` in (0.5, 1].

    Returns
    -------
    state : SVIState
    info : SVIInfo
        Stacked over the ``T = num_epochs * (N // batch_size)`` steps:
        ``elbo`` and ``rho`` have shape (T,), ``m`` (T, K, D), ``s2`` (T, K);
        ``elbo(info.m, info.s2, x, prior_scale)`` scores the trajectory exactly.

    Raises
    ------
    FloatingPointError
        If the ELBO estimate stops being finite (naming the step).

    Examples
    --------
    >>> import jax
    >>> x = jax.random.normal(jax.random.key(0), (20, 2))
    >>> start = init(jax.random.key(1), x, 2, 1.0)
    >>> state, info = fit(jax.random.key(2), x, start, 2, 5, 1.0)   # 2 epochs of 20 // 5 steps
    >>> int(state.t), info.elbo.shape, info.m.shape
    (8, (8,), (8, 2, 2))
    """
    _checks.key(key)
    x = _checks.data(x)
    _check_state(state, x.shape[1])
    num_epochs = _checks.positive_int(num_epochs, "num_epochs")
    batch_size = _checks.batch_size(batch_size, x.shape[0])
    _checks.positive(prior_scale, "prior_scale")
    _check_schedule(tau, kappa)
    state = SVIState(*(jnp.asarray(a) for a in state))
    return _scan.run(_epoch, state, (x, prior_scale, tau, kappa), num_epochs, key=key,
                     static={"batch_size": batch_size}, name="vibook.svi.fit", epochs=True)


# --- the objective ----------------------------------------------------------------------------

@jax.jit
def _elbo(m, s2, x, prior_scale):
    # phi* maximises the ELBO, so by the envelope theorem the gradient holds it fixed;
    # stopping it also keeps the gradient finite where phi* underflows to 0.
    phi = jax.lax.stop_gradient(mixture.update_local(m, s2, x))          # (N, K)
    return mixture.elbo(mixture.MixtureState(m, s2, phi), x, prior_scale)


def elbo(m, s2, x, prior_scale):
    r"""The mixture ELBO of the global parameters ``(m, s2)``, every :math:`q(c_i)` at its
    optimum: a total over the :math:`N` points.

    :math:`\mathcal{L}(m, s^2) = \max_\phi \mathcal{L}(m, s^2, \phi)`, the
    objective SVI climbs (Hoffman et al. 2013, §2.3), computed exactly on all
    of ``x``. Its gradient (``jax.grad``) holds :math:`\phi` at the optimum,
    which is exact by the envelope theorem. ``m`` and ``s2`` may carry a
    leading axis of steps (``info.m`` and ``info.s2`` of :func:`fit`); the
    result then has that shape.

    Parameters
    ----------
    m : array_like, shape (K, D) or (T, K, D)
    s2 : array_like, shape (K,) or (T, K)
        Every entry :math:`> 0`.
    x : array_like, shape (N, D)
    prior_scale : float
        :math:`\sigma > 0`.

    Examples
    --------
    >>> import jax
    >>> x = jax.random.normal(jax.random.key(0), (20, 2))
    >>> state = init(jax.random.key(1), x, 2, 1.0)
    >>> new, _ = step(state, x, 20, 1.0)        # the whole data with rho_0 = 1: a CAVI sweep
    >>> bool(elbo(new.m, new.s2, x, 1.0) >= elbo(state.m, state.s2, x, 1.0))
    True
    """
    x = _checks.data(x)
    _checks.positive(prior_scale, "prior_scale")
    m = _checks.array(m, "m", ndim=(2, 3))
    if m.shape[-1] != x.shape[1]:
        raise ValueError(f"m must have D = {x.shape[1]} columns like x, got shape {m.shape}")
    s2 = _checks.positive_entries(s2, "s2", shape=m.shape[:-1])
    if m.ndim == 3:
        return jax.lax.map(lambda ms: _elbo(*ms, x, prior_scale), (m, s2))
    return _elbo(m, s2, x, prior_scale)
