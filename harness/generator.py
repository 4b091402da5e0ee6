"""Seeded schedules: which faults happen when. Pure functions; the nemesis does the effects.

A schedule is a list of `Fault` records, one after another with gaps between
them, over the chaos phase. Everything derives from the `random.Random` passed
in (seeded from the run's seed), so the same seed gives the same schedule;
`sibyl replay` reuses the realised schedule stored with a run instead.
Client ops are drawn per process from the seed (`workloads.streams`).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from harness.faults import Fault, FaultKind
from harness.partitions import shapes_for
from workloads import streams

DEFAULT_NEMESES = ("partition", "kill", "pause", "clock")
FAULT_RNG = "Random(f'{Random(f\"{seed}/nemesis\").getrandbits(64)}/{fault.id}')"
"""How a fault's own rng (its partition cut, a target left open) derives from the run's
seed in the nemesis (harness/nemesis.py `fault_rng`)."""


class ScheduleError(ValueError):
    """A nemesis name or option that cannot be scheduled; the message lists the valid ones."""


@dataclass(frozen=True)
class ScheduleOptions:
    """Timing of the faults, in seconds of the chaos phase."""

    first_at_s: float = 1.0
    duration_s: tuple[float, float] = (2.0, 5.0)
    gap_s: tuple[float, float] = (1.0, 3.0)
    skew_s: tuple[int, int] = (5, 30)
    #: Clock operations to draw from (repeats weigh them).
    clock_ops: tuple[str, ...] = ("bump", "bump", "strobe", "freeze", "rate")
    #: Partition modes to draw from (harness.partitions.PartitionMode values).
    partition_modes: tuple[str, ...] = ("hold",)
    #: Chance that a fault starts while the previous one is still in force (composed
    #: faults, Jepsen's combined packages); overlapping faults are of different kinds.
    overlap: float = 0.0
    #: When set, the last partition lasts until the end of the chaos phase.
    partition_until_end: bool = False
    #: Seed nodes (never asked to leave) and spare nodes (join and replace bring them in).
    seeds: tuple[str, ...] = ()
    spares: tuple[str, ...] = ()
    #: Workload keys: kill, pause and crash faults are sometimes aimed at a key's
    #: primaries (all of them, or a majority) instead of at random nodes.
    keys: tuple[str, ...] = ()
    aim_ratio: float = 1 / 3


MEMBERSHIP = {FaultKind.JOIN.value, FaultKind.LEAVE.value, FaultKind.REPLACE.value}


def parse_nemeses(text: str) -> tuple[str, ...]:
    """`--nemesis` text: a comma list of kinds, or `none`; raises ScheduleError naming bad ones."""
    if text.strip() in ("", "none"):
        return ()
    kinds = tuple(k.strip() for k in text.split(",") if k.strip())
    valid = {k.value for k in FaultKind}
    bad = [k for k in kinds if k not in valid]
    if bad:
        raise ScheduleError(f"unknown nemesis {bad[0]!r}; choose from {sorted(valid)} or 'none'")
    return kinds


def check_cluster_size(kinds: Sequence[str], count: int) -> None:
    """Raises ScheduleError when a cluster of `count` nodes cannot have a fault of `kinds`."""
    if "partition" in kinds and not shapes_for(count):
        raise ScheduleError(f"a partition needs at least 2 nodes, the cluster has {count}")


def fault_schedule(
    kinds: Sequence[str],
    nodes: Sequence[str],
    time_limit_s: float,
    rng: random.Random,
    opts: ScheduleOptions = ScheduleOptions(),
) -> list[Fault]:
    """Faults drawn from `kinds` until the chaos phase ends: one after another with
    gaps, or, with `opts.overlap`, sometimes starting inside the previous fault
    (then of another kind where there is one). With `partition_until_end`, the
    last partition scheduled is stretched to the end of the chaos phase."""
    out: list[Fault] = []
    t = opts.first_at_s
    previous: Fault | None = None
    while kinds and t < time_limit_s - 0.5:
        choices = list(kinds)
        if previous is not None and t < previous.end_s:
            banned = MEMBERSHIP if previous.kind.value in MEMBERSHIP else {previous.kind.value}
            choices = [k for k in choices if k not in banned] or choices  # overlaps differ
            if previous.kind.value in MEMBERSHIP and set(choices) <= MEMBERSHIP:
                t = previous.end_s + rng.uniform(*opts.gap_s)  # membership faults never overlap
                continue
        kind = FaultKind(rng.choice(choices))
        end = min(t + rng.uniform(*opts.duration_s), time_limit_s)
        targets, params = _choose(kind, nodes, rng, opts)
        previous = Fault(len(out) + 1, kind, round(t, 3), round(end, 3), targets, params)
        out.append(previous)
        if opts.overlap and rng.random() < opts.overlap:
            t = t + rng.uniform(0.2, 0.8) * (end - t)
        else:
            t = end + rng.uniform(*opts.gap_s)
    return _stretch_last_partition(out, time_limit_s) if opts.partition_until_end else out


def _stretch_last_partition(faults: list[Fault], time_limit_s: float) -> list[Fault]:
    parts = [f for f in faults if f.kind is FaultKind.PARTITION]
    if not parts:
        return faults
    last = parts[-1]
    return [replace(f, end_s=round(time_limit_s, 3)) if f is last else f for f in faults]


def _choose(
    kind: FaultKind, nodes: Sequence[str], rng: random.Random, opts: ScheduleOptions
) -> tuple[tuple[str, ...], dict[str, Any]]:
    if kind is FaultKind.PARTITION:
        params: dict[str, Any] = {"shape": rng.choice(shapes_for(len(set(nodes)))).value}
        if len(opts.partition_modes) > 1 or opts.partition_modes != ("hold",):
            params["mode"] = rng.choice(opts.partition_modes)
        return (), params
    aimable = (FaultKind.KILL, FaultKind.PAUSE, FaultKind.CRASH)
    if kind in aimable and opts.keys and rng.random() < opts.aim_ratio:
        return (), {"key": rng.choice(opts.keys), "scope": rng.choice(("majority", "all"))}
    if kind is FaultKind.CRASH:
        return _some(nodes, rng), {}
    if kind in (FaultKind.JOIN, FaultKind.LEAVE, FaultKind.REPLACE):
        return _membership(kind, nodes, rng, opts), {}
    node = rng.choice(list(nodes))
    if kind is FaultKind.CLOCK:
        return (node,), _clock(rng, opts)
    if kind is FaultKind.LATENCY:
        return (node,), {"latency_ms": rng.choice((50, 100, 200)), "jitter_ms": 10}
    if kind is FaultKind.BANDWIDTH:
        return (node,), {"rate_kbps": rng.choice((64, 256))}
    if kind is FaultKind.RESET_PEER:
        return (node,), {"timeout_ms": rng.choice((0, 100))}
    if kind is FaultKind.LIMIT_DATA:
        return (node,), {"bytes": rng.choice((256, 4096, 65536))}
    return (node,), {}


def _membership(
    kind: FaultKind, nodes: Sequence[str], rng: random.Random, opts: ScheduleOptions
) -> tuple[str, ...]:
    """join: every spare at once; leave: a member that is not a seed; replace: a
    member and a spare."""
    if kind is not FaultKind.LEAVE and not opts.spares:
        raise ScheduleError(f"a {kind} fault needs a spare node")
    leavers = [n for n in nodes if n not in opts.seeds] or list(nodes)
    spare = (rng.choice(list(opts.spares)),) if opts.spares else ()
    if kind is FaultKind.JOIN:
        return tuple(opts.spares)
    old = (rng.choice(leavers),)
    return old if kind is FaultKind.LEAVE else old + spare


def _some(nodes: Sequence[str], rng: random.Random) -> tuple[str, ...]:
    """One node, a majority, or every node (a power cut of the whole rack)."""
    count = rng.choice((1, len(nodes) // 2 + 1, len(nodes), len(nodes)))
    return tuple(sorted(rng.sample(list(nodes), count)))


def _clock(rng: random.Random, opts: ScheduleOptions) -> dict[str, Any]:
    op = rng.choice(opts.clock_ops)
    if op == "freeze":
        return {"op": op}
    if op == "rate":
        return {"op": op, "rate": rng.choice((0.5, 2.0))}
    skew = rng.randint(*opts.skew_s) * rng.choice((-1, 1))
    return {"op": op, "delta_s": skew}


def schedule_doc(
    seed: int | None,
    concurrency: int,
    faults: Sequence[Fault],
    realised: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """schedule.json: the planned faults, the realised ones (targets and links as applied),
    and how everything else random in the run derives from the seed (op streams, process
    ids, pauses, routing, each fault's own rng), so a replay differs only in timing."""
    doc: dict[str, Any] = {"planned": [f.to_dict() for f in faults]}
    if realised is not None:
        doc["realised"] = realised
    doc["seed"] = seed
    doc["streams"] = streams.describe(seed or 0, concurrency)
    doc["fault_rng"] = FAULT_RNG
    return doc
