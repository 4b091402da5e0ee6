"""A run's Dynamo checkers share one index of its history (`SharedHistory`).

Each checker must give on the shared index exactly the Result it gives alone
on the plain ops (correct and mutated histories), the history is indexed once
for all of them, and a history that cannot be interpreted fails every checker
with the same reason.
"""

from __future__ import annotations

import dataclasses
import random
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from checkers import causality, convergence, linearizable, lost_adds, staleness
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


def replace_ops(shared: SharedHistory, ops: list[Op]) -> None:
    """Puts `ops` in place of the list's ops, leaving what the SharedHistory built alone.

    A checker that indexed the list again would read the new ops; one that reads the
    shared index (or the error remembered from indexing) never sees them. This is how
    the tests see that the history is indexed once (a patched `index_history` would not
    take in a mypyc build of cart_history, whose calls to it are direct)."""
    list.__setitem__(shared, slice(None), ops)


def uninterpretable() -> list[Op]:
    """A history no checker can index: a read completes with no invoke."""
    b = HistoryBuilder()
    b.add(1, "k", 1, "p1-1")
    b.emit(7, OpType.OK, "read", key="k", siblings=[])
    return b.ops


def test_the_history_is_indexed_once_for_all_checkers() -> None:
    history = generate(ReferenceConfig(n_ops=500, n_keys=2), 3)
    shared = SharedHistory(history)
    first = shared.cart_index(Budget(10))
    replace_ops(shared, uninterpretable())
    assert all(check(uninterpretable()).valid == "unknown" for check in CHECKERS.values())
    for name, check in CHECKERS.items():
        assert comparable(check(shared)) == comparable(check(history)), name
        assert check(shared).valid is True, name
    assert shared.cart_index(Budget(10)) is first


def test_a_bad_history_fails_every_checker_with_the_same_reason() -> None:
    shared = SharedHistory(uninterpretable())
    reasons = {lost_adds.check(shared).stats["reason"]}
    replace_ops(shared, generate(ReferenceConfig(n_ops=500, n_keys=2), 3))  # indexed: unused
    assert lost_adds.check(list(shared)).valid is True
    reasons |= {check(shared).stats["reason"] for check in CHECKERS.values()}
    assert len(reasons) == 1 and "has no open invoke" in reasons.pop()


def test_a_shared_history_is_still_a_list_of_ops_for_other_checkers() -> None:
    b = HistoryBuilder()
    b.invoke(1, "write", "x", 1)
    b.emit(1, OpType.OK, "write", key="x", value=1)
    b.invoke(2, "read", "x")
    b.emit(2, OpType.OK, "read", key="x", value=2)  # never written: not linearizable
    result = linearizable.check(SharedHistory(b.ops))
    assert result.valid is False


def with_anomalies(history: list[Op], seed: int) -> list[Op]:
    """`history` with one of each anomaly the Dynamo checkers report planted in it.

    A final read misses an item (lost), earlier reads miss their newest item
    (stale), and reads show a put nobody wrote (phantom), a put twice
    (duplicate), an ancestor beside its descendant (dominated sibling), an item
    nobody added (unexpected), removed items again (resurrected); one replica
    of the last round differs (divergent siblings).
    """
    rng = random.Random(seed)
    out = list(history)

    def set_siblings(i: int, sibs: list[Any]) -> None:
        out[i] = dataclasses.replace(out[i], siblings=sibs)

    reads = [i for i, o in enumerate(out) if o.f == "read" and o.type is OpType.OK and o.siblings]
    finals = [i for i in reads if out[i].extra.get("final")]
    early = [i for i in reads if not out[i].extra.get("final")]
    i = rng.choice(finals)
    set_siblings(i, [{**s, "items": s["items"][1:]} for s in out[i].siblings or []])
    for i in rng.sample(early, 5):
        set_siblings(i, [{**s, "items": s["items"][:-1]} for s in out[i].siblings or []])
    a, b, c, d = rng.sample(early, 4)
    set_siblings(a, [*(out[a].siblings or []), {"put": "nobody-1", "items": []}])
    set_siblings(b, [*(out[b].siblings or []), (out[b].siblings or [])[0]])
    first = (out[c].siblings or [])[0]
    set_siblings(c, [{**first, "items": [*first["items"], 10**9]}, *(out[c].siblings or [])[1:]])
    puts = {o.extra["put"]: o for o in out if o.type is OpType.OK and "put" in o.extra}
    dominated = [
        (i, s, puts[s["put"]].extra["parents"][0])
        for i in early
        for s in out[i].siblings or []
        if s["put"] in puts and puts[s["put"]].extra["parents"]
    ]
    i, s, parent = rng.choice(dominated)
    set_siblings(i, [*(out[i].siblings or []), {"put": parent, "items": list(s["items"])}])
    for rm in (o for o in history if o.f == "remove" and o.type is OpType.OK):
        for i in [j for j in early if out[j].key == rm.key and out[j].index > rm.index][:3]:
            sibs = out[i].siblings or []
            set_siblings(i, [{**sibs[0], "items": [*sibs[0]["items"], rm.value]}, *sibs[1:]])
    replica = [i for i, o in enumerate(out) if o.f == "replica-read" and o.siblings]
    i = replica[-1]
    set_siblings(i, [*(out[i].siblings or [])[1:], {"put": "elsewhere-1", "items": [1]}])
    return out


def test_each_checker_gives_the_same_anomalies_on_the_shared_index_as_alone() -> None:
    config = ReferenceConfig(n_ops=4000, n_keys=8, n_processes=6, faults=("one",))
    history = with_anomalies(generate(config, 11), seed=11)
    checks = {**CHECKERS, "staleness max_k=0": lambda h: staleness.check(h, max_k=0)}
    shared = SharedHistory(history)
    found: set[str] = set()
    for name, check in checks.items():
        alone = check(history)
        assert comparable(check(shared)) == comparable(alone), name
        if name == "staleness":  # staleness alone is allowed: it only measures it
            assert alone.stats["k_staleness"]["missed_puts"] > 0, alone.stats
        else:
            assert alone.valid is False, (name, alone.stats)
        found |= {a["kind"] for a in alone.anomalies}
    planted = {"lost", "phantom", "duplicate", "dominated-sibling", "unexpected", "resurrected",
               "divergent-siblings", "k-stale-read"}  # fmt: skip
    assert planted <= found, planted - found
