"""Multilayer perceptrons as lists of ``(W, b)`` pairs (the VAE's and the flows')."""

import jax
import jax.numpy as jnp


def init(key, sizes):
    """Weights ``N(0, 1/fan_in)``, zero biases, for layer widths ``sizes``."""
    keys = jax.random.split(key, len(sizes) - 1)
    return [(jax.random.normal(k, (m, n)) / jnp.sqrt(m), jnp.zeros(n))
            for k, m, n in zip(keys, sizes[:-1], sizes[1:])]


def dense(layer, x, mask=None):
    """``x @ W + b`` for ``x`` of shape ``(..., m)``; ``mask`` zeroes weights (MADE)."""
    w, b = layer
    h = x @ (w if mask is None else w * mask)
    return h + jnp.broadcast_to(b, h.shape)


def apply(layers, x, masks=None):
    """tanh hidden layers, linear output; ``masks``, one per layer, zero out weights."""
    masks = masks or [None] * len(layers)
    for layer, mask in zip(layers[:-1], masks[:-1]):
        x = jnp.tanh(dense(layer, x, mask))
    return dense(layers[-1], x, masks[-1])
