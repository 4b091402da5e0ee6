"""Checking a split inferred from a model's step function (see `inferred`).

- `Watch`: the model's step, raising `Violation` when a new state differs from
  its parent outside the footprint of the component that reached it;
- `extra_reads` / `cross_probe`: the components an operation touches beyond
  its footprint, found by changing them in a state and stepping again;
- `merge_witness` / `refused_at`: per-component linearizations merged in
  real-time order and replayed on the model from `init`, the proof of OK.
"""

from __future__ import annotations

import heapq
import random
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

from checkers.linearizable.components import ABSENT, StateShape
from checkers.linearizable.model import CheckResult, Model, Operation, PartitionInfo

CHECK_PROBES = 20_000
"""Probes of the independence claim (model steps) before an ILLEGAL verdict is believed."""

VISITED_STATES = 1 << 16
"""States kept per component for those probes (the first ones reached)."""

Widen = dict[Any, set[Hashable]]
"""Footprints to widen: components to add, by operation input."""


@dataclass(slots=True)
class Learned:
    """What the probes found: the state shape, probe states, and footprints by input."""

    shape: StateShape
    pool: list[Any]
    fp: dict[Any, set[Hashable]]


class Violation(Exception):
    """An operation touched components outside its inferred footprint."""

    def __init__(self, inp: Any, comps: set[Hashable]) -> None:
        super().__init__()
        self.inp, self.comps = inp, comps


def agrees(model: Model, shape: StateShape, op: Operation, s: Any, s2: Any, fp: set[Any]) -> bool:
    """Does `op` behave at `s2` (= `s` on `fp`) as at `s`, touching nothing outside `fp`?"""
    assert model.step is not None
    ok1, n1 = model.step(s, op.input, op.output)
    ok2, n2 = model.step(s2, op.input, op.output)
    if ok1 != ok2:
        return False
    if not ok1:
        return True
    v1, v2, w2 = shape.view(n1), shape.view(n2), shape.view(s2)
    if any(shape.get(v1, c) != shape.get(v2, c) for c in fp):
        return False
    return all(shape.get(v2, c) == shape.get(w2, c) for c in (v2.keys() | w2.keys()) - fp)


def extra_reads(
    model: Model, shape: StateShape, op: Operation, s: Any, t: Any, fp: set[Any]
) -> set[Hashable]:
    """Components outside `fp` that `op` reads or writes, seen by moving `s` towards `t`."""
    ok, n = model.step(s, op.input, op.output)
    extra = shape.changed(s, n) - fp if ok else set()
    fp = fp | extra
    s2 = shape.overlay(t, s, fp)  # s on the footprint, t elsewhere
    if s2 is ABSENT or agrees(model, shape, op, s, s2, fp):
        return extra
    for c in shape.changed(s, s2):  # which one? change them one at a time
        s3 = shape.overlay(s, t, {c})
        if s3 is ABSENT or not agrees(model, shape, op, s, s3, fp | extra):
            extra.add(c)
    return extra or shape.changed(s, s2)


@dataclass
class Watch:
    """The model's step, watched: new states stay inside their component's footprint.

    `step` is a closure over locals: it runs on every step of the search.
    """

    model: Model
    shape: StateShape
    comps: dict[Any, frozenset[Hashable]]
    group: dict[Any, int]
    visited: list[list[Any]]
    step: Callable[[Any, Any, Any], tuple[bool, Any]] = field(init=False)

    def __post_init__(self) -> None:
        base, changed, comps, group, visited = (
            self.model.step,
            self.shape.changed,
            self.comps,
            self.group,
            self.visited,
        )
        seen = {self.model.init()}
        cap = VISITED_STATES * len(visited)

        def step(state: Any, inp: Any, out: Any) -> tuple[bool, Any]:
            result = base(state, inp, out)
            new = result[1]
            if result[0] and new is not state and new not in seen:
                # the parent was checked (or is init): only this step's changes can stray
                outside = changed(state, new) - comps[inp]
                if outside:
                    raise Violation(inp, outside)
                if len(seen) < cap:
                    seen.add(new)
                    states = visited[group[inp]]
                    if len(states) < VISITED_STATES:
                        states.append(new)
            return result

        self.step = step


def reads_alone(
    model: Model,
    shape: StateShape,
    op: Operation,
    s: Any,
    values: dict[Hashable, dict[Any, Any]],
    fp: set[Hashable],
) -> set[Hashable]:
    """Components outside `fp` whose value, changed alone in `s`, changes what `op` does."""
    extra: set[Hashable] = set()
    here = shape.view(s)
    for c, xs in values.items():
        if c in fp:
            continue
        for x, rep in xs.items():
            if x == shape.get(here, c):
                continue
            s3 = shape.overlay(s, rep, {c})
            if s3 is ABSENT or not agrees(model, shape, op, s, s3, fp):
                extra.add(c)
            break  # one other value per component
    return extra


def component_values(shape: StateShape, states: list[Any]) -> dict[Hashable, dict[Any, Any]]:
    """Every value each component takes in `states`, each with a state that has it.

    A component the first state (the initial one) lacks, past a tuple's end
    or a key not in a map, also takes the value it has there (the pad, ABSENT).
    """
    values: dict[Hashable, dict[Any, Any]] = {}
    for state in states:
        for c, x in shape.view(state).items():
            try:
                values.setdefault(c, {}).setdefault(x, state)
            except TypeError:  # an unhashable value: this state is no probe
                break
    for state in states[:1]:
        view = shape.view(state)
        for c, xs in values.items():
            if c not in view:
                xs.setdefault(shape.get(view, c), state)
    return values


@dataclass(slots=True)
class Probe:
    """What probing a split needs: the states each component reached, and its footprint."""

    learned: Learned
    groups: list[list[Operation]]
    comps: dict[Any, frozenset[Hashable]]
    visited: list[list[Any]]
    rng: random.Random
    deadline: float


def cross_probe(model: Model, probe: Probe, infos: list[PartitionInfo]) -> Widen | None:
    """Probes the split behind an ILLEGAL verdict: the footprints to widen ({} if none).

    Each operation of an illegal component, the blocking one first, is tried
    at states its component reached with one other component set to each value
    any component reached (`CHECK_PROBES` probes in all). A blocking operation
    with an empty footprint (no probe saw it read or write) is joined to every
    component. None if the deadline passed first.
    """
    shape, rng = probe.learned.shape, probe.rng
    values = component_values(shape, probe.learned.pool + [s for st in probe.visited for s in st])
    widen: Widen = {}
    budget = CHECK_PROBES
    for g, info in enumerate(infos):
        if info.result is not CheckResult.ILLEGAL:
            continue
        ops = list({(op.input, op.output): op for op in probe.groups[g]}.values())
        rng.shuffle(ops)
        blocker = None if info.illegal is None else probe.groups[g][info.illegal]
        if blocker is not None:
            ops.insert(0, blocker)
        bases = probe.visited[g] or [model.init()]
        for op in ops:
            if budget <= 0:
                return widen
            if time.monotonic() > probe.deadline:
                return None
            fp = set(probe.comps[op.input])
            if not fp and op is blocker:  # it never read or wrote anything seen: unknown reads
                return {op.input: set(values)}
            for v in rng.sample(bases, min(len(bases), 4)):
                for c, xs in values.items():
                    if c in fp:
                        continue
                    for rep in xs.values():
                        if budget <= 0:
                            return widen
                        budget -= 1
                        s3 = shape.overlay(v, rep, {c})
                        if s3 is ABSENT or not agrees(model, shape, op, v, s3, fp):
                            widen.setdefault(op.input, set()).add(c)
                            break
    return widen


def merge_witness(
    groups: list[list[Operation]], infos: list[PartitionInfo]
) -> list[Operation] | None:
    """Merges per-group linearizations into one order that respects real time, or None.

    Takes the head with the earliest call each time; it may go next unless an
    operation not yet placed returned before that call, which no later choice
    can fix (Herlihy & Wing's locality proof: the orders then form a cycle).
    """
    seqs = [[ops[i] for i in info.longest] for ops, info in zip(groups, infos)]
    if any(len(seq) != len(ops) for seq, ops in zip(seqs, groups)):
        return None
    returns = [(op.return_, g, k) for g, seq in enumerate(seqs) for k, op in enumerate(seq)]
    heapq.heapify(returns)
    heads = [(seq[0].call, g, 0) for g, seq in enumerate(seqs) if seq]
    heapq.heapify(heads)
    placed: set[tuple[int, int]] = set()
    merged: list[Operation] = []
    while heads:
        call, g, k = heapq.heappop(heads)
        while returns and (returns[0][1], returns[0][2]) in placed:
            heapq.heappop(returns)
        if returns[0][0] < call and (returns[0][1], returns[0][2]) != (g, k):
            return None
        placed.add((g, k))
        merged.append(seqs[g][k])
        if k + 1 < len(seqs[g]):
            heapq.heappush(heads, (seqs[g][k + 1].call, g, k + 1))
    return merged


def refused_at(model: Model, order: list[Operation]) -> int | None:
    """Where the model first refuses `order`, stepped from `init`; None if it accepts it all."""
    state = model.init()
    for k, op in enumerate(order):
        ok, state = model.step(state, op.input, op.output)
        if not ok:
            return k
    return None
