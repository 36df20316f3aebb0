"""Timing and records shared by the benchmark cases (see ``run.py``).

A comparison warms each side up once (that first call is its *cold* time, compile
included, because every case runs in a fresh process), then alternates
vibook, peer, vibook, peer, ... ``repeats`` times and keeps the medians (the
*warm* times) and the fastest and slowest repeat (the spread).
``ratio = peer_s / vibook_s``: above 1, vibook is faster.

``run.py`` runs every case a second time in a fresh process that shares the
first one's JAX compilation cache, with ``COLD_ONLY`` set: there only the cold
calls are timed (they are all that is kept from that run). The peer's cold
time from that run is kept only for a peer with a compilation cache of its
own (``peer_cache=True``: NumPyro, vibook's NUTS, ``torch.compile``); a
peer whose result the case does not need there (``peer_needed=False``) is
not called at all.
"""

import os
import platform
import statistics
import time

import jax

REPEATS = 5
COLD_ONLY = "VIBOOK_BENCH_COLD_ONLY"       # set by run.py for the cached-cache run


def timed(fn):
    """``(seconds, result)`` of one call; ``fn`` must block until its result is ready."""
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def compare(vibook, peer, repeats=REPEATS, peer_cache=False, peer_needed=True, calls=1):
    """Cold, median warm times and spreads of two zero-argument callables, run alternately.

    With ``calls > 1`` (for calls of a fraction of a millisecond, where one call's
    time is mostly the timer's and the caches' noise) each warm repeat times
    ``calls`` calls in a row and records the time per call; the cold time is
    still the first single call.

    Returns
    -------
    times : dict
        ``vibook_s``, ``peer_s`` (medians of ``repeats`` warm runs), ``ratio``,
        ``vibook_min_s``, ``vibook_max_s``, ``peer_min_s``, ``peer_max_s``
        (the spread of the warm runs), ``vibook_cold_s``, ``peer_cold_s``
        (first calls), ``vibook_compile_s``, ``peer_compile_s`` (cold minus
        warm) and ``repeats``.
    results : tuple
        The two sides' results from their first calls. In a ``COLD_ONLY`` run
        with ``peer_needed=False`` the peer is not called and vibook's result
        stands in for it (that run keeps only the cold times).
    """
    vibook_cold, vibook_result = timed(vibook)
    if os.environ.get(COLD_ONLY) and not peer_needed:
        peer_cold, peer_result = float("nan"), vibook_result
    else:
        peer_cold, peer_result = timed(peer)
    if os.environ.get(COLD_ONLY):             # the warm fields NaN: run.py keeps none
        nan = float("nan")
        kept = peer_cold if peer_cache else nan
        return dict(vibook_s=nan, peer_s=nan, ratio=nan, vibook_min_s=nan, vibook_max_s=nan,
                    peer_min_s=nan, peer_max_s=nan, vibook_cold_s=vibook_cold,
                    peer_cold_s=kept, vibook_compile_s=nan, peer_compile_s=nan,
                    repeats=0), (vibook_result, peer_result)
    warm = {"vibook": [], "peer": []}
    for _ in range(repeats):
        for side, fn in (("vibook", vibook), ("peer", peer)):
            warm[side].append(timed(lambda fn=fn: _calls(fn, calls))[0] / calls)
    vibook_s, peer_s = statistics.median(warm["vibook"]), statistics.median(warm["peer"])
    times = dict(vibook_s=vibook_s, peer_s=peer_s, ratio=peer_s / vibook_s,
                 vibook_min_s=min(warm["vibook"]), vibook_max_s=max(warm["vibook"]),
                 peer_min_s=min(warm["peer"]), peer_max_s=max(warm["peer"]),
                 vibook_cold_s=vibook_cold, peer_cold_s=peer_cold,
                 vibook_compile_s=max(vibook_cold - vibook_s, 0.0),
                 peer_compile_s=max(peer_cold - peer_s, 0.0), repeats=repeats,
                 calls_per_repeat=calls)
    return times, (vibook_result, peer_result)


def median_time(fn, repeats=REPEATS, calls=1):
    """Median of ``repeats`` timings after one warm-up call, each of ``calls`` calls in a row,
    per call (NaN, nothing called, in a ``COLD_ONLY`` run)."""
    if os.environ.get(COLD_ONLY):
        return float("nan")
    fn()
    return statistics.median(timed(lambda: _calls(fn, calls))[0] / calls
                             for _ in range(repeats))


def _calls(fn, calls):
    """``fn()`` ``calls`` times, each result dropped before the next call (as in a reader's
    loop: kept, a batch's results would hold ``calls`` arrays of memory at once)."""
    for _ in range(calls):
        fn()


def in_turn(fns, repeats=2 * REPEATS):
    """Median and fastest warm times of zero-argument calls (each blocking until its result
    is ready), run in turn ``repeats`` times after one warm-up each, so that a change in the
    machine's load reaches all of them alike (NaN, nothing called, in a ``COLD_ONLY`` run)."""
    if os.environ.get(COLD_ONLY):
        return {name: float("nan") for name in fns}, {name: float("nan") for name in fns}
    runs = {name: [] for name in fns}
    for fn in fns.values():
        fn()
    for _ in range(repeats):
        for name, fn in fns.items():
            runs[name].append(timed(fn)[0])
    return ({name: statistics.median(t) for name, t in runs.items()},
            {name: min(t) for name, t in runs.items()})


def record(name, group, size, peer, times, difference, tolerance, compared, **extra):
    """One comparison's record for ``results.json``."""
    return dict(kind="comparison", name=name, group=group, size=size, peer=peer, **times,
                equal_result=bool(difference <= tolerance), difference=float(difference),
                tolerance=float(tolerance), compared=compared, machine=devices(), **extra)


def devices():
    """Where JAX ran: backend, device count and kind."""
    devs = jax.devices()
    return dict(backend=jax.default_backend(), device_count=len(devs),
                device_kind=devs[0].device_kind)


def machine():
    """The whole machine, for the header of ``results.json``."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return dict(cpu=cpu, cpu_count=os.cpu_count(), python=platform.python_version(),
                jax=jax.__version__, **devices())
