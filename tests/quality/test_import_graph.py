"""Imports flow one way: no package has an import cycle, and packages depend in
the documented direction (docs/architecture.md, "Dependency direction").

Every import that runs counts here, a deferred one inside a function included: a
cycle hidden in a function body is still a cycle. Imports under `if TYPE_CHECKING:`
(annotations only, never executed) are left out; four fault modules of the harness
name the `Nemesis` that way (a small protocol would remove even that).
`tests/unit/test_node_imports.py` is stricter for `node/` (no deferred imports, no
`TYPE_CHECKING`).
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx
import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("node", "checkers", "workloads", "harness")
#: What each package may import from the others.
ALLOWED = {
    "node": set(),
    "checkers": set(),
    "workloads": {"checkers", "node"},
    "harness": {"checkers", "workloads", "node"},
}


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def targets(stmt: ast.Import | ast.ImportFrom, modules: set[str]) -> list[str]:
    """The first-party modules an import statement names (a name imported from a
    package counts as its submodule when there is one)."""
    if isinstance(stmt, ast.Import):
        return [a.name for a in stmt.names if a.name.split(".")[0] in PACKAGES]
    if stmt.level or stmt.module is None or stmt.module.split(".")[0] not in PACKAGES:
        return []
    return [
        f"{stmt.module}.{a.name}" if f"{stmt.module}.{a.name}" in modules else stmt.module
        for a in stmt.names
    ]


def import_graph() -> nx.DiGraph:
    files = {module_name(p): p for pkg in PACKAGES for p in sorted((REPO / pkg).rglob("*.py"))}
    graph: nx.DiGraph = nx.DiGraph()
    for name, path in files.items():
        graph.add_node(name)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        typing_only = {
            id(inner)
            for stmt in ast.walk(tree)
            if isinstance(stmt, ast.If) and "TYPE_CHECKING" in ast.unparse(stmt.test)
            for inner in ast.walk(stmt)
        }
        for stmt in ast.walk(tree):
            if id(stmt) in typing_only:
                continue
            if isinstance(stmt, ast.Import | ast.ImportFrom):
                graph.add_edges_from((name, t) for t in targets(stmt, set(files)) if t != name)
    return graph


@pytest.mark.parametrize("package", PACKAGES)
def test_no_import_cycle_inside_a_package(package: str) -> None:
    graph = import_graph()
    inside = graph.subgraph(n for n in graph if n.split(".")[0] == package)
    # A package's __init__ re-exports its modules; that edge is not a dependency.
    edges = [(a, b) for a, b in inside.edges if a != package]
    cycles = list(nx.simple_cycles(nx.DiGraph(edges)))
    assert cycles == [], f"import cycles in {package}/: {cycles[:5]}"


def test_packages_depend_in_one_direction() -> None:
    wrong = sorted(
        f"{a} -> {b}"
        for a, b in import_graph().edges
        if b.split(".")[0] != a.split(".")[0] and b.split(".")[0] not in ALLOWED[a.split(".")[0]]
    )
    assert wrong == []


def test_the_check_sees_a_cycle() -> None:
    graph = nx.DiGraph([("harness.a", "harness.b"), ("harness.b", "harness.a")])
    assert list(nx.simple_cycles(graph)) != []
