"""Tests for vibook.data.synthetic_mixture."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vibook.data import synthetic_mixture

MEANS = jnp.array([[-3.0, 0.0], [3.0, 0.0], [0.0, 4.0]])


def test_moments_and_weights():
    x, labels = synthetic_mixture(jax.random.key(0), 30_000, MEANS, scales=jnp.array([0.5, 1.0, 2.0]),
                                  weights=jnp.array([0.2, 0.3, 0.5]))
    assert x.shape == (30_000, 2) and labels.shape == (30_000,)
    freq = np.bincount(np.asarray(labels), minlength=3) / 30_000
    np.testing.assert_allclose(freq, [0.2, 0.3, 0.5], atol=0.015)   # ~5 binomial s.e.
    for k, s in enumerate([0.5, 1.0, 2.0]):
        xk = np.asarray(x[labels == k])
        np.testing.assert_allclose(xk.mean(axis=0), MEANS[k], atol=5 * s / np.sqrt(len(xk)))
        np.testing.assert_allclose(xk.std(axis=0), s, rtol=0.05)


def test_same_key_same_data():
    a, _ = synthetic_mixture(jax.random.key(1), 10, MEANS)
    b, _ = synthetic_mixture(jax.random.key(1), 10, MEANS)
    np.testing.assert_array_equal(a, b)


def test_bad_input():
    key = jax.random.key(0)
    with pytest.raises(TypeError, match="key"):
        synthetic_mixture(0, 10, MEANS)
    with pytest.raises(ValueError, match="n"):
        synthetic_mixture(key, 0, MEANS)
    with pytest.raises(ValueError, match="means"):
        synthetic_mixture(key, 10, MEANS[0])
    with pytest.raises(ValueError, match="means"):
        synthetic_mixture(key, 10, MEANS.at[0, 0].set(jnp.nan))
    with pytest.raises(ValueError, match="scales"):
        synthetic_mixture(key, 10, MEANS, scales=0.0)
    with pytest.raises(ValueError, match="scales"):
        synthetic_mixture(key, 10, MEANS, scales=jnp.ones(2))
    with pytest.raises(ValueError, match="weights"):
        synthetic_mixture(key, 10, MEANS, weights=jnp.array([0.5, 0.6, -0.1]))
    with pytest.raises(ValueError, match="weights"):
        synthetic_mixture(key, 10, MEANS, weights=jnp.ones(2) / 2)
