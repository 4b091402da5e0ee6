"""P-compositionality inferred from the model's own step function.

Horn & Kroening's P-compositionality splits a history into sub-histories that
may be checked alone. A model's `partition` or `footprint` hint says where;
this module finds it when the model gives neither, from `init` and `step` only:

1. Probe. Replay the history in a few random orders (each operation at a
   random point of its interval, seeded, so every run is the same), keeping
   the steps the model accepts. If every state is a tuple, a map (a frozenset
   of key/value pairs) or a set (`components`), an operation's footprint is
   the components its steps changed, plus those whose value, changed alone,
   changes whether it is legal or what it writes (tried at a state where it
   was legal, each other component set to another value, and at random pairs).
2. Split into the connected components of shared footprints and search each
   (the same scheduler as every partition).
3. Check the claim, and fall back to one search of the whole history when it
   fails:
   - OK is proved: the sub-linearizations are merged in real-time order and
     the merged order is replayed on the model from `init` (a witness);
   - ILLEGAL rests on the split. Before it is believed, the components are
     searched again with a watched step (the illegal ones first, for a bounded
     time): every new state must differ from its parent only in its
     component's footprint. Then each operation of an illegal component, the
     blocking one first, is stepped at states its component reached with one
     other component set to each value any component reached (up to
     `split_checks.CHECK_PROBES` steps). A state or probe that disagrees
     widens a footprint and the check starts again (at most `ROUNDS` times).

For a black-box step function the ILLEGAL direction cannot be proved: an
operation could depend on another component only in states no probe built.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Hashable
from dataclasses import replace
from typing import Any

from checkers.linearizable.components import kind_of, learn_shape
from checkers.linearizable.model import CheckResult, Model, Operation, PartitionInfo
from checkers.linearizable.models import split_by_footprint
from checkers.linearizable.one_at_a_time import retry_one_at_a_time
from checkers.linearizable.scheduler import Outcome, search_partitions
from checkers.linearizable.split_checks import (
    Learned,
    Probe,
    Violation,
    Watch,
    Widen,
    component_values,
    cross_probe,
    extra_reads,
    merge_witness,
    reads_alone,
    refused_at,
)

MIN_OPS = 64
"""Shorter histories are searched whole: the plain search is cheaper than inferring."""

SCHEDULES = 4
"""Random orders replayed to reach probe states."""

POOL_STATES = 512
"""Probe states kept (a seeded reservoir)."""

READ_PROBES = 2
"""Random probe states each distinct operation is also tried on to find what it reads."""

FINISH_MIN_S = 1.0
PROBE_RESERVE_S = 0.5
"""After an ILLEGAL verdict the components are searched again with the watched step, the
illegal ones first, for twice as long as the first search (at least `FINISH_MIN_S`),
stopping `PROBE_RESERVE_S` before the deadline: the probes then use the states reached."""

ROUNDS = 4
"""Widenings tried before falling back to one search of the whole history."""

SEED = 0x5EED


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
    values = component_values(shape, pool)
    for key, op in distinct.items():
        where = legal_at.get(key)
        if where is not None:  # where it is legal, change each other component alone
            fp[op.input] |= reads_alone(model, shape, op, where, values, fp[op.input])
        for _ in range(READ_PROBES):
            s, t = rng.choice(pool), rng.choice(pool)
            fp[op.input] |= extra_reads(model, shape, op, s, t, fp[op.input])
    return learned


def _reservoir(kept: list[Any], item: Any, count: int, rng: random.Random, cap: int) -> None:
    """Keeps a uniform sample of at most `cap` of the `count` items offered so far."""
    if len(kept) < cap:
        kept.append(item)
    else:
        k = rng.randrange(count)
        if k < cap:
            kept[k] = item


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
    if len(history) < MIN_OPS or kind_of(model.init()) is None:
        return None  # short, or a state with no parts (a number, a string): search it whole
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
    started = time.monotonic()
    left = deadline - started
    if left <= 0:
        return None
    out = search_partitions(  # the model's own step: OK needs no watching, it is replayed
        model,
        groups,
        timeout_s=left if math.isfinite(left) else None,
        verbose=verbose,
        max_cache_bytes=max_cache_bytes,
    )
    if out.reason == "memory":  # together the caches outgrew the cap: one at a time
        out = retry_one_at_a_time(model, groups, out, deadline, verbose, max_cache_bytes)
    if out.result is CheckResult.OK:
        witness = merge_witness(groups, out.infos)
        return out if witness is not None and refused_at(model, witness) is None else None
    if out.result is not CheckResult.ILLEGAL:
        return out
    watch = Watch(model, learned.shape, comps, group, [[] for _ in groups])
    spent = time.monotonic() - started
    until = min(deadline - PROBE_RESERVE_S, time.monotonic() + max(FINISH_MIN_S, 2 * spent))
    try:
        _rerun_watched(watch, groups, out.infos, until, max_cache_bytes)
    except Violation as v:
        return {v.inp: v.comps}
    probe = Probe(learned, groups, comps, watch.visited, rng, deadline)
    widen = cross_probe(model, probe, out.infos)
    if widen is None:  # the deadline came first: the verdict stands unchecked
        out.result, out.reason = CheckResult.UNKNOWN, "timeout"
        return out
    return widen or out


def _rerun_watched(
    watch: Watch,
    groups: list[list[Operation]],
    infos: list[PartitionInfo],
    deadline: float,
    max_cache_bytes: int,
) -> None:
    """Searches the components again with the watched step, until `deadline`.

    The illegal ones first (the verdict rests on them), then the others, whose
    states give the probes values of their components. A component the first
    search left unfinished takes its verdict and evidence from this run.
    """
    model = replace(watch.model, step=watch.step)
    first = [g for g, i in enumerate(infos) if i.result is CheckResult.ILLEGAL]
    for g in first + [g for g in range(len(groups)) if g not in set(first)]:
        left = deadline - time.monotonic()
        if left <= 0:
            return
        one = search_partitions(
            model,
            [groups[g]],
            timeout_s=left if math.isfinite(left) else None,
            max_cache_bytes=max_cache_bytes,
        )
        if infos[g].result is CheckResult.UNKNOWN:
            infos[g] = one.infos[0]
