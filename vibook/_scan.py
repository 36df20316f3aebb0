"""The one loop every algorithm's ``fit`` runs: ``step`` repeated in ``lax.scan``.

Every algorithm module follows one contract (CONTRIBUTING.md):
``init(...) -> State``, ``step([key,] state, ...) -> (State, Info)`` and
``fit([key,] ..., num_steps) -> (State, Info)``. :func:`run` is that ``fit``
loop, written once: it stacks the ``Info`` of every step, and on the host it
checks that the objective stayed finite, so that a diverging fit raises an
error naming the step instead of returning NaN parameters.
"""

from functools import partial

import jax
import numpy as np

from vibook import _checks, device
from vibook.data import minibatches


@partial(jax.jit, static_argnames=("step", "num_steps", "static"))
def _scan(step, state, key, args, num_steps, static):
    kwargs = dict(static)
    if key is None:
        return jax.lax.scan(lambda s, _: step(s, *args, **kwargs), state, None,
                            length=num_steps)
    keys = jax.random.split(key, num_steps)
    return jax.lax.scan(lambda s, k: step(k, s, *args, **kwargs), state, keys)


def run(step, state, args, num_steps, *, key=None, static=None, name="fit",
        objective="elbo", epochs=False):
    """Apply ``step`` ``num_steps`` times in ``lax.scan``; return ``(state, info)``.

    Parameters
    ----------
    step : callable
        A module-level step function (a static argument of ``jit``):
        ``step(state, *args)`` when ``key`` is None, else
        ``step(key, state, *args)`` with a fresh key at every step.
    state : pytree
        The starting state.
    args : tuple
        The other arguments of ``step``, the same at every step.
    num_steps : int
        Number of steps.
    key : PRNG key, optional
        Split into one key per step.
    static : dict, optional
        Keyword arguments of ``step`` that are static under ``jit`` (a user's
        function, an optax optimiser, a size that fixes a shape); they must be
        hashable, and the compiled loop is cached on them.
    name : str
        The public function running the loop, for the divergence message.
    objective : str
        The ``Info`` field checked for finiteness (``None`` to skip).
    epochs : bool
        ``step`` is one pass over the data (:func:`epoch`): the stacked
        ``Info``'s leading axes (epoch, minibatch) are merged into one entry
        per minibatch step, before the check.

    Returns
    -------
    state : pytree
        The final state.
    info : NamedTuple
        The ``Info`` of every step, stacked: each field has a leading axis of
        length ``num_steps`` (times the minibatches per epoch with ``epochs``).

    Raises
    ------
    FloatingPointError
        If the objective or the final state is not finite (on the host, after
        the loop; under an outer ``jit`` the values are tracers and are not
        checked). Its attributes ``state`` and ``info`` hold what the loop
        returned, NaN and all.
    """
    static = tuple(sorted((static or {}).items()))
    with _checks.no_traced_checks():     # the objective is checked after the loop
        state, info = _scan(step, state, key, tuple(args), num_steps, static)
    if epochs:
        info = jax.tree.map(lambda a: a.reshape(-1, *a.shape[2:]), info)
    if objective is not None:
        check_finite(getattr(info, objective), state, name, objective, info)
    return state, info


def epoch(step, state, data, batch_size, key, step_keys=None, args=()):
    """One shuffled pass over ``data`` in minibatches, ``step`` once per minibatch, in ``lax.scan``.

    The ``step`` of a minibatch method's :func:`run` (one epoch per step)
    calls this. Each minibatch (every leaf of ``data`` indexed along its
    leading axis N) goes through ``vibook.device._shard_batch``, so the
    pass runs data-parallel inside :func:`vibook.device.data_parallel`.

    Parameters
    ----------
    step : callable
        ``step(state, batch, *args)``, or ``step(key, state, batch, *args)``
        when ``step_keys`` is given; returns ``(state, info)``.
    state : pytree
    data : pytree of arrays with a common leading axis N
    batch_size : int
        ``N // batch_size`` minibatches; the rest of the shuffled points sit
        the pass out (:func:`vibook.data.minibatches`).
    key : PRNG key
        Shuffles the data.
    step_keys : PRNG keys, shape (N // batch_size,), optional
        One key per minibatch, for a random ``step``.
    args : tuple
        The other arguments of ``step``.

    Returns
    -------
    state : pytree
    info : the ``info`` of every minibatch step, stacked (leading axis N // batch_size)
    """
    idx = minibatches(key, jax.tree.leaves(data)[0].shape[0], batch_size)   # (B, |B|)

    def one(state, inputs):
        k, i = inputs
        batch = device._shard_batch(jax.tree.map(lambda a: a[i], data))
        return step(state, batch, *args) if k is None else step(k, state, batch, *args)

    return jax.lax.scan(one, state, (step_keys, idx))


def check_finite(trace, state, name, objective="elbo", info=None):
    """Raise ``FloatingPointError`` naming the first step whose ``trace`` is not finite.

    ``trace`` has one entry per step (extra axes are reduced); ``state`` is the
    final state, whose floating leaves must be finite too. Tracers (under an
    outer ``jit``) are not checked. The error carries ``state`` and ``info``
    (the stacked ``Info``, if given) as attributes, so that a reader can still
    look at the trace up to the divergence.
    """
    if isinstance(trace, jax.core.Tracer):
        return
    values = np.asarray(trace).reshape(len(trace), -1)
    bad = ~np.all(np.isfinite(values), axis=1)
    if bad.any():
        step = int(np.argmax(bad))
        _diverged(
            f"{name} diverged: the {objective} became {values[step][~np.isfinite(values[step])][0]} "
            f"at step {step} of {len(values)}. Try a smaller step size (learning rate), "
            "a better starting point, or check the model for values outside its support.",
            state, info)
    for leaf in jax.tree_util.tree_leaves(state):
        if isinstance(leaf, jax.core.Tracer):
            return
        leaf = np.asarray(leaf)
        if np.issubdtype(leaf.dtype, np.floating) and not np.all(np.isfinite(leaf)):
            _diverged(f"{name} diverged: the final state holds NaN or inf although the "
                      f"{objective} stayed finite. Try a smaller step size (learning rate).",
                      state, info)


def _diverged(message, state, info):
    error = FloatingPointError(message)
    error.state, error.info = state, info
    raise error

