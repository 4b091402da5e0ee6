"""Seeded schedules: which faults happen when. Pure functions; the nemesis does the effects.

A schedule is a list of `Fault` records, one after another with gaps between
them, over the chaos phase. Everything derives from the `random.Random` passed
in (seeded from the run's seed), so the same seed gives the same schedule;
`sibyl replay` reuses the realised schedule stored with a run instead.
Client ops are generated per process from `Random(f"{seed}/{slot}")`.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from harness.faults import Fault, FaultKind
from harness.partitions import shapes_for

DEFAULT_NEMESES = ("partition", "kill", "pause", "clock")


class ScheduleError(ValueError):
    """A nemesis name or option that cannot be scheduled; the message lists the valid ones."""


@dataclass(frozen=True)
class ScheduleOptions:
    """Timing of the faults, in seconds of the chaos phase."""

    first_at_s: float = 1.0
    duration_s: tuple[float, float] = (2.0, 5.0)
    gap_s: tuple[float, float] = (1.0, 3.0)
    skew_s: tuple[int, int] = (5, 30)


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
    """Non-overlapping faults drawn from `kinds` until the chaos phase ends."""
    out: list[Fault] = []
    t = opts.first_at_s
    while kinds and t < time_limit_s - 0.5:
        kind = FaultKind(rng.choice(list(kinds)))
        end = min(t + rng.uniform(*opts.duration_s), time_limit_s)
        targets, params = _choose(kind, nodes, rng, opts)
        out.append(Fault(len(out) + 1, kind, round(t, 3), round(end, 3), targets, params))
        t = end + rng.uniform(*opts.gap_s)
    return out


def _choose(
    kind: FaultKind, nodes: Sequence[str], rng: random.Random, opts: ScheduleOptions
) -> tuple[tuple[str, ...], dict[str, Any]]:
    if kind is FaultKind.PARTITION:
        return (), {"shape": rng.choice(shapes_for(len(set(nodes)))).value}
    node = rng.choice(list(nodes))
    if kind is FaultKind.CLOCK:
        skew = rng.randint(*opts.skew_s) * rng.choice((-1, 1))
        return (node,), {"op": rng.choice(("bump", "bump", "strobe")), "delta_s": skew}
    if kind is FaultKind.LATENCY:
        return (node,), {"latency_ms": rng.choice((50, 100, 200)), "jitter_ms": 10}
    if kind is FaultKind.BANDWIDTH:
        return (node,), {"rate_kbps": rng.choice((64, 256))}
    return (node,), {}
