import doctest
import importlib

import pytest


@pytest.mark.parametrize("name", ["otmix.models.wae", "otmix.estimators", "otmix.outputs", "otmix.formatting",
                                  "otmix.configs", "otmix.params"])
def test_docstring_examples_run(name):
    failures, tried = doctest.testmod(importlib.import_module(name), optionflags=doctest.NORMALIZE_WHITESPACE)
    assert tried > 0 and failures == 0
