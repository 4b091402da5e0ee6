"""P-compositionality inferred from the model's own step function.

Horn & Kroening's P-compositionality splits a history into sub-histories that
may be checked alone. A model's `partition` or `footprint` hint says where;
this module finds it when the model gives neither, from `init` and `step` only:

1. Probe. Replay the history in a few random orders (each operation at a
   random point of its interval, seeded, so every run is the same), keeping
   the steps the model accepts. If every state is a tuple, a map (a frozenset
   of key/value pairs) or a set (`components`), an operation's footprint is
   the components its steps changed, plus those whose value, changed alone,
   changes whether it is legal or what it writes (tried on a few probe states).
2. Split into the connected components of shared footprints and search each
   (the same scheduler as every partition).
3. Check the claim, and fall back to one search of the whole history when it
   fails:
   - every new state a sub-search reaches must differ from `init` only in its
     component's footprint (checked on all of them, during the search);
   - OK is proved: the sub-linearizations are merged in real-time order and
     the merged order is replayed on the model from `init` (a witness);
   - ILLEGAL rests on the split: before it is believed, `CHECK_PROBES` seeded
     probes combine a state a sub-search reached with the other components of
     another reached state, and check that each operation behaves there as it
     did. A probe that disagrees widens that operation's footprint and the
     check starts again (at most `ROUNDS` times).

For a black-box step function the ILLEGAL direction cannot be proved: an
operation could depend on another component only in states no probe built.
"""

from __future__ import annotations

import heapq
import math
import random
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field, replace
from typing import Any

from checkers.linearizable.components import ABSENT, StateShape, learn_shape
from checkers.linearizable.model import CheckResult, Model, Operation, PartitionInfo
from checkers.linearizable.models import split_by_footprint
from checkers.linearizable.search import Outcome, search_partitions

MIN_OPS = 64
"""Shorter histories are searched whole: the plain search is cheaper than inferring."""

SCHEDULES = 4
"""Random orders replayed to reach probe states."""

POOL_STATES = 512
"""Probe states kept (a seeded reservoir)."""

READ_PROBES = 3
"""Probe states each distinct operation is tried on to find what it reads."""

CHECK_PROBES = 20_000
"""Probes of the independence claim (model steps) before an ILLEGAL verdict is believed."""

VISITED_STATES = 1 << 16
"""States kept per component for those probes (the first ones reached)."""

FINISH_MIN_S = 1.0
PROBE_RESERVE_S = 0.5
"""After an ILLEGAL verdict, the components left unfinished run on for their states, for
as long as the search so far (at least `FINISH_MIN_S`), stopping `PROBE_RESERVE_S` before
the deadline: the probes then use the states they reached."""

ROUNDS = 4
"""Widenings tried before falling back to one search of the whole history."""

SEED = 0x5EED


Widen = dict[Any, set[Hashable]]
"""Footprints to widen: components to add, by operation input."""


@dataclass(slots=True)
class Learned:
    """What the probes found: the state shape, probe states, and footprints by input."""

    shape: StateShape
    pool: list[Any]
    fp: dict[Any, set[Hashable]]


class _Violation(Exception):
    """An operation touched components outside its inferred footprint."""

    def __init__(self, inp: Any, comps: set[Hashable]) -> None:
        super().__init__()
        self.inp, self.comps = inp, comps


def _agrees(model: Model, shape: StateShape, op: Operation, s: Any, s2: Any, fp: set[Any]) -> bool:
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


def _extra_reads(
    model: Model, shape: StateShape, op: Operation, s: Any, t: Any, fp: set[Any]
) -> set[Hashable]:
    """Components outside `fp` that `op` reads or writes, seen by moving `s` towards `t`."""
    ok, n = model.step(s, op.input, op.output)
    extra = shape.changed(s, n) - fp if ok else set()
    fp = fp | extra
    s2 = shape.overlay(t, s, fp)  # s on the footprint, t elsewhere
    if s2 is ABSENT or _agrees(model, shape, op, s, s2, fp):
        return extra
    for c in shape.changed(s, s2):  # which one? change them one at a time
        s3 = shape.overlay(s, t, {c})
        if s3 is ABSENT or not _agrees(model, shape, op, s, s3, fp | extra):
            extra.add(c)
    return extra or shape.changed(s, s2)


def learn(
    model: Model, history: list[Operation], rng: random.Random, deadline: float = math.inf
) -> Learned | None:
    """Probes the model on `history`; None if its states do not split, or time ran out."""
    step, init = model.step, model.init()
    steps: list[tuple[Any, Any, Any]] = []
    pool, seen = [init], {init}
    legal_at: dict[tuple[Any, Any], Any] = {}  # a state where each operation was legal
    for _ in range(SCHEDULES):
        if time.monotonic() > deadline:
            return None
        order = sorted(history, key=lambda op: rng.uniform(op.call, op.return_))
        state = init
        for op in order:
            ok, new = step(state, op.input, op.output)
            if ok:
                legal_at.setdefault((op.input, op.output), state)
                steps.append((op.input, state, new))
                state = new
                if new not in seen:
                    seen.add(new)
                    _reservoir(pool, new, len(seen), rng, POOL_STATES)
    shape = learn_shape(init, ((b, a) for _, b, a in steps))
    if shape is None:
        return None
    fp: dict[Any, set[Hashable]] = {op.input: set() for op in history}
    for inp, before, after in steps:
        fp[inp] |= shape.changed(before, after)
    learned = Learned(shape, pool, fp)
    distinct = {(op.input, op.output): op for op in history}
    for key, op in distinct.items():
        for k in range(READ_PROBES):
            s, t = legal_at.get(key) if k == 0 else None, rng.choice(pool)
            s = rng.choice(pool) if s is None else s
            fp[op.input] |= _extra_reads(model, shape, op, s, t, fp[op.input])
    return learned


def _reservoir(kept: list[Any], item: Any, count: int, rng: random.Random, cap: int) -> None:
    """Keeps a uniform sample of at most `cap` of the `count` items offered so far."""
    if len(kept) < cap:
        kept.append(item)
    else:
        k = rng.randrange(count)
        if k < cap:
            kept[k] = item


@dataclass
class _Watch:
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
                    raise _Violation(inp, outside)
                if len(seen) < cap:
                    seen.add(new)
                    states = visited[group[inp]]
                    if len(states) < VISITED_STATES:
                        states.append(new)
            return result

        self.step = step


def search_inferred(
    model: Model,
    partitions: list[list[Operation]],
    *,
    deadline: float,
    verbose: bool,
    max_cache_bytes: int,
) -> Outcome | None:
    """Searches `partitions` split by inferred footprints; None: search them as they are.

    Used only for one partition of at least `MIN_OPS` operations, a model
    with no footprint hint and Python equality. Its verdict is OK only with a
    witness replayed on the model, ILLEGAL only after `CHECK_PROBES` probes
    agree, and UNKNOWN when the budget (`deadline`, `max_cache_bytes`) ran out.
    """
    if model.footprint is not None or model.custom_equality or len(partitions) != 1:
        return None
    history = partitions[0]
    if len(history) < MIN_OPS:
        return None
    rng = random.Random(SEED)
    try:
        learned = learn(model, history, rng, deadline)
    except TypeError:  # unhashable inputs or states
        return None
    if learned is None:
        return None
    for _ in range(ROUNDS):
        widened = _try_split(model, history, learned, rng, deadline, verbose, max_cache_bytes)
        if isinstance(widened, Outcome) or widened is None:
            return widened
        for inp, comps in widened.items():
            learned.fp[inp] |= comps
    return None


def _try_split(
    model: Model,
    history: list[Operation],
    learned: Learned,
    rng: random.Random,
    deadline: float,
    verbose: bool,
    max_cache_bytes: int,
) -> Outcome | Widen | None:
    """One split and search: its Outcome, the footprints to widen, or None (give up)."""
    groups = split_by_footprint(history, lambda inp: learned.fp[inp])
    if len(groups) < 2:
        return None
    comps: dict[Any, frozenset[Hashable]] = {}
    group: dict[Any, int] = {}
    for g, ops in enumerate(groups):
        union = frozenset(c for op in ops for c in learned.fp[op.input])
        for op in ops:
            comps[op.input], group[op.input] = union, g
    watch = _Watch(model, learned.shape, comps, group, [[] for _ in groups])
    started = time.monotonic()
    left = deadline - started
    if left <= 0:
        return None
    try:
        out = search_partitions(
            replace(model, step=watch.step),
            groups,
            timeout_s=left if math.isfinite(left) else None,
            verbose=verbose,
            max_cache_bytes=max_cache_bytes,
        )
    except _Violation as v:
        return {v.inp: v.comps}
    if out.result is CheckResult.OK:
        return out if replays(model, merge_witness(groups, out.infos)) else None
    if out.result is CheckResult.ILLEGAL:
        spent = time.monotonic() - started
        until = min(deadline - PROBE_RESERVE_S, time.monotonic() + max(FINISH_MIN_S, spent))
        try:
            _finish_all(watch, groups, out.infos, until, max_cache_bytes)
        except _Violation as v:
            return {v.inp: v.comps}
        probe = Probe(learned, groups, comps, watch.visited, rng, deadline)
        widen = _cross_probe(model, probe, out.infos)
        if widen is None:  # the deadline came first: the verdict stands unchecked
            out.result, out.reason = CheckResult.UNKNOWN, "timeout"
            return out
        return widen or out
    return out


def _finish_all(
    watch: _Watch,
    groups: list[list[Operation]],
    infos: list[PartitionInfo],
    deadline: float,
    max_cache_bytes: int,
) -> None:
    """Runs the components the first search left unfinished, until `deadline`, for their states."""
    model = replace(watch.model, step=watch.step)
    for g, info in enumerate(infos):
        left = deadline - time.monotonic()
        if info.result is not CheckResult.UNKNOWN or left <= 0:
            continue
        one = search_partitions(
            model,
            [groups[g]],
            timeout_s=left if math.isfinite(left) else None,
            max_cache_bytes=max_cache_bytes,
        )
        infos[g] = one.infos[0]


def _values(shape: StateShape, states: list[Any]) -> dict[Hashable, dict[Any, Any]]:
    """Every value each component takes in `states`, each with a state that has it."""
    values: dict[Hashable, dict[Any, Any]] = {}
    for state in states:
        for c, x in shape.view(state).items():
            try:
                values.setdefault(c, {}).setdefault(x, state)
            except TypeError:  # an unhashable value: this state is no probe
                break
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


def _cross_probe(model: Model, probe: Probe, infos: list[PartitionInfo]) -> Widen | None:
    """Probes the split behind an ILLEGAL verdict: the footprints to widen ({} if none).

    Each operation of an illegal component, the blocking one first, is tried
    at states its component reached with one other component set to each value
    any component reached (`CHECK_PROBES` probes in all). None if the deadline
    passed first.
    """
    shape, rng = probe.learned.shape, probe.rng
    values = _values(shape, probe.learned.pool + [s for st in probe.visited for s in st])
    widen: Widen = {}
    budget = CHECK_PROBES
    for g, info in enumerate(infos):
        if info.result is not CheckResult.ILLEGAL:
            continue
        ops = list({(op.input, op.output): op for op in probe.groups[g]}.values())
        rng.shuffle(ops)
        if info.illegal is not None:
            ops.insert(0, probe.groups[g][info.illegal])
        bases = probe.visited[g] or [model.init()]
        for op in ops:
            if budget <= 0:
                return widen
            if time.monotonic() > probe.deadline:
                return None
            fp = set(probe.comps[op.input])
            for v in rng.sample(bases, min(len(bases), 4)):
                for c, xs in values.items():
                    if c in fp:
                        continue
                    for rep in xs.values():
                        if budget <= 0:
                            return widen
                        budget -= 1
                        s3 = shape.overlay(v, rep, {c})
                        if s3 is ABSENT or not _agrees(model, shape, op, v, s3, fp):
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


def replays(model: Model, order: list[Operation] | None) -> bool:
    """True if the model accepts `order`, step by step, from `init`."""
    if order is None:
        return False
    state = model.init()
    for op in order:
        ok, state = model.step(state, op.input, op.output)
        if not ok:
            return False
    return True
