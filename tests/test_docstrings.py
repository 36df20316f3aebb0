"""Every public function on the API page shows a runnable example.

The examples themselves run as doctests in ``make unit``
(``pytest --doctest-modules vibook``); this checks that none is missing.
"""

import importlib
import inspect

from test_bad_input import public_functions


def _obj(dotted):
    module, *rest = dotted.split(".")
    obj = importlib.import_module(f"vibook.{module}")
    for part in rest:
        obj = getattr(obj, part)
    return obj


def test_every_public_function_has_a_runnable_example():
    missing = []
    for name in public_functions():
        obj = _obj(name)
        if inspect.isfunction(obj) and ">>>" not in (inspect.getdoc(obj) or ""):
            missing.append(name)
    assert not missing, f"public functions with no Examples section: {missing}"
