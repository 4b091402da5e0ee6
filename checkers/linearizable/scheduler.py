"""The scheduler: every partition's search, interleaved in rounds of slices of steps.

Guarantee: a hard partition never delays an easy illegal one by more than the
rounds it shares with it (each round gives every partition still running the
same number of steps, growing by a quarter a round), and `timeout=T` returns by
T + 0.5 s whatever the caches hold (the time to free them is kept in reserve).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Final

from checkers.linearizable.model import CheckResult, Model, Operation, PartitionInfo
from checkers.linearizable.replay import replay_in_call_order
from checkers.linearizable.search import Search

FIRST_SLICE_STEPS: Final = 128
"""Steps each partition runs in the scheduler's first round; each round adds a quarter."""

MAX_SLICE_STEPS: Final = 16384
"""The longest slice, in steps (a few milliseconds for the models here)."""

TEARDOWN_S_PER_BYTE: Final = 1.5e-9
"""Time to free the caches, per estimated byte, kept in reserve before the deadline.

Measured by benchmarks/linearizable_deadline.py: a cache of 1.25 GiB (5 million
configurations) took 0.9 s to free and report on a busy 2-core machine, about
0.7 ns a byte; twice that is kept, so that `timeout=T` returns by T + 0.5 s."""

DEFAULT_MAX_CACHE_BYTES: Final = 5 << 28
"""Estimated cache memory, over all partitions, past which the answer becomes unknown
(the checker then retries the partitions one at a time: `one_at_a_time`).

1.25 GiB: with the history and the interpreter, the 50-client histories peak at up to
1.35 GiB RSS, below the 2 GiB goal (benchmarks/linearizable_corpus.py prints it)."""


@dataclass(slots=True)
class _Budget:
    """Time and memory left, and the slice length of the current round.

    Slices are counted in steps, not seconds, so the schedule (and so which
    illegal partition is found first) is the same on every run; the clock is
    only read to stop at the deadline.
    """

    deadline: float
    max_cache_bytes: int
    quantum: int = FIRST_SLICE_STEPS
    cache_bytes: int = 0

    def next_round(self) -> None:
        """Grows the slice length by a quarter, up to `MAX_SLICE_STEPS`.

        Every partition still running gets the same slice in a round, so the
        first illegal partition to finish costs at most the number of
        partitions times its own steps, times the last round's overshoot:
        growing slices by a quarter instead of doubling them cut that
        overshoot (on Porcupine's c50-bad, ten keys, about a sixth of the time),
        and so did a first slice of 128 steps instead of 1024 (when its
        first illegal key took 320 steps alone, the ten keys took 9,536 steps
        before it, and 3,200 with 128).
        """
        self.quantum = min(self.quantum + self.quantum // 4, MAX_SLICE_STEPS)

    def stop_at(self) -> float:
        """When the search must stop: the deadline, less the time to free the caches."""
        return self.deadline - self.cache_bytes * TEARDOWN_S_PER_BYTE

    def run(self, search: Search) -> bool | None:
        """Runs one slice of `search`, accounting for its cache growth."""
        verdict = search.run(self.quantum, self.stop_at())
        now = search.cache_bytes()
        self.cache_bytes += now - search.accounted_bytes
        search.accounted_bytes = now
        return verdict

    def spent(self) -> str:
        """Why the budget is spent ("timeout", "memory"), or "" while it lasts."""
        if time.monotonic() > self.stop_at():
            return "timeout"
        return "memory" if self.cache_bytes > self.max_cache_bytes else ""


@dataclass
class Outcome:
    """What `search_partitions` found: the verdict, per-partition evidence, and costs."""

    result: CheckResult
    infos: list[PartitionInfo]
    reason: str = ""
    """Why UNKNOWN: "timeout" or "memory"."""
    deadline: float = math.inf
    cache_entries: int = 0
    cache_bytes: int = 0


def search_partitions(
    model: Model,
    partitions: list[list[Operation]],
    *,
    timeout_s: float | None,
    verbose: bool = False,
    max_cache_bytes: int = DEFAULT_MAX_CACHE_BYTES,
) -> Outcome:
    """Checks every partition, interleaving them in rounds of slices of steps.

    Stops at the first illegal partition (unless `verbose`, which runs them all
    to completion, within the same budget). Returns UNKNOWN when `timeout_s`
    (None or 0: no limit) passes, or the caches grow past about
    `max_cache_bytes`, before a verdict; `reason` then says which ("timeout"
    or "memory"). The caches are freed before it returns (a cache of a
    gigabyte takes a fraction of a second to free: ints in one set).
    """
    deadline = time.monotonic() + timeout_s if timeout_s else math.inf
    budget = _Budget(deadline, max_cache_bytes)
    searches: list[Search | None] = [None] * len(partitions)  # built when first scheduled
    replayed = [replay_in_call_order(model, p, deadline, verbose) for p in partitions]
    active = [k for k, r in enumerate(replayed) if r is None]
    illegal, over = False, ""
    while active and not over and not (illegal and not verbose):
        still: list[int] = []
        for k in active:
            search = searches[k] or Search(model, partitions[k], verbose=verbose)
            searches[k] = search
            verdict = budget.run(search)
            if verdict is None:
                still.append(k)
            elif verdict is False:
                illegal = True
                if not verbose:
                    break
            over = budget.spent()
            if over:
                break
        active = still
        budget.next_round()
    infos = [
        r or (s.info() if s is not None else PartitionInfo(h, CheckResult.UNKNOWN))
        for r, s, h in zip(replayed, searches, partitions)
    ]
    entries = sum(len(s.cache) for s in searches if s is not None)
    searches.clear()  # free the caches now, within the budget
    out = Outcome(CheckResult.OK, infos, "", deadline, entries, budget.cache_bytes)
    results = [i.result for i in infos]  # a list: an enum's hash is a Python call
    if CheckResult.ILLEGAL in results:
        out.result = CheckResult.ILLEGAL
    elif CheckResult.UNKNOWN in results:
        out.result, out.reason = CheckResult.UNKNOWN, over
    return out
