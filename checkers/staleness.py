"""Empirical PBS staleness (Bailis et al., Probabilistically Bounded Staleness).

Measured on a cart or set history, over acknowledged adds whose item no remove
may have touched (a removed item is legitimately invisible):

* t-visibility: the probability that a read starting t after an add was
  acknowledged reflects it (the item is in the union of its siblings), as a
  curve over buckets of t. Each add contributes at most `max_reads_per_add`
  reads (the earliest ones after its acknowledgement, which matter for PBS).
* k-staleness: for each read, k = the number of adds acknowledged before the
  read began that it missed; reported as a histogram of k and the fraction of
  reads with k = 0.

Final reads (after heal and quiescence) are excluded unless `include_final`.
Staleness is allowed under eventual consistency, so the verdict is True unless
`max_k` is given: then each read that missed more than `max_k` acknowledged
adds is a ``k-stale-read`` anomaly.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

from checkers.budget import Budget
from checkers.cart_history import CartHistory, History, Outcome, Read, Write, run_checked
from checkers.explain import AnomalySink, explain
from checkers.result import Result

DEFAULT_BUCKETS_MS = (0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)


def check(
    history: History,
    *,
    time_limit_s: float = 60.0,
    buckets_ms: Sequence[float] = DEFAULT_BUCKETS_MS,
    max_reads_per_add: int = 64,
    include_final: bool = False,
    max_k: int | None = None,
    max_anomalies: int = 100,
) -> Result:
    """Takes a cart/set history (ops, a JSONL path or a CartHistory); returns PBS metrics.

    `stats["t_visibility"]` lists, per bucket [t_lo_ms, t_hi_ms), the reads
    counted, how many reflected the add, and their ratio `p`;
    `stats["k_staleness"]` holds the histogram of k over reads. "unknown" after
    `time_limit_s` or on a history it cannot interpret.
    """
    edges_ns = [int(b * 1e6) for b in sorted(buckets_ms)]
    if not edges_ns or edges_ns[0] != 0:
        edges_ns.insert(0, 0)
    return run_checked(
        lambda h, b: _check(h, b, edges_ns, max_reads_per_add, include_final, max_k, max_anomalies),
        history,
        time_limit_s=time_limit_s,
    )


def _check(
    h: CartHistory,
    budget: Budget,
    edges_ns: list[int],
    per_add: int,
    include_final: bool,
    max_k: int | None,
    max_anomalies: int,
) -> Result:
    budget.enter("measuring staleness")
    reads: dict[str, list[Read]] = defaultdict(list)
    for r in h.reads:
        if include_final or not r.final:
            reads[r.key].append(r)
    adds = _visible_adds(h)
    seen = [0] * len(edges_ns)
    visible = [0] * len(edges_ns)
    ks: Counter[int] = Counter()
    sink = AnomalySink(max_anomalies)
    for key in sorted(set(adds) | set(reads)):
        key_adds, key_reads = adds.get(key, []), reads.get(key, [])
        items = [r.items() for r in key_reads]
        _t_visibility(key_adds, key_reads, items, edges_ns, per_add, seen, visible, budget)
        for r, k, missed in _k_staleness(key_adds, key_reads, items, budget):
            ks[k] += 1
            if max_k is not None and k > max_k:
                sink.add(
                    explain(
                        "k-stale-read",
                        key,
                        [r, *missed[:5]],
                        h.timeline,
                        (min(w.invoke_time for w in missed), r.time),
                        k=k,
                        missed_items=[w.item for w in missed[:20]],
                    )
                )
    return Result(
        False if sink.counts else True, sink.items, _stats(edges_ns, seen, visible, ks, sink)
    )


def _visible_adds(h: CartHistory) -> dict[str, list[Write]]:
    """Acknowledged adds per key, sorted by acknowledgement time, minus removed items."""
    removed: set[tuple[str, Any]] = set()
    for w in h.writes:
        if w.f == "remove" and w.outcome is not Outcome.NOT_WRITTEN:
            removed.add((w.key, repr(w.item)))
    out: dict[str, list[Write]] = defaultdict(list)
    for w in h.writes:
        if w.f == "add" and w.outcome is Outcome.OK and (w.key, repr(w.item)) not in removed:
            out[w.key].append(w)
    for ws in out.values():
        ws.sort(key=lambda w: w.time)
    return out


def _t_visibility(
    adds: list[Write],
    reads: list[Read],
    items: list[set[Any]],
    edges_ns: list[int],
    per_add: int,
    seen: list[int],
    visible: list[int],
    budget: Budget,
) -> None:
    """Adds, per bucket of t, the reads counted and those that reflected the add."""
    starts = [r.invoke_time for r in reads]
    for w in adds:
        first = bisect_right(starts, w.time)
        for i in range(first, min(len(reads), first + per_add)):
            budget.tick()
            b = bisect_right(edges_ns, starts[i] - w.time) - 1
            seen[b] += 1
            visible[b] += w.item in items[i]


def _k_staleness(
    adds: list[Write], reads: list[Read], items: list[set[Any]], budget: Budget
) -> list[tuple[Read, int, list[Write]]]:
    """For each read: (read, k, the acknowledged adds it missed)."""
    acks = [w.time for w in adds]
    out = []
    for r, its in zip(reads, items):
        budget.tick()
        before = adds[: bisect_left(acks, r.invoke_time)]
        missed = [w for w in before if w.item not in its]
        out.append((r, len(missed), missed))
    return out


def _stats(
    edges_ns: list[int], seen: list[int], visible: list[int], ks: Counter[int], sink: AnomalySink
) -> dict[str, Any]:
    curve = []
    for i, lo in enumerate(edges_ns):
        hi = edges_ns[i + 1] / 1e6 if i + 1 < len(edges_ns) else None
        p = round(visible[i] / seen[i], 6) if seen[i] else None
        curve.append({"t_ms": [lo / 1e6, hi], "reads": seen[i], "visible": visible[i], "p": p})
    n = sum(ks.values())
    return {
        "t_visibility": curve,
        "k_staleness": {
            "reads": n,
            "histogram": {str(k): c for k, c in sorted(ks.items())},
            "p_k0": round(ks.get(0, 0) / n, 6) if n else None,
            "missed_puts": sum(k * c for k, c in ks.items()),
        },
        "anomaly_counts": dict(sorted(sink.counts.items())),
    }
