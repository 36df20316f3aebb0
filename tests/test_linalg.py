"""Tests for vibook._linalg: the fused mixture products against explicit NumPy loops (float64)."""

import jax.numpy as jnp
import numpy as np
from jax import enable_x64

from vibook import _linalg


def _problem(n=50, d=3, k=4, seed=0):
    rng = np.random.default_rng(seed)
    x, means = rng.normal(size=(n, d)), rng.normal(size=(k, d))
    a = rng.normal(size=(k, d, d))
    covs = a @ np.swapaxes(a, 1, 2) + d * np.eye(d)
    resp = rng.dirichlet(np.ones(k), size=n)
    return x, means, covs, resp


def test_sq_norms_is_the_mahalanobis_distance():
    x, means, covs, _ = _problem()
    factors = np.swapaxes(np.linalg.inv(np.linalg.cholesky(covs)), 1, 2)      # L^{-T}
    expected = np.array([[(xi - m) @ np.linalg.solve(c, xi - m) for m, c in zip(means, covs)]
                         for xi in x])
    with enable_x64():
        got = _linalg.sq_norms(jnp.asarray(x), jnp.asarray(means), jnp.asarray(factors))
    np.testing.assert_allclose(got, expected, rtol=1e-10)


def test_scatter_matches_the_weighted_sum_of_outer_products():
    x, means, _, resp = _problem()
    expected = np.array([sum(r * np.outer(xi - m, xi - m) for r, xi in zip(resp[:, k], x))
                         for k, m in enumerate(means)])
    with enable_x64():
        got = _linalg.scatter(jnp.asarray(x), jnp.asarray(resp), jnp.asarray(means))
    np.testing.assert_allclose(got, expected, rtol=1e-10)
    assert np.all(np.linalg.eigvalsh(np.asarray(got)) > 0)          # positive definite


def test_scatter_in_chunks_is_accurate_in_float32():
    """Two-stage sums: 10^5 float32 points with a ragged last chunk agree with float64
    to float32 rounding, not to N float32 roundings."""
    rng = np.random.default_rng(1)
    n, k = 100_003, 3
    x, means = rng.normal(size=(n, 2)) + 3.0, rng.normal(size=(k, 2)) + 3.0
    resp = rng.dirichlet(np.ones(k), size=n)
    with enable_x64():
        expected = np.asarray(_linalg.scatter(jnp.asarray(x), jnp.asarray(resp), jnp.asarray(means)))
    got = _linalg.scatter(*(jnp.asarray(a, jnp.float32) for a in (x, resp, means)))
    np.testing.assert_allclose(got, expected, rtol=2e-6)
    np.testing.assert_allclose(_linalg.scatter(*(jnp.asarray(a, jnp.float32) for a in (x, resp, means)),
                                               chunk=7), expected, rtol=2e-6)
