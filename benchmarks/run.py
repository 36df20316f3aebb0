"""Run every benchmark in one process and print the ratios (``make bench``).

Each ``benchmarks/bench_*.py`` module exposes ``run() -> list[dict]`` with keys
``task``, ``vibook_s``, ``peer``, ``peer_s``, ``ratio`` (vibook_s / peer_s, so
below 1 means vibook is faster) and ``agreement`` (how the two results agree,
measured). Comparisons are made at equal results, after JIT warm-up.
"""

import importlib
import json
import platform
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main():
    sys.path.insert(0, str(HERE))
    import jax

    print(f"# vibook benchmarks: {platform.processor() or platform.machine()}, "
          f"JAX {jax.__version__} on {jax.default_backend()}")
    rows = []
    for path in sorted(HERE.glob("bench_*.py")):
        module = importlib.import_module(path.stem)
        for row in module.run():
            rows.append(row)
            print(f"{row['task']:<44} vibook {row['vibook_s']:9.4f} s   {row['peer']:<28} "
                  f"{row['peer_s']:9.4f} s   ratio {row['ratio']:6.2f}   {row['agreement']}",
                  flush=True)
    (HERE / "results.json").write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
