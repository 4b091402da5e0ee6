"""The search and the API: properties on generated register histories, timeouts,
partition scheduling, verbose partial linearizations, and the Model contract."""

from __future__ import annotations

import dataclasses
import math
import time
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from checkers.linearizable import (
    UNKNOWN,
    CheckResult,
    Event,
    EventKind,
    Model,
    NondeterministicModel,
    Operation,
    check_events,
    check_operations,
    check_operations_info,
    check_operations_verbose,
    fill_default,
)
from checkers.linearizable.models import cas_register, kv, kv_nopartition, mutex
from checkers.linearizable.replay import replay_in_call_order
from checkers.linearizable.search import Search
from checkers.result import UNKNOWN as RESULT_UNKNOWN
from tests.support.brute_force import brute_force, random_kv_ops, replays

NEVER_WRITTEN = 99
SPACING = 10

op_kind = st.one_of(
    st.tuples(st.just("read")),
    st.tuples(st.just("write"), st.integers(0, 5)),
    st.tuples(st.just("cas"), st.integers(0, 5), st.integers(0, 5)),
)
# each element: (operation, how long before its linearization point it was called,
# how long after it returned); mild cases (no overlap) shrink first.
timed_ops = st.lists(
    st.tuples(op_kind, st.integers(0, 3 * SPACING), st.integers(0, 3 * SPACING)),
    min_size=1,
    max_size=30,
)


def sequential_register(spec: list[tuple[Any, int, int]]) -> list[Operation]:
    """Runs a real register; op i takes effect at i*SPACING, within [call, return]."""
    state, ops = 0, []
    for i, (kind, before, after) in enumerate(spec):
        point = i * SPACING
        if kind[0] == "read":
            inp, out = ("read", None, None), state
        elif kind[0] == "write":
            inp, out, state = ("write", None, kind[1]), None, kind[1]
        else:
            ok = state == kind[1]
            inp, out = ("cas", None, (kind[1], kind[2])), ok
            state = kind[2] if ok else state
        ops.append(Operation(i, inp, point - before, out, point + after))
    return ops


@settings(max_examples=150, deadline=None)
@given(timed_ops)
def test_a_real_register_is_linearizable(spec: list[tuple[Any, int, int]]) -> None:
    ops = sequential_register(spec)
    assert check_operations(cas_register(0), ops, timeout=20) is CheckResult.OK


@settings(max_examples=150, deadline=None)
@given(timed_ops, st.integers(0, 1000))
def test_a_read_of_a_value_never_written_is_illegal(spec: list[Any], pick: int) -> None:
    ops = sequential_register(spec)
    reads = [i for i, op in enumerate(ops) if op.input[0] == "read"]
    assume(reads)
    i = reads[pick % len(reads)]
    ops[i] = dataclasses.replace(ops[i], output=NEVER_WRITTEN)
    assert check_operations(cas_register(0), ops, timeout=20) is CheckResult.ILLEGAL


@settings(max_examples=60, deadline=None)
@given(timed_ops, st.sets(st.integers(0, 29)))
def test_crashed_operations_may_or_may_not_have_happened(spec: list[Any], crash: set[int]) -> None:
    ops = sequential_register(spec)
    end = len(ops) * SPACING + 10 * SPACING
    for i in crash:
        if i < len(ops) and ops[i].input[0] != "read":
            ops[i] = dataclasses.replace(ops[i], output=UNKNOWN, return_=end)
    assert check_operations(cas_register(0), ops, timeout=20) is CheckResult.OK


def appends_then_impossible_get(key: str, n: int, t0: int = 0) -> list[Operation]:
    """n fully concurrent appends and a get no order can explain: the search must try them all.

    A concurrent put of "" among them keeps the kv model's `grows` hint from
    cutting the search short (the get's value might follow the put)."""
    ops = [Operation(i, ("append", key, f"<{i}>"), t0, None, t0 + 100) for i in range(n)]
    ops.append(Operation(n, ("put", key, ""), t0, None, t0 + 100))
    ops.append(Operation(n + 1, ("get", key, None), t0 + 200, "impossible", t0 + 201))
    return ops


def test_closed_intervals_touching_ops_are_concurrent() -> None:
    ops = [
        Operation(0, ("write", None, 1), 0, None, 5),
        Operation(1, ("read", None, None), 5, 0, 6),  # called when the write returned
    ]
    assert check_operations(cas_register(0), ops) is CheckResult.OK
    later = [ops[0], dataclasses.replace(ops[1], call=6, return_=7)]
    assert check_operations(cas_register(0), later) is CheckResult.ILLEGAL


def test_a_huge_history_answers_unknown_within_its_budget() -> None:
    budget = 0.5
    start = time.monotonic()
    result = check_operations(kv(), appends_then_impossible_get("k", 16), timeout=budget)
    elapsed = time.monotonic() - start
    assert result is CheckResult.UNKNOWN
    assert elapsed < budget * 1.1 + 1.0


def test_the_cache_bound_answers_unknown() -> None:
    ops = appends_then_impossible_get("k", 12)
    assert check_operations(kv(), ops, max_cache_bytes=100_000) is CheckResult.UNKNOWN
    result, info = check_operations_verbose(kv(), ops, max_cache_bytes=100_000)
    assert result is CheckResult.UNKNOWN and info.unknown_reason == "memory"


def test_an_easy_illegal_key_is_not_delayed_by_a_hard_one() -> None:
    hard = appends_then_impossible_get("hard", 16)
    easy = [Operation(100, ("get", "easy", None), 0, "never written", 1)]
    start = time.monotonic()
    result = check_operations(kv(), hard + easy, timeout=30)
    assert result is CheckResult.ILLEGAL
    assert time.monotonic() - start < 10  # far below the timeout; the hard key never ends


def test_verbose_reports_partials_and_the_illegal_op() -> None:
    ops = [
        Operation(0, ("write", None, 1), 0, None, 10),
        Operation(1, ("read", None, None), 2, 1, 4),
        Operation(2, ("read", None, None), 12, 0, 14),
    ]
    result, info = check_operations_verbose(cas_register(0), ops)
    assert result is CheckResult.ILLEGAL
    (part,) = info.partitions
    assert part.longest == [0, 1]
    assert part.illegal == 2
    assert [0, 1] in part.partials
    found = info.first_illegal()
    assert found is not None and found[1] == ops[2]
    ok, ok_info = check_operations_verbose(cas_register(0), ops[:2])
    assert ok is CheckResult.OK and ok_info.partitions[0].partials == [[0, 1]]


def test_non_verbose_info_names_the_blocking_op() -> None:
    first = Operation(0, ("acquire", None, None), 0, None, 1)
    second = dataclasses.replace(first, call=2, return_=3)
    result, info = check_operations_info(mutex(), [first, second])
    assert result is CheckResult.ILLEGAL and info.partitions[0].illegal == 1


def test_events_are_checked_like_operations() -> None:
    events = [
        Event(0, EventKind.CALL, ("write", None, 1), 0),
        Event(1, EventKind.CALL, ("read", None, None), 1),
        Event(1, EventKind.RETURN, 1, 1),
        Event(0, EventKind.RETURN, None, 0),
    ]
    assert check_events(cas_register(0), events) is CheckResult.OK
    with pytest.raises(ValueError, match="no earlier call"):
        check_events(cas_register(0), [Event(0, EventKind.RETURN, None, 7)])
    with pytest.raises(ValueError, match="never return"):
        check_events(cas_register(0), events[:1])


def test_the_model_fills_defaults_once_and_is_frozen() -> None:
    m = Model(init=lambda: 0, step=lambda s, i, o: (True, s))
    for name in ("partition", "equal", "hash", "describe_operation", "describe_state"):
        assert getattr(m, name) is not None
    assert m.partition is not None and m.partition([]) == [[]]
    assert fill_default(m) is m
    with pytest.raises(dataclasses.FrozenInstanceError):
        m.init = lambda: 1  # type: ignore[misc]
    with pytest.raises(TypeError):
        Model(lambda: 0, lambda s, i, o: (True, s))  # type: ignore[misc]


def test_custom_equality_states_are_cached_with_the_models_hash() -> None:
    def step(s: list[int], inp: Any, out: Any) -> tuple[bool, list[int]]:
        if inp[0] == "write":
            return True, [inp[2]]
        return out == s[0], s

    m = Model(init=lambda: [0], step=step, equal=lambda a, b: a == b, hash=lambda s: hash(s[0]))
    ops = [
        Operation(0, ("write", None, 3), 0, None, 5),
        Operation(1, ("read", None, None), 1, 3, 2),
    ]
    assert check_operations(m, ops) is CheckResult.OK
    bad = [ops[0], dataclasses.replace(ops[1], output=4)]
    assert check_operations(m, bad) is CheckResult.ILLEGAL


def test_a_nondeterministic_model_is_checked_over_sets_of_states() -> None:
    def lossy(s: int, inp: Any, out: Any) -> list[int]:
        if inp[0] == "write":
            return [s, inp[2]]  # a write may be lost
        return [s] if out == s else []

    m = NondeterministicModel(init=lambda: [0], step=lossy).to_model()
    ops = [
        Operation(0, ("write", None, 1), 0, None, 1),
        Operation(0, ("read", None, None), 2, 0, 3),
    ]
    assert check_operations(m, ops) is CheckResult.OK
    assert check_operations(cas_register(0), ops) is CheckResult.ILLEGAL
    wrong = [ops[0], dataclasses.replace(ops[1], output=2)]
    assert check_operations(m, wrong) is CheckResult.ILLEGAL


def test_sibyl_check_returns_a_result_and_never_raises() -> None:
    from checkers.history import Op, OpType
    from checkers.linearizable import check

    h = [
        Op(0, 0, 1, OpType.INVOKE, "write", key="x", value=1),
        Op(1, 1, 1, OpType.OK, "write", key="x", value=1),
        Op(2, 2, 2, OpType.INVOKE, "read", key="x"),
        Op(3, 3, 2, OpType.OK, "read", key="x", siblings=[2]),
    ]
    bad = check(h)
    assert bad.valid is False and bad.anomalies[0]["type"] == "not-linearizable"
    assert check(h[:2]).valid is True
    assert check(h[1:]).valid == RESULT_UNKNOWN  # an unmatched return is an error


random_register_op = st.builds(
    lambda kind, key, a, b, out, call, length: Operation(
        0,
        (kind, key, None if kind == "read" else (a if kind == "write" else (a, b))),
        call,
        {"read": a, "write": None, "cas": out}[kind] if out is not None else UNKNOWN,
        call + length,
    ),
    st.sampled_from(["read", "write", "cas"]),
    st.sampled_from(["x", "y"]),
    st.integers(0, 2),
    st.integers(0, 2),
    st.sampled_from([True, False, None]),
    st.integers(0, 12),
    st.one_of(st.integers(0, 8), st.just(100)),  # 100: still open when the history ends
)


@settings(max_examples=300, deadline=None)
@given(st.lists(random_register_op, min_size=1, max_size=7))
def test_the_search_agrees_with_brute_force(ops: list[Operation]) -> None:
    model = cas_register(0)
    expected = CheckResult.OK if brute_force(model, ops) else CheckResult.ILLEGAL
    assert check_operations(model, ops) is expected
    verbose, _ = check_operations_verbose(model, ops)
    assert verbose is expected
    plain = dataclasses.replace(model, read_only=None)  # no greedy reads
    assert check_operations(plain, ops) is expected
    result, info = check_operations_info(model, ops)
    if result is CheckResult.OK:  # the witness is a linearization of every partition
        for part in info.partitions:
            assert sorted(part.longest) == list(range(len(part.history)))
            assert replays(model, tuple(part.history[i] for i in part.longest))


def _search_alone(model: Model, ops: list[Operation]) -> CheckResult:
    """The search's verdict without the call-order replay in front of it."""
    assert model.partition is not None
    for part in model.partition(list(ops)):
        search = Search(model, part)
        if not search.run(1_000_000):
            return CheckResult.ILLEGAL
    return CheckResult.OK


@settings(max_examples=300, deadline=None)
@given(st.lists(random_register_op, min_size=1, max_size=7))
def test_the_search_alone_and_the_replay_agree_with_brute_force(ops: list[Operation]) -> None:
    model = cas_register(0)
    legal = brute_force(model, ops)
    assert _search_alone(model, ops) is (CheckResult.OK if legal else CheckResult.ILLEGAL)
    assert model.partition is not None
    for part in model.partition(list(ops)):
        replayed = replay_in_call_order(model, part, math.inf)
        if replayed is not None:  # a replay's order is a linearization: never on illegal ones
            assert sorted(replayed.longest) == list(range(len(part)))
            assert replays(model, tuple(part[i] for i in replayed.longest))


def _search_alone_one(model: Model, ops: list[Operation]) -> CheckResult:
    return CheckResult.OK if Search(model, list(ops)).run(1_000_000) else CheckResult.ILLEGAL


def test_a_nested_identical_op_is_free_to_go_first() -> None:
    """Twins: the op called first goes first, unless the other's interval nests in its own."""
    outer = Operation(0, ("acquire", None, None), 0, None, 10)
    inner = Operation(1, ("acquire", None, None), 1, None, 2)  # inside the outer one
    release = Operation(1, ("release", None, None), 3, None, 4)  # after the inner returns
    ops = [outer, inner, release]  # only inner, release, outer is a linearization
    assert _search_alone_one(mutex(), ops) is CheckResult.OK
    assert check_operations(mutex(), ops) is CheckResult.OK
    later = dataclasses.replace(inner, call=5, return_=6)  # not nested: the outer goes first
    assert _search_alone_one(mutex(), [outer, release, later]) is CheckResult.OK


def test_twins_go_in_call_order_so_equal_ops_make_no_subsets() -> None:
    """Six equal writes at once: only their prefixes in call order are configurations."""
    ops = [Operation(i, ("write", None, 1), i, None, 10) for i in range(6)]
    ops.append(Operation(9, ("read", None, None), 11, 2, 12))  # never written: illegal
    search = Search(cas_register(0), ops)
    assert search.run(1_000_000) is False
    assert len(search.cache) == 6  # not the 63 non-empty subsets of the writes
    info = search.info()
    assert len(info.longest) == 6 and info.illegal == 6


@settings(max_examples=300, deadline=None)
@given(
    st.lists(random_register_op, min_size=2, max_size=7),
    st.lists(st.booleans(), min_size=7, max_size=7),
)
def test_crashed_ops_left_out_agree_with_brute_force(
    ops: list[Operation], crash: list[bool]
) -> None:
    """Many optional ops (crashed, open to the end): a configuration with some of them
    linearized is dropped when the one without them, in the same state, is cached."""
    ops = [
        dataclasses.replace(op, output=UNKNOWN, return_=100) if down else op
        for op, down in zip(ops, crash)
    ]
    model = cas_register(0)
    expected = CheckResult.OK if brute_force(model, ops) else CheckResult.ILLEGAL
    assert _search_alone(model, ops) is expected
    assert check_operations(model, ops) is expected


def test_a_configuration_with_optional_ops_is_dominated_by_the_one_without() -> None:
    """A crashed write of 1, then a write of 1 and a read of 5 (never written): after
    the crashed write and the write, the state is 1, as after the write alone, which
    was searched already: the search drops it."""
    ops = [
        Operation(0, ("write", None, 1), 0, UNKNOWN, 100),  # crashed: optional
        Operation(1, ("write", None, 1), 1, None, 2),
        Operation(2, ("read", None, None), 3, 5, 4),
    ]
    search = Search(cas_register(0), ops)
    assert search.run(1_000_000) is False
    assert len(search.cache) == 2  # {write}, {crashed}; not {crashed, write}: dominated
    assert search.info().illegal == 2
    # the same after 400 sequential writes: keys are windowed past the linearized ones
    before = [Operation(9, ("write", None, i % 3), 2 * i, None, 2 * i + 1) for i in range(400)]
    later = [dataclasses.replace(op, call=op.call + 1000, return_=op.return_ + 1000) for op in ops]
    search = Search(cas_register(0), before + later)
    assert search.run(1_000_000) is False
    assert len(search.cache) == 400 + 2


def test_a_wide_window_keeps_configurations_apart() -> None:
    """A write of 7 open from the start to the end pins the window of the linearized
    set at its rank while it is left out: the keys then hold 300 bits (big ints in
    the build), and must still tell every configuration apart. After 300 sequential
    writes a read of 5 (never written) is illegal. Configurations, for j writes
    linearized: without the write of 7 (j = 1..300), with it last (state 7,
    j = 0..300), and with it before the last of them (j = 1..300): 3 * 300 + 1."""
    n = 300
    ops = [Operation(1, ("write", None, 7), 0, None, 10_000)]
    ops += [Operation(0, ("write", None, i % 3), 2 * i + 1, None, 2 * i + 2) for i in range(n)]
    ops.append(Operation(2, ("read", None, None), 9_000, 5, 9_001))
    search = Search(cas_register(0), ops)
    assert search.run(10_000_000) is False
    assert len(search.cache) == 3 * n + 1
    assert search.info().illegal == n + 1


random_mutex_op = st.builds(
    lambda kind, crashed, call, length: Operation(
        0, (kind, None, None), call, UNKNOWN if crashed else None, call + length
    ),
    st.sampled_from(["acquire", "release"]),
    st.booleans(),
    st.integers(0, 10),
    st.one_of(st.integers(0, 10), st.just(100)),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(random_mutex_op, min_size=1, max_size=7))
def test_the_mutex_search_agrees_with_brute_force(ops: list[Operation]) -> None:
    """Identical ops everywhere: the twin ordering must never hide a linearization."""
    expected = CheckResult.OK if brute_force(mutex(), ops) else CheckResult.ILLEGAL
    assert _search_alone_one(mutex(), ops) is expected
    assert check_operations(mutex(), ops) is expected


def test_the_replay_swaps_an_overlapping_pair_and_defers_a_refused_op() -> None:
    register = cas_register(0)
    swap = [  # the cas is called first, but the read saw the value before it
        Operation(0, ("cas", None, (0, 1)), 0, True, 10),
        Operation(1, ("read", None, None), 1, 0, 5),
    ]
    found = replay_in_call_order(register, swap, math.inf)
    assert found is not None and found.longest == [1, 0]
    defer = [  # the read is refused at its turn; the write called later explains it
        Operation(0, ("read", None, None), 0, 2, 10),
        Operation(1, ("write", None, 1), 1, None, 2),
        Operation(2, ("write", None, 2), 3, None, 4),
    ]
    found = replay_in_call_order(register, defer, math.inf)
    assert found is not None and found.longest == [1, 2, 0]
    late = [*defer[:2], dataclasses.replace(defer[2], call=11, return_=12)]  # after the read
    assert replay_in_call_order(register, late, math.inf) is None
    assert check_operations(register, late) is CheckResult.ILLEGAL


def test_the_replay_retries_without_optional_ops_only_when_one_moved_the_state() -> None:
    register = cas_register(0)
    moved = [  # two crashed writes, open to the end, put the register at 3: the read fails
        Operation(0, ("write", None, 1), 0, UNKNOWN, 100),
        Operation(1, ("write", None, 3), 1, UNKNOWN, 100),
        Operation(2, ("read", None, None), 2, 0, 3),
    ]
    found = replay_in_call_order(register, moved, math.inf)
    assert found is not None and found.longest == [2, 0, 1]  # retried: the crashed ones last
    stepped: list[Any] = []

    def step(state: Any, inp: Any, out: Any) -> tuple[bool, Any]:
        stepped.append(out)
        return register.step(state, inp, out)

    still = [  # a crashed cas that does not apply leaves 0: a retry would fail the same way
        Operation(0, ("cas", None, (1, 1)), 0, UNKNOWN, 100),
        Operation(1, ("read", None, None), 1, 5, 2),
    ]
    counted = dataclasses.replace(register, step=step)
    assert replay_in_call_order(counted, still, math.inf) is None
    assert stepped.count(5) == 3  # refused twice at its turn, once before the cas: one pass
    assert check_operations(register, still) is CheckResult.ILLEGAL


random_kv_op = random_kv_ops(["k", "j"])


@settings(max_examples=200, deadline=None)
@given(st.lists(random_kv_op, min_size=1, max_size=7))
def test_the_kv_search_agrees_with_brute_force(ops: list[Operation]) -> None:
    expected = CheckResult.OK if brute_force(kv(), ops) else CheckResult.ILLEGAL
    assert check_operations(kv(), ops) is expected
    assert check_operations(kv_nopartition(), ops) is expected  # split by footprint
    assert check_operations(kv_nopartition(footprint=False), ops) is expected


def test_a_long_history_stays_within_its_budget() -> None:
    ops = sequential_register([(("write", i % 5), 5, 5) for i in range(30_000)])
    ops.append(Operation(1, ("read", None, None), 10**9, NEVER_WRITTEN, 10**9 + 1))
    budget = 1.0
    start = time.monotonic()
    result = check_operations(cas_register(0), ops, timeout=budget)
    assert result in (CheckResult.UNKNOWN, CheckResult.ILLEGAL)
    assert time.monotonic() - start < budget * 1.1 + 1.0


def test_an_operation_returning_before_its_call_is_an_error() -> None:
    with pytest.raises(ValueError, match="returns .* before its call"):
        check_operations(cas_register(0), [Operation(0, ("read", None, None), 5, 0, 4)])


def test_a_slow_model_still_answers_within_its_budget() -> None:
    def slow_step(state: Any, inp: Any, out: Any) -> tuple[bool, Any]:
        time.sleep(0.001)  # a model doing real work on every step
        return kv().step(state, inp, out)

    slow = dataclasses.replace(kv(), step=slow_step)
    budget = 0.5
    start = time.monotonic()
    result = check_operations(slow, appends_then_impossible_get("k", 10), timeout=budget)
    assert result is CheckResult.UNKNOWN
    assert time.monotonic() - start < budget * 1.1 + 1.0


def test_the_reported_illegal_operation_is_the_same_on_every_run() -> None:
    ops = appends_then_impossible_get("hard", 9)
    ops += [Operation(50 + k, ("get", f"easy{k}", None), k, "junk", k + 1) for k in range(5)]
    reports = set()
    for _ in range(3):
        result, info = check_operations_info(kv(), ops, timeout=30)
        found = info.first_illegal()
        assert result is CheckResult.ILLEGAL and found is not None
        reports.add(found[1])
    assert len(reports) == 1


def test_multi_register_transactions() -> None:
    from checkers.linearizable.models import multi_register

    write = Operation(0, ("txn", None, (("write", "x", 1), ("write", "y", 2))), 0, None, 1)
    write = dataclasses.replace(write, output=write.input[2])
    read = Operation(1, ("txn", None, (("read", "x", UNKNOWN), ("read", "y", UNKNOWN))), 2, None, 3)
    saw = dataclasses.replace(read, output=(("read", "x", 1), ("read", "y", 2)))
    torn = dataclasses.replace(read, output=(("read", "x", 1), ("read", "y", 0)))
    blind = dataclasses.replace(read, output=(("read", "x", UNKNOWN), ("read", "y", 2)))
    model = multi_register({"x": 0, "y": 0})
    assert check_operations(model, [write, saw]) is CheckResult.OK
    assert check_operations(model, [write, blind]) is CheckResult.OK
    assert check_operations(model, [write, torn]) is CheckResult.ILLEGAL
    crashed = dataclasses.replace(write, output=UNKNOWN, return_=10)
    assert check_operations(model, [crashed, torn]) is CheckResult.ILLEGAL
    assert check_operations(model, [crashed, saw]) is CheckResult.OK


def test_multi_register_keys_are_equal_by_value_not_by_object() -> None:
    """The model remembers slots by key object for speed; equal keys that are other
    objects (keywords made apart, not shared by the parser) must land in the same slot."""
    from checkers.linearizable.edn import Keyword
    from checkers.linearizable.models import multi_register

    model = multi_register({Keyword("x"): 0})
    ok, state = model.step(model.init(), ("txn", None, ()), (("write", Keyword("x"), 5),))
    assert ok and state == (5,)
    ok, _ = model.step(state, ("txn", None, ()), (("read", Keyword("x"), 5),))
    assert ok
    ok, _ = model.step(state, ("txn", None, ()), (("read", Keyword("x"), 0),))
    assert not ok
    assert model.step(model.init(), ("txn", None, ()), (("read", Keyword("y"), None),))[0]


def test_footprints_split_a_history_where_operations_commute() -> None:
    from checkers.linearizable.models import split_by_footprint

    def op(k: int, *keys: str) -> Operation:
        return Operation(k, ("txn", None, tuple(("write", key, 1) for key in keys)), k, None, k)

    ops = [op(0, "a"), op(1, "b"), op(2, "c"), op(3, "b", "c"), op(4), op(5, "a")]
    parts = split_by_footprint(ops, lambda inp: [m[1] for m in inp[2]])
    assert parts == [[ops[0], ops[5]], [ops[1], ops[2], ops[3]], [ops[4]]]


random_txn_op = st.builds(
    lambda mops, call, length, crashed: Operation(
        0,
        ("txn", None, tuple((f, k, UNKNOWN if f == "read" else v) for f, k, v, _ in mops)),
        call,
        UNKNOWN if crashed else tuple((f, k, seen if f == "read" else v) for f, k, v, seen in mops),
        100 if crashed else call + length,
    ),
    st.lists(
        st.tuples(
            st.sampled_from(["read", "write"]),
            st.sampled_from(["x", "y", "z"]),
            st.integers(0, 1),
            st.sampled_from([0, 1, None, UNKNOWN]),
        ),
        min_size=1,
        max_size=2,
    ),
    st.integers(0, 12),
    st.integers(0, 8),
    st.booleans(),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(random_txn_op, min_size=1, max_size=6))
def test_the_footprint_split_agrees_with_brute_force(ops: list[Operation]) -> None:
    from checkers.linearizable.models import multi_register

    model = multi_register({"x": 0, "y": 0, "z": 0})
    expected = CheckResult.OK if brute_force(model, ops) else CheckResult.ILLEGAL
    assert check_operations(model, ops) is expected
    assert check_operations(dataclasses.replace(model, footprint=None), ops) is expected


def test_a_timed_out_check_with_a_large_cache_returns_soon_after_its_deadline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Porcupine's c50 history, one map, no footprint: the cache grows for the whole budget.

    No split is inferred from the model's step either (it would decide the history),
    and the growth hints are dropped (they might).

    The bound is loose on purpose (the machine may be busy); the benchmark
    reports the real overrun. `elapsed_s` is measured after the caches are freed.
    """
    from pathlib import Path

    from checkers.linearizable import load_history

    corpus = Path(__file__).resolve().parents[1] / "corpora" / "porcupine" / "test_data" / "kv"
    ops = load_history(corpus / "c50-ok.txt").operations
    monkeypatch.setattr("checkers.linearizable.inferred.MIN_OPS", len(ops) + 1)
    budget = 2.0
    start = time.monotonic()
    model = dataclasses.replace(kv_nopartition(footprint=False), grows=None)
    result, info = check_operations_info(model, ops, timeout=budget)
    wall = time.monotonic() - start
    assert result is CheckResult.UNKNOWN and info.unknown_reason == "timeout"
    assert info.cache_entries > 10_000  # a cache was built, and freed, within the bound
    assert info.elapsed_s > budget / 2  # it searched (it stops early to free its caches in time)
    assert info.elapsed_s - budget < 1.0 and wall - budget < 1.5


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(st.none(), st.integers(0, 2)),
    random_register_op,
    st.sampled_from(["", "a", "ab"]),
    random_kv_op,
    st.booleans(),
    random_mutex_op,
)
def test_observes_names_the_one_state_an_op_is_legal_in(
    reg_state: Any,
    reg_op: Operation,
    kv_state: str,
    kv_op: Operation,
    held: bool,
    mutex_op: Operation,
) -> None:
    for model, state, op in (
        (cas_register(0), reg_state, reg_op),
        (kv(), kv_state, kv_op),
        (mutex(), held, mutex_op),
    ):
        assert model.observes is not None
        seen = model.observes(op.input, op.output)
        ok, _ = model.step(state, op.input, op.output)
        if seen is not UNKNOWN:  # the promise: legal exactly in that state
            assert ok is (state == seen)


def test_a_read_of_another_state_is_refused_without_a_step() -> None:
    """Five reads of the last value and five writes, all concurrent (the reads come
    first in the walk): the search compares state ids for the reads, and steps none:
    in the state it observes a read is legal and keeps it (`read_only`)."""
    ops = [Operation(i, ("read", "x", None), 0, 4, 10) for i in range(5)]
    ops += [Operation(5 + i, ("write", "x", i), 1, None, 10) for i in range(5)]
    stepped: list[Any] = []
    model = cas_register(0)

    def step(state: Any, inp: Any, out: Any) -> tuple[bool, Any]:
        if inp[0] == "read":
            stepped.append(state)
        return model.step(state, inp, out)

    search = Search(dataclasses.replace(model, step=step), ops)
    assert search.run(1_000_000) is True
    assert stepped == []
    stepped.clear()
    blind = Search(dataclasses.replace(model, step=step, observes=None), ops)
    assert blind.run(1_000_000) is True
    assert set(stepped) > {4}  # without the hint, reads are stepped in other states


def test_an_acquire_of_a_held_lock_is_refused_without_a_step() -> None:
    """Four acquires and three releases, all concurrent (the acquires come first in the
    walk): the mutex's `observes` names the free lock, so no acquire is stepped while
    the lock is held."""
    ops = [Operation(i, ("acquire", None, None), 0, None, 10) for i in range(4)]
    ops += [Operation(4 + i, ("release", None, None), 1, None, 10) for i in range(3)]
    stepped: list[bool] = []
    model = mutex()

    def step(held: bool, inp: Any, out: Any) -> tuple[bool, bool]:
        if inp[0] == "acquire":
            stepped.append(held)
        return model.step(held, inp, out)

    search = Search(dataclasses.replace(model, step=step), ops)
    assert search.run(1_000_000) is True  # acquire, release, ..., acquire: it ends held
    assert stepped and not any(stepped)  # each acquire is stepped only on a free lock
    stepped.clear()
    blind = Search(dataclasses.replace(model, step=step, observes=None), ops)
    assert blind.run(1_000_000) is True
    assert any(stepped)  # without the hint, acquires are stepped on a held lock
