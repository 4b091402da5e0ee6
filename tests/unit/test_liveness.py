"""The liveness checker on hand-built histories: each failure named with its values over time."""

from __future__ import annotations

from typing import Any

from checkers import liveness
from checkers.history import CHECKER, NEMESIS, Op, OpType


def status(**over: Any) -> dict[str, Any]:
    base = {"down": [], "hints": {}, "in_flight": 0, "members": ["n1", "n2"], "ring": "r1",
            "counters": {"ae_keys_sent": 5}, "keys": {"k": [2, 1]}}  # fmt: skip
    return {**base, **over}


def history(rounds: list[dict[str, dict[str, Any] | None]]) -> list[Op]:
    """rounds[i][node] = that node's status at round i+1 (None: it did not answer)."""
    ops = []
    for r, per_node in enumerate(rounds, start=1):
        for node, st in per_node.items():
            extra = {"round": r, **({"status": st} if st else {"error": "OSError"})}
            ops.append(Op(len(ops), r * 1_000_000_000, CHECKER, OpType.OK, "status", "", node=node,
                          extra=extra))  # fmt: skip
    return ops


def kinds(result: liveness.Result) -> list[str]:
    return sorted(a["kind"] for a in result.anomalies)


def test_a_settled_cluster_is_live() -> None:
    h = history([{"n1": status(), "n2": status()}] * 3)
    r = liveness.check(h)
    assert r.valid is True and r.stats["rounds"] == 3


def test_no_status_rounds_is_unknown() -> None:
    assert liveness.check([]).valid == "unknown"


def test_a_live_peer_held_down_is_named_with_its_values_over_time() -> None:
    h = history([{"n1": status(down=["n2"]), "n2": status()}] * 3)
    r = liveness.check(h)
    assert r.valid is False
    (a,) = r.anomalies
    assert a["kind"] == "live-peer-down" and a["node"] == "n1" and a["counter"] == "down[n2]"
    assert a["values"] == [[1000, True], [2000, True], [3000, True]]


def test_a_dead_peer_may_be_down() -> None:
    h = history([{"n1": status(down=["n2"]), "n2": None}] * 3)
    r = liveness.check(h)
    assert r.valid is True and r.stats["dead_nodes"] == ["n2"]


def test_hints_that_never_drain_and_stuck_requests() -> None:
    h = history(
        [{"n1": status(hints={"n2": 3 - i}, in_flight=2), "n2": status()} for i in range(2)]
    )
    r = liveness.check(h)
    assert kinds(r) == ["hints-not-drained", "requests-stuck"]
    hints = next(a for a in r.anomalies if a["kind"] == "hints-not-drained")
    assert hints["values"] == [[1000, 3], [2000, 2]] and hints["target"] == "n2"


def test_antientropy_still_sending_after_quiescence() -> None:
    rounds = [{"n1": status(counters={"ae_keys_sent": 5 + i}), "n2": status()} for i in range(3)]
    r = liveness.check(history(rounds))
    assert kinds(r) == ["antientropy-still-sending"]
    assert r.anomalies[0]["values"] == [[1000, 5], [2000, 6], [3000, 7]]


def test_ring_views_that_differ_name_the_odd_node() -> None:
    rounds = [{"n1": status(), "n2": status(), "n3": status(members=["n1", "n2", "n3"],
                                                           ring="r2")}] * 2  # fmt: skip
    r = liveness.check(history(rounds))
    (a,) = r.anomalies
    assert a["kind"] == "ring-views-differ" and a["node"] == "n3"
    assert a["expected_members"] == ["n1", "n2"]


def test_clock_and_sibling_bounds() -> None:
    rounds = [{"n1": status(keys={"k": [40, 70]}), "n2": status()}] * 2
    r = liveness.check(history(rounds), max_clock_entries=32, max_siblings=64)
    assert kinds(r) == ["clock_entries-over-bound", "siblings-over-bound"]
    assert all(a["key"] == "k" for a in r.anomalies)


def test_a_membership_change_that_did_not_converge() -> None:
    h = history([{"n1": status(), "n2": status()}] * 2)
    h.append(Op(len(h), 5_000_000_000, NEMESIS, OpType.INFO, "start", value={
        "id": 1, "kind": "join", "targets": ["n4", "n5"],
        "error": "MembershipError: ring views do not agree"}))  # fmt: skip
    r = liveness.check(h)
    assert kinds(r) == ["ring-views-did-not-agree"] * 2
    assert {a["node"] for a in r.anomalies} == {"n4", "n5"}
