"""PSIS against ArviZ's ``psislw`` (float64), known Pareto shapes, and SBC ranks."""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from vibook import diagnostics
from vibook.models import NormalNormal

with warnings.catch_warnings():
    warnings.simplefilter("ignore", FutureWarning)   # ArviZ announces its refactor
    import arviz


def _weights(kind, size, seed):
    rng = np.random.default_rng(seed)
    if kind == "lognormal":
        return rng.normal(0.0, 1.5, size)
    if kind == "student_t":
        return np.log(np.abs(rng.standard_t(2.0, size)))
    return np.log1p(rng.pareto(1 / 0.8, size))                       # Pareto tail, k = 0.8


@pytest.mark.parametrize("kind", ["lognormal", "student_t", "pareto"])
@pytest.mark.parametrize("size", [21, 1000, 100_000])
def test_psis_matches_arviz_in_float64(kind, size):
    raw = _weights(kind, size, seed=size)
    expected, expected_k = arviz.psislw(raw.copy())
    with jax.enable_x64(True):
        smoothed, khat = diagnostics.psis(jnp.asarray(raw, dtype=jnp.float64) + 3.0)
        smoothed, khat = np.asarray(smoothed), float(khat)
    assert smoothed.dtype == np.float64
    np.testing.assert_allclose(np.exp(smoothed), np.exp(expected), rtol=1e-6, atol=0)
    np.testing.assert_allclose(khat, expected_k, rtol=1e-6)


@pytest.mark.parametrize("shape", [0.2, 0.5, 0.9])
def test_khat_recovers_the_shape_of_generalized_pareto_draws(shape):
    # The tail of a GPD(k) is a GPD(k): k-hat estimates k, with standard error
    # about (1 + k) / sqrt(M) for M = 300 tail draws at S = 10^4.
    draws = stats.genpareto.rvs(shape, size=10_000, random_state=7)
    _, khat = diagnostics.psis(jnp.log(jnp.asarray(draws)))
    assert abs(float(khat) - shape) < 3 * (1 + shape) / np.sqrt(300)


def test_psis_is_jittable_and_normalised():
    lw = jnp.asarray(_weights("lognormal", 500, seed=1))
    smoothed, khat = diagnostics.psis(lw)
    jit_smoothed, jit_khat = jax.jit(diagnostics.psis)(lw)
    np.testing.assert_allclose(jit_smoothed, smoothed, rtol=1e-5)
    np.testing.assert_allclose(jit_khat, khat, rtol=1e-5)
    assert abs(float(jax.nn.logsumexp(smoothed))) < 1e-5
    # Smoothing keeps the order of the weights, leaves the body's ratios alone
    # and truncates the tail at the largest raw weight.
    lw, smoothed = np.asarray(lw), np.asarray(smoothed)
    order = np.argsort(lw)
    assert np.all(np.diff(smoothed[order]) >= -1e-6)
    body = order[:500 - diagnostics.tail_length(500)]
    shift = smoothed[body] - lw[body]
    np.testing.assert_allclose(shift, shift[0], atol=1e-5)
    assert smoothed.max() - shift[0] <= lw.max() + 1e-5


def test_psis_accepts_zero_weights_and_flat_tails():
    lw = jnp.asarray(_weights("lognormal", 200, seed=2)).at[:5].set(-jnp.inf)
    smoothed, khat = diagnostics.psis(lw)
    assert np.all(np.isneginf(np.asarray(smoothed[:5])))
    assert np.all(np.isfinite(np.asarray(smoothed[5:]))) and np.isfinite(float(khat))
    smoothed, khat = diagnostics.psis(jnp.zeros(100))                # q = p exactly
    assert float(khat) == -np.inf
    np.testing.assert_allclose(np.exp(smoothed), 0.01, rtol=1e-5)


def test_psis_expectation_corrects_an_overdispersed_proposal():
    # Target N(1, 1), proposal N(0, 2^2): E_p[z] = 1, E_p[z^2] = 2.
    z = 2.0 * jax.random.normal(jax.random.key(0), (4000,))
    lw = stats.norm.logpdf(np.asarray(z), 1.0, 1.0) - stats.norm.logpdf(np.asarray(z), 0.0, 2.0)
    values = jnp.stack([z, z**2], axis=1)                            # (S, 2)
    estimate, khat = diagnostics.psis_expectation(lw, values)
    smoothed, khat2 = diagnostics.psis(lw)
    np.testing.assert_allclose(estimate, jnp.exp(smoothed) @ values, rtol=1e-5)
    assert float(khat) == float(khat2) and float(khat) < 0.5
    np.testing.assert_allclose(estimate, [1.0, 2.0], atol=0.1)
    scalar, _ = diagnostics.psis_expectation(lw, z)
    assert scalar.shape == () and abs(float(scalar) - float(estimate[0])) < 1e-5


def test_khat_threshold():
    assert diagnostics.khat_threshold(1000) == pytest.approx(2 / 3)
    assert diagnostics.khat_threshold(10**6) == 0.7
    assert diagnostics.tail_length(1000) == 95 and diagnostics.tail_length(100) == 20
    with pytest.raises(ValueError, match="num_draws"):
        diagnostics.khat_threshold(5)


@pytest.mark.parametrize("bad, match", [
    (np.array([np.nan] + [0.0] * 99), "NaN"),
    (np.array([np.inf] + [0.0] * 99), r"\+inf"),
    (np.full(100, -np.inf), "finite"),
    (np.zeros(20), "at least 21"),
    (np.zeros((10, 10)), "1 dimension"),
])
def test_psis_rejects_bad_log_weights(bad, match):
    with pytest.raises(ValueError, match=match):
        diagnostics.psis(bad)
    with pytest.raises(ValueError, match="log_weights"):
        diagnostics.psis(bad)


def test_psis_rejects_non_arrays_and_mismatched_values():
    with pytest.raises(TypeError, match="log_weights"):
        diagnostics.psis("weights")
    with pytest.raises(ValueError, match="values"):
        diagnostics.psis_expectation(jnp.zeros(100), jnp.zeros(99))


def _normal_normal_sbc(key, num_sims, num_draws, scale_factor):
    """Ranks of mu under the exact posterior, its scale multiplied by ``scale_factor``."""
    model = NormalNormal(prior_mean=0.0, prior_scale=1.0, noise_scale=2.0)

    def one(k):
        k_data, k_post = jax.random.split(k)
        mu, x = model.sample(k_data, 10)
        mean, scale = model.posterior(x)
        eps = jax.random.normal(k_post, (num_draws,))
        return mu, mean + scale_factor * scale * eps

    truth, draws = jax.vmap(one)(jax.random.split(key, num_sims))   # (N,), (N, L)
    return diagnostics.sbc_ranks(truth, draws)


def test_sbc_ranks_are_uniform_for_the_exact_posterior():
    ranks = _normal_normal_sbc(jax.random.key(3), 400, 19, 1.0)
    assert ranks.shape == (400,) and int(ranks.min()) >= 0 and int(ranks.max()) <= 19
    counts = np.bincount(np.asarray(ranks), minlength=20)
    assert stats.chisquare(counts).pvalue > 0.01
    narrow = _normal_normal_sbc(jax.random.key(3), 400, 19, 0.5)
    assert stats.chisquare(np.bincount(np.asarray(narrow), minlength=20)).pvalue < 1e-6


def test_sbc_ranks_count_draws_below_the_truth_per_coordinate():
    truth = jnp.asarray([[0.0, 1.0], [2.0, -1.0]])                   # (N=2, D=2)
    draws = jnp.asarray([[[-1.0, 0.0], [1.0, 2.0], [-0.5, 0.5]],
                         [[3.0, -2.0], [1.0, -3.0], [2.5, 0.0]]])    # (2, L=3, 2)
    np.testing.assert_array_equal(diagnostics.sbc_ranks(truth, draws), [[2, 2], [1, 2]])
    with pytest.raises(ValueError, match="draws"):
        diagnostics.sbc_ranks(truth, draws[:, :, :1])
    with pytest.raises(ValueError, match="truth"):
        diagnostics.sbc_ranks(jnp.zeros((2, 2, 2)), draws)


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
def test_tail_selection_matches_a_full_sort(dtype):
    # The bisection on bit patterns must find the same M largest values as a
    # sort, with negative values, zeros, -inf and ties.
    values = np.concatenate([np.random.default_rng(5).normal(0, 3, 300),
                             [0.0, 0.0, -0.0, -np.inf, 2.5, 2.5, 2.5]])
    with jax.enable_x64(dtype == jnp.float64):
        lw = jnp.asarray(values, dtype=dtype)
        for m in [1, 5, 40, 307]:
            top, idx = diagnostics._largest(lw, m)
            np.testing.assert_array_equal(np.asarray(top), np.sort(np.asarray(lw))[-m:])
            np.testing.assert_array_equal(np.asarray(lw)[np.asarray(idx)], np.asarray(top))
            assert len(set(np.asarray(idx).tolist())) == m


def test_gpd_fit_recovers_a_known_shape_and_scale():
    x = np.sort(stats.genpareto.rvs(0.3, scale=2.0, size=5000, random_state=11))
    k, sigma = diagnostics.gpd_fit(jnp.asarray(x))
    assert abs(float(k) - 0.3) < 0.06 and abs(float(sigma) / 2.0 - 1) < 0.08
    p = jnp.asarray([0.1, 0.5, 0.9])
    np.testing.assert_allclose(diagnostics.gpd_quantile(p, 0.3, 2.0),
                               stats.genpareto.ppf(np.asarray(p), 0.3, scale=2.0), rtol=1e-5)
    np.testing.assert_allclose(diagnostics.gpd_quantile(p, 0.0, 2.0),
                               stats.expon.ppf(np.asarray(p), scale=2.0), rtol=1e-5)
    with pytest.raises(ValueError, match="x"):
        diagnostics.gpd_fit(jnp.ones(3))
    with pytest.raises(ValueError, match="num_draws"):
        diagnostics.tail_length(0)


def test_psis_wide_log_weights_in_float32_match_arviz_with_the_float32_floor():
    # Regression (issue 21, item 1): log weights ~ N(0, 100^2), S = 4000 gave
    # khat = NaN in float32. Tail weights below the float32 floor are now left
    # out of the fit, as ArviZ leaves out those below the float64 floor; ArviZ's
    # own routine run with float32's floor is the oracle.
    from arviz.stats.stats import _psislw
    raw = 100.0 * np.random.default_rng(0).normal(size=4000)
    raw32 = raw.astype(np.float32)
    m = diagnostics.tail_length(4000)
    expected, expected_k = _psislw(raw32.astype(np.float64), -m - 1,
                                   np.log(np.finfo(np.float32).tiny), True)
    smoothed, khat = diagnostics.psis(jnp.asarray(raw32))
    assert np.isfinite(float(khat)) and float(khat) > 0.7
    np.testing.assert_allclose(float(khat), expected_k, rtol=1e-4)
    np.testing.assert_allclose(np.exp(np.asarray(smoothed, np.float64)), np.exp(expected),
                               atol=1e-6)
    with jax.enable_x64(True):                       # float64 keeps the whole tail
        _, khat64 = diagnostics.psis(jnp.asarray(raw, dtype=jnp.float64))
        np.testing.assert_allclose(float(khat64), arviz.psislw(raw.copy())[1], rtol=1e-6)
        assert abs(float(khat64) - 26.9) < 0.05


def test_psis_and_gpd_fit_on_tied_tail_values_are_not_nan():
    # Ties at the cutoff are left out of the fit (as in ArviZ) ...
    lw = np.r_[np.random.default_rng(3).normal(size=900) - 5.0, np.zeros(50),
               np.linspace(0.1, 2.0, 50)]
    expected, expected_k = arviz.psislw(lw.copy())
    smoothed, khat = diagnostics.psis(jnp.asarray(lw, jnp.float32))
    assert np.isfinite(float(khat)) and np.all(np.isfinite(np.asarray(smoothed)))
    np.testing.assert_allclose(float(khat), expected_k, rtol=1e-3)
    # ... and an all-tied tail (b = 0 on the grid) takes the limit of -b/k(b).
    for n in (50, 100, 676):
        k, sigma = diagnostics.gpd_fit(jnp.ones(n))
        assert np.isfinite(float(k)) and float(k) < 0 and float(sigma) > 0
    tied_tail = jnp.r_[jnp.linspace(-8.0, -1.0, 1400), jnp.zeros(120)]   # M = 117
    smoothed, khat = diagnostics.psis(tied_tail.at[-1].set(1.0))
    assert not np.isnan(float(khat)) and np.all(np.isfinite(np.asarray(smoothed)))
    with pytest.raises(ValueError, match="x"):
        diagnostics.gpd_fit(jnp.asarray([0.0, 0.0, 0.0, 0.0, 0.0, 1.0]))


def test_psis_ess_and_mcse_match_their_definitions():
    rng = np.random.default_rng(4)
    lw = rng.normal(size=1000)
    f = rng.normal(size=(1000, 2))
    w = np.exp(lw - lw.max())
    w /= w.sum()
    np.testing.assert_allclose(float(diagnostics.psis_ess(jnp.asarray(lw))),
                               1 / np.sum(w**2), rtol=1e-4)
    mean = w @ f
    expected = np.sqrt(np.sum(w[:, None] ** 2 * (f - mean) ** 2, axis=0))
    np.testing.assert_allclose(diagnostics.psis_mcse(jnp.asarray(lw), jnp.asarray(f)),
                               expected, rtol=1e-4)
    # The MCSE is honest: over 200 replicates of a good proposal, the spread of
    # the PSIS estimate of E_p[z] (p = N(0, 1), q = N(0, 1.2^2)) matches it.
    keys = jax.random.split(jax.random.key(5), 200)

    def one(key):
        z = 1.2 * jax.random.normal(key, (1000,))
        log_r = -0.5 * z**2 + 0.5 * (z / 1.2) ** 2
        smoothed, _ = diagnostics.psis(log_r)
        return jnp.sum(jnp.exp(smoothed) * z), diagnostics.psis_mcse(smoothed, z)
    estimates, mcse = jax.vmap(one)(keys)
    assert abs(float(jnp.std(estimates)) / float(jnp.mean(mcse)) - 1) < 0.15


def _tail_inputs(size, rng):
    """Inputs for the tail selection: random, many ties, mostly -inf, and one
    whose largest values sit exactly where the sample looks (the fast path's
    threshold then has fewer than m values above it: the exact fallback runs)."""
    stride = max(1, size // diagnostics._SAMPLE)
    sampled = slice(0, (diagnostics._SAMPLE - 1) * stride + 1, stride)   # as _largest
    strided = np.zeros(size)
    strided[sampled] = 1.0 + rng.random(len(strided[sampled]))
    mostly_neg_inf = np.full(size, -np.inf)
    mostly_neg_inf[rng.choice(size, 50, replace=False)] = rng.normal(size=50)
    return {"random": rng.standard_t(2.0, size),
            "ties": np.round(rng.normal(size=size), 1),
            "mostly -inf": mostly_neg_inf,
            "sorted": np.sort(rng.normal(size=size)),
            "strided": strided}


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
def test_sampled_tail_selection_is_exact_under_jit(dtype):
    # Above _SAMPLE_FROM draws the tail comes from a sampled threshold, with
    # the bisection as fallback: both must give the m largest values exactly.
    size = diagnostics._SAMPLE_FROM + 1000
    m = diagnostics.tail_length(size) + 1
    with jax.enable_x64(dtype == jnp.float64):
        largest = jax.jit(diagnostics._largest, static_argnums=1)
        for name, values in _tail_inputs(size, np.random.default_rng(6)).items():
            lw = jnp.asarray(values, dtype=dtype)
            top, idx = largest(lw, m)
            top, idx, x = np.asarray(top), np.asarray(idx), np.asarray(lw)
            np.testing.assert_array_equal(top, np.sort(x)[-m:], err_msg=name)
            np.testing.assert_array_equal(x[idx], top, err_msg=name)
            assert len(set(idx.tolist())) == m, name
            ties = top[1:] == top[:-1]                   # equal values in order of position
            assert np.all(idx[1:][ties] > idx[:-1][ties]), name
            host = diagnostics._largest_host(x, m)    # the NumPy path's selection
            np.testing.assert_array_equal(x[host], top, err_msg=name)


def test_strided_input_forces_the_fallback():
    # Of the inputs of the test above, "strided" forces the exact fallback
    # (fewer than m values above the sampled threshold), "random" does not.
    size = diagnostics._SAMPLE_FROM + 1000
    m = diagnostics.tail_length(size) + 1
    stride = size // diagnostics._SAMPLE
    rank = max(1, round(2 * m * diagnostics._SAMPLE / size))
    inputs = _tail_inputs(size, np.random.default_rng(6))
    counts = {}
    for name in ("strided", "random"):
        sample = inputs[name][:(diagnostics._SAMPLE - 1) * stride + 1:stride]
        assert sample.size == diagnostics._SAMPLE
        counts[name] = np.sum(inputs[name] >= np.sort(sample)[-rank])
    assert counts["strided"] < m <= counts["random"] <= 4 * m


def test_psis_sampled_selection_under_vmap():
    rng = np.random.default_rng(9)
    lw = jnp.asarray(np.stack([rng.normal(0.0, 1.5, diagnostics._SAMPLE_FROM),
                               np.round(rng.normal(size=diagnostics._SAMPLE_FROM), 1)]))
    smoothed, khat = jax.jit(jax.vmap(diagnostics.psis))(lw)
    for row in range(2):
        one, one_k = diagnostics.psis(lw[row])
        np.testing.assert_allclose(smoothed[row], one, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(khat[row], one_k, rtol=1e-5)


def test_compact_matches_nonzero():
    mask = np.random.default_rng(7).random(1003) < 0.05               # 52 true
    for size in (10, 52, 200):
        got = np.asarray(jax.jit(diagnostics._compact, static_argnums=1)(jnp.asarray(mask), size))
        real = min(size, mask.sum())
        np.testing.assert_array_equal(got[:real], np.nonzero(mask)[0][:real])
        assert np.all((got >= 0) & (got < mask.size))


def _psis_inputs(size, rng):
    """Log weights for comparing psis's NumPy and JAX paths: those of _tail_inputs
    (ties, mostly -inf, sorted, the sampled selection's fallback), a heavy and
    a light tail, all equal (q = p: no tail), and a spread wider than float32's
    range (the fit then leaves out weights below the float floor)."""
    inputs = _tail_inputs(size, rng) if size >= 100 else {
        "random": rng.standard_t(2.0, size), "ties": np.round(rng.normal(size=size), 1),
        "mostly -inf": np.where(np.arange(size) % 3 == 0, rng.normal(size=size), -np.inf),
        "sorted": np.sort(rng.normal(size=size))}
    return inputs | {"pareto": _weights("pareto", size, rng.integers(100)),
                     "lognormal": _weights("lognormal", size, rng.integers(100)),
                     "equal": np.zeros(size), "wide": 100.0 * rng.normal(size=size)}


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
def test_psis_numpy_selection_gives_the_jitted_numbers(dtype):
    # A concrete array takes NumPy's selection (argpartition); under jit the
    # selection is JAX's. Both feed the same compiled smoothing: the same
    # numbers, bit for bit, with ties, -inf, no tail and a spread wider than the
    # float range, on both sides of _SAMPLE_FROM.
    rng = np.random.default_rng(8)
    with jax.enable_x64(dtype == jnp.float64):
        jitted = jax.jit(diagnostics.psis)
        for size in (diagnostics.MIN_DRAWS, 50, 1000, diagnostics._SAMPLE_FROM + 1000):
            for name, values in _psis_inputs(size, rng).items():
                values = np.where(np.isinf(values), values, values - 3.0)
                lw = jnp.asarray(values, dtype=dtype)
                host, host_k = diagnostics.psis(lw)
                jit, jit_k = jitted(lw)
                where = f"{name}, S = {size}"
                assert host.dtype == jit.dtype == dtype and host.shape == (size,), where
                np.testing.assert_array_equal(np.asarray(host), np.asarray(jit), err_msg=where)
                np.testing.assert_array_equal(float(host_k), float(jit_k), err_msg=where)
                assert np.all(np.isneginf(np.asarray(host)[np.isneginf(values)])), where


def test_psis_on_a_host_array_selects_with_numpy_and_returns_jax_arrays(monkeypatch):
    # A concrete CPU array, a NumPy array included, takes NumPy's selection, not
    # the JAX path's (_psis); the results are JAX arrays of the input's dtype.
    def no_jax(lw):
        raise AssertionError("the JAX path ran")
    monkeypatch.setattr(diagnostics, "_psis", no_jax)
    raw = _weights("student_t", 500, seed=3)
    for log_weights in (jnp.asarray(raw), raw):
        smoothed, khat = diagnostics.psis(log_weights)
        assert isinstance(smoothed, jax.Array) and isinstance(khat, jax.Array)
        assert smoothed.shape == (500,) and khat.shape == ()
        assert smoothed.dtype == khat.dtype == jnp.asarray(raw).dtype
        assert abs(float(jax.nn.logsumexp(smoothed))) < 1e-5


def test_psis_checks_jax_arrays_with_the_same_messages():
    lw = jnp.zeros(100)
    for bad, match in [(lw.at[3].set(jnp.nan), "log_weights must not contain NaN"),
                       (lw.at[3].set(jnp.inf), r"log_weights must not contain NaN or \+inf"),
                       (jnp.full(100, -jnp.inf), "log_weights must contain at least one finite"),
                       (jnp.zeros(20), "at least 21"), (jnp.zeros((10, 10)), "1 dimension")]:
        with pytest.raises(ValueError, match=match):
            diagnostics.psis(bad)
