"""Every runnable example in a public docstring is executed (keras-hub style docs that work)."""

import doctest
import importlib
import pkgutil

import pytest

import kbert

MODULES = sorted(
    m.name for m in pkgutil.walk_packages(kbert.__path__, "kbert.") if not m.name.endswith("__main__")
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {name}"
