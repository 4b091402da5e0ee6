"""The node's import graph has no cycle, and nothing hides one.

Walks every module under node/ with `ast`: every import of a node module must
sit at the top of its module (no import deferred into a function, no
`if TYPE_CHECKING:` block), and the graph of those imports must be acyclic.
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

ROOT = Path(__file__).resolve().parents[2] / "node"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(node: ast.Import | ast.ImportFrom) -> list[str]:
    """The node modules an import statement names."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name.split(".")[0] == "node"]
    if node.level or node.module is None or node.module.split(".")[0] != "node":
        return []
    if node.module == "node":
        return [f"node.{a.name}" for a in node.names]
    return [node.module]


def import_graph() -> tuple[nx.DiGraph, list[str]]:
    """(module -> module edges, the imports that are not at module top level)."""
    graph: nx.DiGraph = nx.DiGraph()
    hidden: list[str] = []
    for path in sorted(ROOT.rglob("*.py")):
        name = module_name(path)
        graph.add_node(name)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        top = set(map(id, tree.body))
        for stmt in ast.walk(tree):
            if isinstance(stmt, ast.If) and "TYPE_CHECKING" in ast.unparse(stmt.test):
                hidden.append(f"{name}: an `if TYPE_CHECKING:` block")
            if isinstance(stmt, ast.Import | ast.ImportFrom):
                targets = imported(stmt)
                if targets and id(stmt) not in top:
                    hidden.append(f"{name}:{stmt.lineno}: deferred import of {targets}")
                graph.add_edges_from((name, t) for t in targets if t != name)
    return graph, hidden


def test_every_node_import_is_at_the_top_of_its_module() -> None:
    _, hidden = import_graph()
    assert hidden == []


def test_the_node_import_graph_has_no_cycle() -> None:
    graph, _ = import_graph()
    assert graph.number_of_edges() > 30  # the walk found the imports
    cycles = list(nx.simple_cycles(graph))
    assert cycles == [], f"import cycles in node/: {cycles}"


def test_the_checker_finds_a_cycle_and_a_deferred_import(tmp_path: Path) -> None:
    """The walk itself bites: a planted cycle and a planted deferred import are found."""
    a = ast.parse("from node import b\n")
    b = ast.parse("def f():\n    from node.a import x\n")
    graph: nx.DiGraph = nx.DiGraph()
    for name, tree in (("node.a", a), ("node.b", b)):
        top = set(map(id, tree.body))
        for stmt in ast.walk(tree):
            if isinstance(stmt, ast.Import | ast.ImportFrom):
                graph.add_edges_from((name, t) for t in imported(stmt))
                assert (id(stmt) in top) == (name == "node.a")
    assert list(nx.simple_cycles(graph)) != []
