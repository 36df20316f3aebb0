"""Print numbers, rounded, and hand the same numbers to the book's prose.

Every number a chapter prints goes through :func:`show`. It rounds to a fixed
number of significant digits, so that stored outputs compare equal on any
machine (CPU or GPU, whatever the last bits), and it hands each printed text to
the prose, which quotes it as the MyST inline expression ``{eval}`shown.name```
and never types a number by hand:

* in the kernel, :data:`shown` holds every text printed so far, by name, so
  JupyterLab (with ``jupyterlab-myst``) evaluates ``shown.name`` to exactly the
  printed digits;
* in the stored notebook, ``show`` also *glues* the text with myst-nb, and the
  website (which does not run the chapters) reads the number from that stored
  output, the same one nbval checks.
"""

import numbers

import numpy as np


def fmt(value, digits):
    """Format ``value`` with ``digits`` significant digits (integers exactly).

    Trailing zeros are kept, so ``fmt(2.0, 3)`` is ``'2.00'``: the printed width
    states the precision. Very small or large values use an exponent.

    Raises
    ------
    TypeError
        If ``value`` is not one real number (an array, a string, a complex number).
    ValueError
        If ``digits`` is not an integer from 1 to 15.

    Examples
    --------
    >>> fmt(2.0, 3), fmt(0.000123456, 2), fmt(42, 2)
    ('2.00', '0.00012', '42')
    """
    _check_digits(digits)
    if not (isinstance(value, numbers.Real) or np.ndim(value) == 0 and hasattr(value, "dtype")
            and np.issubdtype(value.dtype, np.number)) or np.iscomplexobj(value):
        raise TypeError(f"value must be a real number (a Python or NumPy/JAX scalar), got "
                        f"{type(value).__name__} {np.shape(value) if hasattr(value, 'shape') else ''}"
                        .rstrip())
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
        Also hand each formatted value to the prose: record it as
        ``shown.<name>`` and store it, as a string, with ``myst_nb.glue(name,
        text, display=False)`` (skipped when myst-nb is not installed), so that
        ``{eval}`shown.<name>``` shows exactly the printed digits, trailing
        zeros included.
    **values : float or int
        The numbers to report, by name.

    Raises
    ------
    TypeError
        If a value is not one real number (the message names it).
    ValueError
        If no value is given, or ``digits`` is not an integer from 1 to 15.

    Examples
    --------
    >>> show(3, glue=False, theta=1.27183, n=40)
    theta = 1.27
    n     = 40
    """
    if not values:
        raise ValueError("show needs at least one name=value to report")
    _check_digits(digits)
    texts = {}
    for name, value in values.items():
        try:
            texts[name] = fmt(value, digits)
        except TypeError as err:
            raise TypeError(f"{name}: {err}") from None
    width = max(len(name) for name in texts)
    print("\n".join(f"{name:<{width}} = {text}" for name, text in texts.items()))
    if glue:
        for name, text in texts.items():
            shown._texts[name] = _Bare(text)
            _glue(name, text)


class _Bare(str):
    """A printed number: a string whose ``repr`` is the text itself, unquoted.

    Jupyter shows the value of ``shown.name`` through its ``text/plain`` repr;
    this keeps the quotes of an ordinary string out of the prose.
    """

    __slots__ = ()

    def __repr__(self):
        return str(self)


class Shown:
    """The texts :func:`show` has printed in this session, by name.

    ``shown.theta_star`` is the text ``show(theta_star=...)`` printed last, for
    the prose's inline expressions ``{eval}`shown.theta_star```. A name that
    has not been shown yet raises ``AttributeError`` saying which cell to run.
    """

    def __init__(self):
        self._texts = {}

    def __getattr__(self, name):
        texts = self.__dict__.get("_texts", {})
        if name in texts:
            return texts[name]
        raise AttributeError(f"no number has been shown as {name!r} yet: run the cell "
                             f"that calls show({name}=...) first")

    def __dir__(self):
        return sorted(self._texts)

    def __repr__(self):
        return f"Shown({', '.join(sorted(self._texts))})"


#: Every text :func:`show` has printed in this session, by name (a :class:`Shown`).
shown = Shown()


def _check_digits(digits):
    if isinstance(digits, bool) or not isinstance(digits, numbers.Integral) or not 1 <= digits <= 15:
        raise ValueError(f"digits must be an integer from 1 to 15, got {digits!r}")


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
