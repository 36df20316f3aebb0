"""vibook._checks: the argument checks every public function relies on."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from vibook import _checks


def test_keys():
    assert _checks.key(jax.random.key(0)) is not None
    assert _checks.key(jax.random.PRNGKey(0)) is not None
    for bad in (0, "k", np.zeros(2), np.zeros(3, np.uint32)):
        with pytest.raises(TypeError, match="my_key"):
            _checks.key(bad, "my_key")


def test_scalars():
    assert _checks.positive(2.0, "s") == 2.0
    for bad, error in ((0.0, ValueError), (-1, ValueError), (np.nan, ValueError),
                       ("1", TypeError), (True, TypeError), (np.ones(2), TypeError)):
        with pytest.raises(error, match="scale"):
            _checks.positive(bad, "scale")
    assert _checks.nonnegative(0.0, "w") == 0.0


def test_integers():
    assert _checks.positive_int(np.int64(3), "n") == 3
    for bad, error in ((0, ValueError), (2.0, TypeError), (True, TypeError)):
        with pytest.raises(error, match="num_iters"):
            _checks.positive_int(bad, "num_iters")


@pytest.mark.float32   # asserts the float32 default dtype
def test_arrays():
    out = _checks.array([[1, 2], [3, 4]], "x", ndim=2, shape=(None, 2))
    assert out.dtype == jnp.float32 and out.shape == (2, 2)
    with pytest.raises(ValueError, match=r"x must have shape \(any, 3\)"):
        _checks.array(np.ones((2, 2)), "x", shape=(None, 3))
    with pytest.raises(ValueError, match="x must have 1 dimension"):
        _checks.array(np.ones((2, 2)), "x", ndim=1)
    with pytest.raises(ValueError, match="NaN"):
        _checks.array([1.0, np.nan], "x")
    with pytest.raises(TypeError, match="x"):
        _checks.array(["a", "b"], "x")


def test_value_checks_are_skipped_under_jit():
    @jax.jit
    def f(s):
        return _checks.positive(s, "s") * 2.0

    assert float(f(3.0)) == 6.0


def test_a_concrete_array_closed_over_inside_jit_is_checked_without_tracing():
    data = jnp.arange(3.0)

    @jax.jit
    def f(s):
        return jnp.sum(_checks.array(data, "data")) * s

    assert float(f(2.0)) == 6.0


def test_function_and_optimizer_checks_name_the_argument_and_the_expected_call():
    assert _checks.function(len, "f") is len
    with pytest.raises(TypeError, match=r"log_f must be callable as log_f\(z\), got int"):
        _checks.function(3, "log_f", "log_f(z)")
    adam = optax.adam(0.1)
    assert _checks.optimizer(adam) is adam
    with pytest.raises(TypeError, match="optimizer must be an optax GradientTransformation"):
        _checks.optimizer("adam")


def test_a_batch_of_keys_is_refused_with_a_hint():
    for keys in (jax.random.split(jax.random.key(0)), jax.random.split(jax.random.PRNGKey(0))):
        with pytest.raises(TypeError, match=r"key must be a single key, e\.g\. jax\.random\.key\(0\); "
                                            r"got a batch of shape \(2,\) — index it \(keys\[0\]\)"):
            _checks.key(keys)


def test_family_state_and_at_most():
    from vibook import families

    assert _checks.family(families.normal) is families.normal
    for bad, what in (("normal", "the string 'normal'"), (families, "the module vibook.families")):
        with pytest.raises(TypeError, match=f"family must be a vibook.families.Family.*{what}"):
            _checks.family(bad)
    state = families.NormalParams(0.0, 0.0)
    assert _checks.state(state, families.NormalParams, "families.normal.init") is state
    with pytest.raises(TypeError, match="state must be a NormalParams, made by "
                                        "families.normal.init; got tuple"):
        _checks.state((0.0, 0.0), families.NormalParams, "families.normal.init")
    assert _checks.at_most(3, 5, "k", "N") == 3
    with pytest.raises(ValueError, match="num_components must be at most the number of data "
                                         "points N = 5, got 7"):
        _checks.at_most(7, 5, "num_components", "the number of data points N")


def test_spd_and_simplex():
    assert _checks.spd(np.eye(2), "cov").shape == (2, 2)
    assert _checks.spd(np.stack([np.eye(2)] * 3), "covs", ndim=3).shape == (3, 2, 2)
    for bad, match in ((np.array([[1.0, 2.0], [0.0, 1.0]]), "cov must be symmetric"),
                       (-np.eye(2), "cov must be positive definite"),
                       (np.ones((2, 3)), "cov must be square")):
        with pytest.raises(ValueError, match=match):
            _checks.spd(bad, "cov")
    assert _checks.simplex([[0.2, 0.8], [1.0, 0.0]], "resp").shape == (2, 2)
    with pytest.raises(ValueError, match="each row of resp must sum to one, got a sum of 1.1"):
        _checks.simplex([[0.2, 0.8], [0.6, 0.5]], "resp")
    with pytest.raises(ValueError, match="weights must be nonnegative"):
        _checks.simplex([1.5, -0.5], "weights")


def test_log_values_allow_minus_infinity_only():
    assert _checks.array([0.0, -np.inf], "log_w", allow_neg_inf=True).shape == (2,)
    for bad in (np.nan, np.inf):
        with pytest.raises(ValueError, match=r"log_w must not contain NaN or \+inf"):
            _checks.array([0.0, bad], "log_w", allow_neg_inf=True)


def test_user_output_names_the_function_and_the_expected_shape():
    usage = "log_joint(z) for z of shape (4,)"
    assert _checks.user_output(jnp.zeros(4), "log_joint", usage, shape=(4,)).shape == (4,)
    with pytest.raises(ValueError, match=r"log_joint must return shape \(4,\) when called as "
                                         r"log_joint\(z\) for z of shape \(4,\); got shape \(\)"):
        _checks.user_output(jnp.zeros(()), "log_joint", usage, shape=(4,))
    with pytest.raises(ValueError, match=r"sample must return shape \(4, \.\.\.\)"):
        _checks.user_output(jnp.zeros((3, 2)), "sample", "sample(key, 4)", shape=(4, ...))
    with pytest.raises(ValueError, match="log_joint returned NaN or inf"):
        _checks.user_output(jnp.array([0.0, -np.inf]), "log_joint", usage)
    _checks.user_output(jnp.array([0.0, -np.inf]), "log_p", usage, allow_neg_inf=True)
    with pytest.raises(TypeError, match="log_joint must return numbers"):
        _checks.user_output(np.array(["a"]), "log_joint", usage)


def test_traced_values_are_checked_on_the_device():
    def f(x):
        return 2.0 * _checks.array(x, "x", traced=True)

    good, bad = jnp.ones(3), jnp.array([1.0, jnp.nan, 1.0])
    np.testing.assert_allclose(jax.jit(f)(good), 2.0)
    # What the reader sees: JAX's runtime error, ending with our ValueError's message.
    runs = [(jax.jit(f), bad), (jax.jit(jax.grad(lambda x: jnp.sum(f(x)))), bad),
            (jax.jit(jax.vmap(f)), jnp.stack([good, bad]))]
    for run, arg in runs:
        with pytest.raises(jax.errors.JaxRuntimeError, match="ValueError: x must not contain NaN"):
            jax.block_until_ready(run(arg))
    with pytest.raises(ValueError, match="x must not contain NaN"):    # eagerly: at once
        f(bad)


def test_no_traced_checks_leaves_the_program_without_a_callback():
    def program():                        # a new function each time: jit caches traces
        return jax.make_jaxpr(lambda x: 2.0 * _checks.array(x, "x", traced=True))(jnp.ones(3))

    assert "callback" in str(program())
    with _checks.no_traced_checks():
        assert "callback" not in str(program())
        out = jax.jit(lambda x: 2.0 * _checks.array(x, "x", traced=True))(jnp.array([jnp.nan]))
    assert np.isnan(out[0])
    assert "callback" in str(program())                                # restored afterwards


def test_observations():
    assert _checks.observations(1.5).shape == (1,)
    with pytest.raises(ValueError, match="x must have 0 or 1 dimension"):
        _checks.observations(np.ones((2, 2)))


def test_a_failed_traced_check_is_not_logged_twice(caplog):
    f = jax.jit(lambda x: 2.0 * _checks.array(x, "x", traced=True))
    with pytest.raises(jax.errors.JaxRuntimeError) as info:
        jax.block_until_ready(f(jnp.array([jnp.nan])))
    assert str(info.value).rstrip().endswith("ValueError: x must not contain NaN or inf")
    assert not [r for r in caplog.records if "callback failed" in r.getMessage()]


def test_signature_names_the_convention_expected():
    import functools

    _checks.signature(lambda z: z, "log_joint", "log_joint(z)", 1)
    _checks.signature(lambda z, x=1.0: z, "log_joint", "log_joint(z)", 1)
    _checks.signature(lambda *args: 0, "objective", "objective(key, params)", 2)
    _checks.signature(functools.partial(lambda a, b, c: 0, c=1), "objective", "objective(key, params)", 2)
    _checks.signature(jax.jit(lambda z: z), "log_joint", "log_joint(z)", 1)
    _checks.signature(jax.vmap(lambda z: z), "log_joint", "log_joint(z)", 1)
    _checks.signature(jnp.sum, "log_joint", "log_joint(z)", 1)
    with pytest.raises(TypeError, match=r"log_joint must be callable as log_joint\(z\).*\(z, x\)"):
        _checks.signature(lambda z, x: z, "log_joint", "log_joint(z)", 1)
    with pytest.raises(TypeError, match=r"sample must be callable as sample\(key, n\)"):
        _checks.signature(lambda n: n, "sample", "sample(key, n)", 2)


def test_complex_input_is_refused_not_cast():
    with pytest.raises(TypeError, match="x must be real"):
        _checks.array(jnp.array([1.0 + 1j]), "x")
    with pytest.raises(TypeError, match="alpha"):
        _checks.finite(1.0 + 0j, "alpha")
    with pytest.raises(TypeError, match="alpha"):
        _checks.finite(np.complex64(1.0), "alpha")
    with pytest.raises(TypeError, match="f must return real numbers"):
        _checks.user_output(jnp.ones(2, dtype=jnp.complex64), "f", "f(z)")
