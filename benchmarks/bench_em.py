"""Gaussian mixtures: vibook against scikit-learn, from the same start.

* EM: ``vibook.em.fit_gmm`` against ``sklearn.mixture.GaussianMixture``, both
  from the same parameters.
* The variational mixture (Bishop 2006, §10.2): ``vibook.vbgmm.fit`` against
  ``sklearn.mixture.BayesianGaussianMixture`` with the same priors
  (``weight_concentration_prior_type="dirichlet_distribution"``), both from the
  same responsibilities (a subclass hands scikit-learn vibook's starting
  ``resp`` instead of drawing its own).

Both run the same number of iterations with no early stopping (``tol=0``) and
no covariance floor on either side. vibook is timed after a warm-up call, so
JIT compilation is excluded; scikit-learn's time includes its own input checks.
Results agree to float32 rounding; the variational rows also rerun vibook in
float64 (untimed) and report that difference too, to show it is rounding.
"""

import time
import warnings

import jax
import jax.numpy as jnp
import numpy as np
from jax import enable_x64
from sklearn.mixture import BayesianGaussianMixture, GaussianMixture

from vibook import data, em, vbgmm


def _best_of(fn, repeats=5):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def _row(task, x, init, num_iters):
    weights = np.asarray(init.weights, np.float64)
    sk = dict(n_components=len(weights), covariance_type="full", tol=0.0, max_iter=num_iters,
              reg_covar=0.0, weights_init=weights / weights.sum(),
              means_init=np.asarray(init.means, np.float64),
              precisions_init=np.linalg.inv(np.asarray(init.covs, np.float64)))
    x64 = np.asarray(x, np.float64)

    def run_sklearn():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")       # ConvergenceWarning: we stop on purpose
            return GaussianMixture(**sk).fit(x64)

    def run_vibook():
        params, trace = em.fit_gmm(x, init, num_iters)
        return jax.block_until_ready((params, trace))

    params, _ = run_vibook()                       # warm-up: compile
    gm = run_sklearn()
    diff = max(np.max(np.abs(np.asarray(a) - b))
               for a, b in zip(params, (gm.weights_, gm.means_, gm.covariances_)))
    vibook_s, peer_s = _best_of(run_vibook), _best_of(run_sklearn)
    return dict(task=task, vibook_s=vibook_s, peer="sklearn GaussianMixture", peer_s=peer_s,
                ratio=vibook_s / peer_s, agreement=f"max |Δparam| = {diff:.1e}")


class _FromResp(BayesianGaussianMixture):
    """BayesianGaussianMixture whose first M-step uses ``self.init_resp``."""

    def _initialize_parameters(self, X, random_state, xp=None):
        self._initialize(X, self.init_resp)


def _vb_row(task, x, num_components, num_iters, concentration=1e-3):
    d = x.shape[1]
    prior = vbgmm.VBGMMPrior(concentration, 1.0, jnp.zeros(d), float(d), jnp.eye(d))
    key = jax.random.key(0)
    x64 = np.asarray(x, np.float64)
    init_resp = np.asarray(vbgmm.init(key, x, num_components, prior).resp, np.float64)

    def run_sklearn():
        gm = _FromResp(n_components=num_components, covariance_type="full",
                       weight_concentration_prior_type="dirichlet_distribution",
                       weight_concentration_prior=concentration, mean_precision_prior=1.0,
                       mean_prior=np.zeros(d), degrees_of_freedom_prior=float(d),
                       covariance_prior=np.eye(d), reg_covar=0.0, tol=0.0, max_iter=num_iters)
        gm.init_resp = init_resp
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")       # ConvergenceWarning: we stop on purpose
            return gm.fit(x64)

    def run_vibook():
        return jax.block_until_ready(vbgmm.fit(key, x, num_components, prior, num_iters))

    def max_diff(state):
        ours = (vbgmm.expected_weights(state), state.mean, vbgmm.expected_covariances(state))
        theirs = (gm.weight_concentration_ / gm.weight_concentration_.sum(), gm.means_, gm.covariances_)
        return max(np.max(np.abs(np.asarray(a) - b)) for a, b in zip(ours, theirs))

    state, _ = run_vibook()                        # warm-up: compile
    gm = run_sklearn()
    with enable_x64():                             # the same fit in float64: rounding, not a mismatch
        diff64 = max_diff(vbgmm.fit(key, jnp.asarray(x64), num_components, prior, num_iters)[0])
    vibook_s, peer_s = _best_of(run_vibook), _best_of(run_sklearn)
    return dict(task=task, vibook_s=vibook_s, peer="sklearn BayesianGaussianMixture", peer_s=peer_s,
                ratio=vibook_s / peer_s,
                agreement=f"max |Δ(E[π], m, cov)| = {max_diff(state):.1e} (float64: {diff64:.0e})")


def run():
    """EM and the variational mixture on Old Faithful (272 × 2) and on a synthetic set (20 000 × 2)."""
    faithful = data.standardize(data.old_faithful())
    rows = [_row("EM, Old Faithful, K=2, 100 iterations", faithful,
                 em.init_gmm(jax.random.key(0), faithful, 2), 100)]
    means = np.array([[-4.0, 0.0], [4.0, 0.0], [0.0, 4.0], [0.0, -4.0], [0.0, 0.0]])
    big, _ = data.synthetic_mixture(jax.random.key(1), 20_000, means)
    rows.append(_row("EM, synthetic 20000x2, K=5, 100 iterations", big,
                     em.init_gmm(jax.random.key(2), big, 5), 100))
    rows.append(_vb_row("VB-GMM, Old Faithful, K=6, 100 iterations", faithful, 6, 100))
    rows.append(_vb_row("VB-GMM, synthetic 20000x2, K=5, 100 iterations", big, 5, 100))
    return rows


if __name__ == "__main__":
    for row in run():
        print(row)
