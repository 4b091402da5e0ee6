"""Sibling correctness on a causal graph of versions (cart and set workloads).

Every put is a vertex of the causal graph of versions, named by its put id. Each sibling
in the writer's context (the `parents` its get step returned) gets an edge to
the new version, so "u is an ancestor-or-equal of v" (u ≼ v) means v's writer
had, directly or transitively, seen u. Failed puts are vertices too: only a
fail whose error starts with ``"get:"`` wrote nothing (docs/history.md).

Invariants checked, one anomaly kind each:

* ``phantom``: every sibling a read (or an add's get step) returned was
  written by some put to that key, including indeterminate ones;
* ``duplicate``: no put id appears twice in one read;
* ``dominated-sibling``: the siblings of one read form an antichain;
* ``uncovered``: after heal and quiescence, every acknowledged put is ≼ some
  sibling of each final read (``"final": true``);
* ``resurrected``: a removed item reappears in a version that descends from the
  remove only if it came in through a concurrent branch (or a new add);
* ``cycle``: the context relation has no cycle (a put cannot precede itself).

Ancestry is computed once per key, over a topological order, as Python-int
bitsets (bit i = the key's i-th put); that costs m²/8 bytes for a key with m
puts, bounded by `ancestry_budget_bytes` (beyond it the verdict is "unknown").
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from checkers.budget import Budget
from checkers.cart_history import (
    CartHistory,
    History,
    Outcome,
    Read,
    Write,
    run_checked,
)
from checkers.explain import AnomalySink, explain
from checkers.result import UNKNOWN, Result, Validity
from checkers.resurrection import find_resurrections
from checkers.version_graph import Versions, build_graph, fill_ancestry


def check(
    history: History,
    *,
    time_limit_s: float = 60.0,
    max_anomalies: int = 100,
    ancestry_budget_bytes: int = 256 * 2**20,
) -> Result:
    """Takes a cart/set history (ops, a JSONL path or a CartHistory); returns the verdict.

    Anomalies (kinds above) name the key, the ops, processes, nodes and faults.
    Valid is False on any anomaly; "unknown" if there are no final reads for a
    key with acknowledged puts, if ancestry would exceed `ancestry_budget_bytes`,
    after `time_limit_s`, or on a history it cannot interpret.
    """
    return run_checked(
        lambda h, b: _check(h, b, max_anomalies, ancestry_budget_bytes),
        history,
        time_limit_s=time_limit_s,
    )


def _check(h: CartHistory, budget: Budget, max_anomalies: int, mem_bytes: int) -> Result:
    sink = AnomalySink(max_anomalies)
    budget.enter("building the version graph")
    v = build_graph(h, mem_bytes)
    stats: dict[str, Any] = {
        "puts": len(v.puts),
        "edges": v.n_edges,
        "indeterminate_puts": v.indeterminate,
        "ancestry_bytes": v.ancestry_bytes(),
    }
    for w in v.suspects:
        _check_ids(w.parents, w.key, w, v, h, sink, "context")
    reasons: list[str] = []
    if stats["ancestry_bytes"] > mem_bytes:
        need = stats["ancestry_bytes"]
        reasons.append(f"ancestry needs {need} bytes > ancestry_budget_bytes={mem_bytes}")
    else:
        budget.enter("ordering versions and computing ancestry")
        cycle = fill_ancestry(v, budget)
        if cycle:
            _report_cycle(cycle, v, h, sink)
            reasons.append("the version graph has a cycle: ancestry checks skipped")
    budget.enter("checking reads")
    finals = _check_reads(v, h, sink, budget, ancestry=not reasons)
    if not reasons:
        budget.enter("checking final coverage")
        reasons += _check_coverage(v, h, finals, sink, stats, budget)
        budget.enter("checking removals")
        for a in find_resurrections(v, h, budget):
            sink.add(a)
    stats["anomaly_counts"] = dict(sorted(sink.counts.items()))
    valid: Validity = False if sink.counts else (UNKNOWN if reasons else True)
    if reasons:
        stats["reason"] = "; ".join(reasons)
    return Result(valid, sink.items, stats)


def _check_ids(
    ids: list[str],
    key: str,
    rec: Read | Write,
    v: Versions,
    h: CartHistory,
    sink: AnomalySink,
    where: str,
) -> None:
    """Records phantom and duplicate put ids among the siblings one get returned."""
    if len(ids) > 1 and len(set(ids)) != len(ids):
        dups = sorted(p for p, n in Counter(ids).items() if n > 1)
        sink.add(
            explain(
                "duplicate",
                key,
                [rec],
                h.timeline,
                (rec.invoke_time, rec.time),
                puts=dups,
                where=where,
            )
        )
    puts = v.puts
    for p in ids:
        w = puts.get(p)
        if w is None or w.key != key:
            other = w
            sink.add(
                explain(
                    "phantom",
                    key,
                    [rec],
                    h.timeline,
                    (rec.invoke_time, rec.time),
                    put=p,
                    where=where,
                    written_to_key=other.key if other is not None else None,
                )
            )


def _report_cycle(cycle: list[str], v: Versions, h: CartHistory, sink: AnomalySink) -> None:
    ws = [v.puts[p] for p in cycle]
    t0 = min(w.invoke_time for w in ws)
    t1 = max(w.time for w in ws)
    sink.add(explain("cycle", ws[0].key, ws, h.timeline, (t0, t1), puts=cycle))


def _check_reads(
    v: Versions, h: CartHistory, sink: AnomalySink, budget: Budget, *, ancestry: bool
) -> dict[str, list[Read]]:
    """Checks every read for phantoms, duplicates and (with ancestry) dominated siblings.

    Also records in `v.seen` each distinct (put, items) version and the first
    read that showed it; returns the final reads by key.
    """
    puts, seen = v.puts, v.seen
    get = puts.get
    finals: dict[str, list[Read]] = defaultdict(list)
    for n, r in enumerate(h.reads):
        if not n & 1023:
            budget.check()
        if r.final:
            finals[r.key].append(r)
        sibs = r.siblings
        if len(sibs) == 1:  # most reads: one sibling, written to this key
            s = sibs[0]
            p = s["put"]
            w = get(p)
            if w is not None and w.key == r.key:
                items = s["items"]
                p = w.put or p  # the graph's own string object: later lookups match by identity
                variants = seen.get(p)
                if variants is None:
                    seen[p] = [(items, r)]
                elif len(variants) == 1:  # most puts: one version (no generator for `all`)
                    first = variants[0][0]
                    if first is not items and first != items:
                        variants.append((items, r))
                elif all(i != items for i, _ in variants):
                    variants.append((items, r))
                continue
        _check_read(r, v, h, sink, ancestry=ancestry)
    return finals


def _check_read(r: Read, v: Versions, h: CartHistory, sink: AnomalySink, *, ancestry: bool) -> None:
    """`_check_reads` for one read of any shape."""
    puts, seen = v.puts, v.seen
    key = r.key
    ids = []
    suspect = False
    for s in r.siblings:
        p = s["put"]
        ids.append(p)
        w = puts.get(p)
        if w is None or w.key != key:
            suspect = True
            continue
        variants = seen.get(p)
        if variants is None:
            seen[p] = [(s["items"], r)]
        elif variants[0][0] is not s["items"] and all(i != s["items"] for i, _ in variants):
            variants.append((s["items"], r))
    if suspect or len(ids) > 1:
        _check_ids(ids, key, r, v, h, sink, "read")
    if ancestry and len(ids) > 1:
        known = sorted({p for p in ids if (w := puts.get(p)) is not None and w.key == key})
        if len(known) > 1:
            _check_antichain(known, r, v, h, sink)


def _check_antichain(
    ids: list[str], r: Read, v: Versions, h: CartHistory, sink: AnomalySink
) -> None:
    """Records a ``dominated-sibling`` for each sibling that is an ancestor of another."""
    anc, pos = v.anc, v.pos
    bits = 0
    strict = 0
    for p in ids:
        b = 1 << pos[p]
        bits |= b
        strict |= anc[p] & ~b
    if not bits & strict:
        return
    for lo in ids:
        for hi in ids:
            if lo != hi and v.precedes(lo, hi):
                sink.add(
                    explain(
                        "dominated-sibling",
                        r.key,
                        [r, v.puts[lo], v.puts[hi]],
                        h.timeline,
                        (r.invoke_time, r.time),
                        dominated=lo,
                        by=hi,
                        read=r.index,
                    )
                )
                break


def _check_coverage(
    v: Versions,
    h: CartHistory,
    finals: dict[str, list[Read]],
    sink: AnomalySink,
    stats: dict[str, Any],
    budget: Budget,
) -> list[str]:
    """Records ``uncovered`` acknowledged puts; returns reasons for an unknown verdict.

    Works on bitsets per key (the acknowledged puts, those every final read
    covers); only a key with an uncovered put is looked at put by put.
    """
    acked: dict[str, int] = {}  # key -> its acknowledged puts (bits); keys in put order
    ok, pos = Outcome.OK, v.pos
    for p, w in v.puts.items():
        if w.outcome is ok:
            key = w.key
            acked[key] = acked.get(key, 0) | 1 << pos[p]
    missing = sorted(k for k in acked if k not in finals)
    uncovered = 0
    for key, bits in acked.items():
        covers = _distinct_covers(v, finals.get(key, []))
        common = -1
        for c in covers:
            common &= c
        budget.tick()
        if bits & ~common:
            uncovered += _report_uncovered(v, h, key, common, covers, sink)
    stats["acknowledged_puts"] = sum(bits.bit_count() for bits in acked.values())
    stats["uncovered_puts"] = uncovered
    if missing:
        return [
            f"{len(missing)} keys with acknowledged puts have no final read, e.g. {missing[0]!r}"
        ]
    return []


def _report_uncovered(
    v: Versions,
    h: CartHistory,
    key: str,
    common: int,
    covers: dict[int, list[Read]],
    sink: AnomalySink,
) -> int:
    """Records an ``uncovered`` anomaly per acknowledged put of `key` outside `common`
    (in invoke order); returns how many."""
    puts, pos = v.puts, v.pos
    ws = sorted(
        (w for p in v.order[key] if (w := puts[p]).outcome is Outcome.OK),
        key=lambda w: w.invoke_index,
    )
    n = 0
    for w in ws:
        bit = 1 << pos[w.put]  # type: ignore[index]  # acknowledged: it has a put id
        if common & bit:
            continue
        lacking = [r for c, rs in covers.items() if not c & bit for r in rs]
        n += 1
        sink.add(
            explain(
                "uncovered",
                key,
                [w, *lacking[:3]],
                h.timeline,
                (w.invoke_time, max(r.time for r in lacking)),
                put=w.put,
                final_reads=sorted(r.index for r in lacking),
            )
        )
    return n


def _distinct_covers(v: Versions, reads: list[Read]) -> dict[int, list[Read]]:
    """Groups reads by their cover: the bitset of puts ≼ some sibling of the read."""
    out: dict[int, list[Read]] = defaultdict(list)
    puts, anc = v.puts, v.anc
    for r in reads:
        cover, key = 0, r.key
        for s in r.siblings:
            p = s["put"]
            w = puts.get(p)
            if w is not None and w.key == key:
                cover |= anc[p]
        out[cover].append(r)
    return out
