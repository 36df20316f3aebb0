"""vibook.flows: log-determinants against slogdet of jacfwd, exact inverses, densities
that integrate to one on a grid, and fits through elbo.reparam and vi.fit."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from hypothesis import given, settings, strategies as st
from scipy import stats

from vibook import _mlp, elbo, flows, targets, vi

KEY = jax.random.key(0)
DIM = 3


def perturbed(params, key, size=0.5):
    """The flow's parameters plus Gaussian noise, so that no layer is the identity."""
    leaves, tree = jax.tree_util.tree_flatten(params)
    keys = jax.random.split(key, len(leaves))
    return jax.tree_util.tree_unflatten(
        tree, [x + size * jax.random.normal(k, x.shape) for x, k in zip(leaves, keys)])


def layer(params, k):
    """Layer ``k``'s parameters out of the stacked ones."""
    return jax.tree_util.tree_map(lambda x: x[k], params.layers)


def layer_maps(kind, params, num_layers, hidden=8):
    """Per-layer forward and inverse maps of one vector, from the layer functions."""
    if kind == "planar":
        return [(functools.partial(flows._planar_layer, layer(params, k)),
                 functools.partial(flows._planar_inverse, layer(params, k)))
                for k in range(num_layers)]
    if kind == "coupling":
        masks = flows.coupling_masks(params.loc.shape[0], num_layers)
        return [(functools.partial(flows.coupling_layer, layer(params, k), masks[k]),
                 functools.partial(flows.coupling_inverse, layer(params, k), masks[k]))
                for k in range(num_layers)]
    masks = flows._iaf_masks(params.loc.shape[0], num_layers, hidden)
    return [(functools.partial(flows._iaf_layer, layer(params, k), [m[k] for m in masks]),
             functools.partial(flows._iaf_inverse, layer(params, k), [m[k] for m in masks]))
            for k in range(num_layers)]


FAMILIES = {
    "planar": lambda d, n: flows.planar(d, n),
    "coupling": lambda d, n: flows.coupling(d, n, 8),
    "iaf": lambda d, n: flows.iaf(d, n, 8),
}


@pytest.mark.parametrize("kind", list(FAMILIES))
def test_layer_log_det_matches_slogdet_and_inverse_is_exact(kind):
    family = FAMILIES[kind](DIM, 3)
    params = perturbed(family.init(KEY), jax.random.key(1))
    xs = jax.random.normal(jax.random.key(2), (5, DIM)) * 1.5
    for forward, inverse in layer_maps(kind, params, 3):
        for x in xs:
            y, log_det = forward(x)
            sign, expected = jnp.linalg.slogdet(jax.jacfwd(lambda v: forward(v)[0])(x))
            assert float(sign) > 0
            np.testing.assert_allclose(log_det, expected, atol=2e-5)
            x_back, log_det_back = inverse(y)
            np.testing.assert_allclose(x_back, x, atol=2e-5)
            np.testing.assert_allclose(log_det_back, log_det, atol=2e-5)


@pytest.mark.parametrize("kind", list(FAMILIES))
def test_log_prob_is_the_change_of_variables_of_the_whole_flow(kind):
    family = FAMILIES[kind](DIM, 3)
    params = perturbed(family.init(KEY, jnp.array([0.5, -1.0, 0.0]), 0.8), jax.random.key(3))
    loc, scale, _ = family.unpack(params)
    maps = layer_maps(kind, params, 3)

    def g(eps):                                   # the whole flow from the noise
        x = loc + scale * eps
        for forward, _ in maps:
            x = forward(x)[0]
        return x

    for eps in jax.random.normal(jax.random.key(4), (4, DIM)):
        _, log_det = jnp.linalg.slogdet(jax.jacfwd(g)(eps))
        expected = stats.norm.logpdf(np.asarray(eps)).sum() - float(log_det)
        np.testing.assert_allclose(family.log_prob(params, g(eps)), expected, atol=5e-5)


def test_sample_is_the_flow_of_gaussian_noise():
    family = flows.coupling(2, 2, 8)
    params = perturbed(family.init(KEY), jax.random.key(5))
    loc, scale, _ = family.unpack(params)
    eps = jax.random.normal(jax.random.key(6), (4, 2))            # what sample draws
    x = loc[None, :] + scale[None, :] * eps
    for forward, _ in layer_maps("coupling", params, 2):
        x = jax.vmap(lambda v: forward(v)[0])(x)
    np.testing.assert_allclose(family.sample(jax.random.key(6), params, 4), x, atol=1e-5)


@pytest.mark.parametrize("kind", list(FAMILIES))
def test_log_prob_integrates_to_one_on_a_grid(kind):
    family = FAMILIES[kind](2, 4)
    params = perturbed(family.init(KEY, 0.0, 0.7), jax.random.key(7), size=0.3)
    z = family.sample(jax.random.key(8), params, 4000)
    q = np.quantile(np.asarray(z), [0.0, 1.0], axis=0)
    limits = [(lo - 3.0, hi + 3.0) for lo, hi in q.T]
    g = targets.grid(limits, 301)
    mass = float(jnp.exp(targets.log_integral(family.log_prob(params, g.points), g)))
    assert abs(mass - 1.0) < 2e-3


def test_iaf_masks_are_autoregressive():
    for order in [np.arange(4), np.arange(4)[::-1], np.array([2, 0, 3, 1])]:
        m1, m2, m3 = flows._made_masks(order, hidden=7)
        path = (m1 @ m2 @ m3) > 0                     # input i reaches output j
        out_degree = np.tile(order, 2)
        allowed = order[:, None] < out_degree[None, :]
        assert not np.any(path & ~allowed)
        assert np.any(path)


def test_fresh_coupling_and_iaf_layers_are_the_identity():
    for kind in ["coupling", "iaf"]:
        family = FAMILIES[kind](2, 3)
        params = family.init(KEY, jnp.array([1.0, -2.0]), jnp.array([0.5, 2.0]))
        z = jnp.array([[0.3, -1.0], [2.0, 0.5]])
        expected = stats.norm([1.0, -2.0], [0.5, 2.0]).logpdf(np.asarray(z)).sum(-1)
        np.testing.assert_allclose(family.log_prob(params, z), expected, rtol=1e-5)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.floats(0.1, 3.0), st.integers(1, 4))
def test_planar_layers_stay_invertible(seed, size, dim):
    family = flows.planar(dim, 2)
    params = perturbed(family.init(jax.random.key(seed)), jax.random.key(seed + 1), size)
    for k in range(2):
        w, u, _ = layer(params, k)
        assert float(w @ flows._planar_u_hat(w, u)) > -1.0
    z = family.sample(jax.random.key(seed + 2), params, 8)
    lp = family.log_prob(params, z)
    assert np.all(np.isfinite(np.asarray(lp)))
    x = jax.random.normal(jax.random.key(seed + 3), (dim,)) * size
    for forward, inverse in layer_maps("planar", params, 2):
        np.testing.assert_allclose(inverse(forward(x)[0])[0], x, atol=1e-4 * (1 + size))


@pytest.mark.float32   # its key and 600 steps are set for the float32 random stream; in float64 the same key draws other numbers
@pytest.mark.parametrize("kind", list(FAMILIES))
def test_flows_fit_a_correlated_gaussian_through_vi_fit(kind):
    cov = np.array([[1.0, 0.8], [0.8, 1.0]])
    chol_inv = np.linalg.inv(np.linalg.cholesky(cov))

    def log_joint(z):                             # unnormalised: log Z = log(2 pi |cov|^1/2)
        white = z @ jnp.asarray(chol_inv.T)
        return -0.5 * jnp.sum(white**2, axis=-1)

    log_z = np.log(2 * np.pi * np.sqrt(np.linalg.det(cov)))
    family = FAMILIES[kind](2, 4)
    objective = functools.partial(elbo.reparam, log_joint=log_joint, family=family, num_samples=16)
    state, _ = vi.fit(KEY, objective, family.init(KEY), optax.adam(0.02), 600)
    params = state.params
    final = float(elbo.reparam(jax.random.key(9), params, log_joint, family, num_samples=20_000))
    assert final <= log_z + 0.01
    assert log_z - final < 0.05                   # KL(q || p) below 0.05 nats
    z = family.sample(jax.random.key(10), params, 20_000)
    np.testing.assert_allclose(np.cov(np.asarray(z).T), cov, atol=0.25)


def test_bad_input():
    family = flows.coupling(2, 2, 8)
    params = family.init(KEY)
    with pytest.raises(ValueError, match="dim"):
        flows.coupling(1, 2, 8)
    with pytest.raises(ValueError, match="dim"):
        flows.iaf(1, 2, 8)
    with pytest.raises(ValueError, match="num_layers"):
        flows.planar(2, 0)
    with pytest.raises(TypeError, match="hidden"):
        flows.iaf(2, 2, 8.5)
    with pytest.raises(TypeError, match="key"):
        family.init(0)
    with pytest.raises(ValueError, match="scale"):
        family.init(KEY, 0.0, -1.0)
    with pytest.raises(ValueError, match="loc"):
        family.init(KEY, jnp.zeros(3))
    with pytest.raises(ValueError, match="z"):
        family.log_prob(params, jnp.zeros((4, 3)))
    with pytest.raises(ValueError, match="z"):
        family.log_prob(params, jnp.array([0.0, jnp.nan]))
    with pytest.raises(TypeError, match="params"):
        family.log_prob((0.0, 1.0), jnp.zeros(2))
    with pytest.raises(ValueError, match="params"):
        flows.coupling(3, 2, 8).sample(KEY, params, 4)
    with pytest.raises(ValueError, match="layers"):
        flows.coupling(2, 3, 8).sample(KEY, params, 4)
    with pytest.raises(ValueError, match="num_samples"):
        family.sample(KEY, params, 0)
    with pytest.raises(NotImplementedError, match="entropy"):
        family.entropy(params)


def test_flows_work_under_jit():
    family = flows.iaf(2, 2, 8)
    params = family.init(KEY)
    lp = jax.jit(lambda p, k: family.log_prob(p, family.sample(k, p, 3)))(params, KEY)
    assert lp.shape == (3,)


@pytest.mark.parametrize("kind", list(FAMILIES))
def test_forward_log_q_equals_the_inverse_based_log_prob(kind):
    """log q of the flow's own draws from the forward pass (Kingma et al. 2016)
    equals log_prob, which inverts the flow; so do the ELBOs and their gradients,
    and elbo.reparam uses the forward pass."""
    family = FAMILIES[kind](DIM, 3)
    params = perturbed(family.init(KEY, 0.3, 1.5), jax.random.key(1), size=0.3)
    z, log_q = family.sample(jax.random.key(2), params, 64, return_log_prob=True)
    np.testing.assert_allclose(z, family.sample(jax.random.key(2), params, 64))
    np.testing.assert_allclose(log_q, family.log_prob(params, z), atol=2e-4)

    def log_joint(z):
        return stats_norm_logpdf(z).sum(-1)

    forward = functools.partial(flows.reparam_elbo, log_joint=log_joint, flow=family,
                                num_samples=64)
    def inverse(key, params):                       # log q by inverting the flow
        z = family.sample(key, params, 64)
        return jnp.mean(log_joint(z) - family.log_prob(params, z))

    value_f, grad_f = jax.value_and_grad(forward, argnums=1)(jax.random.key(3), params)
    value_i, grad_i = jax.value_and_grad(inverse, argnums=1)(jax.random.key(3), params)
    assert abs(float(value_f - value_i)) < 1e-4
    # elbo.reparam takes the forward pass too (the family's sample_and_log_prob)
    value_e = elbo.reparam(jax.random.key(3), params, log_joint, family, 64)
    assert abs(float(value_e - value_f)) < 1e-5
    for g_f, g_i in zip(jax.tree_util.tree_leaves(grad_f), jax.tree_util.tree_leaves(grad_i)):
        np.testing.assert_allclose(g_f, g_i, atol=2e-3, rtol=2e-3)


def stats_norm_logpdf(z):
    return jax.scipy.stats.norm.logpdf(z, 1.0, 2.0)


def test_reparam_elbo_bad_input():
    family = flows.coupling(2, 2, 8)
    params = family.init(KEY)
    log_joint = lambda z: -0.5 * jnp.sum(z**2, axis=-1)  # noqa: E731
    with pytest.raises(TypeError, match="flow"):
        flows.reparam_elbo(KEY, params, log_joint, "coupling", 4)
    with pytest.raises(TypeError, match="flow"):
        from vibook import families
        flows.reparam_elbo(KEY, families.normal.init(0.0, 1.0), log_joint, families.normal, 4)
    with pytest.raises(ValueError, match="log_joint"):
        flows.reparam_elbo(KEY, params, lambda z: -0.5 * z**2, family, 4)
    with pytest.raises(TypeError, match="ONE draw"):
        flows.reparam_elbo(KEY, params, lambda z: z[:, 0], family, 4)
    with pytest.raises(ValueError, match="num_samples"):
        flows.reparam_elbo(KEY, params, log_joint, family, 0)
    with pytest.raises(TypeError, match="key"):
        flows.reparam_elbo(0, params, log_joint, family, 4)


def test_narrow_layers_compute_the_same_products_as_matrix_products():
    """``_mlp``'s multiply-adds for narrow layers (few inputs, or few outputs), masked
    or not, give the matrix products' values."""
    key = jax.random.key(0)
    for sizes in ([2, 32, 32, 4], [3, 16, 4], [5, 8, 6]):
        net = _mlp.init(key, sizes)
        net = [(w, b + 0.1) for w, b in net]
        masks = [jax.random.bernoulli(key, 0.7, w.shape).astype(w.dtype) for w, _ in net]
        x = jax.random.normal(key, (7, sizes[0]))
        for m in (None, masks):
            assert jnp.allclose(_mlp.apply(net, x, m, narrow=True), _mlp.apply(net, x, m),
                                rtol=1e-5, atol=1e-5)
