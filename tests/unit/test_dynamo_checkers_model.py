"""The Dynamo checkers against the reference model, targeted mutations, and bad input.

The reference model (workloads/reference.py) is a correct store, so every
checker must call its histories valid. Each mutation breaks exactly one
invariant and must be flagged by its checker as exactly that anomaly kind,
while the other checkers still pass.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from checkers import causality, convergence, lost_adds, staleness
from checkers.history import Op, OpType, dump_op
from checkers.result import Result
from checkers.synthetic import HistoryBuilder
from workloads.reference import ReferenceConfig, generate

CHECKERS = {
    "lost_adds": lost_adds.check,
    "causality": causality.check,
    "convergence": convergence.check,
    "staleness": staleness.check,
}

configs = st.builds(
    ReferenceConfig,
    n_ops=st.integers(40, 1500),
    n_nodes=st.integers(3, 5),
    n_keys=st.integers(1, 4),
    n_processes=st.integers(2, 6),
    faults=st.sampled_from([(), ("one",), ("one", "halves")]),
    drop_p=st.sampled_from([0.0, 0.1, 0.3]),
    info_p=st.sampled_from([0.0, 0.05]),
)
seeds = st.integers(0, 2**32 - 1)
picks = st.integers(0, 10_000)
SETTINGS = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def kinds(r: Result) -> list[str]:
    return sorted(a["kind"] for a in r.anomalies)


def assert_only(history: list[Op], checker: str, kind: str) -> None:
    """`checker` flags exactly one `kind` anomaly; every other checker passes."""
    for name, check in CHECKERS.items():
        r = check(history)
        if name == checker:
            assert r.valid is False, (name, r.stats)
            assert kinds(r) == [kind], (name, r.anomalies)
        else:
            assert r.valid is True, (name, r.anomalies, r.stats)


def with_siblings(history: list[Op], index: int, sibs: list[Any]) -> list[Op]:
    """A copy of `history` whose op `index` has `sibs` as its siblings."""
    out = list(history)
    out[index] = dataclasses.replace(history[index], siblings=sibs)
    return out


@SETTINGS
@given(configs, seeds)
def test_reference_histories_are_valid_for_every_checker(
    config: ReferenceConfig, seed: int
) -> None:
    history = generate(config, seed)
    for name, check in CHECKERS.items():
        r = check(history)
        assert r.valid is True, (name, r.anomalies, r.stats)


def acked_unremoved(history: list[Op]) -> set[tuple[str | None, Any]]:
    acked = {(o.key, o.value) for o in history if o.f == "add" and o.type is OpType.OK}
    return acked - {
        (o.key, o.value) for o in history if o.f == "remove" and o.type is not OpType.INVOKE
    }


@SETTINGS
@given(configs, seeds, picks)
def test_dropping_an_acknowledged_add_from_a_final_read_is_a_lost_add(
    config: ReferenceConfig, seed: int, pick: int
) -> None:
    history = generate(config, seed)
    keep = acked_unremoved(history)
    targets = [
        (o.index, item)
        for o in history
        if o.f == "read" and o.type is OpType.OK and o.extra.get("final")
        for item in sorted({i for s in o.siblings or [] for i in s["items"]})
        if (o.key, item) in keep
    ]
    assume(targets)
    index, item = targets[pick % len(targets)]
    sibs = [
        {**s, "items": [i for i in s["items"] if i != item]} for s in history[index].siblings or []
    ]
    assert_only(with_siblings(history, index, sibs), "lost_adds", "lost")


@SETTINGS
@given(configs, seeds, picks)
def test_an_ancestor_beside_its_descendant_is_a_dominated_sibling(
    config: ReferenceConfig, seed: int, pick: int
) -> None:
    history = generate(config, seed)
    parents = {o.extra["put"]: o.extra["parents"] for o in history if "put" in o.extra}
    values = {s["put"]: s for o in history if o.f == "read" for s in o.siblings or []}
    targets = [
        (o.index, parent)
        for o in history
        if o.f == "read" and o.type is OpType.OK
        for s in o.siblings or []
        for parent in parents.get(s["put"], [])
        if parent in parents
    ]
    assume(targets)
    index, parent = targets[pick % len(targets)]
    extra = values.get(parent, {"put": parent, "items": []})
    assert_only(
        with_siblings(history, index, [*(history[index].siblings or []), extra]),
        "causality",
        "dominated-sibling",
    )


@SETTINGS
@given(configs, seeds, picks)
def test_a_sibling_no_put_wrote_is_a_phantom(config: ReferenceConfig, seed: int, pick: int) -> None:
    history = generate(config, seed)
    reads = [o.index for o in history if o.f == "read" and o.type is OpType.OK]
    index = reads[pick % len(reads)]
    phantom = {"put": "p999999-1", "items": []}
    assert_only(
        with_siblings(history, index, [*(history[index].siblings or []), phantom]),
        "causality",
        "phantom",
    )


@SETTINGS
@given(configs, seeds, picks)
def test_one_replica_that_differs_is_divergent(
    config: ReferenceConfig, seed: int, pick: int
) -> None:
    history = generate(config, seed)
    last = max(o.extra["round"] for o in history if o.f == "replica-read")
    replicas = [o.index for o in history if o.f == "replica-read" and o.extra["round"] == last]
    index = replicas[pick % len(replicas)]
    sibs = list(history[index].siblings or [])
    sibs = sibs[:-1] if sibs else [{"put": "p999999-1", "items": []}]
    assert_only(with_siblings(history, index, sibs), "convergence", "divergent-siblings")


# Bad input: every checker answers "unknown" with a reason naming the op or line.


def good_prefix() -> HistoryBuilder:
    b = HistoryBuilder()
    b.add(1, "k", 1, "p1-1")
    b.read(2, "k", [("p1-1", [1])], final=True)
    return b


def completion_without_invoke(b: HistoryBuilder) -> str:
    b.emit(7, OpType.OK, "read", key="k", siblings=[])
    return "has no open invoke"


def sibling_not_an_object(b: HistoryBuilder) -> str:
    b.invoke(3, "read", "k")
    b.emit(3, OpType.OK, "read", key="k", siblings=["p1-1"])
    return "sibling 0 must be an object"


def read_without_siblings(b: HistoryBuilder) -> str:
    b.invoke(3, "read", "k")
    b.emit(3, OpType.OK, "read", key="k")
    return "has no 'siblings'"


def add_of_a_list(b: HistoryBuilder) -> str:
    b.invoke(3, "add", "k", [1, 2])
    return "must be an item id"


def mismatched_completion(b: HistoryBuilder) -> str:
    b.invoke(3, "read", "k")
    b.emit(3, OpType.OK, "add", key="k", value=1)
    return "does not match its invoke"


@pytest.mark.parametrize("checker", sorted(CHECKERS))
@pytest.mark.parametrize(
    "spoil",
    [
        completion_without_invoke,
        sibling_not_an_object,
        read_without_siblings,
        add_of_a_list,
        mismatched_completion,
    ],
)
def test_odd_history_is_unknown_naming_the_op(
    checker: str, spoil: Callable[[HistoryBuilder], str]
) -> None:
    b = good_prefix()
    needle = spoil(b)
    r = CHECKERS[checker](b.ops)
    assert r.valid == "unknown"
    assert needle in r.stats["reason"]
    assert r.stats["line"] == len(b.ops) - 1
    assert f"op {len(b.ops) - 1}:" in r.stats["reason"]


@pytest.mark.parametrize("checker", sorted(CHECKERS))
def test_truncated_file_is_unknown_naming_the_line(checker: str, tmp_path: Path) -> None:
    lines = [dump_op(op) for op in good_prefix().ops]
    path = tmp_path / "history.jsonl"
    path.write_text("\n".join(lines) + "\n" + lines[-1][: len(lines[-1]) // 2])
    r = CHECKERS[checker](path)
    assert r.valid == "unknown"
    assert f"history.jsonl:{len(lines) + 1}: not valid JSON" in r.stats["reason"]


@pytest.mark.parametrize("checker", sorted(CHECKERS))
def test_time_budget_gives_unknown(checker: str) -> None:
    history = generate(ReferenceConfig(n_ops=3000), 1)
    r = CHECKERS[checker](history, time_limit_s=0.0)
    assert r.valid == "unknown" and "time limit" in r.stats["reason"]


junk = st.one_of(st.none(), st.integers(-2, 3), st.text(max_size=3), st.lists(st.integers(0, 3)))
siblings_junk = st.one_of(
    st.none(),
    st.lists(
        st.one_of(
            st.fixed_dictionaries(
                {
                    "put": st.sampled_from(["p1-1", "p2-1", "p9-9"]),
                    "items": st.lists(st.integers(0, 3), max_size=3),
                }
            ),
            junk,
        ),
        max_size=3,
    ),
)
rows = st.lists(
    st.tuples(
        st.sampled_from(["client", "client", "nemesis", "checker"]),
        st.sampled_from(list(OpType)),
        st.sampled_from(["read", "add", "remove", "replica-read", "start", "stop", "heal"]),
        st.sampled_from(["k", "j", None]),
        junk,
        siblings_junk,
        st.dictionaries(st.sampled_from(["put", "parents", "final", "round"]), junk, max_size=2),
    ),
    max_size=12,
)


def odd_history(spec: list[tuple[Any, ...]]) -> list[Op]:
    """Client rows become an invoke and a completion (of the row's type) on a fresh process."""
    ops: list[Op] = []
    for n, (who, typ, f, key, value, sibs, extra) in enumerate(spec):
        if who == "client":
            ops.append(Op(len(ops), len(ops), n, OpType.INVOKE, f, key=key, value=value))
            proc: Any = n
        else:
            proc = who
        op = Op(len(ops), len(ops), proc, typ, f, key=key, value=value, siblings=sibs, extra=extra)
        ops.append(op)
    return ops


@settings(max_examples=200, deadline=None)
@given(rows)
def test_semantically_odd_histories_never_crash_a_checker(spec: list[tuple[Any, ...]]) -> None:
    history = odd_history(spec)
    for name, check in CHECKERS.items():
        r = check(history)
        assert r.valid in (True, False, "unknown")
        assert "traceback" not in r.stats, (name, r.stats["reason"], r.stats["traceback"])
