"""Replica convergence after the final heal, on hand-built histories."""

from checkers import convergence
from checkers.result import Result
from checkers.synthetic import HistoryBuilder


def kinds(r: Result) -> list[str]:
    return sorted(a["kind"] for a in r.anomalies)


A = [("p1-1", [1]), ("p2-1", [2])]
B = [("p2-1", [2]), ("p1-1", [1])]  # same set, other order


def healed() -> tuple[HistoryBuilder, int]:
    b = HistoryBuilder()
    b.add(1, "k", 1, "p1-1")
    b.add(2, "k", 2, "p2-1")
    b.replica_read("k", "n1", [("p1-1", [1])], "n1:1")  # before the heal: ignored
    heal = b.heal()
    return b, heal


def test_replicas_that_agree_in_the_last_round_pass_and_time_is_from_heal() -> None:
    b, heal = healed()
    b.replica_read("k", "n1", A, "n1:1,n2:1", rnd=0)
    b.replica_read("k", "n2", [("p2-1", [2])], "n2:1", rnd=0)
    b.wait(10)
    b.replica_read("k", "n1", A, "n1:1,n2:1", rnd=1)
    last = b.replica_read("k", "n2", B, "n1:1,n2:1", rnd=1)
    r = convergence.check(b.ops)
    assert r.valid is True and r.anomalies == []
    expect_ms = (b.ops[last].time - b.ops[heal].time) / 1e6
    assert r.stats["time_to_converge_ms"] == expect_ms
    assert r.stats["max_round"] == 1


def test_replica_with_other_siblings_is_divergent() -> None:
    b, _ = healed()
    b.replica_read("k", "n1", A, "n1:1,n2:1")
    b.replica_read("k", "n2", [("p2-1", [2])], "n1:1,n2:1")
    r = convergence.check(b.ops)
    assert r.valid is False and kinds(r) == ["divergent-siblings"]
    a = r.anomalies[0]
    assert a["nodes"] == ["n1", "n2"] and a["processes"] == ["checker"]
    assert sorted(g["puts"] for g in a["details"]["groups"]) == [["p1-1", "p2-1"], ["p2-1"]]
    assert r.stats["time_to_converge_ms"] is None


def test_replica_with_other_context_is_divergent() -> None:
    b, _ = healed()
    b.replica_read("k", "n1", A, "n1:1,n2:1")
    b.replica_read("k", "n2", A, "n1:1,n2:2")
    r = convergence.check(b.ops)
    assert kinds(r) == ["divergent-context"]


def test_no_replica_reads_is_unknown() -> None:
    b, _ = healed()
    r = convergence.check(b.ops)
    assert r.valid == "unknown" and "no replica-read" in r.stats["reason"]


def test_too_few_replicas_is_unknown() -> None:
    b, _ = healed()
    b.replica_read("k", "n1", A, "n1:1,n2:1")
    r = convergence.check(b.ops, replicas_per_key=3)
    assert r.valid == "unknown" and r.anomalies == []
