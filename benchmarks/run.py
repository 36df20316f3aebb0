"""Run every benchmark, one fresh process per case, and write ``benchmarks/results.json``.

``make bench`` runs them all. Each ``bench_*.py`` module maps case names to
functions returning a list of records (see ``_harness.py``); a case runs in
its own process, so that a *cold* time really includes compilation and no case
warms up another. CPU results go to ``results.json``, GPU results to
``results-gpu.json`` (the GPU column of the book's Performance appendix).
``--only SUBSTRING`` reruns the matching cases and keeps the other records.

Every case runs twice, in two fresh processes sharing one new, empty folder
for JAX's persistent compilation cache (``vibook.device``): the first run's
``vibook_cold_s`` is the cold time of a first-time reader (empty cache), and
the second run's is recorded as ``vibook_cold_cached_s``, the cold time of a
reader running the same code again. A JAX peer (NumPyro, and vibook's own
NUTS) gets the same cache and ``torch.compile`` its own, and their second
cold time is ``peer_cold_cached_s``; for a peer without a compilation cache
(scikit-learn, ArviZ, eager PyTorch) none is recorded. The second run times
only the cold calls (``_harness.COLD_ONLY``). ``--no-cache-run`` skips it.

Each case's process starts with ``vibook.device.setup()``, as every chapter
does: full-precision matrix products and, on the CPU, every compiled call run
in the calling thread (JAX's asynchronous dispatch off; both sides of a JAX
peer share it). ``bench_psis.py`` records the comparison without it too.
"""

import argparse
import datetime
import importlib
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _harness import COLD_ONLY              # run.py lives beside _harness.py

HERE = Path(__file__).resolve().parent
MARK = "RECORDS "


def cases():
    """``{"module:case": function}`` over every ``bench_*.py``."""
    found = {}
    for path in sorted(HERE.glob("bench_*.py")):
        module = importlib.import_module(path.stem)
        found |= {f"{path.stem}:{name}": fn for name, fn in module.CASES.items()}
    return found


def run_one(case_id):
    """In a child process: run one case and print its records as one JSON line. The case
    runs after ``device.setup()``, as every chapter does, with the compilation cache
    only in the folder ``spawn`` names."""
    module, name = case_id.split(":")
    from vibook import device
    device.setup(cache="VIBOOK_CACHE_DIR" in os.environ)   # cache_dir() is that folder
    records = importlib.import_module(module).CASES[name]()
    print(MARK + json.dumps([dict(r, case=case_id) for r in records]), flush=True)


def spawn(case_id, cache=None, cold_only=False):
    # On a GPU, JAX allocates on demand instead of reserving 75% of the memory
    # at start-up, leaving the rest to a peer (PyTorch) in the same process.
    env = dict(os.environ, XLA_PYTHON_CLIENT_PREALLOCATE="false")
    if cache:
        env["VIBOOK_CACHE_DIR"] = cache
    if cold_only:
        env[COLD_ONLY] = "1"
    out = subprocess.run([sys.executable, __file__, "--case", case_id], cwd=HERE, env=env,
                         stdout=subprocess.PIPE, text=True, check=True).stdout
    return json.loads(next(line for line in out.splitlines() if line.startswith(MARK))[len(MARK):])


def table(records):
    rows = [r for r in records if r["kind"] == "comparison"]
    nan = float("nan")
    lines = [f"{'comparison':50} {'size':>14} {'vibook s (min-max)':>26} "
             f"{'peer s (min-max)':>26} {'ratio':>6} {'cold v':>6} {'cached':>6} "
             f"{'cold p':>6} {'cached':>6}  equal"]
    for r in rows:
        size = f"N={r['size']['N']:,} D={r['size'].get('D', r['size'].get('V'))}"
        spread = {side: f"{r[side + '_s']:.4f} ({r.get(side + '_min_s', nan):.4f}-"
                        f"{r.get(side + '_max_s', nan):.4f})" for side in ["vibook", "peer"]}
        lines.append(f"{r['name'][:50]:50} {size:>14} {spread['vibook']:>26} "
                     f"{spread['peer']:>26} {r['ratio']:6.2f} {r['vibook_cold_s']:6.2f} "
                     f"{r.get('vibook_cold_cached_s', nan):6.2f} {r['peer_cold_s']:6.2f} "
                     f"{r.get('peer_cold_cached_s', nan):6.2f}  "
                     f"{r['equal_result']} ({r['difference']:.1e} <= {r['tolerance']:.0e})")
    for r in records:
        if r["kind"] == "ablation":
            lines.append(f"ablation: {r['name'][:70]}: {r['before_s']:.4f} s -> "
                         f"{r['after_s']:.4f} s ({r['speedup']:.1f}x)")
        if r["kind"] == "scaling":
            lines.append(f"scaling: {r['algorithm']} per {r['unit']}: slope {r['slope']:.2f} "
                         f"(theory {r['expected_slope']})")
        if r["kind"] == "limit":
            lines.append(f"limit: {r['name'][:60]}: {r['vibook_s']:.3g} s against "
                         f"{r['limit_s']:.3g} s ({r['limit']}): {r['multiple']:.2f}x")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", help=argparse.SUPPRESS)
    parser.add_argument("--only", default="", help="run only the cases whose id contains this")
    parser.add_argument("--no-cache-run", action="store_true",
                        help="skip the second run of each case with a warm compilation cache")
    args = parser.parse_args()
    sys.path.insert(0, str(HERE))
    if args.case:
        return run_one(args.case)
    from _harness import machine
    info = machine()
    # CPU numbers go to results.json; a GPU run writes its own file, the appendix's GPU column
    results = HERE / ("results.json" if info["backend"] == "cpu" else "results-gpu.json")
    order = list(cases())
    chosen = [c for c in order if args.only in c]
    kept = []
    if args.only and results.exists():
        kept = [r for r in json.loads(results.read_text())["records"] if r["case"] not in chosen]
    records = []
    for case_id in chosen:
        start = time.perf_counter()
        with tempfile.TemporaryDirectory() as cache:
            new = spawn(case_id, cache)                # empty compilation cache
            timed_cold = any("vibook_cold_s" in r for r in new)
            if timed_cold and not args.no_cache_run:   # the same programs, now on disk
                for r, again in zip(new, spawn(case_id, cache, cold_only=True)):
                    for side in ["vibook", "peer"]:
                        cold = again.get(f"{side}_cold_s", math.nan)
                        if not math.isnan(cold):           # NaN: a peer not rerun
                            r[f"{side}_cold_cached_s"] = cold
        print(f"{case_id}: {time.perf_counter() - start:.0f} s", flush=True)
        records += new
        records = sorted(kept + records, key=lambda r: order.index(r["case"]))
        kept = []
        # written after every case, so that a failing case loses only itself
        results.write_text(json.dumps(dict(machine=info, date=str(datetime.date.today()),
                                           records=records), indent=1) + "\n")
    print(table(records))
    print(f"Wrote {results}")
    return None


if __name__ == "__main__":
    main()
