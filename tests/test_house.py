"""The house rules of otmix, checked statically on the import graph of every module under src/otmix.

The graph is built with :mod:`ast`, without importing anything: every ``import`` and ``from ... import``
of a module counts, at the top or inside a function, a method or a ``try``; relative imports are resolved
against the module's package. Imports under ``if TYPE_CHECKING:`` are left out: they never run.

Edges
-----
* ``import a.b.c`` is an edge to ``a.b.c``.
* ``from a.b import n`` is an edge to ``a.b.n`` when that is a module of otmix, else to ``a.b``.
* The ``__init__`` of the parent packages (``a`` and ``a.b`` for ``import a.b.c``) is *not* an edge.
  Python does run it, but a package whose ``__init__`` re-exports its submodules (``otmix.data``,
  ``otmix.cli``) would then be in a "cycle" with every submodule that imports a sibling, which is
  no circular dependency: the names a module asks for are the modules it needs.

Dynamic imports (``importlib.import_module``) are not seen; the lazy ``__getattr__`` of
``otmix.ot`` and ``otmix.baselines`` only reach their own submodules.

The rules
---------
1. ``otmix.ot`` imports nothing of otmix outside ``otmix.ot``.
2. ``otmix.models`` never imports ``otmix.train``.
3. ``flwr`` is imported only under ``otmix.federated``.
4. Nothing under ``otmix.jobs`` imports typer or ``otmix.cli``.
5. No module of ``otmix.cli`` but the package ``__init__`` (which assembles the app) imports ``otmix.cli``.
6. There is no import cycle among the modules of otmix.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import otmix

SRC = Path(otmix.__file__).resolve().parent


@dataclass
class Graph:
    """The import graph of one package: ``edges`` inside it, ``external`` top-level names imported elsewhere."""

    modules: set[str] = field(default_factory=set)
    edges: dict[str, set[str]] = field(default_factory=dict)
    external: dict[str, set[str]] = field(default_factory=dict)


def _module_name(root: Path, path: Path) -> tuple[str, bool]:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    is_package = parts[-1] == "__init__"
    if is_package:
        parts = parts[:-1]
    return ".".join(parts), is_package


def _is_type_checking(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and (
        (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
        or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"))


def _imports(tree: ast.AST) -> Iterable[ast.Import | ast.ImportFrom]:
    """Every import statement of a module, at any depth, but none under ``if TYPE_CHECKING:``."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        children = list(ast.iter_child_nodes(node))
        if _is_type_checking(node):
            children = node.orelse  # the body never runs; an else branch does
        stack.extend(children)


def build_graph(root: Path) -> Graph:
    """The import graph of the package in folder ``root`` (see the module's docstring for what an edge is)."""
    top = root.name
    files = {}
    for path in sorted(root.rglob("*.py")):
        name, is_package = _module_name(root, path)
        files[name] = (path, is_package)
    graph = Graph(modules=set(files))
    for name, (path, is_package) in files.items():
        package = name if is_package else name.rpartition(".")[0]
        edges, external = graph.edges.setdefault(name, set()), graph.external.setdefault(name, set())
        for node in _imports(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                if node.level:
                    base = package.split(".")
                    base = base[:len(base) - (node.level - 1)]
                    assert base, f"{path}:{node.lineno}: relative import beyond the top-level package"
                    source = ".".join(base + ([node.module] if node.module else []))
                else:
                    source = node.module or ""
                targets = [f"{source}.{alias.name}" if f"{source}.{alias.name}" in files else source
                           for alias in node.names]
            for target in targets:
                if target == top or target.startswith(top + "."):
                    while target not in files and "." in target:  # an attribute path: its longest module
                        target = target.rpartition(".")[0]
                    if target != name or isinstance(node, ast.Import):
                        edges.add(target)
                else:
                    external.add(target.split(".")[0])
    return graph


def find_cycles(edges: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """One cycle (``[a, b, ..., a]``) per strongly connected component that has one, sorted; [] when acyclic.

    Examples
    --------
    >>> find_cycles({"a": ["b"], "b": ["c"], "c": ["a"], "d": ["a"]})
    [['a', 'b', 'c', 'a']]
    >>> find_cycles({"a": ["b"], "b": []})
    []
    """
    graph = {node: sorted(set(targets)) for node, targets in edges.items()}
    for targets in list(graph.values()):
        for target in targets:
            graph.setdefault(target, [])
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(root: str) -> None:  # Tarjan's algorithm, iterative (no recursion limit on deep graphs)
        work = [(root, iter(graph[root]))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, targets = work[-1]
            for target in targets:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(graph[target])))
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1 or node in graph[node]:
                        components.append(component)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(_cycle_in(set(component), graph) for component in components)


def _cycle_in(component: set[str], graph: Mapping[str, list[str]]) -> list[str]:
    """A shortest cycle through the smallest name of a strongly connected component (breadth first)."""
    start = min(component)
    parents: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for target in graph[node]:
                if target == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(parents[path[-1]])
                    return [start, *reversed(path[:-1]), start] if node != start else [start, start]
                if target in component and target not in parents:
                    parents[target] = node
                    following.append(target)
        frontier = following
    raise AssertionError(f"no cycle through {start}")  # not reached: a component has one


def _under(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


@pytest.fixture(scope="module")
def graph() -> Graph:
    return build_graph(SRC)


def _offenders(graph: Graph, where: str, forbidden) -> list[str]:
    return sorted(f"{m} imports {t}" for m in graph.modules if _under(m, where) for t in graph.edges[m]
                  if forbidden(t))


# ------------------------------------------------------------------------------- the graph finder itself


def test_find_cycles_reports_a_cycle_and_only_cycles():
    assert find_cycles({"a": ["b"], "b": ["c"], "c": ["a"], "d": ["a"], "e": []}) == [["a", "b", "c", "a"]]
    assert find_cycles({"a": ["a"]}) == [["a", "a"]]
    assert find_cycles({"a": ["b", "c"], "b": ["d"], "c": ["d"], "d": []}) == []
    two = find_cycles({"x": ["y"], "y": ["x", "z"], "z": ["w"], "w": ["z"]})
    assert two == [["w", "z", "w"], ["x", "y", "x"]]
    # the shortest cycle through the smallest name, not just any walk of the component
    assert find_cycles({"a": ["b", "c"], "b": ["c"], "c": ["a"]}) == [["a", "c", "a"]]


def test_build_graph_resolves_relative_and_function_level_imports(tmp_path):
    """A synthetic package: a cycle closed by a relative import inside a function is found."""
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("from .sub import b\n")
    (pkg / "a.py").write_text("import numpy\nfrom typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                              "    from . import c\n")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "b.py").write_text("def f():\n    from ..c import thing\n    return thing\n")
    (pkg / "c.py").write_text("import pkg.sub.b\nfrom pkg import a\nthing = 1\n")
    g = build_graph(pkg)
    assert g.modules == {"pkg", "pkg.a", "pkg.sub", "pkg.sub.b", "pkg.c"}
    assert g.edges == {"pkg": {"pkg.sub.b"}, "pkg.a": set(), "pkg.sub": set(), "pkg.sub.b": {"pkg.c"},
                       "pkg.c": {"pkg.sub.b", "pkg.a"}}
    assert g.external["pkg.a"] == {"numpy", "typing"}
    assert find_cycles(g.edges) == [["pkg.c", "pkg.sub.b", "pkg.c"]]


# ------------------------------------------------------------------------------------------- the rules


def test_the_graph_sees_every_module(graph):
    assert {"otmix", "otmix.cli", "otmix.cli._common", "otmix.jobs.cluster", "otmix.ot"} <= graph.modules
    assert "otmix.jobs.cluster" in graph.edges["otmix.cli.cluster"]  # a lazy import inside a command
    assert "flwr" in set().union(*(graph.external[m] for m in graph.modules if _under(m, "otmix.federated")))


def test_ot_imports_nothing_of_otmix_outside_ot(graph):
    assert _offenders(graph, "otmix.ot", lambda t: not _under(t, "otmix.ot")) == []


def test_models_never_import_train(graph):
    assert _offenders(graph, "otmix.models", lambda t: _under(t, "otmix.train")) == []


def test_flwr_is_imported_only_under_federated(graph):
    assert sorted(m for m in graph.modules if "flwr" in graph.external[m] and not _under(m, "otmix.federated")) == []


def test_jobs_import_neither_typer_nor_the_cli(graph):
    assert _offenders(graph, "otmix.jobs", lambda t: _under(t, "otmix.cli")) == []
    assert sorted(m for m in graph.modules if _under(m, "otmix.jobs") and "typer" in graph.external[m]) == []


def test_only_the_cli_package_imports_the_app(graph):
    """The app lives in ``otmix/cli/__init__.py``; a command module importing ``otmix.cli`` would close a circle."""
    assert _offenders(graph, "otmix.cli", lambda t: t == "otmix.cli") == []  # the package itself: no self-edge


def test_there_is_no_import_cycle(graph):
    cycles = find_cycles(graph.edges)
    assert cycles == [], "import cycles: " + "; ".join(" -> ".join(cycle) for cycle in cycles)

