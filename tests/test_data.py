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
