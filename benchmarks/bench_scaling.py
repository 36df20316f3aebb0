"""How vibook's cost grows with N: EM and CAVI per iteration, SVI per step.

Theory: an EM or CAVI iteration touches every point, so its time grows like
N (slope 1 on log-log axes); an SVI step touches one minibatch, so its time
does not grow with N at all (slope 0). The slope is fitted by least squares on
log time against log N over N >= ``FIT_FROM``, where fixed per-call costs no
longer dominate. Data: the 2-d, K = 5 mixture of ``bench_em``, prefixes of
one 10^6-point draw.
"""

from functools import partial

import jax
import numpy as np

from _harness import devices, median_time
from bench_em import K, mixture as mixture_data
from vibook import em, mixture, svi

SIZES = [1_000, 3_000, 10_000, 30_000, 100_000, 300_000, 1_000_000]
NUM_ITERS, BATCH, PRIOR_SCALE, FIT_FROM = 10, 100, 4.0, 10_000


def _per_unit(algorithm, n, x):
    """Seconds per iteration (EM, CAVI) or per step (SVI) at size ``n``."""
    key = jax.random.key(0)
    if algorithm == "EM":
        init = em.init_gmm(key, x, K)
        return median_time(lambda: jax.block_until_ready(em.fit_gmm(x, init, NUM_ITERS))) / NUM_ITERS
    if algorithm == "CAVI":
        return median_time(lambda: jax.block_until_ready(
            mixture.fit(key, x, K, PRIOR_SCALE, NUM_ITERS))) / NUM_ITERS
    start = svi.init(key, x, K, PRIOR_SCALE)
    return median_time(lambda: jax.block_until_ready(
        svi.fit(key, x, start, 1, BATCH, PRIOR_SCALE))) / (n // BATCH)


def case(algorithm):
    x = mixture_data(SIZES[-1], 2)
    seconds = [_per_unit(algorithm, n, x[:n]) for n in SIZES]
    big = np.array(SIZES) >= FIT_FROM
    slope = np.polyfit(np.log(np.array(SIZES)[big]), np.log(np.array(seconds)[big]), 1)[0]
    unit = "step (minibatch of 100)" if algorithm == "SVI" else "iteration"
    return [dict(kind="scaling", algorithm=algorithm, unit=unit, N=SIZES, seconds=seconds,
                 slope=float(slope), fit_from=FIT_FROM, expected_slope=0 if algorithm == "SVI" else 1,
                 size=dict(D=2, K=K), machine=devices())]


CASES = {f"scaling_{a.lower()}": partial(case, a) for a in ("EM", "CAVI", "SVI")}
