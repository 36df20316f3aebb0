"""Multilayer perceptrons as lists of ``(W, b)`` pairs (the VAE's and the flows')."""

import jax
import jax.numpy as jnp

#: With ``narrow=True``, a layer with at most this many inputs, or else at most
#: ``FEW_OUTPUTS`` outputs, is written out as multiply-adds (broadcast products and
#: sums) instead of a matrix-product call. A 2-D flow's layers have 2 inputs and 4
#: outputs, and its fit runs faster so (``benchmarks/bench_flows.py`` times it both
#: ways: ``narrow_control_s``).
FEW_INPUTS, FEW_OUTPUTS = 2, 4


def init(key, sizes):
    """Weights ``N(0, 1/fan_in)``, zero biases, for layer widths ``sizes``."""
    keys = jax.random.split(key, len(sizes) - 1)
    return [(jax.random.normal(k, (m, n)) / jnp.sqrt(m), jnp.zeros(n))
            for k, m, n in zip(keys, sizes[:-1], sizes[1:])]


def dense(layer, x, mask=None, narrow=False):
    """``x @ W + b`` for ``x`` of shape ``(..., m)``; ``mask`` zeroes weights (MADE);
    ``narrow``: a narrow layer as multiply-adds (:data:`FEW_INPUTS`)."""
    w, b = layer
    w = w if mask is None else w * mask
    lead = (1,) * (x.ndim - 1)                               # x's batch axes, for w
    if narrow and w.shape[0] <= FEW_INPUTS:                  # a sum over the few inputs
        h = (x[..., :, None] * w.reshape(lead + w.shape)).sum(-2)
    elif narrow and w.shape[1] <= FEW_OUTPUTS:               # one dot product per output
        h = jnp.stack([(x * w[:, j].reshape(lead + (-1,))).sum(-1)
                       for j in range(w.shape[1])], -1)
    else:
        h = x @ w
    return h + jnp.broadcast_to(b, h.shape)


def apply(layers, x, masks=None, narrow=False):
    """tanh hidden layers, linear output; ``masks``, one per layer, zero out weights."""
    masks = masks or [None] * len(layers)
    for layer, mask in zip(layers[:-1], masks[:-1]):
        x = jnp.tanh(dense(layer, x, mask, narrow))
    return dense(layers[-1], x, masks[-1], narrow)
