"""Eight schools (centred, non-centred) and Bayesian logistic regression, against scipy."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from vibook import data, models

Y, SIGMA = data.eight_schools()


def _centered_scipy(z):
    mu, tau, theta = z[0], np.exp(z[1]), z[2:]
    return (stats.norm.logpdf(mu, 0, 5) + stats.halfcauchy.logpdf(tau, 0, 5) + z[1]
            + stats.norm.logpdf(theta, mu, tau).sum()
            + stats.norm.logpdf(np.asarray(Y), theta, np.asarray(SIGMA)).sum())


def test_eight_schools_data():
    assert Y.shape == SIGMA.shape == (8,)
    assert float(Y[0]) == 28.0 and float(SIGMA[-1]) == 18.0 and float(jnp.sum(Y)) == 70.0


def test_eight_schools_log_densities_match_scipy():
    z = np.random.default_rng(0).normal(size=(5, 10))
    got = models.eight_schools_centered(jnp.asarray(z))
    assert got.shape == (5,)
    np.testing.assert_allclose(got, [_centered_scipy(row) for row in z], rtol=1e-5)
    # Non-centred = centred at theta = mu + tau eta, plus the Jacobian sum_j log tau.
    nc = models.eight_schools_noncentered(jnp.asarray(z))
    centred = models.eight_schools_centered(models.eight_schools_to_centered(jnp.asarray(z)))
    np.testing.assert_allclose(nc, centred + 8 * z[:, 1], rtol=1e-5)
    one = models.eight_schools_noncentered(jnp.asarray(z[0]), Y, SIGMA)
    assert one.shape == () and abs(float(one) - float(nc[0])) < 1e-3


def test_logistic_regression_matches_scipy():
    rng = np.random.default_rng(1)
    x, y, w = rng.normal(size=(20, 3)), rng.integers(0, 2, 20), rng.normal(size=(4, 3))
    expected = [stats.norm.logpdf(wi, 0, 2).sum()
                + stats.bernoulli.logpmf(y, 1 / (1 + np.exp(-x @ wi))).sum() for wi in w]
    got = models.logistic_regression(jnp.asarray(w), jnp.asarray(x), jnp.asarray(y), 2.0)
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    assert models.logistic_regression(jnp.asarray(w[0]), x, y).shape == ()


def test_bad_input():
    with pytest.raises(ValueError, match="z"):
        models.eight_schools_centered(jnp.zeros(9))
    with pytest.raises(ValueError, match="sigma"):
        models.eight_schools_noncentered(jnp.zeros(10), Y, -SIGMA)
    with pytest.raises(ValueError, match="w"):
        models.logistic_regression(jnp.zeros(2), jnp.zeros((5, 3)), jnp.zeros(5))
    with pytest.raises(ValueError, match="prior_scale"):
        models.logistic_regression(jnp.zeros(3), jnp.zeros((5, 3)), jnp.zeros(5), 0.0)
    with pytest.raises(ValueError, match="y"):
        models.logistic_regression(jnp.zeros(3), jnp.zeros((5, 3)), jnp.zeros(4))
