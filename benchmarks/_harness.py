"""Timing and records shared by the benchmark cases (see ``run.py``).

A comparison warms each side up once (that first call is its *cold* time, compile
included, because every case runs in a fresh process), then alternates
vibook, peer, vibook, peer, ... ``repeats`` times and keeps the medians (the
*warm* times). ``ratio = peer_s / vibook_s``: above 1, vibook is faster.
"""

import os
import platform
import statistics
import time

import jax

REPEATS = 5


def timed(fn):
    """``(seconds, result)`` of one call; ``fn`` must block until its result is ready."""
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def compare(vibook, peer, repeats=REPEATS):
    """Cold and median warm times of two zero-argument callables, run alternately.

    Returns
    -------
    times : dict
        ``vibook_s``, ``peer_s`` (medians of ``repeats`` warm runs), ``ratio``,
        ``vibook_cold_s``, ``peer_cold_s`` (first calls), ``vibook_compile_s``,
        ``peer_compile_s`` (cold minus warm) and ``repeats``.
    results : tuple
        The two sides' results from their first calls.
    """
    vibook_cold, vibook_result = timed(vibook)
    peer_cold, peer_result = timed(peer)
    warm = {"vibook": [], "peer": []}
    for _ in range(repeats):
        warm["vibook"].append(timed(vibook)[0])
        warm["peer"].append(timed(peer)[0])
    vibook_s, peer_s = statistics.median(warm["vibook"]), statistics.median(warm["peer"])
    times = dict(vibook_s=vibook_s, peer_s=peer_s, ratio=peer_s / vibook_s,
                 vibook_cold_s=vibook_cold, peer_cold_s=peer_cold,
                 vibook_compile_s=max(vibook_cold - vibook_s, 0.0),
                 peer_compile_s=max(peer_cold - peer_s, 0.0), repeats=repeats)
    return times, (vibook_result, peer_result)


def median_time(fn, repeats=REPEATS):
    """Median of ``repeats`` calls after one warm-up call."""
    fn()
    return statistics.median(timed(fn)[0] for _ in range(repeats))


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
