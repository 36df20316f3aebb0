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

    Examples
    --------
    >>> from vibook import data
    >>> data.old_faithful().shape
    (272, 2)
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

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from vibook import data
    >>> z = data.standardize(jnp.array([[1.0, 10.0], [2.0, 20.0], [3.0, 60.0]]))
    >>> bool(jnp.allclose(z.mean(0), 0.0, atol=1e-6)), bool(jnp.allclose(z.std(0), 1.0))
    (True, True)
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

    Examples
    --------
    >>> import jax
    >>> from vibook import data
    >>> split = data.digits(jax.random.key(0))
    >>> split.x_train.shape, split.x_test.shape, split.y_test.shape
    ((1438, 64), (359, 64), (359,))
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

    Examples
    --------
    >>> import jax
    >>> from vibook import data
    >>> split = data.breast_cancer(jax.random.key(0))
    >>> split.x_train.shape, split.x_test.shape, split.y_train.shape
    ((427, 30), (142, 30), (427,))
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

    Examples
    --------
    >>> import jax
    >>> from vibook import data
    >>> x, labels = data.synthetic_mixture(jax.random.key(0), 100, [[-5.0, 0.0], [5.0, 0.0]])
    >>> x.shape, labels.shape, bool(((x[:, 0] > 0) == (labels == 1)).mean() > 0.95)
    ((100, 2), (100,), True)
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

    Examples
    --------
    >>> import jax
    >>> from vibook import data
    >>> batches = data.minibatches(jax.random.key(0), 10, 3)
    >>> batches.shape, len(set(batches.ravel().tolist()))
    ((3, 3), 9)
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

    Examples
    --------
    >>> from vibook import data
    >>> y, sigma = data.eight_schools()
    >>> y.shape, sigma.shape, float(y.mean())
    ((8,), (8,), 8.75)
    """
    y = jnp.asarray([28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0])
    sigma = jnp.asarray([15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0])
    return y, sigma


# --- bag-of-words corpora ---------------------------------------------------------------------

class Corpus(NamedTuple):
    """Documents as bags of words, in a padded word-index form (never an N x V matrix).

    Document ``d`` holds word ``ids[d, j]`` ``counts[d, j]`` times; a padding
    slot has count 0 (and any valid id). ``L`` is the largest number of
    distinct words in a document, so memory is ``N x L``, not ``N x V``.
    """

    ids: jax.Array      # (N, L) int32, word indices in [0, V)
    counts: jax.Array   # (N, L) int32, >= 0; 0 marks padding


class Bars(NamedTuple):
    """The bars corpus and the truth it was drawn from (:func:`bars`)."""

    corpus: Corpus      # (N, L) ids and counts
    topics: jax.Array   # (K, V) true topic-word probabilities beta_k
    theta: jax.Array    # (N, K) true document-topic proportions


def _padded(counts):
    """Dense (N, V) counts -> :class:`Corpus`, each row's nonzero words moved to the front."""
    counts = np.asarray(counts)
    nonzero = counts > 0                                               # (N, V)
    width = max(int(nonzero.sum(axis=1).max()), 1)                     # L
    order = np.argsort(~nonzero, axis=1, kind="stable")[:, :width]     # (N, L)
    kept = np.take_along_axis(counts, order, axis=1)                   # (N, L)
    return Corpus(jnp.asarray(np.where(kept > 0, order, 0), jnp.int32),
                  jnp.asarray(kept, jnp.int32))


def bar_topics(size=5):
    """The ``2 * size`` bar topics of Griffiths & Steyvers (2004): uniform over one row or column.

    Parameters
    ----------
    size : int
        The images are ``size x size`` pixels; the vocabulary is the
        :math:`V = \\text{size}^2` pixels in reading order.

    Returns
    -------
    Array, shape (2 * size, size**2)
        Rows 0..size-1 are the horizontal bars, then the vertical bars; each
        row is :math:`1/\\text{size}` on its bar's pixels and 0 elsewhere.

    Examples
    --------
    >>> from vibook import data
    >>> data.bar_topics(5).shape
    (10, 25)
    """
    size = _checks.positive_int(size, "size")
    image = np.zeros((2 * size, size, size), np.float32)
    for i in range(size):
        image[i, i, :] = 1.0 / size          # horizontal bar i
        image[size + i, :, i] = 1.0 / size   # vertical bar i
    return jnp.asarray(image.reshape(2 * size, size * size))


def bars(key, num_docs, size=5, doc_length=100, alpha=1.0, chunk=100_000):
    r"""The "bars" corpus of Griffiths & Steyvers (2004), drawn from the LDA generative process.

    With the :math:`K = 2\,\text{size}` topics of :func:`bar_topics`, each
    document :math:`d` draws

    .. math::

        \theta_d \sim \mathrm{Dirichlet}(\alpha \mathbf 1_K), \qquad
        n_{d\cdot} \sim \mathrm{Multinomial}\big(\text{doc\_length},\ \theta_d^\top \beta\big),

    which is the LDA model of Blei, Ng & Jordan (2003) with the topic-word
    probabilities :math:`\beta` fixed to the bars. Documents are drawn in
    chunks of ``chunk`` (so :math:`10^6` documents need no :math:`10^8`
    intermediate) and stored as a padded :class:`Corpus`.

    Parameters
    ----------
    key : PRNG key
        Fixes the corpus.
    num_docs : int
        :math:`N \ge 1`.
    size : int
        Image side; vocabulary :math:`V = \text{size}^2`.
    doc_length : int
        Words per document.
    alpha : float
        Dirichlet concentration :math:`\alpha > 0` of :math:`\theta_d`.
    chunk : int
        Documents drawn per chunk.

    Returns
    -------
    Bars
        ``corpus`` (ids and counts, shape (N, L) with L <= V), ``topics``
        (K, V) and ``theta`` (N, K).

    Examples
    --------
    >>> import jax
    >>> from vibook import data
    >>> b = data.bars(jax.random.key(0), 3)
    >>> b.topics.shape, b.theta.shape, [int(c) for c in b.corpus.counts.sum(axis=1)]
    ((10, 25), (3, 10), [100, 100, 100])
    """
    _checks.key(key)
    num_docs = _checks.positive_int(num_docs, "num_docs")
    doc_length = _checks.positive_int(doc_length, "doc_length")
    chunk = _checks.positive_int(chunk, "chunk")
    _checks.positive(alpha, "alpha")
    topics = bar_topics(size)                                          # (K, V)
    k = topics.shape[0]
    # NumPy's generator, seeded from the key, draws Dirichlets far faster than JAX on a CPU.
    rng = np.random.default_rng(np.asarray(jax.random.key_data(key)).ravel().tolist())
    counts, thetas = [], []
    for start in range(0, num_docs, chunk):
        n = min(chunk, num_docs - start)
        theta = rng.dirichlet(np.full(k, float(alpha)), n)                 # (n, K)
        probs = theta @ np.asarray(topics, np.float64)                    # (n, V)
        counts.append(rng.multinomial(doc_length, probs / probs.sum(1, keepdims=True)))
        thetas.append(theta.astype(np.float32))
    return Bars(_padded(np.concatenate(counts)), topics, jnp.asarray(np.concatenate(thetas)))
