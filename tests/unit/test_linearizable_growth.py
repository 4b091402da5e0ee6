"""The `grows` / `grows_into` hints: a state no pending read can grow into is a dead end.

The kv models promise that gets and appends only extend a key's string, so
while no put can come before a pending get, the current string must be a
prefix of that get's value. Each test here fails if the pruning is removed, or if it
prunes where a put (returned or crashed) could still reset the string.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from checkers.linearizable import UNKNOWN, CheckResult, Model, Operation, check_operations
from checkers.linearizable.models import kv, kv_nopartition
from checkers.linearizable.search import Search
from tests.support.brute_force import brute_force

PLAIN = dataclasses.replace(kv(), grows=None, grows_into=None, resets_to=None)
"""The kv model without the growth hints (its other hints kept)."""


def reversed_appends(n: int) -> list[Operation]:
    """`n` concurrent appends and a get that saw them in reverse call order."""
    ops = [Operation(i, ("append", "k", f"<{i}>"), 0, None, 100) for i in range(n)]
    seen = "".join(f"<{i}>" for i in reversed(range(n)))
    return [*ops, Operation(n, ("get", "k", None), 200, seen, 201)]


def configurations(model: Model, ops: list[Operation]) -> tuple[bool | None, int]:
    """The search's verdict on one partition and how many configurations it cached."""
    search = Search(model, ops)
    return search.run(10_000_000), len(search.cache)


def test_an_order_of_appends_no_get_begins_with_is_never_extended() -> None:
    ops = reversed_appends(8)
    for model in (kv(), kv_nopartition(), kv_nopartition(footprint=False)):
        verdict, pruned = configurations(model, ops)
        assert verdict is True
        assert pruned == len(ops)  # the order the get saw, nothing else (dead ends: not cached)
    verdict, plain = configurations(PLAIN, ops)
    assert verdict is True and plain > 100 * len(ops)  # without the hints: most orders


def test_an_impossible_get_is_found_without_trying_every_order() -> None:
    ops = reversed_appends(8)
    ops[-1] = dataclasses.replace(ops[-1], output="<3><3>")
    verdict, pruned = configurations(kv(), ops)
    assert verdict is False and pruned == 1  # the first configuration: no append can start
    verdict, plain = configurations(PLAIN, ops)
    assert verdict is False and plain > 100_000  # every order of every subset of the appends


def test_a_pending_put_that_leaves_another_string_does_not_stop_the_pruning() -> None:
    """A put of "y" is called first but may go last: the get's "<7>...<0>" does not
    begin with "y", so only appends can come before the get (`resets_to`)."""
    ops = reversed_appends(8)
    ops.append(Operation(9, ("put", "k", "y"), 0, None, 300))
    for model in (kv(), kv_nopartition(), kv_nopartition(footprint=False)):
        verdict, pruned = configurations(model, ops)
        assert verdict is True and pruned == len(ops)
    verdict, blind = configurations(dataclasses.replace(kv(), resets_to=None), ops)
    assert verdict is True and blind > 100 * len(ops)  # stops at the put: most orders


def put_before_get(put_output: object, put_return: int) -> list[Operation]:
    """An append, then a put and an append concurrent with a get that needs the put first."""
    return [
        Operation(0, ("append", "k", "a"), 0, None, 1),
        Operation(1, ("put", "k", "x"), 2, put_output, put_return),
        Operation(2, ("append", "k", "b"), 3, None, 10),
        Operation(3, ("get", "k", None), 4, "xb", 11),
    ]


def test_a_pending_put_stops_the_pruning() -> None:
    """The state "a" is no prefix of "xb", but the put may come first: no dead end."""
    for ops in (put_before_get(None, 10), put_before_get(UNKNOWN, 100)):  # returned, crashed
        assert brute_force(kv(), ops)
        assert check_operations(kv(), ops) is CheckResult.OK
        for model in (kv(), kv_nopartition(footprint=False)):
            assert configurations(model, ops)[0] is True


@st.composite
def appends_and_gets(draw: st.DrawFn) -> list[Operation]:
    """Appends of distinct pieces, a few puts (some crashed), and gets of orders of pieces,
    mostly on one key."""
    pieces = ["a", "b", "c", "d"]
    ops: list[Operation] = []
    for i in range(draw(st.integers(1, 7))):
        kind = draw(st.sampled_from(["append", "append", "get", "get", "put"]))
        key = draw(st.sampled_from("kkkj"))
        call = draw(st.integers(0, 10))
        length = draw(st.integers(0, 6))
        if kind == "get":
            order = draw(st.permutations(pieces))[: draw(st.integers(0, 3))]
            out = draw(st.sampled_from(["".join(order), "x" + "".join(order)]))
            ops.append(Operation(i, ("get", key, None), call, out, call + length))
            continue
        arg = draw(st.sampled_from(pieces)) if kind == "append" else "x"
        crashed = draw(st.booleans()) and draw(st.booleans())
        done = UNKNOWN if crashed else None
        ops.append(Operation(i, (kind, key, arg), call, done, 100 if crashed else call + length))
    return ops


@settings(max_examples=300, deadline=None)
@given(appends_and_gets())
def test_the_pruned_search_agrees_with_brute_force(ops: list[Operation]) -> None:
    expected = CheckResult.OK if brute_force(kv(), ops) else CheckResult.ILLEGAL
    for model in (kv(), kv_nopartition(), kv_nopartition(footprint=False)):
        assert check_operations(model, ops) is expected
    whole = kv_nopartition(footprint=False)  # the search itself, past the replay and splits
    verdict, _ = configurations(whole, ops)
    assert verdict is (expected is CheckResult.OK)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from("kj"), st.sampled_from(["", "a", "b", "ab"])), max_size=3),
    st.lists(st.tuples(st.sampled_from("kj"), st.sampled_from(["a", "b", ""])), max_size=3),
    st.sampled_from("kj"),
    st.sampled_from(["", "a", "b", "ab", "ba", "aab", UNKNOWN]),
    st.sampled_from(["", "a", "b"]),
)
def test_the_kv_models_keep_their_growth_promises(
    puts: list[tuple[str, str]],
    appends: list[tuple[str, str]],
    key: str,
    seen: Any,
    put: str,
) -> None:
    """From any state: appends lead only where `grows_into` allows, and `resets_to`
    allows every read that the state a put leaves allows."""
    for model in (kv(), kv_nopartition()):  # one string; one map of keys
        assert model.grows and model.grows_into and model.resets_to
        keys = model.footprint is not None  # the map: other keys too
        state = model.init()
        for k, v in puts:  # some state to start from
            state = model.step(state, ("put", k if keys else key, v), None)[1]
        start = state
        for k, piece in appends:
            op = ("append", k if keys else key, piece)
            assert model.grows(op, None)
            state = model.step(state, op, None)[1]
        get = ("get", key, None)
        if model.step(state, get, seen)[0]:  # legal after the appends: allowed from the start
            assert model.grows_into(start, get, seen)
        reset = ("put", key, put)
        assert not model.grows(reset, None)
        left = model.step(start, reset, None)[1]
        if model.grows_into(left, get, seen):
            assert model.grows_into(model.resets_to(reset, None), get, seen)
