"""Gaussian mixtures: vibook against scikit-learn from the same start, and what made EM fast.

* EM: ``vibook.em.fit_gmm`` against ``sklearn.mixture.GaussianMixture``
  (full covariances), both from the same parameters, ``tol=0`` and no
  covariance floor, for the same number of iterations.
* The variational mixture (Bishop 2006, §10.2): ``vibook.vbgmm.fit`` against
  ``BayesianGaussianMixture`` with the same priors
  (``weight_concentration_prior_type="dirichlet_distribution"``), both from the
  same responsibilities (``vibook.vbgmm.sklearn_fit`` hands scikit-learn vibook's start).
* Inside the peer's timed call, scikit-learn draws no start of its own (vibook's
  ``_sklearn.started``). Timed alone as ``peer_extra_s``: the conversion and
  checks in ``sklearn_fit``, which vibook's fit does not do, and the E-step
  ``fit`` adds after the last iteration, which vibook's EM matches (it
  evaluates the log joint at its final parameters for its log-likelihood).
* Ablations: the E-step, the M-step and the float width before and after the
  changes that made ``fit_gmm`` fast, on the largest problem.

vibook runs in float32, scikit-learn in float64; results are equal when every
parameter agrees to ``TOLERANCE`` (max absolute difference: weights unitless,
means in data units, covariances in squared data units). The ``em64_*`` rows
run the same fits with vibook in float64 too (``jax_enable_x64``; the same data
and start, widened from float32), equal within ``TOLERANCE_64`` in the same
units; at N = 10^6 they take 3 warm repeats instead of 5.
"""

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import sklearn
import sklearn.mixture  # noqa: F401  here, so that no peer's cold time is this first import
from jax import enable_x64

from _harness import compare, median_time, record
from vibook import _checks, _linalg, data, em, vbgmm

K, NUM_STEPS, TOLERANCE = 5, 20, 1e-3
TOLERANCE_64 = 1e-8          # the float64 rows: both sides in float64


def mixture(n, d):
    """``n`` points in ``d`` dimensions from K = 5 unit-variance clusters 4 apart."""
    means = np.zeros((K, d), np.float32)
    if d == 2:
        means[:] = [[-4, 0], [4, 0], [0, 4], [0, -4], [0, 0]]
    else:
        means[np.arange(K), np.arange(K)] = 4.0
    x, _ = data.synthetic_mixture(jax.random.key(1), n, means)
    return x


def _peer_extra(fitted, x64, checks):
    """Median times of two pieces of the peer's timed call, each timed alone.

    ``checks_s``: what vibook's ``sklearn_fit`` does before scikit-learn runs (the
    data converted to a JAX array, the input checks), which vibook's fit does not
    do; ``final_e_step_s``: the one E-step that scikit-learn's ``fit`` adds after
    its last iteration (vibook's EM evaluates its log joint there too).
    """
    return dict(checks_s=median_time(lambda: jax.block_until_ready(checks())),
                final_e_step_s=median_time(lambda: fitted._e_step(x64)))


def em_case(n, d):
    x = mixture(n, d)
    init = em.init_gmm(jax.random.key(2), x, K)
    x64 = np.asarray(x, np.float64)
    times, ((params, trace), fitted) = compare(
        lambda: jax.block_until_ready(em.fit_gmm(x, init, NUM_STEPS)),
        lambda: em.sklearn_fit(x64, init, NUM_STEPS))
    diff = max(np.max(np.abs(np.asarray(a) - b))
               for a, b in zip(params, (fitted.weights_, fitted.means_, fitted.covariances_)))
    return [record(f"EM, full covariance, D={d}", "em",
                   dict(N=n, D=d, K=K, iterations=NUM_STEPS),
                   f"scikit-learn {sklearn.__version__} GaussianMixture", times, diff, TOLERANCE,
                   "max |Δ| over weights, means, covariances",
                   log_lik=dict(vibook=float(trace[-1]), peer=float(fitted.score(x64))),
                   peer_extra_s=_peer_extra(fitted, x64, lambda: _em_checks(x64, init)))]


def _em_checks(x64, init):
    """``em.sklearn_fit``'s conversion and checks, before scikit-learn runs."""
    return em._check_params(init, _checks.data(x64), "init")


def em64_case(n, d):
    """The same EM row with vibook in float64 too: the same data and start as the float32
    row (drawn in float32, then widened), so only the precision differs."""
    jax.config.update("jax_enable_x64", True)
    with jax.enable_x64(False):                 # the float32 row's data and start, bit for bit
        x32 = mixture(n, d)
        init32 = em.init_gmm(jax.random.key(2), x32, K)
    x64 = np.asarray(x32, np.float64)
    x, init = jnp.asarray(x64), jax.tree.map(lambda a: jnp.asarray(a, jnp.float64), init32)
    repeats = 3 if n >= 1_000_000 else 5
    times, ((params, trace), fitted) = compare(
        lambda: jax.block_until_ready(em.fit_gmm(x, init, NUM_STEPS)),
        lambda: em.sklearn_fit(x64, init, NUM_STEPS), repeats=repeats)
    assert all(a.dtype == jnp.float64 for a in params), [a.dtype for a in params]
    diff = max(np.max(np.abs(np.asarray(a) - b))
               for a, b in zip(params, (fitted.weights_, fitted.means_, fitted.covariances_)))
    return [record(f"EM, full covariance, D={d}, float64 on both sides", "em",
                   dict(N=n, D=d, K=K, iterations=NUM_STEPS, dtype="float64"),
                   f"scikit-learn {sklearn.__version__} GaussianMixture", times, diff,
                   TOLERANCE_64, "max |Δ| over weights (unitless), means (data units) and "
                   "covariances (squared data units), both sides in float64",
                   log_lik=dict(vibook=float(trace[-1]), peer=float(fitted.score(x64))),
                   peer_extra_s=_peer_extra(fitted, x64, lambda: _em_checks(x64, init)))]


def vbgmm_case(n, d, concentration=1e-3):
    x = mixture(n, d)
    prior = vbgmm.VBGMMPrior(concentration, 1.0, jnp.zeros(d), float(d), jnp.eye(d))
    key = jax.random.key(0)
    resp = vbgmm.init(key, x, K, prior).resp
    x64 = np.asarray(x, np.float64)
    times, ((state, _), fitted) = compare(
        lambda: jax.block_until_ready(vbgmm.fit(key, x, K, prior, NUM_STEPS)),
        lambda: vbgmm.sklearn_fit(x64, prior, resp, NUM_STEPS))
    ours = (vbgmm.expected_weights(state), state.mean, vbgmm.expected_covariances(state))
    theirs = (fitted.weight_concentration_ / fitted.weight_concentration_.sum(),
              fitted.means_, fitted.covariances_)
    diff = max(np.max(np.abs(np.asarray(a) - b)) for a, b in zip(ours, theirs))
    return [record(f"Variational GMM, full covariance, D={d}", "vbgmm",
                   dict(N=n, D=d, K=K, iterations=NUM_STEPS),
                   f"scikit-learn {sklearn.__version__} BayesianGaussianMixture", times, diff,
                   TOLERANCE, "max |Δ| over E[π], means, E[Λ]^-1 (scikit-learn's covariances_)",
                   peer_extra_s=_peer_extra(fitted, x64, lambda: _vbgmm_checks(x64, prior, resp)))]


def _vbgmm_checks(x64, prior, resp):
    """``vbgmm.sklearn_fit``'s conversion and checks, before scikit-learn runs."""
    x = _checks.data(x64)
    return vbgmm._check_prior(prior, x), vbgmm._check_resp(resp, x)


# --- before and after: what made fit_gmm fast ------------------------------------------------

def _log_joint_before(x, params):
    """The first E-step: a triangular solve against the whole (D, N) data per component."""
    w, mu, cov = params
    chol = jnp.linalg.cholesky(cov)

    def one(m, lower):
        z = jax.scipy.linalg.solve_triangular(lower, (x - m[None, :]).T, lower=True)
        return (-0.5 * x.shape[1] * jnp.log(2 * jnp.pi) - jnp.sum(jnp.log(jnp.diag(lower)))
                - 0.5 * jnp.sum(z**2, axis=0))

    return jnp.log(w)[None, :] + jax.vmap(one, out_axes=1)(mu, chol)


def _covs_before(x, resp, means):
    """The first M-step: r-weighted (K, N, D) differences contracted in one einsum."""
    diff = x[None, :, :] - means[:, None, :]
    return jnp.einsum("nk,kni,knj->kij", resp, diff, diff)


def ablations(n=1_000_000, d=10):
    x = mixture(n, d)
    init = em.init_gmm(jax.random.key(2), x, K)
    resp = em.responsibilities(x, init)
    means = em.m_step(x, resp).means
    size = dict(N=n, D=d, K=K)
    rows = []
    for name, before, after, args in [
            ("E-step: one product with the K precision-Cholesky factors, instead of K "
             "triangular solves against the (D, N) data",
             jax.jit(_log_joint_before), jax.jit(em.log_joint), (x, init)),
            ("M-step: √r-scaled differences and one batched product, instead of a "
             "three-operand einsum", jax.jit(_covs_before), jax.jit(_linalg.scatter),
             (x, resp, means))]:
        new = after(*args)
        diff = float(jnp.max(jnp.abs(before(*args) - new)) / jnp.max(jnp.abs(new)))
        rows.append(dict(name=name, size=size, relative_difference=diff,
                         before_s=median_time(lambda: jax.block_until_ready(before(*args))),
                         after_s=median_time(lambda: jax.block_until_ready(after(*args)))))
    rows.append(_two_stage_sums(n))
    fit = partial(em.fit_gmm, num_steps=NUM_STEPS)
    after_s = median_time(lambda: jax.block_until_ready(fit(x, init)))
    with enable_x64():
        x64, init64 = (jax.tree.map(lambda a: jnp.asarray(a, jnp.float64), t) for t in (x, init))
        before_s = median_time(lambda: jax.block_until_ready(fit(x64, init64)))
    rows.append(dict(name=f"Whole fit ({NUM_STEPS} iterations): float32 instead of float64",
                     size=dict(size, iterations=NUM_STEPS), before_s=before_s, after_s=after_s))
    return [dict(row, kind="ablation", speedup=row["before_s"] / row["after_s"]) for row in rows]


def _two_stage_sums(n, d=2):
    """Accuracy and time of the M-step scatter summed in one stage (all N points in
    one batched product) against two stages (chunks of 1024, then over chunks)."""
    x = mixture(n, d)
    resp = em.responsibilities(x, em.init_gmm(jax.random.key(2), x, K))
    means = em.m_step(x, resp).means
    with enable_x64():
        exact = np.asarray(_linalg.scatter(*(jnp.asarray(np.asarray(a), jnp.float64)
                                             for a in (x, resp, means))))
    one_stage, two_stage = (jax.jit(partial(_linalg.scatter, chunk=c)) for c in (n, 1024))
    error = {name: float(np.max(np.abs(np.asarray(f(x, resp, means)) - exact)) / np.max(exact))
             for name, f in (("before", one_stage), ("after", two_stage))}
    return dict(name="M-step accuracy: the float32 sum over N points in two stages "
                     "(chunks of 1024, then over the chunks) instead of one",
                size=dict(N=n, D=d, K=K), relative_error=error,
                before_s=median_time(lambda: jax.block_until_ready(one_stage(x, resp, means))),
                after_s=median_time(lambda: jax.block_until_ready(two_stage(x, resp, means))))


CASES = {f"em_n{n:.0e}_d{d}".replace("+0", ""): partial(em_case, n, d)
         for d in (2, 10) for n in (10_000, 100_000, 1_000_000)}
CASES |= {f"em64_n{n:.0e}_d{d}".replace("+0", ""): partial(em64_case, n, d)
          for d in (2, 10) for n in (10_000, 100_000, 1_000_000)}
CASES |= {f"vbgmm_n{n:.0e}_d{d}".replace("+0", ""): partial(vbgmm_case, n, d)
          for d in (2, 10) for n in (10_000, 100_000)}
CASES["em_ablations"] = ablations
