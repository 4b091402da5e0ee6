"""A run's Dynamo checkers share one index of its history (`SharedHistory`).

Each checker must give on the shared index exactly the Result it gives alone
on the plain ops (correct and mutated histories), the history is indexed once
for all of them, and a history that cannot be interpreted fails every checker
with the same reason.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from checkers import cart_history, causality, convergence, linearizable, lost_adds, staleness
from checkers.budget import Budget
from checkers.cart_history import SharedHistory
from checkers.history import Op, OpType
from checkers.result import Result
from checkers.synthetic import HistoryBuilder
from workloads.reference import ReferenceConfig, generate

CHECKERS = {
    "lost_adds": lost_adds.check,
    "causality": causality.check,
    "convergence": convergence.check,
    "staleness": staleness.check,
}


def comparable(r: Result) -> tuple[Any, Any, Any]:
    stats = {k: v for k, v in r.stats.items() if k not in ("elapsed_s", "traceback")}
    return r.valid, r.anomalies, stats


def drop_an_item_from_a_final_read(history: list[Op], pick: int) -> list[Op]:
    finals = [
        i
        for i, o in enumerate(history)
        if o.f == "read" and o.type is OpType.OK and o.extra.get("final") and o.siblings
    ]
    if not finals:
        return history
    i = finals[pick % len(finals)]
    sibs = [{**s, "items": s["items"][1:]} for s in history[i].siblings or []]
    out = list(history)
    out[i] = dataclasses.replace(history[i], siblings=sibs)
    return out


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(40, 1200), st.integers(0, 2**32 - 1), st.integers(0, 1000))
def test_every_checker_gives_the_same_result_on_the_shared_index(
    n_ops: int, seed: int, pick: int
) -> None:
    config = ReferenceConfig(n_ops=n_ops, n_keys=3, n_processes=4, faults=("one",))
    for history in (
        generate(config, seed),
        drop_an_item_from_a_final_read(generate(config, seed), pick),
    ):
        shared = SharedHistory(history)
        for name, check in CHECKERS.items():
            assert comparable(check(shared)) == comparable(check(history)), name


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the calls of `index_history` (one entry per call)."""
    made: list[int] = []
    real = cart_history.index_history

    def counting(history: Any, budget: Budget) -> cart_history.CartHistory:
        made.append(1)
        return real(history, budget)

    monkeypatch.setattr(cart_history, "index_history", counting)
    return made


def test_the_history_is_indexed_once_for_all_checkers(calls: list[int]) -> None:
    shared = SharedHistory(generate(ReferenceConfig(n_ops=500, n_keys=2), 3))
    for check in CHECKERS.values():
        assert check(shared).valid is True
    assert len(calls) == 1
    assert shared.cart_index(Budget(10)) is shared.cart_index(Budget(10))
    assert len(calls) == 1


def test_a_bad_history_fails_every_checker_with_the_same_reason(calls: list[int]) -> None:
    b = HistoryBuilder()
    b.add(1, "k", 1, "p1-1")
    b.emit(7, OpType.OK, "read", key="k", siblings=[])  # a completion with no invoke
    shared = SharedHistory(b.ops)
    reasons = {check(shared).stats["reason"] for check in CHECKERS.values()}
    assert len(reasons) == 1 and "has no open invoke" in reasons.pop()
    assert len(calls) == 1


def test_a_shared_history_is_still_a_list_of_ops_for_other_checkers() -> None:
    b = HistoryBuilder()
    b.invoke(1, "write", "x", 1)
    b.emit(1, OpType.OK, "write", key="x", value=1)
    b.invoke(2, "read", "x")
    b.emit(2, OpType.OK, "read", key="x", value=2)  # never written: not linearizable
    result = linearizable.check(SharedHistory(b.ops))
    assert result.valid is False
