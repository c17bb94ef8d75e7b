import doctest
import importlib

import pytest


# import_module: the package re-exports functions named like their modules (otmix.ot.fgw)
@pytest.mark.parametrize("name", ["otmix.ot.fgw", "otmix.ot.barycenter", "otmix.ot.mixing"])
def test_docstring_examples_run(name):
    failures, tried = doctest.testmod(importlib.import_module(name), optionflags=doctest.NORMALIZE_WHITESPACE)
    assert tried > 0 and failures == 0
