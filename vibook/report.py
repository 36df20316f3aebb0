"""Print numbers, rounded, and hand the same numbers to the book's prose.

Every number a chapter prints goes through :func:`show`. It rounds to a fixed
number of significant digits, so that stored outputs compare equal on any
machine (CPU or GPU, whatever the last bits), and it *glues* each value under
its name with myst-nb, so the prose can quote ``{glue:text}`name``` and never
types a number by hand.
"""

import numbers

import numpy as np


def fmt(value, digits):
    """Format ``value`` with ``digits`` significant digits (integers exactly).

    Trailing zeros are kept, so ``fmt(2.0, 3)`` is ``'2.00'``: the printed width
    states the precision. Very small or large values use an exponent.
    """
    if _is_int(value):
        return str(int(value))
    value = float(value)
    if value == 0 or not np.isfinite(value):
        return repr(value) if value else "0"
    text = f"{value:#.{digits}g}".replace(".e", "e")
    return text[:-1] if text.endswith(".") else text


def show(digits=6, glue=True, **values):
    """Print ``name = value`` lines, rounded, and glue each value for the prose.

    Parameters
    ----------
    digits : int
        Significant digits to keep.
    glue : bool
        Also store each formatted value, as a string, with ``myst_nb.glue(name,
        text, display=False)``, so that ``{glue:text}`name``` in the prose shows
        exactly the printed digits, trailing zeros included (skipped when
        myst-nb is not installed).
    **values : float or int
        The numbers to report, by name.
    """
    if not values:
        raise ValueError("show needs at least one name=value to report")
    if not isinstance(digits, int) or not 1 <= digits <= 15:
        raise ValueError(f"digits must be an integer from 1 to 15, got {digits!r}")
    texts = {name: fmt(value, digits) for name, value in values.items()}
    width = max(len(name) for name in texts)
    print("\n".join(f"{name:<{width}} = {text}" for name, text in texts.items()))
    if glue:
        for name, text in texts.items():
            _glue(name, text)


def _is_int(value):
    if isinstance(value, (bool, np.bool_)):
        return False
    return isinstance(value, numbers.Integral) or (
        hasattr(value, "dtype") and np.issubdtype(value.dtype, np.integer))


def _glue(name, value):
    try:
        from myst_nb import glue
    except ImportError:  # reading the chapter outside the book's environment
        return
    glue(name, value, display=False)
