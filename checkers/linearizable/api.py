"""Checking a history against a model: Porcupine's entry points, and Sibyl's checker.

`check_operations(model, history, timeout=...)` and `check_events(...)` answer
`CheckResult.OK`, `ILLEGAL` or `UNKNOWN` (the timeout passed first). The
`_verbose` variants also return a `LinearizationInfo` holding, for every
partition, the longest linearizable prefix found, the operation that could not
follow it, and partial linearizations; they cannot stop at the first illegal
partition, so they take longer, within the same budget.

`check(history, model=..., timeout_s=...)` is the Sibyl checker shape: Sibyl
`Op`s in, a `Result` out; it never raises.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

from checkers.history import Op
from checkers.linearizable.files import sibyl_operations
from checkers.linearizable.inferred import search_inferred
from checkers.linearizable.model import (
    CheckResult,
    Event,
    EventKind,
    LinearizationInfo,
    Model,
    Operation,
)
from checkers.linearizable.models import check_vocabulary, make_model, split_by_footprint
from checkers.linearizable.one_at_a_time import retry_one_at_a_time
from checkers.linearizable.scheduler import DEFAULT_MAX_CACHE_BYTES, Outcome, search_partitions
from checkers.result import UNKNOWN, Result, Validity


def events_to_operations(events: Sequence[Event]) -> list[Operation]:
    """Turns matched call/return events into operations timed by position.

    Raises ValueError for a return with no earlier call of the same id, a
    repeated call id, or a call that never returns.
    """
    calls: dict[int, tuple[int, Any, int]] = {}
    ops: list[Operation] = []
    for pos, ev in enumerate(events):
        if ev.kind is EventKind.CALL:
            if ev.id in calls:
                raise ValueError(f"event {pos}: call id {ev.id} is used twice")
            calls[ev.id] = (ev.client_id, ev.value, pos)
        else:
            if ev.id not in calls:
                raise ValueError(f"event {pos}: return id {ev.id} has no earlier call")
            client, inp, call = calls.pop(ev.id)
            ops.append(Operation(client, inp, call, ev.value, pos))
    if calls:
        ids = sorted(calls)[:5]
        raise ValueError(f"calls {ids} never return; close them with an unknown output")
    ops.sort(key=lambda op: op.call)
    return ops


def check_operations_verbose(
    model: Model,
    history: Sequence[Operation],
    timeout: float | None = None,
    *,
    max_cache_bytes: int = DEFAULT_MAX_CACHE_BYTES,
) -> tuple[CheckResult, LinearizationInfo]:
    """Checks `history`; returns the verdict and the evidence for every partition.

    `timeout` in seconds (None or 0: no limit). Runs every partition to the
    end, so it may answer UNKNOWN where `check_operations` finds ILLEGAL.
    """
    return _check(model, history, timeout, verbose=True, max_cache_bytes=max_cache_bytes)


def check_operations(
    model: Model,
    history: Sequence[Operation],
    timeout: float | None = None,
    *,
    max_cache_bytes: int = DEFAULT_MAX_CACHE_BYTES,
) -> CheckResult:
    """Checks `history` against `model`: OK, ILLEGAL, or UNKNOWN if `timeout` s passed first.

    Raises ValueError for an operation that returns before its call.
    """
    return _search(model, history, timeout, False, max_cache_bytes)[0].result


def check_operations_info(
    model: Model,
    history: Sequence[Operation],
    timeout: float | None = None,
    *,
    max_cache_bytes: int = DEFAULT_MAX_CACHE_BYTES,
) -> tuple[CheckResult, LinearizationInfo]:
    """Like `check_operations` (stops at the first illegal partition), with its evidence."""
    return _check(model, history, timeout, verbose=False, max_cache_bytes=max_cache_bytes)


def check_events(
    model: Model, history: Sequence[Event], timeout: float | None = None
) -> CheckResult:
    """Checks an event history (see `events_to_operations`) against `model`."""
    return check_operations(model, events_to_operations(history), timeout)


def check_events_verbose(
    model: Model, history: Sequence[Event], timeout: float | None = None
) -> tuple[CheckResult, LinearizationInfo]:
    """The verbose variant of `check_events`."""
    return check_operations_verbose(model, events_to_operations(history), timeout)


def _check(
    model: Model,
    history: Sequence[Operation],
    timeout: float | None,
    *,
    verbose: bool,
    max_cache_bytes: int,
) -> tuple[CheckResult, LinearizationInfo]:
    """Searches `history`; returns the verdict and the evidence with its costs."""
    out, start = _search(model, history, timeout, verbose, max_cache_bytes)
    end = time.monotonic()
    overrun = max(0.0, end - out.deadline) if out.reason == "timeout" else 0.0
    info = LinearizationInfo(
        out.result,
        out.infos,
        elapsed_s=end - start,
        unknown_reason=out.reason,
        cache_entries=out.cache_entries,
        cache_bytes=out.cache_bytes,
        overrun_s=overrun,
    )
    return out.result, info


def _search(
    model: Model,
    history: Sequence[Operation],
    timeout: float | None,
    verbose: bool,
    max_cache_bytes: int,
) -> tuple[Outcome, float]:
    """Partitions `history` and searches it; returns the outcome and the monotonic start."""
    start = time.monotonic()
    for k, op in enumerate(history):
        if op.return_ < op.call:
            raise ValueError(f"operation {k} returns ({op.return_}) before its call ({op.call})")
    assert model.partition is not None
    partitions = [p for p in model.partition(list(history)) if p]
    if model.footprint is not None:
        partitions = [c for p in partitions for c in split_by_footprint(p, model.footprint)]
    deadline = start + timeout if timeout else math.inf
    out = search_inferred(
        model, partitions, deadline=deadline, verbose=verbose, max_cache_bytes=max_cache_bytes
    )
    if out is None:  # no split inferred, or it failed its checks: search as given
        left = max(deadline - time.monotonic(), 1e-9) if timeout else None
        out = search_partitions(
            model, partitions, timeout_s=left, verbose=verbose, max_cache_bytes=max_cache_bytes
        )
        if out.reason == "memory":  # together the caches outgrew the cap: one at a time
            out = retry_one_at_a_time(model, partitions, out, deadline, verbose, max_cache_bytes)
    return out, start


_VALIDITY: dict[CheckResult, Validity] = {
    CheckResult.OK: True,
    CheckResult.ILLEGAL: False,
    CheckResult.UNKNOWN: UNKNOWN,
}


def result_from_info(model: Model, info: LinearizationInfo) -> Result:
    """A Sibyl `Result`: the verdict, the first illegal op as an anomaly, and stats."""
    anomalies: list[Any] = []
    found = info.first_illegal()
    if found is not None:
        part, op = found
        assert model.describe_operation is not None
        anomalies.append(
            {
                "type": "not-linearizable",
                "op": model.describe_operation(op.input, op.output),
                "client": op.client_id,
                "call": op.call,
                "return": op.return_,
                "longest_prefix": len(part.longest),
            }
        )
    stats: dict[str, Any] = {
        "partitions": len(info.partitions),
        "operations": sum(len(p.history) for p in info.partitions),
        "elapsed_s": round(info.elapsed_s, 6),
        "cache_entries": info.cache_entries,
    }
    if info.unknown_reason:
        stats["reason"] = info.unknown_reason
        stats["overrun_s"] = round(info.overrun_s, 3)
    return Result(_VALIDITY[info.result], anomalies, stats)


def state_after(model: Model, history: Sequence[Operation], prefix: Sequence[int]) -> Any:
    """Replays `prefix` (indices into `history`) from `model.init()`; returns the state."""
    state = model.init()
    for i in prefix:
        op = history[i]
        _, state = model.step(state, op.input, op.output)
    return state


def describe_illegal(model: Model, info: LinearizationInfo) -> str | None:
    """One line naming the first operation that cannot be linearized, or None."""
    found = info.first_illegal()
    if found is None:
        return None
    part, op = found
    assert model.describe_operation is not None and model.describe_state is not None
    state = model.describe_state(state_after(model, part.history, part.longest))
    return (
        f"first illegal operation: client {op.client_id}: "
        f"{model.describe_operation(op.input, op.output)} (call {op.call}, return {op.return_});"
        f" it cannot follow the longest linearizable prefix of {len(part.longest)} operations,"
        f" after which the state is {state}"
    )


def check(history: Sequence[Op], *, model: str = "cas-register", timeout_s: float = 60.0) -> Result:
    """Sibyl's checker: is a register history (Sibyl `Op`s) linearizable, per key?

    Never raises: malformed histories give an "unknown" Result with the error.
    """
    try:
        parsed = sibyl_operations((op, op.index) for op in history)
        m = make_model(model)
        check_vocabulary(model, parsed.operations)
        _, info = check_operations_info(m, parsed.operations, timeout_s)
    except ValueError as e:
        return Result(UNKNOWN, stats={"error": str(e)})
    return result_from_info(m, info)
