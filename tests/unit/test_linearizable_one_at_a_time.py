"""Partitions searched one at a time when, interleaved, their caches outgrow the cap."""

from __future__ import annotations

import dataclasses
import math
import time

from hypothesis import given, settings
from hypothesis import strategies as st

from checkers.linearizable import CheckResult, Operation, check_operations_info
from checkers.linearizable.model import Model
from checkers.linearizable.models import kv, kv_nopartition
from checkers.linearizable.one_at_a_time import retry_one_at_a_time, seconds_left
from checkers.linearizable.scheduler import Outcome, search_partitions
from tests.support.brute_force import brute_force


def reversed_appends(key: str, n: int, client0: int = 0) -> list[Operation]:
    """`n` concurrent appends, then a get that saw them in reverse call order.

    Linearizable, but the search tries call order first, so it caches
    thousands of configurations before it finds the order the get saw (a
    concurrent put of "" keeps the kv model's `grows` hint from pruning it).
    """
    ops = [Operation(client0 + i, ("append", key, f"<{i}>"), 0, None, 100) for i in range(n)]
    ops.append(Operation(client0 + n + 1, ("put", key, ""), 0, None, 100))
    seen = "".join(f"<{i}>" for i in reversed(range(n)))
    ops.append(Operation(client0 + n, ("get", key, None), 200, seen, 201))
    return ops


def search_within_cap(
    model: Model,
    parts: list[list[Operation]],
    *,
    deadline: float,
    verbose: bool,
    max_cache_bytes: int,
) -> Outcome:
    """What the checker does: search the partitions together, then one at a time on "memory"."""
    first = search_partitions(
        model,
        parts,
        timeout_s=seconds_left(deadline),
        verbose=verbose,
        max_cache_bytes=max_cache_bytes,
    )
    return retry_one_at_a_time(model, parts, first, deadline, verbose, max_cache_bytes)


def alone_bytes(model: Model, partitions: list[list[Operation]]) -> list[int]:
    """Each partition's cache estimate when it is searched by itself to the end."""
    return [search_partitions(model, [p], timeout_s=None).cache_bytes for p in partitions]


def test_partitions_that_fit_the_cap_alone_but_not_together_are_decided() -> None:
    parts = [reversed_appends("a", 6), reversed_appends("b", 6, 10)]
    plain = dataclasses.replace(kv(), grows=None, grows_into=None)  # caches as kv_nopartition's
    sizes = alone_bytes(plain, parts)
    cap = max(sizes) * 3 // 2  # one cache fits, both at once do not
    assert min(sizes) > 0 and cap < sum(sizes)
    first = search_partitions(plain, parts, timeout_s=None, max_cache_bytes=cap)
    assert first.result is CheckResult.UNKNOWN and first.reason == "memory"
    out = search_within_cap(plain, parts, deadline=math.inf, verbose=False, max_cache_bytes=cap)
    assert out.result is CheckResult.OK and out.reason == ""
    assert out.cache_entries > first.cache_entries  # the retries' configurations count too
    result, info = check_operations_info(kv(), parts[0] + parts[1], max_cache_bytes=cap)
    assert result is CheckResult.OK and len(info.partitions) == 2
    # the same through the footprint split of the unpartitioned model
    result, _ = check_operations_info(kv_nopartition(), parts[0] + parts[1], max_cache_bytes=cap)
    assert result is CheckResult.OK


def test_an_illegal_partition_is_found_by_the_retry() -> None:
    bad = reversed_appends("c", 6, 20)
    bad[-1] = Operation(30, ("get", "c", None), 200, "<0><0>", 201)  # no order gives it
    parts = [reversed_appends("a", 6), bad]
    cap = max(alone_bytes(kv(), parts)) * 3 // 2
    out = search_within_cap(kv(), parts, deadline=math.inf, verbose=False, max_cache_bytes=cap)
    assert out.result is CheckResult.ILLEGAL
    assert out.infos[1].result is CheckResult.ILLEGAL and out.infos[1].illegal == len(bad) - 1


def test_a_partition_too_big_alone_stays_unknown_for_memory() -> None:
    parts = [reversed_appends("a", 6), reversed_appends("b", 7, 10)]
    sizes = alone_bytes(kv(), parts)
    cap = sizes[0] * 3 // 2
    assert cap < sizes[1]  # "b" alone outgrows it
    out = search_within_cap(kv(), parts, deadline=math.inf, verbose=True, max_cache_bytes=cap)
    assert out.result is CheckResult.UNKNOWN and out.reason == "memory"
    assert out.infos[0].result is CheckResult.OK  # decided alone, and kept
    assert out.infos[1].result is CheckResult.UNKNOWN


def test_a_passed_deadline_is_a_timeout() -> None:
    parts = [reversed_appends("a", 6), reversed_appends("b", 6, 10)]
    cap = max(alone_bytes(kv(), parts)) * 3 // 2
    out = search_within_cap(kv(), parts, deadline=0.0, verbose=False, max_cache_bytes=cap)
    assert out.result is CheckResult.UNKNOWN and out.reason == "timeout"


@st.composite
def tangled_key(draw: st.DrawFn, key: str) -> list[Operation]:
    """Concurrent appends to `key` and gets of a random order of some of them.

    The call-order replay rarely explains the gets, so the search runs and caches.
    """
    n = draw(st.integers(2, 5))
    ops = [
        Operation(i, ("append", key, f"<{i}>"), draw(st.integers(0, 5)), None, 50) for i in range(n)
    ]
    for g in range(draw(st.integers(1, 2))):
        seen = draw(st.permutations(range(n)))[: draw(st.integers(0, n))]
        call = draw(st.integers(10, 70))
        value = "".join(f"<{i}>" for i in seen)
        ops.append(Operation(n + g, ("get", key, None), call, value, call + 5))
    return ops


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.sampled_from("abc"), min_size=2, max_size=3, unique=True).flatmap(
        lambda keys: st.tuples(*(tangled_key(k) for k in keys))
    )
)
def test_one_at_a_time_agrees_with_brute_force(parts: tuple[list[Operation], ...]) -> None:
    """With the cap at the largest partition's own cache, every history is decided."""
    model = kv()
    ops = [op for p in parts for op in p]
    expected = CheckResult.OK if brute_force(model, ops) else CheckResult.ILLEGAL
    cap = max(alone_bytes(model, list(parts)))
    for verbose in (False, True):
        out = search_within_cap(
            model, list(parts), deadline=math.inf, verbose=verbose, max_cache_bytes=cap
        )
        assert out.result is expected
        if expected is CheckResult.OK:
            assert all(i.result is CheckResult.OK for i in out.infos)


def test_the_retries_keep_the_deadline() -> None:
    """Ten keys that never finish: the first try runs out of memory, the retries out of time.

    The bound is loose on purpose (the machine may be busy).
    """
    ops: list[Operation] = []
    for k in range(10):
        key = f"k{k}"
        ops += [Operation(i, ("append", key, f"<{i}>"), 0, None, 100) for i in range(16)]
        ops.append(Operation(16, ("put", key, ""), 0, None, 100))  # no `grows` pruning
        ops.append(Operation(17, ("get", key, None), 200, "impossible", 201))
    budget = 2.0
    start = time.monotonic()
    result, info = check_operations_info(kv(), ops, timeout=budget, max_cache_bytes=20 << 20)
    wall = time.monotonic() - start
    assert result is CheckResult.UNKNOWN and info.unknown_reason in ("timeout", "memory")
    assert wall - budget < 1.5


def test_an_inferred_split_is_retried_one_at_a_time_too() -> None:
    """kv-nopartition as given (no hints): the split by key is inferred, then retried."""
    model = kv_nopartition(footprint=False)
    parts = [reversed_appends("a", 6), reversed_appends("b", 6, 10)]
    for part, key in zip(parts, "ab"):  # a get the probes see legal: its key is its footprint
        part.insert(0, Operation(30, ("get", key, None), -2, "", -1))
    easy = []  # enough operations for the inference to run (`inferred.MIN_OPS`)
    for i in range(30):  # a put, then a get that reads it
        easy.append(Operation(20, ("put", "c", str(i)), 300 + 4 * i, None, 301 + 4 * i))
        easy.append(Operation(21, ("get", "c", None), 302 + 4 * i, str(i), 303 + 4 * i))
    cap = max(alone_bytes(model, parts)) * 3 // 2
    assert cap < sum(alone_bytes(model, parts))
    result, info = check_operations_info(model, parts[0] + parts[1] + easy, max_cache_bytes=cap)
    assert result is CheckResult.OK and len(info.partitions) == 3
