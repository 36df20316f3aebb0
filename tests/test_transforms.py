"""vibook.transforms: each log-Jacobian against jax.jacfwd + slogdet, and against scipy densities."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.scipy import stats as jstats
from scipy import integrate, stats

from vibook import transforms

KEY = jax.random.key(0)


def _free(t, y):
    """The free entries of a constrained value: all but the last of a simplex, the lower
    triangle of a Cholesky factor."""
    if t.name == "simplex()":
        return y[:-1]
    if t.name == "cholesky_corr()":
        return y[np.tril_indices(y.shape[0], -1)]
    if t.name == "cholesky_cov()":
        return y[np.tril_indices(y.shape[0])]
    return jnp.atleast_1d(y)


VECTOR_CASES = {           # made inside x64, so that the bounds are float64 too
    "positive": (lambda: transforms.positive(), 3),
    "positive softplus lower": (lambda: transforms.positive(lower=-2.0, kind="softplus"), 3),
    "interval": (lambda: transforms.interval(-1.0, 3.0), 3),
    "ordered": (transforms.ordered, 4),
    "simplex": (transforms.simplex, 3),                   # K = 4
    "cholesky_corr": (transforms.cholesky_corr, 6),       # K = 4
    "cholesky_cov": (transforms.cholesky_cov, 6),         # K = 3
    "real": (transforms.real, 2),
}


@pytest.mark.parametrize("name", list(VECTOR_CASES))
def test_log_det_jacobian_against_jacfwd_and_inverse(name):
    make, m = VECTOR_CASES[name]
    with jax.enable_x64(True):
        t = make()
        for seed in range(3):
            u = jax.random.normal(jax.random.key(seed), (m,), dtype=jnp.float64)
            jac = jax.jacfwd(lambda v: _free(t, t.forward(v)))(u)
            sign, logdet = jnp.linalg.slogdet(jac)
            assert sign != 0
            np.testing.assert_allclose(t.log_det_jacobian(u), logdet, rtol=1e-10, atol=1e-10)
            np.testing.assert_allclose(t.inverse(t.forward(u)), u, rtol=1e-8, atol=1e-8)


def test_constrained_values_satisfy_their_constraints():
    u = jax.random.normal(KEY, (6,)) * 3
    assert jnp.all(transforms.positive().forward(u) > 0)
    y = transforms.interval(2.0, 5.0).forward(u)
    assert jnp.all((y > 2.0) & (y < 5.0))
    assert jnp.all(jnp.diff(transforms.ordered().forward(u)) > 0)
    y = transforms.simplex().forward(u)
    assert y.shape == (7,) and jnp.all(y > 0) and abs(float(jnp.sum(y)) - 1) < 1e-5
    L = transforms.cholesky_corr().forward(u / 3)                         # K = 4
    corr = L @ L.T
    np.testing.assert_allclose(jnp.diag(corr), 1.0, rtol=1e-5)
    assert jnp.all(jnp.linalg.eigvalsh(corr) > 0) and jnp.all(jnp.triu(L, 1) == 0)
    L = transforms.cholesky_cov().forward(u)                              # K = 3
    assert jnp.all(jnp.diag(L) > 0) and jnp.all(jnp.triu(L, 1) == 0)


@pytest.mark.parametrize("make, dist", [
    (lambda: transforms.positive(), stats.gamma(2.5, scale=0.7)),
    (lambda: transforms.positive(kind="softplus"), stats.lognorm(0.8)),
    (lambda: transforms.positive(lower=1.0), stats.expon(loc=1.0)),
    (lambda: transforms.interval(-1.0, 2.0), stats.beta(2.0, 3.0, loc=-1.0, scale=3.0)),
], ids=["gamma/exp", "lognormal/softplus", "shifted expon", "beta/interval"])
def test_pushed_back_density_integrates_to_one_on_the_real_line(make, dist):
    """log p(T(u)) + log|J(u)| is a density of u: it integrates to 1 (scipy.integrate.quad)."""
    with jax.enable_x64(True):
        t = make()
        f = lambda u: np.exp(dist.logpdf(float(t.forward(u))) + float(t.log_det_jacobian(u)))  # noqa: E731
        total = integrate.quad(f, -30, 80, limit=400)[0]
    assert abs(total - 1) < 1e-6


def test_lognormal_closed_form():
    """u ~ N(0, 1) and y = exp(u): log N(u) - log|J| is scipy's lognormal log density at y."""
    u = jnp.linspace(-2.0, 2.0, 9)
    t = transforms.positive()
    per = jnp.array([t.log_det_jacobian(v) for v in u])
    np.testing.assert_allclose(jstats.norm.logpdf(u) - per,
                               stats.lognorm(1.0).logpdf(np.asarray(t.forward(u))), rtol=1e-5)


def test_lkj_2x2_correlation_is_uniform():
    """K = 2: LKJ(1) makes the correlation uniform on (-1, 1); its density pushed back integrates to 1."""
    with jax.enable_x64(True):
        t = transforms.cholesky_corr()
        f = lambda u: np.exp(np.log(0.5) + float(t.log_det_jacobian(jnp.array([u]))))  # noqa: E731
        assert abs(integrate.quad(f, -20, 20)[0] - 1) < 1e-8
        r = float(t.forward(jnp.array([0.3]))[1, 0])
    np.testing.assert_allclose(r, np.tanh(0.3), rtol=1e-12)


def test_simplex_dirichlet_mean_by_importance_sampling():
    """u ~ N(0, I) reweighted by Dirichlet(alpha) o T + log|J| recovers the Dirichlet mean."""
    alpha = jnp.array([2.0, 3.0, 5.0])
    t = transforms.simplex()
    u = 1.5 * jax.random.normal(KEY, (200_000, 2))
    y = jax.vmap(t.forward)(u)
    log_w = (jstats.dirichlet.logpdf(y.T, alpha) + jax.vmap(t.log_det_jacobian)(u)
             - jnp.sum(jstats.norm.logpdf(u, scale=1.5), axis=1))
    w = jnp.exp(log_w - jnp.max(log_w))
    mean = jnp.sum(w[:, None] * y, axis=0) / jnp.sum(w)
    np.testing.assert_allclose(mean, alpha / alpha.sum(), atol=0.01)
    # and the weights average to Z = 1
    assert abs(float(jnp.mean(jnp.exp(log_w))) - 1) < 0.05


# --- unconstrain ------------------------------------------------------------------------------

def _dependent():
    """a ~ N(0, 1), b - a ~ Exp(1): b's lower bound is a."""
    def log_density(p):
        return jstats.norm.logpdf(p["a"]) + jstats.expon.logpdf(p["b"] - p["a"])
    ts = {"a": None, "b": lambda c: transforms.positive(lower=c["a"])}
    return transforms.unconstrain(log_density, ts, {"a": 0.0, "b": 1.0})


def test_dependent_bound_density_integrates_to_one():
    model = _dependent()
    with jax.enable_x64(True):
        f = lambda v, u: float(jnp.exp(model.log_density(jnp.array([u, v]))))   # noqa: E731
        total = integrate.dblquad(f, -9, 9, -25, 6)[0]
    assert abs(total - 1) < 1e-5


def test_unconstrain_jacobian_is_the_flat_maps():
    """The whole flat map u -> constrained free entries: slogdet(jacfwd) = the sum of log-Jacobians."""
    def log_density(p):
        return (jstats.norm.logpdf(p["mu"]).sum() + jstats.expon.logpdf(p["sigma"])
                + jstats.dirichlet.logpdf(p["w"], jnp.ones(3)))
    ts = {"mu": transforms.ordered(), "sigma": lambda c: transforms.interval(c["mu"][0], c["mu"][1]),
          "w": transforms.simplex()}
    init = {"mu": jnp.array([0.0, 2.0]), "sigma": 1.0, "w": jnp.array([0.2, 0.3, 0.5])}
    with jax.enable_x64(True):
        model = transforms.unconstrain(log_density, ts, jax.tree_util.tree_map(
            lambda a: jnp.asarray(a, jnp.float64), init))
        u = model.init + 0.3 * jax.random.normal(KEY, model.init.shape, dtype=jnp.float64)

        def flat(v):
            c = model.constrain(v)
            return jnp.concatenate([c["mu"], jnp.atleast_1d(c["sigma"]), c["w"][:-1]])

        logdet = jnp.linalg.slogdet(jax.jacfwd(flat)(u))[1]
        np.testing.assert_allclose(model.log_density(u) - log_density(model.constrain(u)),
                                   logdet, rtol=1e-10)
        np.testing.assert_allclose(model.unconstrain(init), model.init, atol=1e-12)
        for k, v in model.constrain(model.init).items():
            np.testing.assert_allclose(v, init[k], atol=1e-12)


def test_constrain_maps_a_batch_of_draws_back():
    model = _dependent()
    u = jax.random.normal(KEY, (5, 4, 2))
    c = model.constrain(u)
    assert c["a"].shape == (5, 4) and c["b"].shape == (5, 4)
    assert jnp.all(c["b"] > c["a"])


def test_single_transform_and_array():
    model = transforms.unconstrain(lambda s: jstats.expon.logpdf(s).sum(), transforms.positive(),
                                   jnp.ones(3))
    assert model.init.shape == (3,)
    assert model.constrain(model.init).shape == (3,)


def test_bad_input():
    with pytest.raises(ValueError, match="kind"):
        transforms.positive(kind="square")
    with pytest.raises(ValueError, match="upper must be > lower"):
        transforms.interval(1.0, 0.0)
    with pytest.raises(ValueError, match="K\\(K-1\\)/2"):
        transforms.cholesky_corr().forward(jnp.zeros(2))
    with pytest.raises(ValueError, match="support"):
        transforms.unconstrain(lambda p: -p["s"], {"s": transforms.positive()}, {"s": -1.0})
    with pytest.raises(ValueError, match="keys"):
        transforms.unconstrain(lambda p: -p["s"], {"s": transforms.positive()}, {"t": 1.0})
    with pytest.raises(ValueError, match="must come before"):
        transforms.unconstrain(lambda p: -p["b"], {"b": lambda c: transforms.positive(lower=c["a"]),
                                                   "a": None}, {"b": 1.0, "a": 0.0})
    with pytest.raises(TypeError, match="transforms\\['s'\\]"):
        transforms.unconstrain(lambda p: -p["s"], {"s": "positive"}, {"s": 1.0})
    with pytest.raises(TypeError, match=r"log_density must be callable as log_density\(params\)"):
        transforms.unconstrain(lambda p, x: -p["s"], {"s": transforms.positive()}, {"s": 1.0})
    with pytest.raises(ValueError, match="log_density must return shape"):
        transforms.unconstrain(lambda p: -p["s"] * jnp.ones(2), {"s": transforms.positive()},
                               {"s": 1.0})
