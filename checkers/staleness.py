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
from operator import attrgetter, le
from typing import Any

from checkers import cart_history
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
        items = cart_history.carts_of(key_reads)
        starts = [r.invoke_time for r in key_reads]
        budget.check()
        in_order = all(map(le, starts, starts[1:]))  # reads by invoke time: always, in a run
        _t_visibility(key_adds, starts, items, edges_ns, per_add, seen, visible, budget,
                      in_order=in_order)  # fmt: skip
        if in_order:
            k_of = _k_staleness(key_adds, key_reads, starts, items, budget)
        else:
            k_of = _k_staleness_any(key_adds, key_reads, items, budget)
        for r, its, k in k_of:
            ks[k] += 1
            if max_k is not None and k > max_k:
                missed = [w for w in key_adds if w.time < r.invoke_time and w.item not in its]
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
    removed: dict[str, set[Any]] = defaultdict(set)
    out: dict[str, list[Write]] = defaultdict(list)
    ok, not_written = Outcome.OK, Outcome.NOT_WRITTEN
    for w in h.writes:
        if w.f == "add":
            if w.outcome is ok:
                out[w.key].append(w)
        elif w.f == "remove" and w.outcome is not not_written:
            removed[w.key].add(w.item)  # items are ints or strings (the index checks)
    for key, ws in out.items():
        gone = removed.get(key)
        if gone:
            ws[:] = [w for w in ws if w.item not in gone]
        ws.sort(key=_ack_time)
    return {key: ws for key, ws in out.items() if ws}


_ack_time = attrgetter("time")


def _t_visibility(
    adds: list[Write],
    starts: list[int],
    items: list[set[Any]],
    edges_ns: list[int],
    per_add: int,
    seen: list[int],
    visible: list[int],
    budget: Budget,
    *,
    in_order: bool,
) -> None:
    """Adds, per bucket of t, the reads counted and those that reflected the add.

    With `starts` sorted (`in_order`), each bucket's reads are one slice, found by
    bisection; otherwise each read is put in its bucket on its own.
    """
    n, nb = len(starts), len(edges_ns)
    if not in_order:
        for w in adds:
            first = bisect_right(starts, w.time)
            for i in range(first, min(n, first + per_add)):
                budget.tick()
                b = bisect_right(edges_ns, starts[i] - w.time) - 1
                seen[b] += 1
                visible[b] += w.item in items[i]
        return
    for j, w in enumerate(adds):
        if not j & 1023:  # the clock every 1024 adds (and once per key)
            budget.check()
        t, x = w.time, w.item
        lo = bisect_right(starts, t)
        last = min(n, lo + per_add)
        while lo < last:  # one bucket (a slice of reads) per turn; empty buckets skipped
            b = bisect_right(edges_ns, starts[lo] - t) - 1
            hi = bisect_left(starts, t + edges_ns[b + 1], lo, last) if b + 1 < nb else last
            seen[b] += hi - lo
            vis = 0
            for its in items[lo:hi]:
                if x in its:
                    vis += 1
            visible[b] += vis
            lo = hi


def _k_staleness(
    adds: list[Write], reads: list[Read], starts: list[int], items: list[set[Any]], budget: Budget
) -> list[tuple[Read, set[Any], int]]:
    """For each read: (read, its items, k = the acknowledged adds it missed).

    `starts` must be sorted: the adds acknowledged before a read then only grow,
    and are kept as a count per item.
    """
    out = []
    before: dict[Any, int] = {}  # item -> adds of it acknowledged before the read
    nxt, n = 0, len(adds)
    for j, (r, start, its) in enumerate(zip(reads, starts, items)):
        if not j & 1023:
            budget.check()
        while nxt < n and adds[nxt].time < start:
            x = adds[nxt].item
            before[x] = before.get(x, 0) + 1
            nxt += 1
        if before.keys() <= its:
            out.append((r, its, 0))
        else:
            out.append((r, its, sum(before[x] for x in before.keys() - its)))
    return out


def _k_staleness_any(
    adds: list[Write], reads: list[Read], items: list[set[Any]], budget: Budget
) -> list[tuple[Read, set[Any], int]]:
    """`_k_staleness` for reads out of invoke-time order."""
    acks = [w.time for w in adds]
    out = []
    for r, its in zip(reads, items):
        budget.tick()
        before = adds[: bisect_left(acks, r.invoke_time)]
        out.append((r, its, sum(1 for w in before if w.item not in its)))
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
