"""The slowest honest linearizability check: every order of every partition.

For tiny histories only (n! orders). An order is allowed when it respects real
time (a before b whenever a returned before b was called; intervals are
closed), and it explains the history when the model accepts it from `init`.
"""

from __future__ import annotations

import itertools
from typing import Any

from hypothesis import strategies as st

from checkers.linearizable import UNKNOWN, Model, Operation


def brute_force(model: Model, ops: list[Operation]) -> bool:
    """True if every partition of `ops` has some order that respects real time and replays."""
    assert model.partition is not None
    for part in model.partition(ops):
        if not any(replays(model, order) for order in itertools.permutations(part)):
            return False
    return True


def replays(model: Model, order: tuple[Operation, ...]) -> bool:
    """True if `order` respects real time and the model accepts it, step by step."""
    for i, a in enumerate(order):
        if any(b.return_ < a.call for b in order[i + 1 :]):
            return False
    state = model.init()
    for op in order:
        ok, state = model.step(state, op.input, op.output)
        if not ok:
            return False
    return True


def kv_op(
    kind: str, key: str, arg: str, out: Any, call: int, length: int, crashed: bool
) -> Operation:
    """A kv operation (`(f, key, arg)`); a crashed one never returns (output UNKNOWN)."""
    inp = (kind, key, None if kind == "get" else arg)
    if crashed:  # never returned: may or may not have happened
        return Operation(0, inp, call, UNKNOWN, 100)
    return Operation(0, inp, call, out if kind == "get" else None, call + length)


def random_kv_ops(keys: list[str]) -> st.SearchStrategy[Operation]:
    """Small kv operations over `keys`, values from "a" and "b", some crashed."""
    return st.builds(
        kv_op,
        st.sampled_from(["get", "put", "append"]),
        st.sampled_from(keys),
        st.sampled_from(["a", "b", ""]),
        st.sampled_from(["", "a", "b", "ab", "ba", "aa", UNKNOWN]),
        st.integers(0, 12),
        st.integers(0, 8),
        st.booleans(),
    )
