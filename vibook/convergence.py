"""Did a fit converge? One check of an objective's trace, shared by every fit and chapter.

A fit's ``Info`` stacks its objective over the steps (``info.elbo``,
``info.log_lik``, ...). :func:`report` compares the mean of the objective over
the last ``window`` steps with its mean over the ``window`` steps before. The
fit has converged when that change is within ``tol`` (in the objective's own
units) or within ``z`` standard errors of the two windows' noise, whichever is
larger, so one rule serves a deterministic trace (EM, CAVI: the noise is 0)
and a noisy Monte Carlo one (VI, SVI: the change must be no larger than the
noise can explain).

>>> import numpy as np
>>> from vibook import convergence
>>> convergence.report(1.0 - np.exp(-np.arange(200.0))).converged
True
>>> convergence.report(np.arange(200.0)).converged
False

The check is a necessary condition, not a proof: a trace can be flat on a
plateau, and under a learning rate that decays to zero (a cosine schedule)
it is flat at the end because the steps vanish, wherever the parameters are.
So check a fit whose schedule decays against an independent answer, or
against a restart from another key or start; where an objective has several
optima, compare restarts in any case.
"""

from typing import NamedTuple

import numpy as np


class Report(NamedTuple):
    """What :func:`report` found.

    Attributes
    ----------
    converged : bool
        ``abs(change) <= max(tol, z * noise)``.
    change : float
        Mean of the last window minus the mean of the window before (positive
        while a maximised objective still rises).
    noise : float
        Standard error of ``change`` from the spread within the two windows
        (0 for a deterministic trace).
    final : float
        Mean of the objective over the last window.
    window : int
        Steps in each window.
    """

    converged: bool
    change: float
    noise: float
    final: float
    window: int

    def __str__(self):
        verdict = "converged" if self.converged else "NOT converged"
        return (f"{verdict}: last {self.window} steps average {self.final:.6g}, "
                f"change {self.change:+.3g} against noise {self.noise:.3g}")


def _trace(trace, objective):
    if hasattr(trace, "_fields"):                          # an Info NamedTuple
        if objective is None:
            objective = next((f for f in ("elbo", "log_lik", "loss", "objective")
                              if f in trace._fields), None)
        if objective not in trace._fields:
            raise ValueError(f"trace: an Info with fields {trace._fields} has no objective "
                             f"{objective!r}; pass objective=<field name>")
        trace = getattr(trace, objective)
    if np.iscomplexobj(trace):
        raise TypeError("trace: expected a real 1-D array of objective values, got complex")
    trace = np.asarray(trace, dtype=np.float64)
    if trace.ndim == 2:                                    # (steps, restarts or chains) -> mean
        trace = trace.mean(axis=1)
    if trace.ndim != 1:
        raise ValueError(f"trace: expected shape (num_steps,) or (num_steps, R), got {trace.shape}")
    if not np.all(np.isfinite(trace)):
        raise ValueError("trace: the objective is not finite at every step")
    return trace


def report(trace, *, window=None, tol=1e-3, z=3.0, objective=None):
    """Whether the objective in ``trace`` is flat over its last stretch.

    Parameters
    ----------
    trace : array, shape (num_steps,) or (num_steps, R), or an ``Info``
        The objective after each step; an ``Info`` gives its objective field
        (``elbo``, ``log_lik``, ``loss``, or the name in ``objective``). With
        R columns (restarts, chains) their mean is checked.
    window : int, optional
        Steps per window; default ``max(5, num_steps // 10)``. The trace must
        hold two windows.
    tol : float
        Largest change counted as flat, in the objective's units (e.g. nats).
    z : float
        How many standard errors of noise a change may be.
    objective : str, optional
        The ``Info`` field to read.

    Returns
    -------
    Report

    Raises
    ------
    ValueError
        If the trace is not finite, has the wrong shape, or is shorter than two windows.

    Examples
    --------
    >>> import numpy as np
    >>> r = report(np.r_[np.linspace(0, 1, 50), np.ones(50)], window=20)
    >>> bool(r.converged), float(r.change)
    (True, 0.0)
    """
    trace = _trace(trace, objective)
    n = trace.shape[0]
    window = max(5, n // 10) if window is None else int(window)
    if window < 2 or 2 * window > n:
        raise ValueError(f"window: need 2 <= window <= num_steps / 2 = {n // 2}, got {window}")
    if not (tol >= 0 and z >= 0):
        raise ValueError(f"tol and z must be >= 0, got tol={tol}, z={z}")
    last, before = trace[-window:], trace[-2 * window:-window]
    change = float(last.mean() - before.mean())
    noise = float(np.sqrt((last.var(ddof=1) + before.var(ddof=1)) / window))
    converged = bool(abs(change) <= max(tol, z * noise))
    return Report(converged, change, noise, float(last.mean()), window)


def check(trace, what="fit", **kwargs):
    """:func:`report`, raising ``AssertionError`` (naming ``what``) unless converged.

    A chapter calls this before it compares a fit with anything:
    ``convergence.check(info, "full-rank VI")``. Keyword arguments go to
    :func:`report`; the report is returned.

    Examples
    --------
    >>> import numpy as np
    >>> check(np.ones(40), "a flat trace").converged
    True
    """
    r = report(trace, **kwargs)
    if not r.converged:
        raise AssertionError(f"{what}: {r}; run more steps (or a smaller learning rate)")
    return r
