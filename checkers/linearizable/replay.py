"""The call-order replay: a greedy linearization tried before the search.

Call order respects real time (an op that returned before another's call was
called first), so stepping a partition's ops in call order, when the model
accepts every step, gives a linearization. Real histories are often nearly in
call order: the replay tries an op the model refuses just before the op placed
last (when their intervals overlap), then holds it back until a later step
makes it legal. It never answers illegal: when it fails, the search decides.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any, Final

from checkers.linearizable.model import UNKNOWN, CheckResult, Model, Operation, PartitionInfo

_UNKNOWN: Final = UNKNOWN
"""`UNKNOWN` as a constant (the mypyc build reads an imported name from the module's dict
at every use)."""

REPLAY_CLOCK_EVERY_OPS: Final = 256
"""How often the call-order replay looks at the clock."""

REPLAY_MAX_DEFERRED: Final = 8
"""Ops the replay may hold back at once before it leaves the partition to the search."""


def replay_in_call_order(
    model: Model, history: list[Operation], deadline: float, verbose: bool = False
) -> PartitionInfo | None:
    """The partition's verdict if a greedy replay in call order is legal, else None.

    The replay steps the ops in call order, deferring one the model refuses
    until a later step makes it legal (at most `REPLAY_MAX_DEFERRED` at once).
    Each op goes after its call and before any op called after its return, so
    a replay that places every op is a linearization: many real histories are
    decided at about one model step per op, without the search's set-up. If it
    fails after an optional op (unknown output, open to the end) changed the
    state or was swapped or deferred, it is tried once more with the optional
    ops last and unstepped, as the search may leave them; when every optional op
    it placed left the state as it was (a read, a cas that did not apply), it
    would step through the same states again, so it is not. Returns None, for
    the search to decide, when it fails or when `deadline` (monotonic) passes.
    """
    n = len(history)
    calls = [0] * n
    order = list(range(n))
    ordered = True  # histories usually come in call order: then no sort (nor key calls)
    for i in range(n):
        c = calls[i] = history[i].call
        if i and c < calls[i - 1]:
            ordered = False
    if not ordered:
        order.sort(key=calls.__getitem__)
    last_call = calls[order[-1]] if n else 0
    optional = [op.output is _UNKNOWN and op.return_ >= last_call for op in history]
    placed = _replay(model, history, order, deadline, optional)
    if placed is True:  # failed after an optional op moved the state: once more without them
        skip = [i for i in order if optional[i]]
        placed = _replay(model, history, [i for i in order if not optional[i]], deadline, None)
        if isinstance(placed, list):
            placed += skip
    if not isinstance(placed, list):
        return None
    partials = [placed] if verbose else []
    return PartitionInfo(history, CheckResult.OK, placed, None, partials)


def _replay(
    model: Model,
    history: list[Operation],
    order: list[int],
    deadline: float,
    optional: list[bool] | None,
) -> list[int] | bool:
    """The ops of `order` in a legal order the greedy replay found.

    On failure, whether a replay without the ops `optional` flags may do better:
    True if one of them changed the state or was swapped or deferred before it
    failed; False if none did (or `optional` is None), or if the deadline passed.

    An op the model refuses is first tried just before the op placed last
    (swapping two ops that overlap, if real time allows: the op placed last
    had not returned when this one was called), then deferred.
    """
    step, state = model.step, model.init()
    before_last: Any = None  # the state before the op placed last
    moved = False  # an optional op changed the state, or was swapped or deferred
    k = 0  # the ops of order[:k] are placed, in order: the common case, in a tight loop
    for start in range(0, len(order), REPLAY_CLOCK_EVERY_OPS):
        if time.monotonic() > deadline:
            return False
        for i in order[start : start + REPLAY_CLOCK_EVERY_OPS]:
            op = history[i]
            ok, new_state = step(state, op.input, op.output)
            if not ok:
                break
            if optional is not None and optional[i] and not moved and new_state != state:
                moved = True
            before_last, state = state, new_state
            k += 1
        else:
            continue
        break
    if k == len(order):
        return list(order)
    placed: list[int] = order[:k]
    pending: list[int] = []  # deferred: refused when their turn came
    due = math.inf  # the earliest return among the deferred ops
    for n, i in enumerate(order[k:], k):
        if not n % REPLAY_CLOCK_EVERY_OPS and time.monotonic() > deadline:
            return False
        op = history[i]
        if op.call > due:  # a deferred op would follow an op called after it returned
            return moved
        ok, new_state = step(state, op.input, op.output)
        if ok:
            if optional is not None and optional[i] and new_state != state:
                moved = True
            before_last, state = state, new_state
            placed.append(i)
        elif placed and history[placed[-1]].return_ >= op.call:
            last = history[placed[-1]]
            ok, mid = step(before_last, op.input, op.output)
            if ok:
                ok, new_state = step(mid, last.input, last.output)
            if ok:
                moved = moved or optional is not None and (optional[i] or optional[placed[-1]])
                before_last, state = mid, new_state
                placed.insert(len(placed) - 1, i)
        if not ok:
            if len(pending) == REPLAY_MAX_DEFERRED:
                return moved
            pending.append(i)
            moved = moved or optional is not None and optional[i]
            due = min(due, op.return_)
        elif pending:
            before_last, state = _place_deferred(step, state, before_last, history, pending, placed)
            due = min([history[j].return_ for j in pending], default=math.inf)
    if pending:
        return moved
    return placed


def _place_deferred(
    step: Callable[..., tuple[bool, Any]],
    state: Any,
    before_last: Any,
    history: list[Operation],
    pending: list[int],
    placed: list[int],
) -> tuple[Any, Any]:
    """Places every deferred op the model now accepts, repeatedly.

    Returns the state before the op placed last, and the state.
    """
    progress = True
    while progress and pending:
        progress = False
        for j in list(pending):
            op = history[j]
            ok, new_state = step(state, op.input, op.output)
            if ok:
                before_last, state, progress = state, new_state, True
                pending.remove(j)
                placed.append(j)
    return before_last, state
