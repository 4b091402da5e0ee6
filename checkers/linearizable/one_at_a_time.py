"""Partitions searched one at a time once, interleaved, their caches outgrow the cap.

`search_partitions` interleaves its partitions (so a hard one never delays the
verdict on an easy illegal one), and so holds every partition's cache at once:
its memory cap counts their sum. When that sum passes the cap before a
verdict, `retry_one_at_a_time` searches each partition the first try left
undecided again, alone, with the whole cap and the time left: the cap then
bounds the largest cache, not the sum. A partition's verdict does not depend
on the others (that is what partitioning promises), so the verdicts combine
as in one search: ILLEGAL if any partition is, else UNKNOWN if any is
undecided, else OK.

What it costs: the first try's work on the partitions it left undecided (their
caches were freed before it returned, so peak memory stays near the cap), and
on a history no search decides, the rest of the timeout instead of an early
"memory". What it keeps: the deadline (every search gets only the time left,
and frees its cache before it returns) and the memory cap, now per partition.
UNKNOWN keeps a reason: "timeout" if the time ran out before every retry
ended, else "memory" (a partition alone outgrew the cap).
"""

from __future__ import annotations

import math
import time

from checkers.linearizable.model import CheckResult, Model, Operation
from checkers.linearizable.scheduler import Outcome, search_partitions

ENABLED = True
"""False: keep the first try as it is (benchmarks/linearizable_corpus.py's anchor)."""


def retry_one_at_a_time(
    model: Model,
    partitions: list[list[Operation]],
    first: Outcome,
    deadline: float,
    verbose: bool,
    max_cache_bytes: int,
) -> Outcome:
    """`first` (the outcome of `search_partitions` on `partitions`), or better.

    Only a first try that ran out of memory with two or more partitions is
    retried, within `deadline` (monotonic; inf: none); any other is returned
    as it is.
    """
    memory = first.result is CheckResult.UNKNOWN and first.reason == "memory"
    if not ENABLED or not memory or len(partitions) < 2:
        return first
    out = first
    undecided = [k for k, info in enumerate(out.infos) if info.result is CheckResult.UNKNOWN]
    undecided.sort(key=lambda k: len(partitions[k]))  # the likeliest to finish first
    reasons: list[str] = []
    for k in undecided:
        if time.monotonic() >= deadline:
            reasons.append("timeout")
            break
        one = search_partitions(
            model,
            [partitions[k]],
            timeout_s=seconds_left(deadline),
            verbose=verbose,
            max_cache_bytes=max_cache_bytes,
        )
        out.infos[k] = one.infos[0]
        out.cache_entries += one.cache_entries
        out.cache_bytes = max(out.cache_bytes, one.cache_bytes)
        if one.result is CheckResult.UNKNOWN:
            reasons.append(one.reason)
            if one.reason == "timeout":
                break
        elif one.result is CheckResult.ILLEGAL and not verbose:
            break
    results = [info.result for info in out.infos]
    out.deadline, out.reason = deadline, ""
    if CheckResult.ILLEGAL in results:
        out.result = CheckResult.ILLEGAL
    elif CheckResult.UNKNOWN in results:
        out.result = CheckResult.UNKNOWN
        out.reason = "timeout" if "timeout" in reasons else "memory"
    else:
        out.result = CheckResult.OK
    return out


def seconds_left(deadline: float) -> float | None:
    """`timeout_s` for `search_partitions` until `deadline`: None if none; never 0 (none)."""
    if not math.isfinite(deadline):
        return None
    return max(deadline - time.monotonic(), 1e-9)
