"""Re-run chapters in place, refreshing their stored outputs (``make execute``).

Widget state and execution timestamps are not kept: they change on every
run and the website does not need them (it shows the static frames).

Usage: python scripts/execute.py chapters/01_priors_and_joints.ipynb [...]
"""

import sys
import time
from pathlib import Path

import nbclient
import nbformat


def execute(path):
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                                     record_timing=False,
                                     resources={"metadata": {"path": str(Path(path).parent)}})
    start = time.perf_counter()
    client.execute()
    nb.metadata.pop("widgets", None)
    nbformat.write(nb, path)
    print(f"{path}: executed in {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        execute(arg)
