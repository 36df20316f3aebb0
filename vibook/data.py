"""Data sets used in the book. Everything ships with vibook or scikit-learn: no downloads."""

from importlib import resources
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from vibook import _checks


def old_faithful():
    """Old Faithful geyser eruptions, 272 × 2 (Azzalini & Bowman 1990; R's ``faithful``).

    Returns
    -------
    Array, shape (272, 2)
        Columns: eruption duration and waiting time to the next eruption, both
        in minutes, raw (not standardised; see :func:`standardize`).
    """
    with resources.files("vibook").joinpath("datasets/old_faithful.csv").open() as f:
        return jnp.asarray(np.loadtxt(f, delimiter=",", skiprows=3))


def standardize(x):
    r"""Centre each column and scale it to unit variance: :math:`(x - \bar x) / s`.

    Parameters
    ----------
    x : array_like, shape (N, D)

    Returns
    -------
    Array, shape (N, D)
    """
    x = _checks.array(x, "x", ndim=2)
    if x.shape[0] < 2:
        raise ValueError(f"x must have at least 2 rows to standardise, got shape {x.shape}")
    std = jnp.std(x, axis=0, keepdims=True)                  # (1, D)
    if bool(jnp.any(std == 0)):
        raise ValueError("x has a constant column, which cannot be scaled to unit variance")
    return (x - jnp.mean(x, axis=0, keepdims=True)) / std


class Split(NamedTuple):
    """A train/test split of inputs ``x`` and labels ``y``."""

    x_train: jax.Array   # (N_train, D)
    y_train: jax.Array   # (N_train,)
    x_test: jax.Array    # (N_test, D)
    y_test: jax.Array    # (N_test,)


def _split(key, x, y, test_fraction):
    """Shuffle rows with ``key`` and hold out ``round(test_fraction * N)`` of them."""
    _checks.key(key)
    test_fraction = _checks.positive(test_fraction, "test_fraction")
    n_test = int(round(float(test_fraction) * x.shape[0]))
    if not 1 <= n_test < x.shape[0]:
        raise ValueError(f"test_fraction must leave at least one example on each side, "
                         f"got {test_fraction}")
    order = np.asarray(jax.random.permutation(key, x.shape[0]))
    test, train = order[:n_test], order[n_test:]
    return Split(jnp.asarray(x[train]), jnp.asarray(y[train]),
                 jnp.asarray(x[test]), jnp.asarray(y[test]))


def digits(key, test_fraction=0.2):
    """scikit-learn's 8 × 8 handwritten digits (Alpaydin & Kaynak 1998), binarised.

    A pixel is 1 when its intensity exceeds half the maximum (8 on the 0–16
    scale), else 0. The 1797 images are shuffled with ``key`` and split.

    Parameters
    ----------
    key : PRNG key
        Fixes the train/test split.
    test_fraction : float
        Fraction of the images held out, in (0, 1).

    Returns
    -------
    Split
        ``x_*``: float arrays of 0s and 1s, shape (N, 64), rows are images in
        reading order; ``y_*``: the digit labels 0–9 (int).
    """
    from sklearn.datasets import load_digits
    raw = load_digits()
    x = (raw.data > 0.5 * 16).astype(np.float32)
    return _split(key, x, raw.target.astype(np.int32), test_fraction)


def breast_cancer(key, test_fraction=0.25):
    """scikit-learn's Wisconsin breast cancer data (Street et al. 1993), standardised.

    569 tumours, 30 features; the label is 1 for benign, 0 for malignant. The
    rows are shuffled with ``key`` and split; each feature is then centred and
    scaled with the *training* mean and standard deviation, so no information
    leaks from the held-out set.

    Parameters
    ----------
    key : PRNG key
        Fixes the train/test split.
    test_fraction : float
        Fraction of the rows held out, in (0, 1).

    Returns
    -------
    Split
        ``x_*``: float arrays, shape (N, 30); ``y_*``: labels 0/1 (int).
    """
    from sklearn.datasets import load_breast_cancer
    raw = load_breast_cancer()
    split = _split(key, raw.data.astype(np.float32), raw.target.astype(np.int32), test_fraction)
    mean = jnp.mean(split.x_train, axis=0, keepdims=True)           # (1, D)
    std = jnp.std(split.x_train, axis=0, keepdims=True)             # (1, D)
    return split._replace(x_train=(split.x_train - mean) / std, x_test=(split.x_test - mean) / std)


def synthetic_mixture(key, n, means, scales=1.0, weights=None):
    r"""Draw ``n`` points from a mixture of isotropic Gaussians.

    .. math::

        c_i \sim \mathrm{Cat}(w), \qquad x_i \mid c_i \sim \mathcal{N}(\mu_{c_i}, s_{c_i}^2 I_D).

    Parameters
    ----------
    key : PRNG key
    n : int
        Number of points.
    means : array_like, shape (K, D)
        Component means :math:`\mu_k`.
    scales : float or array_like, shape (K,)
        Component standard deviations :math:`s_k > 0` (default 1).
    weights : array_like, shape (K,), optional
        Mixing weights :math:`w`, non-negative, summing to 1 (default uniform).

    Returns
    -------
    x : Array, shape (n, D)
        The points.
    labels : Array of int, shape (n,)
        The component :math:`c_i` each point came from.
    """
    _checks.key(key)
    n = _checks.positive_int(n, "n")
    means = _checks.array(means, "means", ndim=2)
    k, d = means.shape
    if k < 1 or d < 1:
        raise ValueError(f"means must have shape (K, D) with K, D >= 1, got {means.shape}")
    scales = _checks.positive_entries(scales, "scales", ndim=(0, 1))
    if scales.ndim == 1 and scales.shape != (k,):
        raise ValueError(f"scales must be a number or have shape ({k},), got {scales.shape}")
    scales = jnp.broadcast_to(scales, (k,))                               # (K,)
    if weights is None:
        weights = jnp.full(k, 1.0 / k)
    weights = _checks.array(weights, "weights", shape=(k,))
    weights = _checks.simplex(weights, "weights", atol=1e-5)
    key_c, key_x = jax.random.split(key)
    labels = jax.random.choice(key_c, k, (n,), p=weights)                 # (n,)
    noise = jax.random.normal(key_x, (n, d))                              # (n, D)
    return means[labels] + scales[labels, None] * noise, labels


def minibatches(key, n, batch_size):
    """Indices of the ``n // batch_size`` minibatches of one shuffled pass over ``n`` points.

    The ``n % batch_size`` points left over sit this pass out.

    Parameters
    ----------
    key : PRNG key
        Fixes the shuffle.
    n, batch_size : int

    Returns
    -------
    Array of int, shape (n // batch_size, batch_size)

    Raises
    ------
    ValueError
        If ``batch_size`` is not between 1 and ``n``.
    """
    key = _checks.key(key)
    n = _checks.positive_int(n, "n")
    batch_size = _checks.batch_size(batch_size, n)
    num_batches = n // batch_size
    perm = jax.random.permutation(key, n)                                 # (n,)
    return perm[:num_batches * batch_size].reshape(num_batches, batch_size)


def eight_schools():
    """The eight-schools SAT coaching experiments (Rubin 1981; Gelman et al. 2013, §5.5).

    Each of eight schools ran a coaching programme for the SAT-V; the data are
    each school's estimated effect and its standard error (BDA Table 5.2).

    Returns
    -------
    y : Array, shape (8,)
        Estimated treatment effects :math:`y_j` (points).
    sigma : Array, shape (8,)
        Their standard errors :math:`\\sigma_j`, treated as known.
    """
    y = jnp.asarray([28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0])
    sigma = jnp.asarray([15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0])
    return y, sigma
