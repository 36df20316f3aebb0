"""Import a script of scripts/references/ as a module (the tests rerun parts of it)."""

import importlib.util
from pathlib import Path

FOLDER = Path(__file__).parents[1] / "scripts" / "references"


def load(name):
    """The module ``scripts/references/NAME.py``."""
    spec = importlib.util.spec_from_file_location(name, FOLDER / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
