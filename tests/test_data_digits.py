"""Tests for the digits and breast-cancer loaders of vibook.data."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_digits

from vibook import data


def test_digits_split_shapes_and_binarisation():
    split = data.digits(jax.random.key(0), test_fraction=0.2)
    assert split.x_train.shape == (1438, 64) and split.x_test.shape == (359, 64)
    assert split.y_train.shape == (1438,) and split.y_test.shape == (359,)
    x = jnp.concatenate([split.x_train, split.x_test])
    assert set(np.unique(np.asarray(x))) == {0.0, 1.0}
    # The same multiset of binarised images and labels as scikit-learn's.
    raw = load_digits()
    expected = np.sort(np.c_[(raw.data > 8).astype(float), raw.target].tolist(), axis=0)
    got = np.sort(np.c_[np.asarray(x), np.r_[split.y_train, split.y_test]].tolist(), axis=0)
    np.testing.assert_array_equal(got, expected)


def test_digits_split_is_reproducible_from_the_key():
    a, b = data.digits(jax.random.key(1)), data.digits(jax.random.key(1))
    c = data.digits(jax.random.key(2))
    np.testing.assert_array_equal(a.x_test, b.x_test)
    assert not np.array_equal(a.y_test, c.y_test)


def test_breast_cancer_standardised_with_training_statistics():
    split = data.breast_cancer(jax.random.key(0), test_fraction=0.25)
    assert split.x_train.shape == (427, 30) and split.x_test.shape == (142, 30)
    np.testing.assert_allclose(split.x_train.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(split.x_train.std(0), 1, atol=1e-5)
    assert set(np.unique(np.asarray(split.y_train))) == {0, 1}
    assert int(split.y_train.sum() + split.y_test.sum()) == int(load_breast_cancer().target.sum())


@pytest.mark.parametrize("loader", [data.digits, data.breast_cancer])
def test_bad_input(loader):
    with pytest.raises(TypeError, match="key"):
        loader(0)
    with pytest.raises(ValueError, match="test_fraction"):
        loader(jax.random.key(0), test_fraction=0.0)
    with pytest.raises(ValueError, match="test_fraction"):
        loader(jax.random.key(0), test_fraction=1.0)
