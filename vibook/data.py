"""Data sets used in the book. Everything ships with vibook or scikit-learn: no downloads."""

from importlib import resources

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
    std = jnp.std(x, axis=0)
    if bool(jnp.any(std == 0)):
        raise ValueError("x has a constant column, which cannot be scaled to unit variance")
    return (x - jnp.mean(x, axis=0)) / std
