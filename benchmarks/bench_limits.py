"""EM against its physical limit: how far one iteration of ``vibook.em.fit_gmm`` is from the floor.

The work one EM iteration cannot avoid, at N = 10^6 points, K = 5 components,
float32:

* **bandwidth**: one pass over the (N, D) data. Measured as a jitted
  ``jnp.sum(x, axis=0)``, which reads the data once; its GB/s are recorded,
  with NumPy's STREAM-like copy (``b[:] = a``, 2 arrays moved) and add
  (``c[:] = a + b``, 3 arrays moved) on 128 MiB float64 arrays, best of 5, for
  reference.
* **arithmetic**: per point and component, a D x D product for the
  Mahalanobis distance (E-step) and a rank-one D x D update for the
  covariance (M-step): 2 N K D^2 floating-point operations each. Measured as a
  jitted pair of matrix products with that count, ``y = x @ W`` with W of shape
  (D, K D), then ``y.T @ x``; once on the whole data and once in blocks of
  4,096 points (the (N, K D) intermediate then stays in cache); the faster is
  the floor. It is what XLA's matrix products reach at these thin shapes (inner
  dimension D), not the processor's peak FLOP rate.

A ``limit`` record gives vibook's time per iteration (the EM rows' fit, 20
iterations, divided by 20) as a multiple of each floor and of the larger one,
and the jitted parts of one iteration (E-step log joint, softmax,
log-sum-exp, M-step means and scatter), which say where the rest goes; and, as
a measured alternative (not vibook's code), the log joint and the scatter
computed over chunks of points, whose (chunk, K, D) intermediates stay in cache.
"""

import statistics
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import logsumexp

from _harness import devices, median_time, timed
from bench_em import K, NUM_STEPS, mixture
from vibook import _linalg, em

N, BLOCK = 1_000_000, 4096
PARTS = dict(softmax="E-step: responsibilities from the stored log joint (softmax)",
             means="M-step: N_k and resp.T @ x", scatter="M-step: scatter matrices "
             "(_linalg.scatter)", m_step="M-step, whole (em.m_step)",
             log_joint="log joint (em.log_joint: Cholesky, x @ factors, squared norms)",
             logsumexp="log-sum-exp and mean (the log-likelihood)",
             step="one whole iteration, jitted alone (em._step)")


def _stream(n=1 << 24, repeats=5):
    """NumPy's single-threaded copy and add, in GB/s (STREAM's byte counts: 2 and 3 arrays)."""
    a, b, c = (np.full(n, v) for v in (1.0, 2.0, 0.0))
    copy = min(timed(lambda: np.copyto(b, a))[0] for _ in range(repeats))
    add = min(timed(lambda: np.add(a, b, out=c))[0] for _ in range(repeats))
    return dict(copy=2 * a.nbytes / copy / 1e9, add=3 * a.nbytes / add / 1e9,
                array_bytes=a.nbytes)


def _products(x, w):
    return (x @ w).T @ x                                                  # (K D, D)


def _blocked_products(x, w):
    n, d = x.shape
    xb = x[:n // BLOCK * BLOCK].reshape(-1, BLOCK, d)

    def body(acc, block):
        return acc + (block @ w).T @ block, None

    acc, _ = jax.lax.scan(body, jnp.zeros((w.shape[1], d), x.dtype), xb)
    rest = x[n // BLOCK * BLOCK:]
    return acc + (rest @ w).T @ rest


def _parts(x, init, repeats):
    """Median times of the jitted pieces of one EM iteration, on the start's parameters."""
    state = em.init(x, init)
    lj = state.log_joint
    resp = jax.nn.softmax(lj, axis=1)
    means = em.m_step(x, resp).means
    pieces = {
        "softmax": (jax.jit(partial(jax.nn.softmax, axis=1)), (lj,)),
        "means": (jax.jit(lambda x, r: (jnp.sum(r, axis=0), r.T @ x)), (x, resp)),
        "scatter": (jax.jit(_linalg.scatter), (x, resp, means)),
        "m_step": (jax.jit(em.m_step), (x, resp)),
        "log_joint": (jax.jit(em.log_joint), (x, init)),
        "logsumexp": (jax.jit(lambda lj: jnp.mean(logsumexp(lj, axis=1))), (lj,)),
        "step": (jax.jit(em._step), (state, x, 0.0)),
    }
    alternatives = {
        "scatter": (jax.jit(_scatter_blocked), (x, resp, means), _linalg.scatter),
        "log_joint": (jax.jit(_log_joint_blocked), (x, init), em.log_joint),
    }
    for f, a, ours in alternatives.values():              # the same numbers, up to rounding
        ref = np.asarray(jax.jit(ours)(*a))
        assert np.allclose(np.asarray(f(*a)), ref, rtol=1e-4, atol=1e-4 * np.max(np.abs(ref)))
    alternatives = {name: (f, a) for name, (f, a, _) in alternatives.items()}
    time_it = lambda f, a: median_time(lambda: jax.block_until_ready(f(*a)), repeats)  # noqa
    return ({name: time_it(f, a) for name, (f, a) in pieces.items()},
            {name: time_it(f, a) for name, (f, a) in alternatives.items()})


# Not vibook: the same two N-sized pieces with the points in chunks, so that the (chunk, K, D)
# intermediates stay in cache instead of (N, K, D) arrays going through memory.

def _scatter_blocked(x, resp, means, chunk=1024):
    n, d = x.shape
    m = -(-n // chunk)
    pad = ((0, m * chunk - n), (0, 0))
    xb = jnp.pad(x, pad).reshape(m, chunk, d)
    rb = jnp.pad(resp, pad).reshape(m, chunk, -1)

    def one(args):
        xc, rc = args
        scaled = jnp.sqrt(rc).T[:, :, None] * (xc[None, :, :] - means[:, None, :])   # (K, c, D)
        return jnp.einsum("kci,kcj->kij", scaled, scaled)

    return jnp.sum(jax.lax.map(one, (xb, rb)), axis=0)


def _log_joint_blocked(x, params, chunk=4096):
    n, d = x.shape
    m = -(-n // chunk)
    xb = jnp.pad(x, ((0, m * chunk - n), (0, 0))).reshape(m, chunk, d)
    return jax.lax.map(lambda xc: em.log_joint(xc, params), xb).reshape(m * chunk, -1)[:n]


def em_limit(d, repeats=5):
    x = mixture(N, d)
    init = em.init_gmm(jax.random.key(2), x, K)
    nbytes = x.size * x.dtype.itemsize
    flops = 2 * (2 * N * K * d * d)                     # E-step product and M-step update

    # (a) bandwidth: read the data once
    read = jax.jit(lambda x: jnp.sum(x, axis=0))
    bandwidth_s = median_time(lambda: jax.block_until_ready(read(x)), repeats)
    stream = _stream()

    # (b) arithmetic: the same FLOP count in two matrix products
    w = jax.random.normal(jax.random.key(3), (d, K * d), x.dtype)
    products = {name: median_time(lambda f=jax.jit(f): jax.block_until_ready(f(x, w)), repeats)
                for name, f in (("whole", _products), ("blocked", _blocked_products))}
    arithmetic_s = min(products.values())

    # vibook: the EM rows' fit, per iteration
    fit = lambda: jax.block_until_ready(em.fit_gmm(x, init, NUM_STEPS))  # noqa: E731
    fit_cold_s, _ = timed(fit)
    fit_s = [timed(fit)[0] for _ in range(repeats)]
    vibook_s = statistics.median(fit_s) / NUM_STEPS

    parts, alternatives = _parts(x, init, repeats)
    limit, limit_s = max((("bandwidth", bandwidth_s), ("arithmetic", arithmetic_s)),
                         key=lambda p: p[1])
    multiple = vibook_s / limit_s
    cause = None
    if multiple > 2:
        cause = (f"{multiple:.1f}x the larger floor ({limit}). Jitted alone, the two N-sized "
                 f"pieces that pass (N, K, D) intermediates through memory take most of the "
                 f"iteration: the M-step scatter {1e3 * parts['scatter']:.0f} ms and the "
                 f"log joint {1e3 * parts['log_joint']:.0f} ms, against {1e3 * vibook_s:.0f} ms "
                 f"per iteration and {1e3 * limit_s:.0f} ms for the whole floor; softmax and "
                 f"log-sum-exp "
                 f"(N K exponentials each, not in the floor) take "
                 f"{1e3 * parts['softmax']:.0f} and {1e3 * parts['logsumexp']:.0f} ms. "
                 f"Computed over chunks of points (not vibook's code), the scatter takes "
                 f"{1e3 * alternatives['scatter']:.0f} ms and the log joint "
                 f"{1e3 * alternatives['log_joint']:.0f} ms.")
    return [dict(kind="limit", name=f"EM iteration (vibook.em.fit_gmm), float32, D={d}",
                 group="em", size=dict(N=N, D=d, K=K, iterations=NUM_STEPS, dtype="float32"),
                 vibook_s=vibook_s, vibook_min_s=min(fit_s) / NUM_STEPS,
                 vibook_max_s=max(fit_s) / NUM_STEPS, vibook_fit_s=statistics.median(fit_s),
                 vibook_cold_s=fit_cold_s, repeats=repeats,
                 limit_s=limit_s, limit=limit, multiple=multiple,
                 bandwidth_s=bandwidth_s, bandwidth_bytes=nbytes,
                 bandwidth_gbs=nbytes / bandwidth_s / 1e9,
                 bandwidth_multiple=vibook_s / bandwidth_s,
                 bandwidth_how="jitted jnp.sum(x, axis=0): one read of the (N, D) float32 data",
                 stream_gbs=stream,
                 arithmetic_s=arithmetic_s, arithmetic_flops=flops,
                 arithmetic_gflops=flops / arithmetic_s / 1e9,
                 arithmetic_multiple=vibook_s / arithmetic_s,
                 arithmetic_how="jitted (x @ W).T @ x, W of shape (D, K D): 2 N K D^2 FLOP "
                                "each; the faster of whole and blocked (4,096 points)",
                 arithmetic_products_s=products,
                 parts_s=parts, parts_how=PARTS, alternatives_s=alternatives,
                 alternatives_how="not vibook: the same log joint and scatter with the points "
                                  "in chunks (lax.map; 4,096 and 1,024 points), intermediates "
                                  "in cache",
                 cause=cause, machine=devices())]


CASES = {f"limit_em_d{d}": partial(em_limit, d) for d in (10, 2)}
