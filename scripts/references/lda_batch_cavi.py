"""Chapter 7's batch CAVI fit of LDA to the bars corpus, stored as ``lda_batch_cavi``.

Batch CAVI (``vibook.lda.cavi_step``) on the 100,000 training documents of
Chapter 7's bars corpus (``data.bars(key(70), 101_000)``: the first 100,000
documents train, the last 1000 are held out), K = 10, alpha = 1, eta = 0.1,
from ``lda.cavi_init(key(71), ...)`` (the same lambda as SVI's
``lda.init(key(71), 10, 25)``), for 60 sweeps. Each sweep is a full pass over
the 100,000 documents, which costs seconds; 60 of them exceed the chapter's
time budget, so the chapter loads this run and re-checks its final lambda.

Stored: ``elbo`` (60,), the training ELBO per word after each sweep;
``perplexity`` (60,), the held-out perplexity after each sweep;
``lam_sweeps`` (the sweeps at which ``lam`` is kept) and ``lam`` (4, 10, 25).
``tests/test_lda.py`` reruns a short version and compares it statistically.

Run from the repository root: ``python scripts/references/lda_batch_cavi.py``.
"""

import jax
import numpy as np

from vibook import data, lda, references

NUM_TRAIN, NUM_SWEEPS, ALPHA, ETA = 100_000, 60, 1.0, 0.1
KEEP = (1, 3, 10, NUM_SWEEPS)


def main():
    bars = data.bars(jax.random.key(70), NUM_TRAIN + 1000)
    ids, counts = bars.corpus
    train = data.Corpus(ids[:NUM_TRAIN], counts[:NUM_TRAIN])
    test = data.Corpus(ids[NUM_TRAIN:], counts[NUM_TRAIN:])
    state = lda.cavi_init(jax.random.key(71), train, 10, 25)
    elbo, perplexity, kept = [], [], []
    for sweep in range(1, NUM_SWEEPS + 1):
        state, info = lda.cavi_step(state, train, ALPHA, ETA)
        elbo.append(float(info.elbo))
        perplexity.append(float(lda.perplexity(state.lam, test, ALPHA)))
        if sweep in KEEP:
            kept.append(np.asarray(state.lam))
        print(sweep, elbo[-1], perplexity[-1], int(info.local_steps), flush=True)
    references.save("lda_batch_cavi", script=__file__, elbo=np.array(elbo),
                    perplexity=np.array(perplexity), lam_sweeps=np.array(KEEP),
                    lam=np.stack(kept))


if __name__ == "__main__":
    main()
