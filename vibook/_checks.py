"""Argument checks shared by every public function.

Each check raises a ``TypeError`` or ``ValueError`` whose message names the
argument and says what was expected, so that bad input never turns into a
silent NaN further down. Value checks run only on concrete inputs: inside
``jax.jit`` the values are tracers and only shapes can be checked.
"""

import numbers

import jax
import jax.numpy as jnp
import numpy as np
import optax


def is_concrete(x):
    """True when ``x`` holds actual numbers (not a tracer under ``jit``)."""
    return not isinstance(x, jax.core.Tracer)


def key(value, name="key"):
    """Check that ``value`` is a JAX PRNG key (typed or legacy ``uint32[2]``)."""
    if isinstance(value, jax.Array) and jnp.issubdtype(value.dtype, jax.dtypes.prng_key):
        return value
    if (isinstance(value, (jax.Array, np.ndarray)) and value.dtype == np.uint32
            and value.shape == (2,)):
        return value
    raise TypeError(
        f"{name} must be a JAX PRNG key, e.g. jax.random.key(0), "
        f"got {type(value).__name__} {getattr(value, 'dtype', '')}".rstrip())


def positive(value, name):
    """Check a finite scalar ``> 0`` (e.g. a scale or a rate); return it."""
    return _scalar(value, name, lambda v: v > 0, "a finite number > 0")


def nonnegative(value, name):
    """Check a finite scalar ``>= 0``; return it."""
    return _scalar(value, name, lambda v: v >= 0, "a finite number >= 0")


def finite(value, name):
    """Check a finite real scalar; return it."""
    return _scalar(value, name, lambda v: True, "a finite number")


def _scalar(value, name, ok, expected):
    if isinstance(value, (bool, np.bool_)) or not (
            isinstance(value, numbers.Real) or np.ndim(value) == 0
            and hasattr(value, "dtype") and jnp.issubdtype(value.dtype, jnp.number)):
        raise TypeError(f"{name} must be {expected}, got {value!r}")
    if is_concrete(value):
        v = float(value)
        if not (np.isfinite(v) and ok(v)):
            raise ValueError(f"{name} must be {expected}, got {v}")
    return value


def positive_int(value, name):
    """Check a Python/NumPy integer ``>= 1``; return it as ``int``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer >= 1, got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value}")
    return int(value)


def array(value, name, ndim=None, shape=None):
    """Convert to a float JAX array and check its rank, shape and finiteness.

    Parameters
    ----------
    value : array_like
        The input.
    name : str
        The argument's name, used in error messages.
    ndim : int or tuple of int, optional
        Allowed numbers of dimensions.
    shape : tuple, optional
        Expected shape; ``None`` entries match any size.
    """
    if isinstance(value, (str, bytes)) or value is None:
        raise TypeError(f"{name} must be an array of numbers, got {type(value).__name__}")
    try:
        out = jnp.asarray(value)
    except TypeError as err:
        raise TypeError(f"{name} must be an array of numbers, got {type(value).__name__}") from err
    if not (jnp.issubdtype(out.dtype, jnp.number) or out.dtype == jnp.bool_):
        raise TypeError(f"{name} must be an array of numbers, got dtype {out.dtype}")
    if not jnp.issubdtype(out.dtype, jnp.floating):
        out = out.astype(jnp.result_type(float))
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if out.ndim not in allowed:
            want = " or ".join(str(d) for d in allowed)
            raise ValueError(f"{name} must have {want} dimension(s), got shape {out.shape}")
    if shape is not None:
        mismatch = any(s is not None and s != o for s, o in zip(shape, out.shape))
        if len(shape) != out.ndim or mismatch:
            want = "(" + ", ".join("any" if s is None else str(s) for s in shape) + ")"
            raise ValueError(f"{name} must have shape {want}, got {out.shape}")
    # NumPy, not jnp: a concrete array closed over inside jit must not be traced.
    if is_concrete(out) and out.size and not np.all(np.isfinite(np.asarray(out))):
        raise ValueError(f"{name} must not contain NaN or inf")
    return out


def batch_size(value, n):
    """Check a minibatch size: an integer from 1 to the data size ``n``; return it."""
    value = positive_int(value, "batch_size")
    if value > n:
        raise ValueError(f"batch_size must be at most the number of data points N = {n}, "
                         f"got {value}")
    return value


def data(value, name="x", ndim=2):
    """A finite data array of rank ``ndim`` (``(N,)`` or ``(N, D)``) with no empty axis."""
    out = array(value, name, ndim=ndim)
    if 0 in out.shape:
        raise ValueError(f"{name} must contain at least one observation in each axis, "
                         f"got shape {out.shape}")
    return out


def function(value, name, usage=None):
    """Check that ``value`` is callable; ``usage`` (e.g. ``"log_f(z)"``) shows how it is called."""
    if not callable(value):
        how = f" as {usage}" if usage else ""
        raise TypeError(f"{name} must be callable{how}, got {type(value).__name__}")
    return value


def optimizer(value):
    """Check an optax ``GradientTransformation`` (e.g. ``optax.adam(0.05)``); return it."""
    if not isinstance(value, optax.GradientTransformation):
        raise TypeError("optimizer must be an optax GradientTransformation, "
                        f"e.g. optax.adam(0.05), got {type(value).__name__}")
    return value
