"""LDA by stochastic VI: ``vibook.lda.fit`` against scikit-learn's online LDA.

Both sides fit the bars corpus of Griffiths & Steyvers (``vibook.data.bars``,
K = 10 topics over V = 25 pixels, 100 words per document, alpha = 1) with the
same K, alpha, eta, batch size, tau and kappa:

* vibook: ``lda.fit`` with ``steps`` minibatches drawn uniformly from the N
  training documents (the global step weights each minibatch by N / |B|);
  the local step stops at a mean change of 1e-3 or 100 iterations.
* scikit-learn: ``LatentDirichletAllocation(learning_method="online",
  total_samples=N)`` and ``partial_fit`` on the first ``steps`` x |B|
  documents, in ``steps`` sequential minibatches of the same size (the
  documents are drawn independently, so the first ones are a uniform
  sample), with the same local rule (``mean_change_tol=1e-3``,
  ``max_doc_update_iter=100``). Its step size is ``(learning_offset +
  t)^-kappa`` with ``t`` counted from 1, so ``learning_offset = tau - 1``
  gives the same schedule as vibook's ``(t + tau)^-kappa`` with ``t`` from 0.

``steps`` is one pass, N / |B|, up to ``MAX_STEPS`` (one pass at N = 10^5):
at N = 10^6 both sides do the same 390 updates, a tenth of a pass, since one
pass of scikit-learn there would take about ten minutes per call. What grows
with N is then the corpus held in memory and the weight N / |B| of each
minibatch; neither side's time per update depends on N.

The results are compared at **equal held-out perplexity**: both fits are
scored by the same function (``lda.perplexity`` on 1000 held-out documents),
and ``equal_result`` holds when the two perplexities agree within
``TOLERANCE`` (relative). The record also gives the perplexity of the true
topics, and the peak resident memory of the process against the size of the
padded corpus and of a dense N x V matrix. scikit-learn is not JAX, so the
second, cached-compilation run times vibook's cold call only
(``_harness.COLD_ONLY``).

``python benchmarks/run.py`` runs every case; ``CASES`` lists them.
"""

import resource

import jax
import numpy as np
import sklearn
from sklearn.decomposition import LatentDirichletAllocation

from _harness import compare, record
from vibook import data, lda

K, V, ALPHA, ETA = 10, 25, 1.0, 0.1
BATCH_SIZE, TAU, KAPPA, MAX_STEPS = 256, 64.0, 0.7, 390
TOLERANCE = 0.02          # relative difference of the held-out perplexities


def _peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def lda_case(n, repeats=5):
    bars = data.bars(jax.random.key(0), n + 1000)
    ids, counts = bars.corpus
    train = data.Corpus(ids[:n], counts[:n])
    test = data.Corpus(ids[n:], counts[n:])
    steps = min(n // BATCH_SIZE, MAX_STEPS)
    seen = steps * BATCH_SIZE
    x = lda.to_csr(data.Corpus(ids[:seen], counts[:seen]), V)   # scikit-learn's minibatches
    start = lda.init(jax.random.key(1), K, V)

    def vibook():
        state, _ = lda.fit(jax.random.key(2), train, start, steps, BATCH_SIZE, ALPHA, ETA,
                           tau=TAU, kappa=KAPPA)
        return jax.block_until_ready(state.lam)

    def peer():
        model = LatentDirichletAllocation(
            K, doc_topic_prior=ALPHA, topic_word_prior=ETA, learning_method="online",
            learning_decay=KAPPA, learning_offset=TAU - 1, batch_size=BATCH_SIZE,
            total_samples=n, mean_change_tol=1e-3, max_doc_update_iter=100,
            random_state=0, n_jobs=1)
        return model.partial_fit(x).components_

    rss_before = _peak_rss_mb()
    times, (lam, components) = compare(vibook, peer, repeats=repeats, peer_needed=False)
    p_vibook = float(lda.perplexity(lam, test, ALPHA))
    p_peer = float(lda.perplexity(np.asarray(components, np.float32), test, ALPHA))
    p_true = float(lda.perplexity(1e4 * bars.topics + 1e-3, test, ALPHA))
    corpus_mb = (train.ids.nbytes + train.counts.nbytes) / 2**20      # the N training documents
    return [record(f"LDA by SVI, {steps} minibatches of {BATCH_SIZE}", "lda",
                   dict(N=n, V=V, K=K, batch_size=BATCH_SIZE, steps=steps,
                        passes=seen / n, tau=TAU, kappa=KAPPA),
                   f"scikit-learn {sklearn.__version__} LatentDirichletAllocation "
                   "(online, partial_fit)",
                   times, abs(p_vibook - p_peer) / p_peer, TOLERANCE,
                   "relative difference of held-out perplexity (1000 documents)",
                   perplexity=dict(vibook=p_vibook, peer=p_peer, true_topics=p_true),
                   memory=dict(peak_rss_mb=_peak_rss_mb(), peak_rss_before_mb=rss_before,
                               corpus_mb=corpus_mb, dense_float32_mb=n * V * 4 / 2**20))]


CASES = {
    "lda_1e4": lambda: lda_case(10_000),
    "lda_1e5": lambda: lda_case(100_000, repeats=2),       # scikit-learn: ~1 min a call
    "lda_1e6": lambda: lda_case(1_000_000, repeats=2),
}


if __name__ == "__main__":
    import json
    import sys
    for size in sys.argv[1:] or ["lda_1e4"]:
        print(json.dumps(CASES[size](), indent=1, default=str))
