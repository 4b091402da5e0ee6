"""The slowest honest linearizability check: every order of every partition.

For tiny histories only (n! orders). An order is allowed when it respects real
time (a before b whenever a returned before b was called; intervals are
closed), and it explains the history when the model accepts it from `init`.
"""

from __future__ import annotations

import itertools

from checkers.linearizable import Model, Operation


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
