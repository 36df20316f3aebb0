"""PSIS against ArviZ, and chapter 9's NUTS against VI, on the CPU.

``psis_*``: :func:`vibook.diagnostics.psis` against ArviZ's ``psislw``
(NumPy) on the same ``S`` log weights, ``S = 10^3 ... 10^6``, both in float64
(this process enables JAX's 64-bit mode). The weights are the log absolute
values of Student-t draws with 2 degrees of freedom, a tail of shape about
1/2. Equal results: :math:`\\hat k` and every smoothed weight agree to
:math:`10^{-6}` relative (the difference is the larger of the two relative
errors, the weights' measured against the largest weight). A call takes a
fraction of a millisecond at the smaller sizes, so each warm repeat times
``calls_per_repeat = max(1, 10^6 / S)`` calls in a row (at least ~10 ms on
either side), on both sides and
for every part below (the cold time is one call).

``psis`` called on a concrete array in the CPU's memory finds the tail with
NumPy (``np.argpartition``, in place) and smooths it with jit-compiled JAX;
under ``jax.jit`` (or on a GPU) the tail is found in JAX (a sampled threshold,
exact fallback: ``diagnostics._largest``). The record's ``vibook_jit_s`` is
the median warm time of ``jax.jit(psis)`` and ``jit_difference`` its
difference from the eager call (relative, as ``difference``).
``vibook_parts`` splits the eager call: ``select_s`` (NumPy's selection),
``smooth_s`` (the compiled rest), and ``gpd_fit_s`` (the compiled Pareto fit
alone, on the M exceedances) against ``gpd_fit_numpy_s`` (the same code run
by NumPy). ``numpy_path_s`` (warm median) and
``numpy_path_cold_s`` (first call, after the comparison's calls) time the
alternative of running all of psis in NumPy (the package's own pieces with
``xp = numpy``, its results made JAX arrays by ``jax.dlpack``, nothing
compiled); ``numpy_path_difference`` is its difference from vibook's
result.

Every case runs after ``vibook.device.setup()``, as every chapter does, so a
compiled call runs in the calling thread (``run.py``). ``default_dispatch`` is
the control: the same comparison (``vibook_s``, ``peer_s``, ``ratio``) in a
fresh process that runs ``setup`` and then turns asynchronous dispatch back on,
JAX's default, under which XLA's CPU client hands each compiled call it
costs at 1000 flops or more to a worker thread and wakes the caller when it
is done.

``nuts_vs_vi``: chapter 9's ground truth against its approximation on the
logistic regression of chapter 7 (427 × 31): ``mcmc.nuts`` (BlackJAX, 4
chains, 400 warm-up and 500 kept draws each) against a full-rank ``vi.fit``
(2000 Adam steps, 8 draws per step). ``ratio = NUTS seconds / VI seconds``.
They are different algorithms, so "equal" means they give the same answer:
the largest difference of the posterior means, in NUTS posterior standard
deviations, is below 0.15 (the chapter's tolerance).
"""

import json
import math
import os
import subprocess
import sys
import warnings
from functools import partial
from pathlib import Path

import jax
import jax.dlpack
import jax.numpy as jnp
import numpy as np
import optax

from _harness import COLD_ONLY, compare, median_time, record, timed
from vibook import data, diagnostics, elbo, families, mcmc, models, vi

SIZES = [10**3, 10**4, 10**5, 10**6]


def _sides(size):
    """``(raw, log_w, ours, theirs, calls)``: the S log weights (NumPy and JAX, float64),
    the two zero-argument calls compared, and the calls per warm repeat."""
    jax.config.update("jax_enable_x64", True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        import arviz
    raw = np.log(np.abs(np.random.default_rng(0).standard_t(2.0, size)))  # (S,)
    log_w = jnp.asarray(raw)

    def ours():
        return jax.block_until_ready(diagnostics.psis(log_w))

    def theirs():
        return arviz.psislw(raw)                 # psislw copies its input itself

    return raw, log_w, ours, theirs, max(1, 1_000_000 // size)  # a repeat: >= ~10 ms


def _default_dispatch(size):
    """The control: the same comparison in a fresh process that runs ``device.setup()`` and
    then turns JAX's asynchronous CPU dispatch back on, its default, so that the two runs
    differ only in that (``vibook_s``, ``peer_s``, ``ratio``; NaN in a ``COLD_ONLY`` run)."""
    if os.environ.get(COLD_ONLY):
        return dict(vibook_s=math.nan, peer_s=math.nan, ratio=math.nan)
    out = subprocess.run([sys.executable, __file__, str(size)], cwd=Path(__file__).parent,
                         stdout=subprocess.PIPE, text=True, check=True).stdout
    return json.loads(out.splitlines()[-1])


def psis_case(size):
    import arviz
    raw, log_w, ours, theirs, calls = _sides(size)

    def difference(a, b):
        (s1, k1), (s2, k2) = a, b
        w1, w2 = np.exp(np.asarray(s1)), np.exp(np.asarray(s2))
        return max(abs(float(k1) - float(k2)) / abs(float(k2)),
                   float(np.max(np.abs(w1 - w2)) / np.max(w2)))

    times, (result, peer_result) = compare(ours, theirs, calls=calls)
    time_it = partial(median_time, calls=calls)
    jitted = jax.jit(diagnostics.psis)
    jit_s = time_it(lambda: jax.block_until_ready(jitted(log_w)))
    # where the eager call spends its time: NumPy's selection, then the compiled smoothing
    m = diagnostics.tail_length(size)
    tail = diagnostics._largest_host(raw, m + 1)                    # (M+1,)
    tail_j = jnp.asarray(tail)
    shifted = raw - raw[tail[-1]]
    exceed = np.exp(shifted[tail[1:]]) - np.exp(shifted[tail[0]])   # (M,), all > 0 here
    gpd = jax.jit(diagnostics._gpd_fit)
    exceed_j, m_j = jnp.asarray(exceed), jnp.asarray(m)
    parts = dict(select_s=time_it(lambda: diagnostics._largest_host(raw, m + 1)),
                 smooth_s=time_it(lambda: jax.block_until_ready(
                     diagnostics._psis_given_tail(log_w, tail_j))),
                 gpd_fit_s=time_it(lambda: jax.block_until_ready(gpd(exceed_j, m_j))),
                 gpd_fit_numpy_s=time_it(lambda: diagnostics._gpd_fit(exceed, np.int64(m), np)))
    # the alternative: the whole of psis in NumPy (vibook's own pieces with xp = numpy),
    # its results made JAX arrays without compiling anything
    numpy_cold_s, numpy_result = timed(lambda: _numpy_psis(raw))
    numpy_s = time_it(lambda: _numpy_psis(raw))
    return [record(f"PSIS (diagnostics.psis), S = {size:,}", "psis", dict(N=size, D=1),
                   f"ArviZ {arviz.__version__} psislw (NumPy)", times,
                   difference(result, peer_result), 1e-6,
                   "relative difference of k-hat and of the smoothed weights",
                   khat=float(result[1]), vibook_jit_s=jit_s, vibook_parts=parts,
                   numpy_path_s=numpy_s, numpy_path_cold_s=numpy_cold_s,
                   numpy_path_difference=difference(numpy_result, result),
                   jit_difference=difference(jitted(log_w), result),
                   default_dispatch=_default_dispatch(size))]


def _numpy_psis(raw):
    """Not vibook's path: psis wholly in NumPy, from the package's own pieces run with
    ``xp = numpy``, the two results made JAX arrays by ``jax.dlpack`` (nothing compiled)."""
    tail = diagnostics._largest_host(raw, diagnostics.tail_length(raw.shape[0]) + 1)
    lw = raw - raw[tail[-1]]
    with np.errstate(all="ignore"):      # masked lanes compute log(0), inf - inf, as in JAX
        new_tail, khat = diagnostics._smooth_tail(lw[tail], np)
    below = lw[tail[0]]
    lw[tail[1:]] = new_tail
    lw -= diagnostics._log_normaliser(lw, below, new_tail, np)
    return jax.block_until_ready((jax.dlpack.from_dlpack(lw), jax.dlpack.from_dlpack(khat)))


def nuts_vs_vi():
    import blackjax  # noqa: F401  vibook.mcmc imports it on first use: here, before any timing
    cancer = data.breast_cancer(jax.random.key(2), test_fraction=0.25)
    x = jnp.concatenate([jnp.ones((cancer.x_train.shape[0], 1)), cancer.x_train], axis=1)
    log_joint = partial(models.logistic_regression, x=x, y=cancer.y_train.astype(jnp.float32))
    n, dim = x.shape
    start = families.full_rank_normal.init(jnp.zeros(dim), 0.1 * jnp.eye(dim))
    objective = partial(elbo.reparam, log_joint=log_joint, family=families.full_rank_normal,
                        num_samples=8)
    optimizer = optax.adam(optax.cosine_decay_schedule(0.05, 2000, alpha=0.01))
    starts = jax.random.normal(jax.random.key(10), (4, dim))

    def ours():
        state, _ = vi.fit(jax.random.key(4), objective, start, optimizer, 2000)
        return jax.block_until_ready(families.full_rank_normal.unpack(state.params)[0])

    def theirs():
        draws, _ = mcmc.nuts(jax.random.key(11), log_joint, starts, 400, 500)
        return jax.block_until_ready(draws.reshape(-1, dim))

    times, (mean_q, draws) = compare(ours, theirs, repeats=3, peer_cache=True)
    diff = float(jnp.max(jnp.abs(mean_q - draws.mean(0)) / draws.std(0)))
    return [record("Full-rank VI (vi.fit) vs NUTS, Bayesian logistic regression", "nuts",
                   dict(N=n, D=dim, steps=2000, particles=8, chains=4, warmup=400,
                        draws=500),
                   "vibook.mcmc.nuts (BlackJAX NUTS, window adaptation)", times, diff, 0.15,
                   "max over weights of |mean_VI - mean_NUTS| / sd_NUTS")]


CASES = {f"psis_{size}": partial(psis_case, size) for size in SIZES}
CASES["nuts_vs_vi"] = nuts_vs_vi


if __name__ == "__main__":       # _default_dispatch's process: setup, dispatch back on
    from vibook import device
    device.setup(cache=False)
    jax.config.update("jax_cpu_enable_async_dispatch", True)     # JAX's default
    _, _, ours, theirs, calls = _sides(int(sys.argv[1]))
    times = compare(ours, theirs, calls=calls)[0]
    print(json.dumps({k: times[k] for k in ("vibook_s", "peer_s", "ratio")}))
