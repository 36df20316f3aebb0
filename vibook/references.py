"""Stored reference runs: long, chaotic computations kept as data.

A long NUTS run or a trained flow amplifies last-bit differences between
processors (AVX-512 or not, Intel or AMD, CPU or GPU) until they reach printed
digits. The book therefore runs them once, stores the result in the package
(``vibook/datasets/references/NAME.npz``), and the chapters load it, so that
what they print from it is the same on every machine. Each stored run has

* a script that regenerates it, ``scripts/references/NAME.py`` (``make
  references`` runs them all), which calls :func:`save`;
* a unit test that reruns a short version and compares it with the stored run
  statistically (e.g. posterior means within 4 Monte Carlo standard errors),
  never bitwise.

>>> from vibook import references
>>> sorted(references.available())[:0]
[]
"""

import json
from pathlib import Path

import numpy as np

FOLDER = Path(__file__).parent / "datasets" / "references"


def _path(name):
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"name: expected a Python identifier such as 'eight_schools_nuts', got {name!r}")
    return FOLDER / f"{name}.npz"


def available():
    """The names of the stored runs.

    Examples
    --------
    >>> from vibook import references
    >>> "ch09_nuts_normal_normal" in references.available()
    True
    """
    return [p.stem for p in FOLDER.glob("*.npz")]


def save(name, *, script, **arrays):
    """Store ``arrays`` (NumPy-convertible) as the reference run ``name``.

    ``script`` is the path of the script that made it (recorded with the
    versions of jax, blackjax and numpy in the run's metadata).

    Examples
    --------
    Run from a script in ``scripts/references/`` (this writes into the package,
    so it is not run here); :func:`load` reads it back.

    >>> import numpy as np
    >>> from vibook import references
    >>> references.save("my_run", script=__file__, draws=np.zeros((4, 100)))  # doctest: +SKIP
    >>> sorted(references.load("ch09_nuts_normal_normal")["_meta"])
    ['blackjax', 'jax', 'numpy', 'script']
    """
    import jax

    meta = {"script": str(script), "jax": jax.__version__, "numpy": np.__version__}
    try:
        import blackjax
        meta["blackjax"] = blackjax.__version__
    except ImportError:  # pragma: no cover
        pass
    arrays = {k: np.asarray(v) for k, v in arrays.items()}
    if "_meta" in arrays:
        raise ValueError("arrays: '_meta' is reserved for the run's metadata")
    FOLDER.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(_path(name), _meta=np.array(json.dumps(meta)), **arrays)


def load(name):
    """The stored run ``name``: a dict of NumPy arrays (and ``'_meta'``, a dict).

    Raises
    ------
    ValueError
        If no run of that name is stored (the message lists those that are).

    Examples
    --------
    >>> from vibook import references
    >>> run = references.load("ch09_nuts_normal_normal")
    >>> run["draws"].shape, run["is_divergent"].shape   # (chains, draws, D), (chains, draws)
    ((4, 1000, 1), (4, 1000))
    """
    path = _path(name)
    if not path.exists():
        raise ValueError(f"name: no stored reference run {name!r}; stored: {sorted(available())}. "
                         "`make references` regenerates them")
    with np.load(path, allow_pickle=False) as data:
        out = {k: data[k] for k in data.files}
    out["_meta"] = json.loads(str(out["_meta"]))
    return out
