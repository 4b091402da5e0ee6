"""Footprints inferred from the model's step function (checkers/linearizable/inferred.py).

The models here are used as given: no `partition`, no `footprint`, no
`read_only` hint. Verdicts are checked against the manifests' expected ones on
the 50-client kv histories, and against brute force on small random histories;
wrong inferences (forced) must be caught and end in the right verdict.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from checkers.linearizable import (
    UNKNOWN,
    CheckResult,
    Model,
    Operation,
    check_operations,
    check_operations_info,
    inferred,
    load_history,
)
from checkers.linearizable.components import Kind, StateShape, learn_shape
from checkers.linearizable.models import kv_nopartition, multi_register
from checkers.linearizable.split_checks import Learned
from tests.support.brute_force import brute_force, random_kv_ops

CORPORA = Path(__file__).resolve().parents[1] / "corpora"


def plain_kv() -> Model:
    """Porcupine's kv-nopartition model with no hint at all."""
    return dataclasses.replace(kv_nopartition(footprint=False), read_only=None)


def _map_kv_step(state: frozenset[Any], inp: Any, out: Any) -> tuple[bool, frozenset[Any]]:
    f, key, arg = inp
    d = dict(state)
    current = d.get(key, "")
    if f == "get":
        return (out is UNKNOWN or out == current), state
    d[key] = arg if f == "put" else current + arg
    return True, frozenset(d.items())


MAP_KV = Model(init=frozenset, step=_map_kv_step)
"""The same kv model with its state a map (a frozenset of key/value pairs), as Porcupine's."""


def _sum_step(state: tuple[int, ...], inp: Any, out: Any) -> tuple[bool, tuple[int, ...]]:
    f, slot, _ = inp
    if f == "sum":  # reads every slot: nothing can be split off
        return (out is UNKNOWN or out == sum(state)), state
    return True, state[:slot] + (state[slot] + 1,) + state[slot + 1 :]


SUM = Model(init=lambda: (0, 0, 0), step=_sum_step)


def mislead(monkeypatch: pytest.MonkeyPatch, change: Callable[[Learned, Model], None]) -> None:
    """Makes the inference learn what it learns, then `change` it (a wrong footprint)."""
    real = inferred.learn

    def wrong(model: Model, history: list[Operation], *args: Any) -> Any:
        learned = real(model, history, *args)
        assert learned is not None
        change(learned, model)
        return learned

    monkeypatch.setattr(inferred, "learn", wrong)


def put_then_get(seen: str) -> list[Operation]:
    """put k "a", then a get of k that returns `seen`; a put of j concurrent with both."""
    return [
        Operation(0, ("put", "k", "a"), 0, None, 1),
        Operation(1, ("get", "k", None), 2, seen, 3),
        Operation(2, ("put", "j", "b"), 0, None, 3),
    ]


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("porcupine/test_data/kv/c50-ok.txt", CheckResult.OK),
        ("porcupine/test_data/kv/c50-bad.txt", CheckResult.ILLEGAL),
        ("sibyl/data/kv-c50-ok-1.edn", CheckResult.OK),
        ("sibyl/data/kv-c50-bad-1.edn", CheckResult.ILLEGAL),
    ],
)
def test_fifty_client_histories_are_decided_with_the_plain_model(
    path: str, expected: CheckResult
) -> None:
    ops = load_history(CORPORA / path).operations
    result, info = check_operations_info(plain_kv(), ops, timeout=60)
    assert result is expected
    assert len(info.partitions) > 1  # decided by an inferred split, not the whole-history search


@pytest.mark.parametrize(
    ("path", "expected"), [("c50-ok.txt", CheckResult.OK), ("c50-bad.txt", CheckResult.ILLEGAL)]
)
def test_a_map_state_is_split_by_key_too(path: str, expected: CheckResult) -> None:
    """Porcupine's model as Porcupine writes it: the state a map of every key."""
    ops = load_history(CORPORA / "porcupine" / "test_data" / "kv" / path).operations
    result, info = check_operations_info(MAP_KV, ops, timeout=60)
    assert result is expected
    assert len(info.partitions) > 1


@pytest.mark.parametrize("path", ["c10-ok.txt", "c10-bad.txt"])
def test_a_wrong_inference_is_caught_and_the_verdict_stays_right(
    path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every footprint emptied: the split is wrong, and the checks must notice."""
    mislead(monkeypatch, lambda learned, _: setattr(learned, "fp", {i: set() for i in learned.fp}))
    ops = load_history(CORPORA / "porcupine" / "test_data" / "kv" / path).operations
    expected = CheckResult.OK if path.endswith("ok.txt") else CheckResult.ILLEGAL
    assert check_operations(plain_kv(), ops, timeout=60) is expected


def test_an_ok_from_a_wrong_split_is_not_believed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Gets forced apart from the puts they read: each part is linearizable alone.

    The merged order must be replayed on the model; it fails, and the whole
    history is searched: a get of "" after a put of "a" returned is illegal.
    """

    def blind_reads(learned: Learned, _: Model) -> None:
        for inp in learned.fp:
            if inp[0] == "get":
                learned.fp[inp] = set()

    mislead(monkeypatch, blind_reads)
    monkeypatch.setattr(inferred, "MIN_OPS", 0)
    ops = put_then_get("")
    result, info = check_operations_info(plain_kv(), ops)
    assert result is CheckResult.ILLEGAL
    assert len(info.partitions) == 1  # the split was dropped


def test_a_write_outside_its_footprint_is_seen_before_an_illegal_is_believed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The put forced apart from the get that reads it, and no probe state to tell.

    Alone, the get of "a" is illegal; the watched search of the put's component
    must see it write the key, widen its footprint, and find OK.
    """

    def blind_write(learned: Learned, model: Model) -> None:
        learned.fp[("put", "k", "a")] = set()
        learned.pool = [model.init()]

    mislead(monkeypatch, blind_write)
    monkeypatch.setattr(inferred, "MIN_OPS", 0)
    ops = put_then_get("a")
    result, info = check_operations_info(MAP_KV, ops)
    assert result is CheckResult.OK
    assert len(info.partitions) == 2  # the put joined the get; the split stands


def test_states_that_do_not_split_are_searched_whole() -> None:
    ops = load_history(CORPORA / "porcupine" / "test_data" / "kv" / "c10-ok.txt").operations
    one_string = Model(init=str, step=lambda s, inp, out: (True, s))  # a str: no components
    assert (
        inferred.search_inferred(
            one_string, [ops], deadline=float("inf"), verbose=False, max_cache_bytes=1 << 30
        )
        is None
    )


def test_a_model_where_every_read_reads_everything_is_not_split() -> None:
    rng = random.Random(7)
    ops, state = [], [0, 0, 0]
    for k in range(80):
        slot = rng.randrange(3)
        ops.append(Operation(k % 5, ("inc", slot, None), 2 * k, None, 2 * k + 1))
        state[slot] += 1
        if k % 4 == 0:
            ops.append(Operation(5, ("sum", None, None), 2 * k + 1, sum(state), 2 * k + 1))
    assert inferred.learn(SUM, ops, random.Random(0)) is not None
    out = inferred.search_inferred(
        SUM, [ops], deadline=float("inf"), verbose=False, max_cache_bytes=1 << 30
    )
    assert out is None  # one component: the plain search decides
    assert check_operations(SUM, ops) is CheckResult.OK
    last_sum = max(i for i, op in enumerate(ops) if op.input[0] == "sum")
    ops[last_sum] = dataclasses.replace(ops[last_sum], output=ops[last_sum].output + 1)
    assert check_operations(SUM, ops) is CheckResult.ILLEGAL


def test_a_tuple_that_trims_its_tail_learns_its_pad() -> None:
    shape = learn_shape(
        (), [((), ("a",)), (("a",), ("a", "", "", "b")), (("a", "", "", "b"), ("a",))]
    )
    assert shape == StateShape(Kind.TUPLE, pad="", trims=True)
    assert shape.changed(("a",), ("a", "", "", "b")) == {3}
    assert shape.overlay(("x", "y"), ("a", "", "", "b"), {3}) == ("x", "y", "", "b")


random_kv_op = random_kv_ops(["k", "j", "m"])


@settings(max_examples=300, deadline=None)
@given(st.lists(random_kv_op, min_size=1, max_size=7))
def test_inferred_splits_agree_with_brute_force(ops: list[Operation]) -> None:
    expected = CheckResult.OK if brute_force(plain_kv(), ops) else CheckResult.ILLEGAL
    saved = inferred.MIN_OPS
    inferred.MIN_OPS = 0  # infer on every history, however short
    try:
        assert check_operations(plain_kv(), ops) is expected
        assert check_operations(MAP_KV, ops) is expected
    finally:
        inferred.MIN_OPS = saved


random_txn = st.builds(
    lambda mops, call, length: Operation(
        0,
        ("txn", None, tuple((f, k, UNKNOWN if f == "read" else v) for f, k, v, _ in mops)),
        call,
        tuple((f, k, seen if f == "read" else v) for f, k, v, seen in mops),
        call + length,
    ),
    st.lists(
        st.tuples(
            st.sampled_from(["read", "write"]),
            st.sampled_from(["x", "y", "z"]),
            st.integers(0, 1),
            st.sampled_from([0, 1, UNKNOWN]),
        ),
        min_size=1,
        max_size=2,
    ),
    st.integers(0, 12),
    st.integers(0, 8),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(random_txn, min_size=1, max_size=6))
def test_transactions_over_several_keys_join_their_components(ops: list[Operation]) -> None:
    model = dataclasses.replace(multi_register({"x": 0, "y": 0, "z": 0}), footprint=None)
    expected = CheckResult.OK if brute_force(model, ops) else CheckResult.ILLEGAL
    saved = inferred.MIN_OPS
    inferred.MIN_OPS = 0
    try:
        assert check_operations(model, ops) is expected
    finally:
        inferred.MIN_OPS = saved
