"""Lost adds (set-full semantics) on hand-built cart histories."""

from checkers import lost_adds
from checkers.history import OpType
from checkers.result import Result
from checkers.synthetic import HistoryBuilder


def kinds(r: Result) -> list[str]:
    return sorted(a["kind"] for a in r.anomalies)


def test_stable_element_passes() -> None:
    b = HistoryBuilder()
    b.add(1, "k", 7, "p1-1")
    b.read(2, "k", [("p1-1", [7])])
    b.read(2, "k", [("p1-1", [7])], final=True)
    r = lost_adds.check(b.ops)
    assert r.valid is True and r.anomalies == []
    assert r.stats["status_counts"] == {"stable": 1}
    assert r.stats["stable_latency_ms"]["max"] == 0.0


def test_lost_add_names_last_read_that_saw_it_first_that_did_not_and_faults() -> None:
    b = HistoryBuilder()
    ack = b.add(1, "k", 7, "p1-1")
    b.add(3, "k", 8, "p3-1")
    seen = b.read(2, "k", [("p1-1", [7]), ("p3-1", [8])], node="n2")
    start = b.fault("start", 1, targets=["n1"])
    missing = b.read(2, "k", [("p3-1", [8])], node="n3")
    b.fault("stop", 1)
    b.heal()
    final = b.read(4, "k", [("p3-1", [8])], final=True)
    r = lost_adds.check(b.ops)
    assert r.valid is False
    assert kinds(r) == ["lost"]
    (a,) = r.anomalies
    assert a["key"] == "k"
    assert a["details"]["item"] == 7
    assert a["details"]["acknowledged"] == ack
    assert a["details"]["last_seen"] == seen
    assert a["details"]["first_missing"] == missing
    assert a["details"]["missing_in_final"] == [final]
    assert {seen, missing, final, ack} <= set(a["ops"])
    assert a["nodes"] == ["n1", "n2", "n3"]
    assert [f["start_index"] for f in a["faults"]] == [start]
    assert r.stats["status_counts"] == {"lost": 1, "stable": 1}


def test_stale_then_visible_is_stale_not_lost() -> None:
    b = HistoryBuilder()
    b.add(1, "k", 7, "p1-1")
    b.read(2, "k", [])
    b.read(2, "k", [("p1-1", [7])])
    b.read(2, "k", [("p1-1", [7])], final=True)
    r = lost_adds.check(b.ops)
    assert r.valid is True and r.anomalies == []
    assert r.stats["status_counts"] == {"stale": 1}
    assert r.stats["stable_latency_ms"]["max"] > 0


def test_without_final_reads_the_last_read_decides() -> None:
    b = HistoryBuilder()
    b.add(1, "k", 7, "p1-1")
    b.read(2, "k", [("p1-1", [7])])
    b.read(2, "k", [])
    r = lost_adds.check(b.ops)
    assert kinds(r) == ["lost"]


def test_never_read_acknowledged_add_is_unknown() -> None:
    b = HistoryBuilder()
    b.read(2, "k", [])
    b.add(1, "k", 7, "p1-1")
    r = lost_adds.check(b.ops)
    assert r.valid == "unknown" and r.anomalies == []
    assert r.stats["status_counts"] == {"never-read": 1}


def test_indeterminate_adds_are_recovered_or_not_but_never_lost() -> None:
    b = HistoryBuilder()
    b.add(1, "k", 7, "p1-1", typ=OpType.INFO)
    b.add(3, "k", 8, "p3-1", typ=OpType.FAIL, error="put: timeout")
    b.read(2, "k", [("p1-1", [7])], final=True)
    r = lost_adds.check(b.ops)
    assert r.valid is True and r.anomalies == []
    assert r.stats["recovered_indeterminate"] == 1
    assert r.stats["unrecovered_indeterminate"] == 1


def test_removed_item_is_not_a_lost_add() -> None:
    b = HistoryBuilder()
    b.add(1, "k", 7, "p1-1")
    b.remove(1, "k", 7, "p1-2", ["p1-1"])
    b.read(2, "k", [("p1-2", [])], final=True)
    r = lost_adds.check(b.ops)
    assert r.valid is True and r.anomalies == []
    assert r.stats["status_counts"] == {"removed": 1}


def test_item_whose_add_failed_before_writing_is_unexpected() -> None:
    b = HistoryBuilder()
    b.add(1, "k", 7, None, typ=OpType.FAIL, error="get: timeout")
    read = b.read(2, "k", [("p1-1", [7])], final=True)
    r = lost_adds.check(b.ops)
    assert r.valid is False
    assert kinds(r) == ["unexpected"]
    assert r.anomalies[0]["ops"] == [read - 1, read]
    assert r.anomalies[0]["details"]["item"] == 7
