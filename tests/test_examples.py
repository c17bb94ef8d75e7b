"""The gallery's examples (examples/, run by ``make docs``): cheap static checks; the CI docs step runs them."""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("plot_*.py"))
# what an example may import from otmix: the public library, never the command line or its jobs
PUBLIC = ("otmix.ot", "otmix.estimators", "otmix.alignment", "otmix.readout", "otmix.metrics", "otmix.data",
          "otmix.federated", "otmix.models", "otmix.train", "otmix.baselines")


def _gallery_order() -> tuple[str, ...]:
    spec = importlib.util.spec_from_file_location("gallery_order", ROOT / "docs" / "_ext" / "gallery_order.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.EXAMPLE_ORDER


def test_every_example_is_in_the_gallery_order():
    assert EXAMPLES, "no examples found"
    assert sorted(_gallery_order()) == sorted(p.name for p in EXAMPLES)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_has_a_title_and_uses_only_the_public_library(path):
    source = path.read_text(encoding="utf-8")
    tree = ast.parse(source)
    doc = ast.get_docstring(tree)
    assert doc and doc.splitlines()[1].startswith("==="), "sphinx-gallery needs a title in the docstring"
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("otmix"):
            assert node.module == "otmix" or node.module.startswith(PUBLIC), node.module
        if isinstance(node, ast.Import):
            for alias in node.names:
                assert not alias.name.startswith("otmix") or alias.name.startswith(PUBLIC), alias.name
    assert "shared/data" not in source and "OTMIX_DATA" not in source, "examples must not need data files"


def test_metrics_docstring_examples_run():
    import doctest

    import otmix.metrics

    failures, tried = doctest.testmod(otmix.metrics)
    assert tried >= 5 and failures == 0
