"""Run every benchmark in one process and print the ratios (``make bench``).

Each ``benchmarks/bench_*.py`` module exposes ``run() -> list[dict]`` with keys
``task``, ``vibook_s``, ``peer``, ``peer_s``, ``ratio`` (vibook_s / peer_s, so
below 1 means vibook is faster) and ``agreement`` (how the two results agree,
measured). Comparisons are made at equal results, after JIT warm-up.
"""

import datetime
import importlib
import platform
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main():
    sys.path.insert(0, str(HERE))
    import jax

    machine = (f"{platform.machine()}, {len(jax.devices())} {jax.default_backend()} device(s), "
               f"JAX {jax.__version__}, {datetime.date.today()}")
    print(f"# vibook benchmarks: {machine}")
    rows = []
    for path in sorted(HERE.glob("bench_*.py")):
        module = importlib.import_module(path.stem)
        for row in module.run():
            rows.append(row)
            print(f"{row['task']}\n    vibook {row['vibook_s']:.4f} s | {row['peer']} "
                  f"{row['peer_s']:.4f} s | ratio {row['ratio']:.2f} | {row['agreement']}",
                  flush=True)
    table = ["| task | vibook (s) | peer | peer (s) | ratio | agreement |",
             "|---|---|---|---|---|---|"]
    table += [f"| {r['task']} | {r['vibook_s']:.4f} | {r['peer']} | {r['peer_s']:.4f} | "
              f"{r['ratio']:.2f} | {r['agreement'].replace('|', chr(92) + '|')} |" for r in rows]
    (HERE / "RESULTS.md").write_text(
        f"# Benchmark results\n\nWritten by `benchmarks/run.py` ({machine}). "
        "Ratio = vibook time / peer time (below 1: vibook is faster); JIT compile "
        "time excluded.\n\n" + "\n".join(table) + "\n")


if __name__ == "__main__":
    main()
