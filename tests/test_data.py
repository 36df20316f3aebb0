"""vibook.data: the shipped Old Faithful data and standardisation."""

import numpy as np
import pytest

from vibook.data import old_faithful, standardize


def test_old_faithful_is_the_r_data_set():
    x = np.asarray(old_faithful())
    assert x.shape == (272, 2)
    # Published summaries of R's datasets::faithful.
    np.testing.assert_allclose(x.mean(axis=0), [3.487783, 70.897059], atol=1e-5)
    np.testing.assert_allclose(x.min(axis=0), [1.6, 43.0])
    np.testing.assert_allclose(x.max(axis=0), [5.1, 96.0])
    np.testing.assert_allclose(x[0], [3.6, 79.0])


def test_standardize_gives_zero_mean_unit_variance():
    z = np.asarray(standardize(old_faithful()))
    np.testing.assert_allclose(z.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(z.std(axis=0), 1.0, atol=1e-5)


@pytest.mark.parametrize("x, error", [
    (np.ones(5), ValueError), (np.ones((1, 2)), ValueError),
    (np.array([[1.0, 2.0], [np.nan, 1.0]]), ValueError),
    (np.array([[1.0, 2.0], [1.0, 3.0]]), ValueError), ("abc", TypeError)])
def test_standardize_rejects_bad_input(x, error):
    with pytest.raises(error, match="x"):
        standardize(x)


def test_bars_follows_the_lda_generative_process():
    import jax
    from vibook import data
    b = data.bars(jax.random.key(0), 20_000, doc_length=50)
    counts = np.zeros((20_000, 25))
    np.add.at(counts, (np.arange(20_000)[:, None], np.asarray(b.corpus.ids)),
              np.asarray(b.corpus.counts))
    assert np.all(counts.sum(axis=1) == 50)
    expected = np.asarray(b.theta) @ np.asarray(b.topics) * 50      # E[n_dw | theta_d]
    np.testing.assert_allclose(counts.mean(0), expected.mean(0), rtol=0.02)
    np.testing.assert_allclose(np.asarray(b.topics).sum(axis=1), 1.0, rtol=1e-6)
    # theta ~ Dir(1): mean 1/K, variance (K - 1) / (K^2 (K + 1))
    np.testing.assert_allclose(np.asarray(b.theta).var(axis=0), 9 / 1100, rtol=0.05)
    again = data.bars(jax.random.key(0), 20_000, doc_length=50)       # a fixed key fixes it
    np.testing.assert_array_equal(again.corpus.counts, b.corpus.counts)


def test_bars_rejects_bad_input():
    import jax
    from vibook import data
    with pytest.raises(ValueError, match="num_docs"):
        data.bars(jax.random.key(0), 0)
    with pytest.raises(ValueError, match="alpha"):
        data.bars(jax.random.key(0), 10, alpha=0.0)
