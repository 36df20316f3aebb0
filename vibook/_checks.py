"""Argument checks shared by every public function.

Each check raises a ``TypeError`` or ``ValueError`` whose message names the
argument and says what was expected, so that bad input never turns into a
silent NaN further down.

Under ``jax.jit`` (and ``grad``, ``vmap``, ``lax.scan``) the values are
tracers: shapes are still checked when the function is traced, but the
numbers are not known yet. The functions a reader is likely to jit (the ELBO
estimators, the families' ``log_prob``, the marginal-likelihood estimators)
therefore also check their values *on the device*, through :func:`check`:
a host callback raises ``ValueError`` with the same message when the
computation runs. JAX reports it as a ``jax.errors.JaxRuntimeError`` whose
message ends with that ``ValueError: ...`` line. vibook's own fitting loops,
which check their objective after the loop, trace their steps inside
:func:`no_traced_checks` and so carry no callback.
"""

import contextlib
import functools
import inspect
import logging
import numbers

import jax
import jax.numpy as jnp
import numpy as np
import optax


def is_concrete(x):
    """True when ``x`` holds actual numbers (not a tracer under ``jit``)."""
    return not isinstance(x, jax.core.Tracer)


_TRACED_CHECKS = [True]


@contextlib.contextmanager
def no_traced_checks():
    """Trace without the device-side checks of :func:`check` (for loops that check afterwards)."""
    _TRACED_CHECKS.append(False)
    try:
        yield
    finally:
        _TRACED_CHECKS.pop()


def _raise_unless(ok, *, message):
    if not np.all(ok):
        raise ValueError(message)


class _QuietFailedChecks(logging.Filter):
    """Drop JAX's log of a failed :func:`check` ("jax.debug.callback failed" and a
    traceback): the same message reaches the reader in the error JAX raises."""

    def filter(self, record):
        error = record.exc_info[1] if record.exc_info else None
        tb = getattr(error, "__traceback__", None)
        while tb is not None and tb.tb_next is not None:
            tb = tb.tb_next
        return not (isinstance(error, ValueError) and tb is not None
                    and tb.tb_frame.f_code is _raise_unless.__code__)


logging.getLogger("jax._src.debugging").addFilter(_QuietFailedChecks())


def _nothing(ok):
    return None


@functools.lru_cache(maxsize=None)
def _device_check(message):
    """``device_check(ok)``: call the host, which raises ``message``, only when the traced
    scalar ``ok`` is false. One function per message, so that JAX's caches hold."""
    fail = functools.partial(_raise_unless, message=message)

    def call_host(ok):
        jax.debug.callback(fail, ok)

    @jax.custom_batching.custom_vmap
    def device_check(ok):
        # The callback sits in the failing branch: a passing check never leaves the device.
        jax.lax.cond(ok, _nothing, call_host, ok)
        return ok

    @device_check.def_vmap
    def _(axis_size, in_batched, ok):
        # Under vmap, one check of the whole batch (jax.debug.callback alone would be
        # unrolled into one host call per element); under an eager vmap, on the host.
        ok = jnp.all(ok)
        if is_concrete(ok):
            fail(ok)
            return ok, False
        return device_check(ok), False

    return device_check


def check(ok, message):
    """Raise ``ValueError(message)`` unless the boolean array ``ok`` is all true, also under ``jit``.

    A concrete ``ok`` is checked at once. A traced one is checked on the
    device; only when it fails does ``jax.debug.callback`` call the host,
    which raises, and JAX re-raises that as ``jax.errors.JaxRuntimeError``
    ending with ``ValueError: <message>`` when the result is computed. Inside
    :func:`no_traced_checks` a traced ``ok`` is not checked.
    """
    if is_concrete(ok):
        if not bool(np.all(np.asarray(ok))):
            raise ValueError(message)
    elif _TRACED_CHECKS[-1]:
        _device_check(message)(jnp.all(ok))


def finite_objective(value, name, causes):
    """Raise ``ValueError`` unless one step's objective ``value`` is finite, also under ``jit``.

    ``name`` is the objective (``"ELBO"``, ``"log-likelihood"``) and ``causes``
    says what to look at, e.g. ``"use reg_covar > 0"``. See :func:`check`.
    """
    check(jnp.isfinite(value), f"the {name} after this step is NaN or inf: {causes}")


def key(value, name="key"):
    """Check that ``value`` is one JAX PRNG key (typed, shape ``()``, or legacy ``uint32[2]``).

    A batch of keys (``jax.random.split(key)`` passed whole) is refused: every
    function here takes one key and splits it itself.
    """
    typed = isinstance(value, jax.Array) and jnp.issubdtype(value.dtype, jax.dtypes.prng_key)
    legacy = isinstance(value, (jax.Array, np.ndarray)) and value.dtype == np.uint32
    if typed or legacy and value.ndim >= 1 and value.shape[-1] == 2:
        batch = value.shape if typed else value.shape[:-1]
        if batch:
            raise TypeError(
                f"{name} must be a single key, e.g. jax.random.key(0); got a batch of "
                f"shape {batch} — index it ({name}s[0]) or split it yourself")
        return value
    raise TypeError(
        f"{name} must be a JAX PRNG key, e.g. jax.random.key(0), "
        f"got {type(value).__name__} {getattr(value, 'dtype', '')}".rstrip())


def family(value, name="family"):
    """Check a variational family: a :class:`vibook.families.Family` value."""
    from vibook.families import Family   # families imports this module

    if isinstance(value, Family):
        return value
    got = (f"the string {value!r}" if isinstance(value, str)
           else f"the module {value.__name__}" if inspect.ismodule(value)
           else type(value).__name__)
    raise TypeError(
        f"{name} must be a vibook.families.Family, e.g. vibook.families.normal, "
        "vibook.families.full_rank_normal or a flow such as "
        f"vibook.flows.coupling(dim, num_layers, hidden); got {got}")


def state(value, cls, maker, name="state"):
    """Check that ``value`` is a ``cls`` (a NamedTuple state) made by ``maker`` (e.g. ``"vibook.mixture.init"``)."""
    if not isinstance(value, cls):
        raise TypeError(f"{name} must be a {cls.__name__}, made by {maker}; "
                        f"got {type(value).__name__}")
    return value


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
    if isinstance(value, (complex, np.complexfloating)) or (
            hasattr(value, "dtype") and jnp.issubdtype(value.dtype, jnp.complexfloating)):
        raise TypeError(f"{name} must be {expected}, a real number, got complex {value!r}")
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


def array(value, name, ndim=None, shape=None, traced=False, allow_neg_inf=False):
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
    traced : bool
        Check finiteness under ``jit`` too (see :func:`check`); otherwise a
        tracer's values are not checked.
    allow_neg_inf : bool
        Accept ``-inf`` (a log density or log weight of a zero); NaN and
        ``+inf`` are still refused.
    """
    if isinstance(value, (str, bytes)) or value is None:
        raise TypeError(f"{name} must be an array of numbers, got {type(value).__name__}")
    try:
        if isinstance(value, (list, tuple)) and np.asarray(value).dtype.kind in "USO":
            raise TypeError
        out = jnp.asarray(value)
    except (TypeError, ValueError) as err:   # strings, objects, ragged lists
        raise TypeError(f"{name} must be an array of numbers, got {type(value).__name__}") from err
    if not (jnp.issubdtype(out.dtype, jnp.number) or out.dtype == jnp.bool_):
        raise TypeError(f"{name} must be an array of numbers, got dtype {out.dtype}")
    if jnp.issubdtype(out.dtype, jnp.complexfloating):
        raise TypeError(f"{name} must be real, got complex dtype {out.dtype} (casting would "
                        "drop the imaginary part; pass .real if that is what you mean)")
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
    what = "NaN or +inf (-inf, a zero, is allowed)" if allow_neg_inf else "NaN or inf"
    if is_concrete(out):
        if out.size and not np.all(_ok_values(np.asarray(out), allow_neg_inf)):
            raise ValueError(f"{name} must not contain {what}")
    elif traced:
        check(_all_ok(out, allow_neg_inf), f"{name} must not contain {what}")
    return out


def _ok_values(x, allow_neg_inf):
    """Elementwise: not NaN, not +inf, and not -inf unless allowed (NumPy or JAX arrays)."""
    return ~(x != x) & (x != np.inf) & (allow_neg_inf | (x != -np.inf))


@functools.partial(jax.jit, static_argnums=1)
def _all_ok(x, allow_neg_inf):
    """``all(_ok_values(x))`` as one compiled program (one dispatch under an eager ``vmap``)."""
    return jnp.all(_ok_values(x, allow_neg_inf))


def at_most(value, n, name, what):
    """Check ``value <= n``, where ``what`` says what ``n`` counts; return ``value``.

    E.g. ``at_most(num_components, N, "num_components", "the number of data points N")``.
    """
    if value > n:
        raise ValueError(f"{name} must be at most {what} = {n}, got {value}")
    return value


def batch_size(value, n):
    """Check a minibatch size: an integer from 1 to the data size ``n``; return it."""
    return at_most(positive_int(value, "batch_size"), n, "batch_size",
                   "the number of data points N")


def num_components(value, n):
    """Check a number of mixture components: an integer from 1 to the data size ``n``."""
    return at_most(positive_int(value, "num_components"), n, "num_components",
                   "the number of data points N")


def at_least_two(value, name):
    """Check a number of Monte Carlo draws from which a standard error is estimated."""
    value = positive_int(value, name)
    if value < 2:
        raise ValueError(f"{name} must be at least 2 to estimate a standard error, got {value}")
    return value


def positive_entries(value, name, ndim=None, shape=None):
    """An array (see :func:`array`) whose every entry is ``> 0`` (variances, counts)."""
    out = array(value, name, ndim=ndim, shape=shape)
    if is_concrete(out) and out.size and not np.all(np.asarray(out) > 0):
        raise ValueError(f"{name} must have every entry > 0, got a minimum of "
                         f"{float(np.min(np.asarray(out))):.3g}")
    return out


def spd(value, name, ndim=2):
    """A symmetric positive-definite matrix ``(D, D)`` (or a stack ``(K, D, D)``, ``ndim=3``).

    Symmetry is checked to a relative tolerance of ``1e-5``, positive
    definiteness by the eigenvalues (concrete inputs only, like every value check).
    """
    out = array(value, name, ndim=ndim)
    if out.shape[-1] != out.shape[-2]:
        raise ValueError(f"{name} must be square in its last two axes, got shape {out.shape}")
    if is_concrete(out):
        a = np.asarray(out, dtype=float)
        if not np.allclose(a, np.swapaxes(a, -1, -2), rtol=1e-5, atol=1e-6 * np.abs(a).max()):
            raise ValueError(f"{name} must be symmetric")
        if a.size and np.linalg.eigvalsh(a).min() <= 0:
            raise ValueError(f"{name} must be positive definite (all eigenvalues > 0)")
    return out


def simplex(value, name, ndim=None, atol=1e-4):
    """Probabilities along the last axis: nonnegative, each row summing to one (within ``atol``)."""
    out = array(value, name, ndim=ndim)
    if is_concrete(out) and out.size:
        a = np.asarray(out, dtype=float)
        if a.min() < 0:
            raise ValueError(f"{name} must be nonnegative (probabilities), got a minimum of "
                             f"{a.min():.3g}")
        sums = a.sum(axis=-1)
        if not np.allclose(sums, 1.0, rtol=0, atol=atol):
            worst = sums.flat[np.argmax(np.abs(sums - 1.0))]
            rows = "each row of " if a.ndim > 1 else ""
            raise ValueError(f"{rows}{name} must sum to one, got a sum of {worst:.6g}")
    return out


def data(value, name="x", ndim=2):
    """A finite data array of rank ``ndim`` (``(N,)`` or ``(N, D)``) with no empty axis."""
    out = array(value, name, ndim=ndim)
    if 0 in out.shape:
        raise ValueError(f"{name} must contain at least one observation in each axis, "
                         f"got shape {out.shape}")
    return out


def observations(value, name="x"):
    """The data of a one-variable model: a scalar or an ``(N,)`` array, returned as ``(N,)``."""
    return jnp.atleast_1d(data(value, name, ndim=(0, 1)))


def function(value, name, usage=None):
    """Check that ``value`` is callable; ``usage`` (e.g. ``"log_f(z)"``) shows how it is called."""
    if not callable(value):
        how = f" as {usage}" if usage else ""
        raise TypeError(f"{name} must be callable{how}, got {type(value).__name__}")
    return value


def signature(value, name, usage, num_args):
    """Check that the user's function ``value`` can be called with ``num_args`` positional arguments.

    ``usage`` shows the expected call, e.g. ``"log_joint(z)"``. A function
    written for another convention (``log_joint(z, x)`` with the data not
    fixed, ``sample(n)`` without a key, ``objective(params)`` without a key)
    raises here, naming the convention, instead of failing with a Python
    ``TypeError`` from deep inside vibook. Functions whose signature Python
    cannot inspect (some builtins) are let through.

    Raises
    ------
    TypeError
        If the signature cannot bind ``num_args`` positional arguments.
    """
    try:
        sig = inspect.signature(value)
    except (TypeError, ValueError):
        return value
    try:
        sig.bind(*([None] * num_args))
    except TypeError:
        raise TypeError(
            f"{name} must be callable as {usage}, with exactly {num_args} positional "
            f"argument(s); got a function with signature {sig}. Fix the other arguments "
            f"first, e.g. with functools.partial or a lambda") from None
    return value


def optimizer(value):
    """Check an optax ``GradientTransformation`` (e.g. ``optax.adam(0.05)``); return it."""
    if not isinstance(value, optax.GradientTransformation):
        raise TypeError("optimizer must be an optax GradientTransformation, "
                        f"e.g. optax.adam(0.05), got {type(value).__name__}")
    return value


def _shapes(tree):
    return jax.tree_util.tree_structure(tree), [
        (tuple(np.shape(a)), np.dtype(a.dtype if hasattr(a, "dtype") else np.asarray(a).dtype))
        for a in jax.tree_util.tree_leaves(tree)]


def optimizer_state(opt, opt_state, params, maker):
    """Check that ``opt_state`` is the state ``opt.init(params)`` would make (structure and shapes).

    An optimiser other than the one the state was made with (``optax.sgd``
    given an ``optax.adam`` state) raises here, before optax reads the wrong
    fields. ``maker`` names the function that made the state.
    """
    try:
        expected = jax.eval_shape(opt.init, params)
    except Exception as err:                                  # noqa: BLE001 (optax's own error)
        raise ValueError(f"optimizer.init(params) fails for these params: {err}") from None
    if _shapes(expected) != _shapes(opt_state):
        raise ValueError(
            "optimizer does not match state.opt_state: pass the same optax optimiser that "
            f"{maker} was given (a state made for another optimiser, or other params)")
    return opt


def user_output(value, name, usage, shape=None, allow_neg_inf=False, hint=""):
    """Check what the user's function ``name`` returned; return it as an array.

    The shape is checked whenever the function runs, also while ``jit``
    traces it; the values (no NaN, no ``+inf``, no ``-inf`` unless
    ``allow_neg_inf``, which a log density may return outside its support)
    through :func:`check`.

    Parameters
    ----------
    value : array_like
        The output.
    name : str
        The user's function, e.g. ``"log_joint"``.
    usage : str
        How it was called, e.g. ``"log_joint(z) for z of shape (S, D) = (8, 2)"``.
    shape : tuple, optional
        The shape it must return, e.g. ``(S,)``: one value per draw.
    allow_neg_inf : bool
        Accept ``-inf`` (a log density outside its support).
    hint : str
        Appended to the shape error, e.g. how to fix it.
    """
    try:
        out = jnp.asarray(value)
    except TypeError:
        out = np.asarray(value)
    if not jnp.issubdtype(out.dtype, jnp.number):
        raise TypeError(f"{name} must return numbers, got {type(value).__name__} of dtype "
                        f"{out.dtype} from {usage}")
    if jnp.issubdtype(out.dtype, jnp.complexfloating):
        raise TypeError(f"{name} must return real numbers, got complex dtype {out.dtype} "
                        f"from {usage}")
    if shape is not None:
        shape = tuple(shape)
        prefix = shape[-1:] == (...,)           # (n, ...): only the leading axes are fixed
        got = out.shape[:len(shape) - 1] if prefix else out.shape
        if got != (shape[:-1] if prefix else shape):
            want = "(" + ", ".join("..." if s is ... else str(s) for s in shape) + (
                ",)" if len(shape) == 1 else ")")
            raise ValueError(f"{name} must return shape {want} when called as {usage}; "
                             f"got shape {out.shape}{hint}")
    what = "NaN or +inf" if allow_neg_inf else "NaN or inf"
    check(_all_ok(out, allow_neg_inf), f"{name} returned {what} when called as {usage}")
    return out


def _describe(tree):
    """A pytree's shapes for a message: ``(2,)`` for an array, ``{'a': (), 'b': (3,)}`` for a dict."""
    shapes = jax.tree_util.tree_map(lambda a: tuple(jnp.shape(a)), tree)
    return str(shapes)


def per_draw(fn, name, z, allow_neg_inf=False):
    r"""Evaluate the user's log density ``fn`` at every draw of ``z``: the book's one convention.

    Every log density a user passes to vibook (``log_joint``, ``log_density``,
    ``log_f``, ``log_p``, ...) takes **one** value ``z`` of the latent
    variables (an array of the event shape, or a pytree such as a dict) and
    returns a scalar; vibook maps it over draws with ``jax.vmap``.

    Parameters
    ----------
    fn : callable
        ``fn(z) -> ()`` for one draw.
    name : str
        The argument's name, for messages.
    z : pytree
        The draws: every leaf has the same leading axis ``S``.
    allow_neg_inf : bool
        Accept ``-inf`` (outside the support).

    Returns
    -------
    Array of shape ``(S,)``.

    Raises
    ------
    TypeError
        If ``fn`` fails on one draw, e.g. a function written for a batch of
        draws that indexes ``z[:, j]`` (the message says which convention is
        expected and quotes the error).
    ValueError
        If ``fn`` returns anything but a scalar for one draw (e.g. the
        per-dimension terms, not their sum), or NaN/``+inf`` at a draw.
    """
    leaves = jax.tree_util.tree_leaves(z)
    n = jnp.shape(leaves[0])[0]
    one = jax.tree_util.tree_map(lambda a: a[0], z)
    shape = _describe(one)
    convention = (f"{name} must take ONE draw z (here of shape {shape}) and return a scalar; "
                  "vibook maps it over the draws with jax.vmap")
    try:
        out = jax.eval_shape(fn, one)
    except Exception as err:                       # the user's code failed on one draw
        raise TypeError(
            f"{convention}. Calling {name} on one draw failed with {type(err).__name__}: "
            f"{str(err).splitlines()[0] if str(err) else ''}. A function written for a batch "
            f"of draws of shape (S, D), e.g. indexing z[:, j], must be rewritten for one "
            f"draw (z[j], or z[..., j] for both)") from None
    if not hasattr(out, "shape") or tuple(out.shape) != ():
        got = getattr(out, "shape", type(out).__name__)
        raise ValueError(
            f"{convention}; it returned shape {got}. Sum the log density over the event "
            f"dimensions (e.g. jnp.sum(terms, axis=-1)) so that one draw gives one number")
    return user_output(jax.vmap(fn)(z), name, f"{name}(z) at each of {n} draws",
                       shape=(n,), allow_neg_inf=allow_neg_inf)
