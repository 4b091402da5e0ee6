"""Sibling correctness on a causal graph of versions (cart and set workloads).

Every put is a vertex of a networkx DiGraph, named by its put id. Each sibling
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
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from checkers.budget import Budget
from checkers.cart_history import (
    CartHistory,
    History,
    HistoryShapeError,
    Outcome,
    Read,
    Write,
    run_checked,
)
from checkers.explain import AnomalySink, explain
from checkers.result import UNKNOWN, Result, Validity
from checkers.resurrection import find_resurrections


@dataclass
class Versions:
    """The causal graph and the per-key ancestry bitsets derived from it."""

    graph: nx.DiGraph
    puts: dict[str, Write]
    order: dict[str, list[str]] = field(default_factory=dict)
    pos: dict[str, int] = field(default_factory=dict)
    anc: dict[str, int] = field(default_factory=dict)

    def known(self, put: str, key: str) -> bool:
        """True if `put` was written by some put to `key`."""
        w = self.puts.get(put)
        return w is not None and w.key == key

    def precedes(self, u: str, v: str) -> bool:
        """u ≼ v: u is an ancestor of v or equal to it (both known, same key)."""
        return bool(self.anc[v] >> self.pos[u] & 1)


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
    v = build_graph(h, sink)
    stats: dict[str, Any] = {
        "puts": v.graph.number_of_nodes(),
        "edges": v.graph.number_of_edges(),
        "indeterminate_puts": sum(1 for w in v.puts.values() if w.outcome is not Outcome.OK),
    }
    reasons: list[str] = []
    budget.enter("ordering the version graph")
    cycle = _topological_order(v, h, sink)
    if cycle:
        reasons.append("the version graph has a cycle: ancestry checks skipped")
    else:
        need = sum(len(o) ** 2 // 8 for o in v.order.values())
        stats["ancestry_bytes"] = need
        if need > mem_bytes:
            reasons.append(f"ancestry needs {need} bytes > ancestry_budget_bytes={mem_bytes}")
        else:
            _ancestry(v, budget)
    budget.enter("checking reads")
    _check_reads(v, h, sink, budget, ancestry=not reasons)
    if not reasons:
        budget.enter("checking final coverage")
        reasons += _check_coverage(v, h, sink, stats, budget)
        budget.enter("checking removals")
        for a in find_resurrections(v, h, budget):
            sink.add(a)
    stats["anomaly_counts"] = dict(sorted(sink.counts.items()))
    valid: Validity = False if sink.counts else (UNKNOWN if reasons else True)
    if reasons:
        stats["reason"] = "; ".join(reasons)
    return Result(valid, sink.items, stats)


def build_graph(h: CartHistory, sink: AnomalySink) -> Versions:
    """Returns the version graph: one vertex per put that may have been written.

    A parent that no put to the key wrote is recorded as a ``phantom`` (the get
    step returned it) and gets no edge; a repeated parent as a ``duplicate``.
    """
    puts: dict[str, Write] = {}
    for w in h.writes:
        if w.put is None:
            continue
        if w.put in puts:
            raise HistoryShapeError(w.invoke_index, f"put id {w.put!r} is used twice")
        puts[w.put] = w
    g: nx.DiGraph = nx.DiGraph()
    g.add_nodes_from(puts)
    v = Versions(g, puts)
    edges: list[tuple[str, str]] = []
    for w in puts.values():
        _check_ids(w.parents, w.key, w, v, h, sink, "context")
        edges.extend((p, str(w.put)) for p in w.parents if v.known(p, w.key))
    g.add_edges_from(edges)
    return v


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
    for p in ids:
        if not v.known(p, key):
            other = v.puts.get(p)
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


def _topological_order(v: Versions, h: CartHistory, sink: AnomalySink) -> bool:
    """Fills `v.order` (per key) and `v.pos`; returns True (and records it) on a cycle."""
    try:
        order = list(nx.topological_sort(v.graph))
    except nx.NetworkXUnfeasible:
        cyc = [u for u, _ in nx.find_cycle(v.graph)]
        w = v.puts[cyc[0]]
        t0 = min(v.puts[p].invoke_time for p in cyc)
        sink.add(
            explain("cycle", w.key, [v.puts[p] for p in cyc], h.timeline, (t0, w.time), puts=cyc)
        )
        return True
    by_key: dict[str, list[str]] = defaultdict(list)
    pos = v.pos
    for p in order:
        lst = by_key[v.puts[p].key]
        pos[p] = len(lst)
        lst.append(p)
    v.order = dict(by_key)
    return False


def _ancestry(v: Versions, budget: Budget) -> None:
    """Fills `v.anc`: for each put, the bitset of its ancestors-or-self within its key."""
    anc, pos, pred = v.anc, v.pos, v.graph.pred
    for order in v.order.values():
        for p in order:
            budget.tick()
            a = 1 << pos[p]
            for q in pred[p]:
                a |= anc[q]
            anc[p] = a


def _check_reads(
    v: Versions, h: CartHistory, sink: AnomalySink, budget: Budget, *, ancestry: bool
) -> None:
    """Checks every read for phantoms, duplicates and (with ancestry) dominated siblings."""
    for r in h.reads:
        budget.tick()
        ids = [s["put"] for s in r.siblings]
        _check_ids(ids, r.key, r, v, h, sink, "read")
        if ancestry and len(ids) > 1:
            known = sorted({p for p in ids if v.known(p, r.key)})
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
    v: Versions, h: CartHistory, sink: AnomalySink, stats: dict[str, Any], budget: Budget
) -> list[str]:
    """Records ``uncovered`` acknowledged puts; returns reasons for an unknown verdict."""
    finals: dict[str, list[Read]] = defaultdict(list)
    for r in h.reads:
        if r.final:
            finals[r.key].append(r)
    acked: dict[str, list[Write]] = defaultdict(list)
    for w in v.puts.values():
        if w.outcome is Outcome.OK:
            acked[w.key].append(w)
    missing = sorted(k for k in acked if k not in finals)
    uncovered = 0
    for key, ws in acked.items():
        covers = [(r, _cover(v, r)) for r in finals.get(key, [])]
        for w in ws:
            budget.tick()
            bit = 1 << v.pos[str(w.put)]
            lacking = [r for r, c in covers if not c & bit]
            if lacking:
                uncovered += 1
                t1 = max(r.time for r in lacking)
                sink.add(
                    explain(
                        "uncovered",
                        key,
                        [w, *lacking[:3]],
                        h.timeline,
                        (w.invoke_time, t1),
                        put=w.put,
                        final_reads=[r.index for r in lacking],
                    )
                )
    stats["acknowledged_puts"] = sum(len(ws) for ws in acked.values())
    stats["uncovered_puts"] = uncovered
    if missing:
        return [
            f"{len(missing)} keys with acknowledged puts have no final read, e.g. {missing[0]!r}"
        ]
    return []


def _cover(v: Versions, r: Read) -> int:
    """The bitset of puts ≼ some sibling of read `r`."""
    cover = 0
    for s in r.siblings:
        if v.known(s["put"], r.key):
            cover |= v.anc[s["put"]]
    return cover
