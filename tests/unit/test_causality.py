"""Sibling correctness on the causal graph, on hand-built cart histories."""

from checkers import causality
from checkers.history import OpType
from checkers.result import Result
from checkers.synthetic import HistoryBuilder


def kinds(r: Result) -> list[str]:
    return sorted(a["kind"] for a in r.anomalies)


def concurrent_then_merged() -> HistoryBuilder:
    """Two concurrent adds, a read of both siblings, then a merging add."""
    b = HistoryBuilder()
    b.add(1, "k", 1, "p1-1")
    b.add(2, "k", 2, "p2-1")
    b.read(3, "k", [("p1-1", [1]), ("p2-1", [2])])
    b.add(1, "k", 3, "p1-2", ["p1-1", "p2-1"])
    return b


def test_concurrent_siblings_merged_pass() -> None:
    b = concurrent_then_merged()
    b.read(3, "k", [("p1-2", [1, 2, 3])], final=True)
    r = causality.check(b.ops)
    assert r.valid is True and r.anomalies == []
    assert r.stats["puts"] == 3 and r.stats["edges"] == 2


def test_phantom_sibling_is_flagged() -> None:
    b = concurrent_then_merged()
    read = b.read(3, "k", [("p1-2", [1, 2, 3]), ("p9-9", [1])], final=True)
    r = causality.check(b.ops)
    assert kinds(r) == ["phantom"]
    (a,) = r.anomalies
    assert a["details"]["put"] == "p9-9" and a["details"]["where"] == "read"
    assert read in a["ops"] and a["processes"] == [3]


def test_phantom_in_a_writers_context_is_flagged() -> None:
    b = HistoryBuilder()
    add = b.add(1, "k", 1, "p1-1", ["p9-9"])
    b.read(3, "k", [("p1-1", [1])], final=True)
    r = causality.check(b.ops)
    assert kinds(r) == ["phantom"]
    (a,) = r.anomalies
    assert a["details"]["where"] == "context" and a["ops"] == [add - 1, add]


def test_indeterminate_put_may_appear_but_a_get_failure_may_not() -> None:
    b = HistoryBuilder()
    b.add(1, "k", 1, "p1-1", typ=OpType.FAIL, error="put: timeout")
    b.invoke(2, "add", "k", 2)
    b.complete_write(2, "add", "k", 2, "p2-1", typ=OpType.FAIL, error="get: timeout")
    b.read(3, "k", [("p1-1", [1])], final=True)
    assert causality.check(b.ops).valid is True
    b.read(3, "k", [("p1-1", [1]), ("p2-1", [2])], final=True)
    r = causality.check(b.ops)
    assert kinds(r) == ["phantom"] and r.anomalies[0]["details"]["put"] == "p2-1"


def test_duplicate_sibling_in_one_read() -> None:
    b = concurrent_then_merged()
    b.read(3, "k", [("p1-2", [1, 2, 3]), ("p1-2", [1, 2, 3])], final=True)
    r = causality.check(b.ops)
    assert kinds(r) == ["duplicate"]
    assert r.anomalies[0]["details"]["puts"] == ["p1-2"]


def test_dominated_sibling_is_flagged() -> None:
    b = concurrent_then_merged()
    read = b.read(3, "k", [("p1-1", [1]), ("p1-2", [1, 2, 3])])
    b.read(3, "k", [("p1-2", [1, 2, 3])], final=True)
    r = causality.check(b.ops)
    assert kinds(r) == ["dominated-sibling"]
    d = r.anomalies[0]["details"]
    assert (d["dominated"], d["by"], d["read"]) == ("p1-1", "p1-2", read)


def test_acknowledged_put_not_covered_by_final_read() -> None:
    b = concurrent_then_merged()
    b.add(2, "k", 4, "p2-2", [])
    final = b.read(3, "k", [("p1-2", [1, 2, 3])], final=True)
    r = causality.check(b.ops)
    assert kinds(r) == ["uncovered"]
    assert r.anomalies[0]["details"] == {"put": "p2-2", "final_reads": [final]}


def test_removed_item_back_without_a_concurrent_branch_is_resurrected() -> None:
    b = HistoryBuilder()
    b.add(1, "k", 1, "p1-1")
    b.remove(2, "k", 1, "p2-1", ["p1-1"])
    b.add(3, "k", 5, "p3-1", ["p2-1"])
    read = b.read(4, "k", [("p3-1", [1, 5])], final=True)
    r = causality.check(b.ops)
    assert kinds(r) == ["resurrected"]
    d = r.anomalies[0]["details"]
    assert (d["item"], d["remove"], d["version"], d["read"]) == (1, "p2-1", "p3-1", read)


def test_removed_item_back_through_a_concurrent_branch_is_fine() -> None:
    b = HistoryBuilder()
    b.add(1, "k", 1, "p1-1")
    b.add(3, "k", 5, "p3-1", ["p1-1"])
    b.remove(2, "k", 1, "p2-1", ["p1-1"])
    b.read(4, "k", [("p2-1", []), ("p3-1", [1, 5])])
    b.add(4, "k", 6, "p4-1", ["p2-1", "p3-1"])
    b.read(4, "k", [("p4-1", [1, 5, 6])], final=True)
    r = causality.check(b.ops)
    assert r.valid is True and r.anomalies == []


def test_cyclic_contexts_are_flagged() -> None:
    b = HistoryBuilder()
    b.add(1, "k", 1, "p1-1", ["p2-1"])
    b.add(2, "k", 2, "p2-1", ["p1-1"])
    b.read(3, "k", [("p2-1", [1, 2])], final=True)
    r = causality.check(b.ops)
    assert r.valid is False and kinds(r) == ["cycle"]
    assert sorted(r.anomalies[0]["details"]["puts"]) == ["p1-1", "p2-1"]


def test_no_final_read_is_unknown() -> None:
    b = concurrent_then_merged()
    r = causality.check(b.ops)
    assert r.valid == "unknown" and "no final read" in r.stats["reason"]


def test_ancestry_over_budget_is_unknown_not_a_hang() -> None:
    b = concurrent_then_merged()
    b.read(3, "k", [("p1-2", [1, 2, 3])], final=True)
    r = causality.check(b.ops, ancestry_budget_bytes=0)
    assert r.valid == "unknown" and "ancestry_budget_bytes" in r.stats["reason"]
