"""Shrinking a failing simulated run: fewer faults, shorter faults, fewer clients, fewer ops.

The test of a candidate is one simulation of it: it "still fails" when one of
the checkers that failed originally still says invalid. The simulator being
deterministic, one run per candidate is enough. Stages, each on the result of
the one before, sharing one run budget:

1. ddmin over the faults (`harness.ddmin`);
2. each remaining fault halved in length while it still fails;
3. ddmin over the client slots (a dropped slot issues no op);
4. each slot's ops cut to the shortest prefix that still fails (binary search
   on one common fraction), then ddmin over all remaining ops.

The result is a `SimSchedule` with explicit ops, which `sibyl sim --schedule`
replays event for event.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from harness.ddmin import Budget, ddmin
from harness.faults import Fault
from harness.sim_runner import SimSchedule, SimSpec, Step, simulate


@dataclass
class Shrunk:
    """A shrink's outcome: the smallest failing schedule found, and what it cost."""

    schedule: SimSchedule
    checkers: list[str]
    before: tuple[int, int]
    runs: int
    seconds: float

    @property
    def after(self) -> tuple[int, int]:
        return len(self.schedule.faults), self.schedule.op_count()

    def summary(self) -> str:
        (f0, o0), (f1, o1) = self.before, self.after
        why = ", ".join(self.checkers)
        return (f"{f1} faults and {o1} ops suffice (from {f0} faults and {o0} ops) for {why}; "
                f"{self.runs} simulations in {self.seconds:.1f}s")  # fmt: skip


def shrink(
    spec: SimSpec, schedule: SimSchedule, checkers: list[str], max_runs: int = 300,
    progress: Callable[[str], None] | None = None,
) -> Shrunk:  # fmt: skip
    """Shrinks `schedule` (with explicit ops) while one of `checkers` still fails."""
    t0 = time.monotonic()
    budget = Budget(max_runs)
    say = progress or (lambda _: None)

    def fails(faults: list[Fault], ops: dict[int, list[Step]]) -> bool:
        result = simulate(spec, SimSchedule(schedule.seed, faults, ops), False, checkers)
        return any(result.results[c].valid is False for c in checkers if c in result.results)

    assert schedule.ops is not None, "shrink needs the run's explicit ops"
    ops: dict[int, list[Step]] = {k: list(v) for k, v in schedule.ops.items()}
    faults = ddmin(schedule.faults, lambda fs: fails(fs, ops), budget)
    say(f"faults: {len(schedule.faults)} -> {len(faults)}")
    faults = _shorten(faults, lambda fs: fails(fs, ops), budget)
    slots = ddmin(sorted(ops), lambda ss: fails(faults, {s: ops[s] for s in ss}), budget)
    ops = {s: ops[s] for s in slots}
    say(f"clients: {len(schedule.ops)} -> {len(ops)}")
    ops = _prefix(ops, lambda o: fails(faults, o), budget)
    flat = [(s, i) for s in sorted(ops) for i in range(len(ops[s]))]
    kept = ddmin(flat, lambda sel: fails(faults, _select(ops, sel)), budget)
    ops = _select(ops, kept)
    say(f"ops: {schedule.op_count()} -> {sum(map(len, ops.values()))}")
    out = SimSchedule(schedule.seed, faults, ops)
    return Shrunk(out, checkers, (len(schedule.faults), schedule.op_count()), budget.used,
                  time.monotonic() - t0)  # fmt: skip


def _shorten(
    faults: list[Fault], fails: Callable[[list[Fault]], bool], budget: Budget
) -> list[Fault]:
    """Halves each fault's length while the schedule still fails (at most 4 halvings each)."""
    out = list(faults)
    for i, f in enumerate(out):
        for _ in range(4):
            half = replace(f, end_s=round(f.start_s + (f.end_s - f.start_s) / 2, 3))
            trial = [*out[:i], half, *out[i + 1 :]]
            if half.end_s <= half.start_s or not budget.take() or not fails(trial):
                break
            out, f = trial, half
    return out


def _prefix(
    ops: dict[int, list[Step]], fails: Callable[[dict[int, list[Step]]], bool], budget: Budget
) -> dict[int, list[Step]]:
    """Each slot's ops cut to one common fraction, the smallest (by binary search) that fails."""
    lo, hi = 0, 64  # fractions in 64ths; 64/64 is known to fail
    while lo + 1 < hi and budget.take():
        mid = (lo + hi) // 2
        if fails(_cut(ops, mid)):
            hi = mid
        else:
            lo = mid
    return _cut(ops, hi)


def _cut(ops: dict[int, list[Step]], sixty_fourths: int) -> dict[int, list[Step]]:
    return {s: v[: -(-len(v) * sixty_fourths // 64)] for s, v in ops.items()}


def _select(ops: dict[int, list[Step]], kept: list[tuple[int, int]]) -> dict[int, list[Step]]:
    out: dict[int, list[Step]] = {}
    for s, i in kept:
        out.setdefault(s, []).append(ops[s][i])
    return out
