"""Partitions searched one at a time once, interleaved, their caches outgrow the cap.

`search_partitions` interleaves its partitions (so a hard one never delays the
verdict on an easy illegal one), and so holds every partition's cache at once:
its memory cap counts their sum. When that sum passes the cap before a
verdict, `search_within_cap` searches each partition the first try left
undecided again, alone, with the whole cap and the time left: the cap then
bounds the largest cache, not the sum. A partition's verdict does not depend
on the others (that is what partitioning promises), so the verdicts combine
as in one search: ILLEGAL if any partition is, else UNKNOWN if any is
undecided, else OK.

What it costs: the first try's work on the partitions it left undecided (their
caches are freed before the retries start, so peak memory stays within the cap).
What it keeps: the deadline (every search gets only the time left, and frees
its cache before it returns) and the memory cap, now per partition; UNKNOWN
keeps its reason: "timeout" if the time ran out, else "memory" (a partition alone
outgrew the cap).
"""

from __future__ import annotations

import math
import time

from checkers.linearizable.model import CheckResult, Model, Operation
from checkers.linearizable.search import Outcome, search_partitions

ENABLED = True
"""False: return the first try as it is (benchmarks/linearizable_corpus.py's anchor)."""


def search_within_cap(
    model: Model,
    partitions: list[list[Operation]],
    *,
    deadline: float,
    verbose: bool,
    max_cache_bytes: int,
) -> Outcome:
    """`search_partitions` by `deadline` (monotonic; inf: none), then one at a time on "memory".

    Only a first try that ran out of memory with two or more partitions is
    retried; every other outcome is returned as it is.
    """
    out = search_partitions(
        model,
        partitions,
        timeout_s=_left(deadline),
        verbose=verbose,
        max_cache_bytes=max_cache_bytes,
    )
    out.deadline = deadline
    memory = out.result is CheckResult.UNKNOWN and out.reason == "memory"
    if not ENABLED or not memory or len(partitions) < 2:
        return out
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
            timeout_s=_left(deadline),
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
    if CheckResult.ILLEGAL in results:
        out.result, out.reason = CheckResult.ILLEGAL, ""
    elif CheckResult.UNKNOWN in results:
        out.result = CheckResult.UNKNOWN
        out.reason = "timeout" if "timeout" in reasons else "memory"
    else:
        out.result, out.reason = CheckResult.OK, ""
    return out


def _left(deadline: float) -> float | None:
    """Seconds to `deadline` for `search_partitions` (None: no limit; never 0, which means none)."""
    if not math.isfinite(deadline):
        return None
    return max(deadline - time.monotonic(), 1e-9)
