"""vibook.families against scipy.stats and Monte Carlo."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from vibook import families

KEY = jax.random.key(0)


def test_normal_unpack_round_trip_and_scipy():
    params = families.normal.init(jnp.array([0.5, -1.0]), jnp.array([0.3, 2.0]))
    loc, scale = families.normal.unpack(params)
    np.testing.assert_allclose(loc, [0.5, -1.0])
    np.testing.assert_allclose(scale, [0.3, 2.0], rtol=1e-6)
    z = jnp.array([[0.1, 0.2], [1.0, -3.0], [0.5, 0.0]])        # (3, 2)
    expected = stats.norm(loc, scale).logpdf(np.asarray(z)).sum(-1)
    np.testing.assert_allclose(families.normal.log_prob(params, z), expected, rtol=1e-5)
    expected_h = stats.norm(loc, scale).entropy().sum()
    np.testing.assert_allclose(families.normal.entropy(params), expected_h, rtol=1e-5)


def test_normal_scalar_sample_moments_and_shape():
    params = families.normal.init(1.5, 0.7)
    z = families.normal.sample(KEY, params, 20_000)
    assert z.shape == (20_000,)
    assert abs(float(z.mean()) - 1.5) < 4 * 0.7 / np.sqrt(20_000)
    assert abs(float(z.std()) - 0.7) < 0.02
    assert families.normal.log_prob(params, z[:5]).shape == (5,)


def test_normal_sample_is_reparameterised():
    # E[z^2] = softplus(raw)^2 for loc 0, so d/draw = 2 s sigmoid(raw), through the samples.
    def mean_sq(raw_scale):
        params = families.NormalParams(jnp.asarray(0.0), raw_scale)
        z = families.normal.sample(KEY, params, 50_000)
        return jnp.mean(z**2)
    raw = families.inverse_softplus(1.3)
    grad = jax.grad(mean_sq)(raw)
    expected = 2 * 1.3 * jax.nn.sigmoid(raw)
    assert abs(float(grad) - float(expected)) < 0.05 * float(expected)


def test_full_rank_against_scipy_and_monte_carlo():
    loc = jnp.array([1.0, -2.0, 0.5])
    tril = jnp.array([[1.0, 0.0, 0.0], [0.5, 0.8, 0.0], [-0.3, 0.2, 0.4]])
    params = families.full_rank_normal.init(loc, tril)
    loc2, tril2 = families.full_rank_normal.unpack(params)
    np.testing.assert_allclose(tril2, tril, atol=1e-6)
    cov = np.asarray(tril @ tril.T)
    dist = stats.multivariate_normal(np.asarray(loc), cov)
    z = families.full_rank_normal.sample(KEY, params, 40_000)
    assert z.shape == (40_000, 3)
    np.testing.assert_allclose(np.cov(np.asarray(z).T), cov, atol=0.03)
    np.testing.assert_allclose(families.full_rank_normal.log_prob(params, z[:7]),
                               dist.logpdf(np.asarray(z[:7])), rtol=1e-4)
    np.testing.assert_allclose(families.full_rank_normal.entropy(params), dist.entropy(), rtol=1e-5)
    # batch shapes are kept
    assert families.full_rank_normal.log_prob(params, z[:6].reshape(2, 3, 3)).shape == (2, 3)


def test_full_rank_default_is_identity():
    params = families.full_rank_normal.init(jnp.zeros(2))
    np.testing.assert_allclose(families.full_rank_normal.unpack(params)[1], jnp.eye(2), atol=1e-6)


def test_exponential_against_scipy():
    params = families.exponential.init(1.7)
    np.testing.assert_allclose(families.exponential.unpack(params), 1.7, rtol=1e-6)
    z = families.exponential.sample(KEY, params, 40_000)
    assert z.shape == (40_000,) and bool(jnp.all(z >= 0))
    assert abs(float(z.mean()) - 1 / 1.7) < 4 / 1.7 / np.sqrt(40_000)
    grid = jnp.array([0.0, 0.3, 2.0])
    np.testing.assert_allclose(families.exponential.log_prob(params, grid),
                               stats.expon(scale=1 / 1.7).logpdf(np.asarray(grid)), rtol=1e-5)
    assert families.exponential.log_prob(params, -0.1) == -jnp.inf
    np.testing.assert_allclose(families.exponential.entropy(params),
                               stats.expon(scale=1 / 1.7).entropy(), rtol=1e-5)


def test_exponential_entropy_matches_monte_carlo():
    params = families.exponential.init(jnp.array([0.5, 3.0]))
    z = families.exponential.sample(KEY, params, 100_000)
    mc = -jnp.mean(families.exponential.log_prob(params, z))
    assert abs(float(mc) - float(families.exponential.entropy(params))) < 0.02


def test_families_work_under_jit_and_grad():
    params = families.normal.init(jnp.zeros(2), 1.0)
    f = jax.jit(lambda p: jnp.mean(families.normal.log_prob(p, families.normal.sample(KEY, p, 10))))
    g = jax.grad(f)(params)
    assert isinstance(g, families.NormalParams)


# --- bad input --------------------------------------------------------------------------------

def test_bad_scale():
    with pytest.raises(ValueError, match="scale"):
        families.normal.init(0.0, -1.0)
    with pytest.raises(ValueError, match="scale"):
        families.normal.init(jnp.zeros(2), jnp.ones(3))
    with pytest.raises(ValueError, match="rate"):
        families.exponential.init(0.0)
    with pytest.raises(ValueError, match="scale_tril"):
        families.full_rank_normal.init(jnp.zeros(2), jnp.array([[1.0, 0.0], [0.0, -1.0]]))
    with pytest.raises(ValueError, match="scale_tril"):
        families.full_rank_normal.init(jnp.zeros(2), jnp.eye(3))


def test_bad_loc_and_z_shapes():
    with pytest.raises(ValueError, match="loc"):
        families.normal.init(jnp.zeros((2, 2)), 1.0)
    with pytest.raises(ValueError, match="loc"):
        families.normal.init(jnp.array([0.0, jnp.nan]), 1.0)
    params = families.normal.init(jnp.zeros(3), 1.0)
    with pytest.raises(ValueError, match="z"):
        families.normal.log_prob(params, jnp.zeros((5, 2)))
    with pytest.raises(ValueError, match="z"):
        families.full_rank_normal.log_prob(families.full_rank_normal.init(jnp.zeros(2)), jnp.zeros(3))


def test_bad_key_n_and_params():
    params = families.normal.init(0.0, 1.0)
    with pytest.raises(TypeError, match="key"):
        families.normal.sample(0, params, 3)
    with pytest.raises(ValueError, match="n"):
        families.normal.sample(KEY, params, 0)
    with pytest.raises(TypeError, match="n"):
        families.exponential.sample(KEY, families.exponential.init(1.0), 2.5)
    with pytest.raises(TypeError, match="params"):
        families.exponential.log_prob(params, 1.0)
    with pytest.raises(TypeError, match="params"):
        families.normal.entropy((0.0, 1.0))
