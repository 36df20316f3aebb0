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
