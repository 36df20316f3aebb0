r"""Variational inference by automatic differentiation: maximise the ELBO with optax.

.. math::

    \phi_{t+1} = \phi_t
    + \mathrm{Adam}\big(\widehat{\nabla_\phi \mathcal L}(\phi_t; \epsilon_t)\big)

(Ranganath et al. 2014; Kucukelbir et al. 2017; Kingma & Ba 2015). The
objective is any ``objective(key, params)`` returning an unbiased ELBO
estimate, e.g. ``functools.partial(vibook.elbo.reparam, log_joint=...,
family=...)``. The module follows the algorithm contract: :func:`init`,
:func:`step` (one ascent step) and :func:`fit` (``num_steps`` of them in
``lax.scan``); it plays the role of TensorFlow Probability's
``fit_surrogate_posterior``.

For a log joint that is a prior term plus a sum over N data points,
:func:`minibatch_elbo` estimates the ELBO from a random minibatch, and
:func:`minibatch_fit` runs the same :func:`step` over shuffled minibatches,
epoch by epoch (stochastic VI without conjugacy; Hoffman et al. 2013;
Kucukelbir et al. 2017, §2.6).
"""

import warnings
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from vibook import _checks, _scan, convergence


class VIState(NamedTuple):
    """The variational parameters and the optimiser's state (from :func:`init`)."""

    params: Any
    opt_state: Any


class VIInfo(NamedTuple):
    """What one :func:`step` reports.

    Attributes
    ----------
    elbo : Array
        Scalar: the objective at the parameters *before* the step, on the
        objective's own scale. For the estimators of :mod:`vibook.elbo` and for
        :func:`minibatch_elbo` that is a Monte Carlo estimate of the ELBO of
        the whole model, a total over all N data points (not a mean per point).
    """

    elbo: jax.Array


def _params(params):
    leaves = jax.tree_util.tree_leaves(params)
    if not leaves:
        raise ValueError("params must contain at least one array")
    for leaf in leaves:
        _checks.array(leaf, "params")
    return params


def init(params, optimizer):
    """Start from ``params``: ``VIState(params, optimizer.init(params))``.

    Raises
    ------
    TypeError
        If ``optimizer`` is not an optax ``GradientTransformation``, or a leaf
        of ``params`` is not an array of real numbers.
    ValueError
        If ``params`` is empty or holds NaN or inf.

    Examples
    --------
    >>> import optax
    >>> from vibook import families
    >>> state = init(families.normal.init(0.0, 1.0), optax.adam(0.05))
    >>> type(state).__name__
    'VIState'
    """
    return VIState(_params(params), _checks.optimizer(optimizer).init(params))


def _value(objective, key, params):
    value = jnp.asarray(objective(key, params))
    if value.shape != () or not jnp.issubdtype(value.dtype, jnp.floating):
        raise ValueError("objective must return a scalar float (an ELBO estimate), "
                         f"got {value.dtype} of shape {value.shape}")
    return value


def _step(key, state, objective, optimizer):
    value, grads = jax.value_and_grad(_value, argnums=2)(objective, key, state.params)
    ascent = jax.tree_util.tree_map(jnp.negative, grads)             # optax minimises
    updates, opt_state = optimizer.update(ascent, state.opt_state, state.params)
    return VIState(optax.apply_updates(state.params, updates), opt_state), VIInfo(value)


def step(key, state, objective, optimizer):
    r"""One ascent step on the ELBO.

    Parameters
    ----------
    key : PRNG key
        The noise of this step's Monte Carlo estimate.
    state : VIState
        From :func:`init` or a previous step.
    objective : callable
        ``objective(key, params)``: a scalar ELBO estimate to maximise.
    optimizer : optax.GradientTransformation

    Returns
    -------
    state : VIState
        The updated parameters and optimiser state.
    info : VIInfo
        ``info.elbo``: the objective at the parameters before the step.

    Raises
    ------
    TypeError
        If ``state`` is not a :class:`VIState`, ``objective`` is not callable
        as ``objective(key, params)``, or ``optimizer`` is not an optax
        ``GradientTransformation``.
    ValueError
        If ``objective`` returns anything but a finite scalar (under ``jit``
        the finiteness is checked on the device, see ``vibook._checks``), or
        ``optimizer`` is not the one ``state`` was made with.

    See also
    --------
    fit : ``num_steps`` of these in one compiled loop.

    Examples
    --------
    >>> import jax, jax.numpy as jnp, optax
    >>> from vibook import families, vi
    >>> objective = lambda key, p: -jnp.sum((p.loc - 1.0) ** 2)   # gradient 2 at loc = 0
    >>> opt = optax.sgd(0.25)
    >>> state, info = vi.step(jax.random.key(0), vi.init(families.normal.init(0.0, 1.0), opt),
    ...                       objective, opt)
    >>> float(info.elbo), float(state.params.loc)       # the value before; 0 + 0.25 * 2
    (-1.0, 0.5)
    """
    key = _checks.key(key)
    _checks.state(state, VIState, "vibook.vi.init")
    _checks.function(objective, "objective", "objective(key, params)")
    _checks.signature(objective, "objective", "objective(key, params)", 2)
    _checks.optimizer_state(_checks.optimizer(optimizer), state.opt_state, state.params,
                            "vibook.vi.init")
    state, info = _step(key, state, objective, optimizer)
    _checks.check(jnp.isfinite(info.elbo),
                  "objective returned NaN or inf at state.params; it must return a finite ELBO")
    return state, info


def _check_trace(info, state, name):
    """After a fit: a non-finite first value is the objective's fault, a later one divergence."""
    elbo = info.elbo
    if _checks.is_concrete(elbo) and not np.isfinite(float(elbo[0])):
        raise ValueError(f"objective returned {float(elbo[0])} at the starting params; "
                         "it must return a finite ELBO estimate")
    _scan.check_finite(elbo, state, name, info=info)


class NotConvergedWarning(UserWarning):
    """A fit asked to check its convergence (``check_convergence=True``) whose ELBO still moves."""


def converged(info, **kwargs):
    """Whether a fit's ELBO trace is flat over its last window: :func:`vibook.convergence.report`.

    Parameters
    ----------
    info : VIInfo
        From :func:`fit` or :func:`minibatch_fit`.
    **kwargs
        ``window``, ``tol`` (nats) and ``z``, as in :func:`vibook.convergence.report`.

    Returns
    -------
    vibook.convergence.Report
        ``.converged``, and the last window's mean ELBO, its change and the noise.

    Raises
    ------
    TypeError
        If ``info`` is not a :class:`VIInfo`.
    ValueError
        If the trace is shorter than two windows or not finite.

    Notes
    -----
    A flat trace is necessary, not sufficient: with few draws per step the
    noise can hide a slow climb (the window is compared with the noise), and a
    fit in badly scaled coordinates may sit far from the optimum with a flat,
    noisy ELBO. Compare restarts, and start from
    :func:`vibook.optimize.find_mode`.

    See also
    --------
    vibook.convergence.check : the same, raising unless converged (for chapters).

    Examples
    --------
    >>> import jax, jax.numpy as jnp, optax
    >>> from vibook import families, vi
    >>> objective = lambda key, p: -jnp.sum((p.loc - 1.0) ** 2)
    >>> state, info = vi.fit(jax.random.key(0), objective, families.normal.init(0.0, 1.0),
    ...                      optax.adam(0.1), 300)
    >>> vi.converged(info).converged
    True
    """
    _checks.state(info, VIInfo, "vibook.vi.fit", name="info")
    return convergence.report(info, objective="elbo", **kwargs)


def _warn_unless_converged(info, check_convergence, name):
    if check_convergence is False or check_convergence is None:
        return
    if check_convergence is True:
        kwargs = {}
    elif isinstance(check_convergence, dict):
        kwargs = check_convergence
    else:
        raise TypeError("check_convergence must be True, False or a dict of "
                        "vibook.convergence.report arguments (window, tol, z), got "
                        f"{type(check_convergence).__name__}")
    try:
        report = convergence.report(info, objective="elbo", **kwargs)
    except ValueError as err:
        raise ValueError(f"check_convergence: {err}") from None
    if not report.converged:
        warnings.warn(f"{name}: the ELBO has not converged ({report}). Run more steps, "
                      "start from vibook.optimize.find_mode, or lower the learning rate.",
                      NotConvergedWarning, stacklevel=3)


def fit(key, objective, params, optimizer, num_steps, *, check_convergence=False):
    """Run ``num_steps`` of :func:`step` inside one ``jax.jit``-compiled ``jax.lax.scan``.

    The compiled loop is cached on ``objective`` and ``optimizer``: calling
    ``fit`` again with the same two objects (arrays of the same shapes and
    the same ``num_steps``) reuses it without recompiling.

    Parameters
    ----------
    key : PRNG key
    objective : callable
        ``objective(key, params)``: a scalar ELBO estimate to maximise.
    params : pytree
        The starting variational parameters.
    optimizer : optax.GradientTransformation
    num_steps : int
    check_convergence : bool or dict
        Opt-in: after the fit, check that the ELBO trace is flat over its last
        window (:func:`converged`; a dict gives its ``window``, ``tol``, ``z``)
        and warn, with :class:`NotConvergedWarning` naming the remedies,
        unless it is. Default ``False``: no check, no warning.

    Returns
    -------
    state : VIState
        The fitted parameters (``state.params``) and the optimiser's state.
    info : VIInfo
        ``info.elbo``, shape (num_steps,): the ELBO estimate at every step.

    Raises
    ------
    TypeError
        If ``objective`` is not callable as ``objective(key, params)`` (e.g. it
        takes ``params`` alone), or ``optimizer`` is not an optax
        ``GradientTransformation``.
    ValueError
        If ``objective`` does not return a scalar, or not a finite one at
        ``params``; if ``optimizer.init(params)`` fails for these ``params``.
    FloatingPointError
        If the ELBO estimate stops being finite later (naming the step); its
        attributes ``state`` and ``info`` hold the diverged fit, for a look at
        the trace up to that step.

    See also
    --------
    converged : is the ELBO trace flat at the end?
    vibook.optimize.find_mode : a start near the posterior's mass.
    vibook.transforms.unconstrain : a model with constrained parameters, on the real line.

    Examples
    --------
    >>> import functools, jax, jax.numpy as jnp, optax
    >>> from vibook import elbo, families
    >>> log_joint = lambda z: -0.5 * jnp.sum((z - 2.0) ** 2, axis=-1)   # N(2, I)
    >>> objective = functools.partial(elbo.reparam, log_joint=log_joint,
    ...                               family=families.normal, num_samples=8)
    >>> state, info = fit(jax.random.key(0), objective, families.normal.init(jnp.zeros(2), 0.5),
    ...                   optax.adam(0.05), 1000, check_convergence=True)
    >>> loc, scale = families.normal.unpack(state.params)
    >>> bool(jnp.allclose(loc, 2.0, atol=0.3)), bool(jnp.allclose(scale, 1.0, atol=0.3))
    (True, True)
    """
    key = _checks.key(key)
    num_steps = _checks.positive_int(num_steps, "num_steps")
    _checks.function(objective, "objective", "objective(key, params)")
    _checks.signature(objective, "objective", "objective(key, params)", 2)
    state = init(params, optimizer)
    state, info = _scan.run(_step, state, (), num_steps, key=key, objective=None,
                            static={"objective": objective, "optimizer": optimizer})
    _check_trace(info, state, "vibook.vi.fit")
    _warn_unless_converged(info, check_convergence, "vibook.vi.fit")
    return state, info


# --- minibatches --------------------------------------------------------------------------------

def minibatch_elbo(key, params, batch, log_prior, log_lik, family, num_data, num_samples=1):
    r"""Reparameterised ELBO estimate from a minibatch, the likelihood rescaled by :math:`N/|B|`.

    .. math::

        \hat{\mathcal{L}} &= \frac1S \sum_{s=1}^S \Big[\log p(z_s)
        + \frac{N}{|B|}\sum_{i \in B} \log p(x_i \mid z_s)\Big] \\
        &\quad {}+ \mathbb{H}[q], \qquad z_s = g(\epsilon_s; \phi),

    an unbiased estimate of the full-data ELBO (a total over the N points)
    when :math:`B` is a uniformly random subset (Hoffman et al. 2013;
    Kucukelbir et al. 2017, §2.6). ``functools.partial`` with everything
    after ``batch`` gives the ``objective(key, params, batch)`` of
    :func:`minibatch_fit`.

    Parameters
    ----------
    key : PRNG key
    params : the family's parameters
    batch : pytree of arrays with leading axis |B|
        E.g. ``(x[idx], y[idx])``.
    log_prior : callable
        ``log_prior(z) -> scalar`` for one latent ``z``.
    log_lik : callable
        ``log_lik(z, batch) -> (|B|,)``, one log-likelihood per example, for one ``z``.
    family : vibook.families.Family
        Any reparameterisable family, e.g. ``vibook.families.normal``.
    num_data : int
        :math:`N`, the size of the whole data set.
    num_samples : int
        :math:`S`, Monte Carlo draws of :math:`z`.

    Raises
    ------
    TypeError
        If ``log_prior`` is not callable as ``log_prior(z)`` or ``log_lik`` as
        ``log_lik(z, batch)``, or ``family`` is not a Family.
    ValueError
        If ``log_prior`` does not return a scalar or ``log_lik`` one value per
        example, ``batch``'s arrays do not share a leading axis, or the values
        are not finite.

    Examples
    --------
    >>> import jax, jax.numpy as jnp
    >>> from vibook import families
    >>> x = jnp.array([0.5, 1.5, 1.0, 2.0])
    >>> value = minibatch_elbo(jax.random.key(0), families.normal.init(0.0, 1.0), x[:2],
    ...                        lambda z: -0.5 * z**2, lambda z, b: -0.5 * (b - z) ** 2,
    ...                        families.normal, num_data=4, num_samples=8)
    >>> value.shape
    ()
    """
    key = _checks.key(key)
    family = _checks.family(family)
    _checks.function(log_prior, "log_prior", "log_prior(z)")
    _checks.signature(log_prior, "log_prior", "log_prior(z)", 1)
    _checks.function(log_lik, "log_lik", "log_lik(z, batch)")
    _checks.signature(log_lik, "log_lik", "log_lik(z, batch)", 2)
    num_data = _checks.positive_int(num_data, "num_data")
    num_samples = _checks.positive_int(num_samples, "num_samples")
    size = _batch_size(batch, "batch")

    def joint(z):
        prior = jnp.asarray(log_prior(z))
        lik = jnp.asarray(log_lik(z, batch))
        if prior.shape != ():
            raise ValueError(f"log_prior(z) must return a scalar for one z, got shape {prior.shape}")
        if lik.shape != (size,):
            raise ValueError(f"log_lik(z, batch) must return shape ({size},), one value per "
                             f"example of the batch, got shape {lik.shape}")
        return prior + num_data / size * jnp.sum(lik)

    z = family.sample(key, params, num_samples)                          # (S, D)
    values = jax.vmap(joint)(z)                                          # (S,)
    _checks.check(jnp.isfinite(values), "log_prior(z) + log_lik(z, batch) must be finite "
                  "at the draws z ~ q; got NaN or inf")
    return jnp.mean(values) + family.entropy(params)


def _batch_size(data, name):
    """The common leading size of the arrays of ``data``."""
    leaves = jax.tree.leaves(data)
    if not leaves or any(jnp.ndim(a) < 1 or jnp.shape(a)[0] != jnp.shape(leaves[0])[0]
                         for a in leaves):
        raise ValueError(f"{name} must be arrays that share a leading axis (one row per example)")
    return jnp.shape(leaves[0])[0]


def _epoch(key, state, data, *, objective, optimizer, batch_size):
    k_batch, k_sample = jax.random.split(key)
    num_batches = _batch_size(data, "data") // batch_size

    def batch_step(k, state, batch):
        return _step(k, state, lambda k, p: objective(k, p, batch), optimizer)

    return _scan.epoch(batch_step, state, data, batch_size, k_batch,
                       step_keys=jax.random.split(k_sample, num_batches))


def minibatch_fit(key, objective, params, optimizer, data, num_epochs, batch_size, *,
                  check_convergence=False):
    """Stochastic gradient ascent on a minibatch objective: :func:`step` over shuffled minibatches.

    Each epoch shuffles ``data`` and takes ``N // batch_size`` steps, one per
    minibatch (the rest sit the epoch out); ``batch_size = N`` gives
    full-batch VI. Inside :func:`vibook.device.data_parallel` each minibatch
    is split over the devices.

    Parameters
    ----------
    key : PRNG key
    objective : callable
        ``objective(key, params, batch)``, e.g. ``functools.partial(
        vi.minibatch_elbo, log_prior=..., log_lik=..., family=...,
        num_data=N)``; pass the same object again to reuse the compiled code.
    params : pytree
        The starting variational parameters.
    optimizer : optax.GradientTransformation
    data : pytree of arrays with a common leading axis N
        E.g. ``(x, y)``.
    num_epochs, batch_size : int
    check_convergence : bool or dict
        Opt-in, as in :func:`fit`: warn (:class:`NotConvergedWarning`) unless
        the minibatch ELBO trace is flat over its last window. Default ``False``.

    Returns
    -------
    state : VIState
    info : VIInfo
        ``info.elbo``, shape (num_epochs * (N // batch_size),): the minibatch
        ELBO estimate at every step.

    Raises
    ------
    TypeError
        If ``objective`` is not callable as ``objective(key, params, batch)``.
    ValueError
        If ``data``'s arrays do not share a leading axis, ``batch_size`` is
        not between 1 and N, or the objective is not finite.
    FloatingPointError
        If the ELBO estimate stops being finite (as in :func:`fit`).

    Examples
    --------
    >>> import functools, jax, jax.numpy as jnp, optax
    >>> from vibook import families, vi
    >>> x = jnp.array([0.5, 1.5, 1.0, 2.0])    # z ~ N(0, 1), x_i ~ N(z, 1): posterior N(1, 1/5)
    >>> objective = functools.partial(vi.minibatch_elbo, log_prior=lambda z: -0.5 * z**2,
    ...     log_lik=lambda z, b: -0.5 * (b - z) ** 2, family=families.normal, num_data=4)
    >>> state, info = vi.minibatch_fit(jax.random.key(0), objective,
    ...                                families.normal.init(0.0, 1.0), optax.adam(0.05), x,
    ...                                num_epochs=100, batch_size=2)
    >>> info.elbo.shape, bool(abs(families.normal.unpack(state.params)[0] - 1.0) < 0.3)
    ((200,), True)
    """
    key = _checks.key(key)
    _checks.function(objective, "objective", "objective(key, params, batch)")
    _checks.signature(objective, "objective", "objective(key, params, batch)", 3)
    leaves = [_checks.array(a, "data") for a in jax.tree.leaves(data)]
    data = jax.tree.unflatten(jax.tree.structure(data), leaves)
    batch_size = _checks.batch_size(batch_size, _batch_size(data, "data"))
    num_epochs = _checks.positive_int(num_epochs, "num_epochs")
    state = init(params, optimizer)
    static = {"objective": objective, "optimizer": optimizer, "batch_size": batch_size}
    state, info = _scan.run(_epoch, state, (data,), num_epochs, key=key, objective=None,
                            static=static, epochs=True)
    _check_trace(info, state, "vibook.vi.minibatch_fit")
    _warn_unless_converged(info, check_convergence, "vibook.vi.minibatch_fit")
    return state, info


# Field docstrings: autodoc shows these instead of "Alias for field number N".
VIState.params.__doc__ = "The variational parameters (a pytree, e.g. a family's params)."
VIState.opt_state.__doc__ = "The optax optimiser's state for ``params``."
VIInfo.elbo.__doc__ = "The objective before the step (stacked over the steps by ``fit``)."
