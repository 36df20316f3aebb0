"""The book's house style for figures.

One palette (Okabe & Ito's colour-blind-safe colours), one set of rcParams,
and a fixed colour per role, so that "the prior" or "the approximation q" is
the same colour in every chapter.
"""

import warnings

import matplotlib as mpl
import matplotlib.pyplot as plt

from vibook import _checks

#: Okabe & Ito (2008) colour-blind-safe palette.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]

#: The colour of each role a curve plays, used throughout the book.
COLORS = {
    "prior": "#0072B2",        # blue
    "likelihood": "#E69F00",   # orange
    "joint": "#009E73",        # green
    "posterior": "#000000",    # black: the truth we compare against
    "q": "#D55E00",            # vermillion: the approximation
    "data": "#56B4E9",         # sky blue
    "other": "#CC79A7",        # reddish purple
}

STYLE = {
    "figure.figsize": (6.4, 3.6),
    "figure.dpi": 100,
    "savefig.dpi": 100,
    "figure.constrained_layout.use": True,
    "font.size": 11,
    "axes.titlesize": 11,
    "axes.labelsize": 11,
    "legend.fontsize": 10,
    "legend.frameon": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.25,
    "lines.linewidth": 2.0,
    "axes.prop_cycle": mpl.cycler(color=PALETTE),
    "image.cmap": "viridis",
}


def use_style():
    """Apply the house style to matplotlib (call once at the top of a chapter).

    Besides the rcParams, it

    * stores inline figures at twice their pixel size (``"retina"``), with the
      display size in the output's metadata, so they are sharp on HiDPI screens
      and shown at their drawn size in Jupyter and on the website;
    * silences matplotlib's "Creating legend with loc='best' can be slow"
      warning, which appears only when placing a legend takes longer than a
      second, i.e. depends on the machine's load, and would otherwise make a
      chapter's stored output depend on how busy the computer was.

    Examples
    --------
    >>> import matplotlib as mpl
    >>> from vibook import plotting
    >>> plotting.use_style()
    >>> mpl.rcParams["axes.spines.top"], mpl.rcParams["figure.dpi"]
    (False, 100.0)
    """
    mpl.rcParams.update(STYLE)
    # Exactly this warning (a figure's legend still goes to the "best" place; only
    # the timing-dependent message is dropped).
    warnings.filterwarnings("ignore", message=r'Creating legend with loc="best" can be slow',
                            category=UserWarning)
    try:
        from IPython import get_ipython
        from matplotlib_inline.backend_inline import set_matplotlib_formats
    except ImportError:  # plain Python: nothing is displayed inline
        return
    if get_ipython() is not None:
        set_matplotlib_formats("retina")


def subplots(ncols=1, nrows=1, width=None, height=None, **kwargs):
    """``plt.subplots`` sized for the book's text column.

    Parameters
    ----------
    ncols, nrows : int
        Grid of axes.
    width, height : float, optional
        Figure size in inches; by default 6.4 wide (up to 9.6 for three or more
        columns) and 3.2 per row.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from vibook import plotting
    >>> fig, axes = plotting.subplots(3)
    >>> axes.shape, fig.get_size_inches().tolist()
    ((3,), [9.6, 3.2])
    >>> plt.close(fig)
    """
    ncols = _checks.positive_int(ncols, "ncols")
    nrows = _checks.positive_int(nrows, "nrows")
    width = _checks.positive(width, "width") if width is not None else (6.4 if ncols < 3 else 9.6)
    height = _checks.positive(height, "height") if height is not None else 3.2 * nrows
    return plt.subplots(nrows, ncols, figsize=(width, height), **kwargs)
