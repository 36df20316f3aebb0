"""Re-run chapters in place, refreshing their stored outputs (``make execute``).

Widget state and execution timestamps are not kept: they change on every
run and the website does not need them (it shows the static frames).

Each Markdown cell's inline expressions (``{eval}`shown.name```, the numbers
the prose quotes) are evaluated in the kernel when the run reaches the cell,
as JupyterLab does after Run All, and the results are stored in the cell's
``user_expressions`` metadata in jupyterlab-myst's format: JupyterLab shows
them before anything runs. An expression that fails there (a number quoted
above the cell that shows it) is reported, and the command exits non-zero.

Usage: python scripts/execute.py chapters/01_priors_and_joints.ipynb [...]
"""

import re
import sys
import time
from pathlib import Path

import nbclient
import nbformat

EVAL = re.compile(r"\{eval\}`([^`]*)`")


class Client(nbclient.NotebookClient):
    """Runs code cells, and evaluates Markdown cells' inline expressions in order."""

    def __init__(self, nb, **kwargs):
        super().__init__(nb, **kwargs)
        self.failed_expressions = []

    async def async_execute_cell(self, cell, cell_index, execution_count=None,
                                 store_history=True):
        if cell.cell_type == "markdown":
            await self._user_expressions(cell, cell_index)
            return cell
        return await super().async_execute_cell(cell, cell_index, execution_count, store_history)

    async def _user_expressions(self, cell, cell_index):
        expressions = EVAL.findall(cell.source)
        if not expressions:
            cell.metadata.pop("user_expressions", None)
            return
        msg_id = self.kc.execute("", silent=True, store_history=False, user_expressions={
            str(i): expression for i, expression in enumerate(expressions)})
        reply = await self.async_wait_for_reply(msg_id, cell)
        results = reply["content"]["user_expressions"]
        cell.metadata["user_expressions"] = [
            {"expression": expression, "result": results[str(i)]}
            for i, expression in enumerate(expressions)]
        self.failed_expressions += [
            f"cell {cell_index}: {{eval}}`{expression}`: {results[str(i)].get('ename')}: "
            f"{results[str(i)].get('evalue')}"
            for i, expression in enumerate(expressions) if results[str(i)]["status"] != "ok"]


def execute(path):
    """Execute one notebook in place; return its failed inline expressions."""
    nb = nbformat.read(path, as_version=4)
    client = Client(nb, timeout=600, kernel_name="python3", record_timing=False,
                    resources={"metadata": {"path": str(Path(path).parent)}})
    start = time.perf_counter()
    client.execute()
    nb.metadata.pop("widgets", None)
    nbformat.write(nb, path)
    print(f"{path}: executed in {time.perf_counter() - start:.1f} s")
    return [f"{path}, {failure}" for failure in client.failed_expressions]


if __name__ == "__main__":
    failures = [failure for arg in sys.argv[1:] for failure in execute(arg)]
    if failures:
        sys.exit("Inline expressions that failed (a number quoted above the cell that "
                 "shows it?):\n" + "\n".join(failures))
