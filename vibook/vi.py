r"""Variational inference by automatic differentiation: maximise the ELBO with optax.

.. math::

    \phi_{t+1} = \phi_t
    + \mathrm{Adam}\big(\widehat{\nabla_\phi \mathcal L}(\phi_t; \epsilon_t)\big)

(Ranganath et al. 2014; Kucukelbir et al. 2017; Kingma & Ba 2015). The
objective is any ``objective(key, params)`` returning an unbiased ELBO
estimate, e.g. ``functools.partial(vibook.elbo.reparam, log_joint=...,
family=..., n=8)``. :func:`init` and :func:`step` are public so a chapter can
show one step; :func:`fit` runs :func:`step` in ``lax.scan``. It plays the
role of TensorFlow Probability's ``fit_surrogate_posterior``.
"""

from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from vibook import _checks


class VIState(NamedTuple):
    """The variational parameters and the optimiser's state."""

    params: Any
    opt_state: Any


def _params(params):
    leaves = jax.tree_util.tree_leaves(params)
    if not leaves:
        raise ValueError("params must contain at least one array")
    for leaf in leaves:
        _checks.array(leaf, "params")
    return params


def init(params, optimizer):
    """Start from ``params``: ``VIState(params, optimizer.init(params))``."""
    return VIState(_params(params), _checks.optimizer(optimizer).init(params))


def step(key, state, objective, optimizer):
    r"""One ascent step on the ELBO.

    Parameters
    ----------
    key : PRNG key
        The noise of this step's Monte Carlo estimate.
    state : VIState
    objective : callable
        ``objective(key, params)``: an ELBO estimate to maximise.
    optimizer : optax.GradientTransformation

    Returns
    -------
    state : VIState
        The updated parameters and optimiser state.
    elbo : Array
        The ELBO estimate at the parameters *before* the step.
    """
    key = _checks.key(key)
    if not isinstance(state, VIState):
        raise TypeError(f"state must be a VIState (from vi.init), got {type(state).__name__}")
    _checks.function(objective, "objective", "objective(key, params)")
    optimizer = _checks.optimizer(optimizer)
    value, grads = jax.value_and_grad(objective, argnums=1)(key, state.params)
    ascent = jax.tree_util.tree_map(jnp.negative, grads)             # optax minimises
    updates, opt_state = optimizer.update(ascent, state.opt_state, state.params)
    return VIState(optax.apply_updates(state.params, updates), opt_state), value


def fit(key, objective, params, optimizer, num_steps):
    """Run ``num_steps`` of :func:`step` inside one ``jax.jit``-compiled ``jax.lax.scan``.

    The compiled loop is cached on ``objective`` and ``optimizer``: calling
    ``fit`` again with the same two objects (arrays of the same shapes and
    the same ``num_steps``) reuses it without recompiling.

    Parameters
    ----------
    key : PRNG key
    objective : callable
        ``objective(key, params)``: an ELBO estimate to maximise.
    params : pytree
        The starting variational parameters.
    optimizer : optax.GradientTransformation
    num_steps : int

    Returns
    -------
    params : pytree
        The fitted parameters.
    trace : Array of shape (num_steps,)
        The ELBO estimate at every step.
    """
    key = _checks.key(key)
    num_steps = _checks.positive_int(num_steps, "num_steps")
    _checks.function(objective, "objective", "objective(key, params)")
    state, trace = _fit(key, _params(params), objective, _checks.optimizer(optimizer),
                        num_steps)
    return state.params, trace


@partial(jax.jit, static_argnames=("objective", "optimizer", "num_steps"))
def _fit(key, params, objective, optimizer, num_steps):
    # the keys and the optimiser's state are made inside the compiled program:
    # the same numbers as jax.random.split and init outside it, without the
    # separate dispatches (and their compilations on a first call)
    keys = jax.random.split(key, num_steps)                          # (num_steps,) keys
    state = VIState(params, optimizer.init(params))
    return jax.lax.scan(lambda s, k: step(k, s, objective, optimizer), state, keys)
