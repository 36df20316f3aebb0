"""The loop every coordinate-ascent algorithm shares (EM, CAVI, variational GMM)."""

from functools import partial

import jax


@partial(jax.jit, static_argnames=("step", "num_iters"))
def iterate(step, state, args, num_iters):
    """Apply ``state, out = step(state, *args)`` ``num_iters`` times in ``lax.scan``.

    Parameters
    ----------
    step : callable
        A module-level step function (it is a static argument of ``jit``).
    state : pytree
        The starting state.
    args : tuple
        The other arguments of ``step``, the same at every iteration.
    num_iters : int
        Number of iterations.

    Returns
    -------
    state : pytree
        The final state.
    trace : Array, shape (num_iters, ...)
        The stacked outputs ``out`` (e.g. the objective after each iteration).
    """
    return jax.lax.scan(lambda s, _: step(s, *args), state, None, length=num_iters)
