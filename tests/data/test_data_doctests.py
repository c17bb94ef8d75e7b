import doctest
import importlib

import pytest

MODULES = ["views", "preprocess", "unalign", "dataset", "digits2", "datasets", "files"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    module = importlib.import_module(f"otmix.data.{name}")
    failures, tried = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert tried > 0 and failures == 0
