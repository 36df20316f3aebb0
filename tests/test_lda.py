"""Tests for vibook.lda: scikit-learn's E-step, CAVI monotonicity, topic recovery, bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.special import psi
from sklearn.decomposition import LatentDirichletAllocation

from vibook import data, lda

K, V = 10, 25


@pytest.fixture(scope="module")
def bars():
    return data.bars(jax.random.key(0), 2000)


def _sklearn_with(lam, alpha, eta, **kwargs):
    """A scikit-learn LDA whose topics are q(beta) = Dir(lam), without fitting."""
    model = LatentDirichletAllocation(lam.shape[0], doc_topic_prior=alpha,
                                      topic_word_prior=eta, **kwargs)
    model._init_latent_vars(lam.shape[1])
    lam = np.array(lam, np.float64)                 # a writable copy (sklearn updates it)
    model.components_ = lam
    model.exp_dirichlet_component_ = np.exp(psi(lam) - psi(lam.sum(axis=1, keepdims=True)))
    return model


def test_local_step_equals_sklearn_transform(bars):
    lam = 100.0 * bars.topics + lda.init(jax.random.key(1), K, V).lam   # informative, fixed
    corpus = data.Corpus(bars.corpus.ids[:300], bars.corpus.counts[:300])
    x = lda.to_csr(corpus, V)
    for alpha in (0.1, 1.0):
        model = _sklearn_with(lam, alpha, 0.1, max_doc_update_iter=1000, mean_change_tol=1e-7)
        gamma = np.asarray(lda.local_step(lam, corpus, alpha, num_local_steps=1000,
                                          local_tol=1e-7))
        np.testing.assert_allclose(gamma, model.transform(x, normalize=False), rtol=2e-4,
                                   atol=2e-4)
        np.testing.assert_allclose(gamma / gamma.sum(1, keepdims=True), model.transform(x),
                                   atol=1e-5)


def test_local_step_with_sklearn_defaults_matches_its_stopping_rule(bars):
    lam = 100.0 * bars.topics + lda.init(jax.random.key(2), K, V).lam
    corpus = data.Corpus(bars.corpus.ids[:200], bars.corpus.counts[:200])
    model = _sklearn_with(lam, 0.5, 0.1)                            # tol 1e-3, 100 iterations
    gamma = lda.local_step(lam, corpus, 0.5)
    np.testing.assert_allclose(gamma, model.transform(lda.to_csr(corpus, V), normalize=False),
                               rtol=1e-3, atol=1e-3)


def test_heldout_bound_equals_sklearn_bound_without_the_topic_term(bars):
    lam = 100.0 * bars.topics + lda.init(jax.random.key(3), K, V).lam
    corpus = data.Corpus(bars.corpus.ids[:200], bars.corpus.counts[:200])
    x = lda.to_csr(corpus, V)
    model = _sklearn_with(lam, 0.5, 0.1, max_doc_update_iter=1000, mean_change_tol=1e-7)
    gamma = model.transform(x, normalize=False)
    # scikit-learn's bound adds the topic term E log p(beta) - E log q(beta): remove it.
    topic_term = (float(lda._global_bound(jnp.asarray(lam, jnp.float32), 0.1)))
    expected = (model._approx_bound(x, gamma, sub_sampling=False) - topic_term) / x.sum()
    got = lda.heldout_bound(lam, corpus, 0.5, num_local_steps=1000, local_tol=1e-7)
    np.testing.assert_allclose(got, expected, rtol=1e-4)


def test_svi_step_equals_sklearn_online_update(bars):
    lam = 100.0 * bars.topics + lda.init(jax.random.key(4), K, V).lam
    batch = data.Corpus(bars.corpus.ids[:100], bars.corpus.counts[:100])
    model = _sklearn_with(lam, 0.5, 0.1, learning_method="online", learning_offset=4.0,
                          learning_decay=0.7, max_doc_update_iter=1000, mean_change_tol=1e-7,
                          total_samples=2000)
    model.partial_fit(lda.to_csr(batch, V))                          # rho = (4 + 1)^-0.7
    state = lda.LDAState(lam, jnp.asarray(0, jnp.int32))
    new, info = lda.step(state, batch, 2000, 0.5, 0.1, tau=5.0, kappa=0.7,
                         num_local_steps=1000, local_tol=1e-7)
    np.testing.assert_allclose(info.rho, 5.0 ** -0.7, rtol=1e-6)
    np.testing.assert_allclose(new.lam, model.components_, rtol=2e-3)


def test_batch_cavi_elbo_never_decreases_and_the_best_restart_recovers_the_bars():
    # alpha = 0.5: documents use few bars. LDA's ELBO has local optima, so take
    # the best of three restarts by ELBO, as one would in practice.
    b = data.bars(jax.random.key(0), 2000, alpha=0.5)
    fits = []
    for key in (5, 6, 7):
        state = lda.cavi_init(jax.random.key(key), b.corpus, K, V)
        state, info = lda.cavi_fit(b.corpus, state, 40, 0.5, 0.1)
        elbo = np.asarray(info.elbo)
        assert np.all(np.diff(elbo) >= -1e-5 * np.abs(elbo[1:]))     # float32 round-off only
        assert elbo[-1] > elbo[0] + 0.05
        fits.append((elbo[-1], state))
    best = max(fits, key=lambda f: f[0])[1]
    np.testing.assert_allclose(max(f[0] for f in fits),
                               lda.elbo(best.lam, best.gamma, b.corpus, 0.5, 0.1), rtol=1e-5)
    _, l1 = lda.match_topics(best.lam, b.topics)
    assert l1.max() < 0.1, l1


@pytest.mark.float32   # its key and length are set for the float32 random stream; in float64 the same key draws other numbers
def test_svi_recovers_the_bars_and_approaches_the_true_heldout_perplexity():
    b = data.bars(jax.random.key(1), 21_000, alpha=0.2)
    train = data.Corpus(b.corpus.ids[:20_000], b.corpus.counts[:20_000])
    test = data.Corpus(b.corpus.ids[20_000:], b.corpus.counts[20_000:])
    start = lda.init(jax.random.key(7), K, V)
    state, info = lda.fit(jax.random.key(3), train, start, 100, 100, 0.2, 0.1)   # half a pass
    assert int(state.t) == 100 and info.elbo.shape == (100,)
    _, l1 = lda.match_topics(state.lam, b.topics)
    assert l1.max() < 0.3, l1
    p_start, p_end = (float(lda.perplexity(s.lam, test, 0.2)) for s in (start, state))
    p_true = float(lda.perplexity(1e4 * b.topics + 1e-3, test, 0.2))   # the true topics
    assert p_end < 0.8 * p_start
    assert p_true <= p_end < 1.02 * p_true


def test_corpus_round_trip_and_padding():
    counts = np.array([[2, 0, 1, 0], [0, 0, 0, 5], [1, 1, 1, 1]])
    c = lda.corpus(counts)
    assert c.ids.shape == (3, 4)
    np.testing.assert_array_equal(lda.to_csr(c, 4).toarray(), counts)
    import scipy.sparse
    c2 = lda.corpus(scipy.sparse.csr_matrix(counts))
    np.testing.assert_array_equal(lda.to_csr(c2, 4).toarray(), counts)


def test_match_topics_finds_the_permutation():
    true = np.asarray(data.bar_topics(5))
    order, l1 = lda.match_topics(true[::-1] + 1e-9, true)
    np.testing.assert_array_equal(order, np.arange(10)[::-1])
    assert l1.max() < 1e-6


# --- bad input ------------------------------------------------------------------------------

LAM = jnp.ones((2, 3))
GOOD = lda.corpus([[1, 0, 2], [0, 3, 0]])


@pytest.mark.parametrize("counts, error, match", [
    ([[1, -1, 0]], ValueError, "nonnegative"),
    ([[1.5, 0, 0]], ValueError, "integer"),
    ([[1, 0, 0], [0, 0, 0]], ValueError, "document 1 is empty"),
    ([[np.nan, 1, 0]], ValueError, "finite"),
    ([1, 2, 3], ValueError, "shape"),
    ("abc", TypeError, "counts"),
])
def test_corpus_rejects_bad_counts(counts, error, match):
    with pytest.raises(error, match=match):
        lda.corpus(counts)


def test_bad_corpus_arguments():
    with pytest.raises(TypeError, match="corpus must be a vibook.data.Corpus"):
        lda.local_step(LAM, np.array([[1, 0, 2]]), 1.0)
    with pytest.raises(ValueError, match="vocabulary of V = 2"):
        lda.local_step(jnp.ones((2, 2)), GOOD, 1.0)                 # id 2 out of range
    with pytest.raises(ValueError, match="corpus.counts must be nonnegative"):
        lda.local_step(LAM, data.Corpus(GOOD.ids, -GOOD.counts), 1.0)
    with pytest.raises(ValueError, match="corpus: document 0 is empty"):
        lda.local_step(LAM, data.Corpus(GOOD.ids, GOOD.counts.at[0].set(0)), 1.0)
    with pytest.raises(TypeError, match="corpus.ids must be integer"):
        lda.local_step(LAM, data.Corpus(GOOD.ids.astype(float), GOOD.counts), 1.0)


@pytest.mark.parametrize("name, value", [("alpha", 0.0), ("alpha", -1.0), ("eta", 0.0),
                                         ("eta", -0.5)])
def test_bad_priors(name, value):
    kwargs = {"alpha": 1.0, "eta": 0.1, name: value}
    state = lda.init(jax.random.key(0), 2, 3)
    with pytest.raises(ValueError, match=name):
        lda.step(state, GOOD, 2, **kwargs)
    with pytest.raises(ValueError, match=name):
        lda.fit(jax.random.key(1), GOOD, state, 2, 1, **kwargs)
    with pytest.raises(ValueError, match=name):
        lda.cavi_step(lda.cavi_init(jax.random.key(0), GOOD, 2, 3), GOOD, **kwargs)


def test_bad_state_schedule_and_sizes():
    state = lda.init(jax.random.key(0), 2, 3)
    with pytest.raises(TypeError, match="LDAState"):
        lda.step(lda.cavi_init(jax.random.key(0), GOOD, 2, 3), GOOD, 2, 1.0, 0.1)
    with pytest.raises(ValueError, match="kappa"):
        lda.step(state, GOOD, 2, 1.0, 0.1, kappa=0.5)
    with pytest.raises(ValueError, match="num_docs"):
        lda.step(state, GOOD, 1, 1.0, 0.1)
    with pytest.raises(ValueError, match="batch_size"):
        lda.fit(jax.random.key(1), GOOD, state, 2, 3, 1.0, 0.1)
    with pytest.raises(ValueError, match="vocabulary of V = 4"):
        lda.fit(jax.random.key(1), GOOD.__class__(GOOD.ids + 2, GOOD.counts),
                lda.init(jax.random.key(0), 2, 4), 2, 1, 1.0, 0.1)
    with pytest.raises(ValueError, match="state.gamma"):
        lda.cavi_step(lda.CAVIState(LAM, jnp.ones((5, 2))), GOOD, 1.0, 0.1)
    with pytest.raises(ValueError, match="local_tol"):
        lda.local_step(LAM, GOOD, 1.0, local_tol=-1.0)


@pytest.mark.float32   # the stored run is float32
def test_stored_batch_cavi_run_matches_a_rerun_of_its_first_sweep():
    # scripts/references/lda_batch_cavi.py: Chapter 7 loads it. Rerun the first
    # sweep on the same corpus and rescore every stored lambda.
    from vibook import references
    run = references.load("lda_batch_cavi")
    bars = data.bars(jax.random.key(70), 101_000)
    ids, counts = bars.corpus
    train = data.Corpus(ids[:100_000], counts[:100_000])
    test = data.Corpus(ids[100_000:], counts[100_000:])
    state = lda.cavi_init(jax.random.key(71), train, K, V)
    state, info = lda.cavi_step(state, train, 1.0, 0.1)
    np.testing.assert_allclose(info.elbo, run["elbo"][0], rtol=1e-4)
    np.testing.assert_allclose(state.lam, run["lam"][0], rtol=1e-3, atol=1e-2)
    for sweep, lam in zip(run["lam_sweeps"], run["lam"]):
        np.testing.assert_allclose(lda.perplexity(lam, test, 1.0), run["perplexity"][sweep - 1],
                                   rtol=1e-4)
    assert np.all(np.diff(run["elbo"]) >= 0)


@pytest.mark.parametrize("tau", [0.0, 0.5])
def test_step_and_fit_reject_tau_below_one(bars, tau):
    # tau < 1 gives rho_0 = tau**-kappa > 1, a step that extrapolates past lambda-hat
    state = lda.init(jax.random.key(0), K, V)
    batch = data.Corpus(bars.corpus.ids[:10], bars.corpus.counts[:10])
    with pytest.raises(ValueError, match="tau"):
        lda.step(state, batch, 2000, 0.5, 0.1, tau=tau)
    with pytest.raises(ValueError, match="tau"):
        lda.fit(jax.random.key(1), batch, state, 1, 5, 0.5, 0.1, tau=tau)
