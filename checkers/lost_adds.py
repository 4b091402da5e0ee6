"""Lost adds for the cart and set workloads, with Jepsen's set-full semantics.

An element is one (key, item) that some `add` tried to put. Every read of the
key that began after the add was invoked either saw the item (it is in the
union of the read's siblings) or missed it. Each element gets one status:

* ``stable``: acknowledged, present in the final reads and in every read that
  began after the add was acknowledged;
* ``stale``: acknowledged and present in the final reads, but some read that
  began after the acknowledgement missed it;
* ``lost``: acknowledged and absent from a final read (the reads marked
  ``"final": true``; without them, the key's last read);
* ``never-read``: acknowledged, but no read of the key began after that;
* ``recovered`` / ``unrecovered``: the add was indeterminate and the item is /
  is not in the final reads (neither is an error);
* ``removed``: some remove of the item may have landed; removal is judged by the
  causality checker, so these are never lost adds;
* ``not-written``: every add of it failed before writing.

Stable latency (as in Jepsen) is the time from the add's invocation to the
completion of the last read that missed it (0 if none did). A read that shows
an item nobody tried to add, or whose every add failed before writing, is an
``unexpected`` anomaly. Verdict: False if anything is lost or unexpected;
"unknown" if an acknowledged element was never read; else True.
"""

from __future__ import annotations

import bisect
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

from checkers.budget import Budget
from checkers.cart_history import (
    CartHistory,
    History,
    Outcome,
    Read,
    Write,
    carts_of,
    run_checked,
)
from checkers.explain import AnomalySink, explain
from checkers.result import UNKNOWN, Result, Validity


@dataclass(slots=True, init=False)
class Element:
    """The evidence about one (key, item) gathered over the reads of its key."""

    key: str
    item: Any
    adds: list[Write]
    invoke_time: int
    ack: Write | None
    last_present: Read | None = None
    first_absent: Read | None = None
    last_absent: Read | None = None
    first_missed_after_ack: Read | None = None
    final_missing: Sequence[Read] = ()  # set by `_classify`; a default, not a factory: cheaper
    status: str = ""

    def __init__(self, key: str, item: Any, adds: list[Write], invoke_time: int,
                 ack: Write | None, status: str = "") -> None:  # fmt: skip
        # written out, not generated: see cart_history.Read.__init__
        self.key = key
        self.item = item
        self.adds = adds
        self.invoke_time = invoke_time
        self.ack = ack
        self.last_present = self.first_absent = self.last_absent = None
        self.first_missed_after_ack = None
        self.final_missing = ()
        self.status = status

    @property
    def ack_time(self) -> int | None:
        return self.ack.time if self.ack is not None else None


def check(history: History, *, time_limit_s: float = 60.0, max_anomalies: int = 100) -> Result:
    """Takes a cart/set history (ops, a JSONL path or a CartHistory); returns the verdict.

    Anomalies: ``lost`` (one per lost element: the key, the item, the adds, the
    last read that saw it, the first that did not, the final reads missing it,
    the faults around it) and ``unexpected``. At most `max_anomalies` of each
    kind are listed; `stats` counts all of them, the elements by status, and
    gives stable-latency quantiles in ms. Answers "unknown" after
    `time_limit_s` seconds or on a history it cannot interpret.
    """
    return run_checked(lambda h, b: _check(h, b, max_anomalies), history, time_limit_s=time_limit_s)


def _check(h: CartHistory, budget: Budget, max_anomalies: int) -> Result:
    budget.enter("classifying elements")
    reads_by_key: dict[str, list[Read]] = defaultdict(list)
    for r in h.reads:
        reads_by_key[r.key].append(r)
    writes_by_key: dict[str, list[Write]] = defaultdict(list)
    for w in h.writes:
        writes_by_key[w.key].append(w)
    sink = AnomalySink(max_anomalies)
    elements: list[Element] = []
    for key in sorted(set(reads_by_key) | set(writes_by_key)):
        elements.extend(
            _check_key(key, reads_by_key.get(key, []), writes_by_key.get(key, []), h, sink, budget)
        )
    return _verdict(elements, sink, len(h.reads))


def _check_key(
    key: str,
    reads: list[Read],
    writes: list[Write],
    h: CartHistory,
    sink: AnomalySink,
    budget: Budget,
) -> list[Element]:
    """Classifies the elements of one key; records lost and unexpected anomalies."""
    elems, others, possible = _elements(key, writes)
    carts = carts_of(reads)
    _scan_reads(reads, carts, [e for e in elems if not e.status], possible, sink, h, budget)
    finals = [(r, r.invoke_time, c) for r, c in zip(reads, carts) if r.final]
    if not finals and reads:
        finals = [(reads[-1], reads[-1].invoke_time, carts[-1])]
    last_start = reads[-1].invoke_time if reads else None
    for e in elems:
        if not e.status and _classify(e, finals, last_start) == "lost":
            sink.add(_explain_lost(e, h))
    return elems + others if others else elems


def _elements(key: str, writes: list[Write]) -> tuple[list[Element], list[Element], set[Any]]:
    """Returns (elements to judge, elements already settled as removed, possible items).

    An item is possible if some add of it or some remove of it may have written.
    """
    adds: dict[Any, list[Write]] = {}
    removed: set[Any] = set()
    possible: set[Any] = set()
    not_written, ok = Outcome.NOT_WRITTEN, Outcome.OK
    for w in writes:
        if w.f == "add":
            item = w.item
            ws = adds.get(item)
            if ws is None:
                adds[item] = [w]
            else:
                ws.append(w)
            if w.outcome is not not_written:
                possible.add(item)
        elif w.outcome is not not_written:
            removed.add(w.item)
    elems: list[Element] = []
    for item, ws in adds.items():
        if len(ws) == 1:
            w = ws[0]
            e = Element(key, item, ws, w.invoke_time, w if w.outcome is ok else None)
            if w.outcome is not_written:
                e.status = "not-written"
        else:
            e = _element(key, item, ws)
        if item in removed:
            e.status = "removed"
        elems.append(e)
    elems.sort(key=_invoke_time)
    possible |= removed
    if not removed:
        return elems, [], possible
    others = [Element(key, i, [], 0, None, status="removed") for i in removed - adds.keys()]
    return elems, others, possible


_invoke_time = attrgetter("invoke_time")


def _element(key: str, item: Any, ws: list[Write]) -> Element:
    """The element for the adds `ws` of one item: earliest invoke, earliest acknowledgement."""
    acks = [w for w in ws if w.outcome is Outcome.OK]
    ack = min(acks, key=lambda w: w.time) if acks else None
    e = Element(key, item, ws, min(w.invoke_time for w in ws), ack)
    if all(w.outcome is Outcome.NOT_WRITTEN for w in ws):
        e.status = "not-written"
    return e


def _scan_reads(
    reads: list[Read],
    carts: list[set[Any]],
    elems: list[Element],
    possible: set[Any],
    sink: AnomalySink,
    h: CartHistory,
    budget: Budget,
) -> None:
    """Walks the key's reads in invoke order and records each element's evidence.

    An element is active from the first read that began after its add was
    invoked. Its evidence changes only where it flips between present and
    absent, so the walk keeps the active items in two sets and does Python
    work per flip, not per (read, element): most elements are present in
    every read, and a key's reads times its elements is the size of the
    history times its carts. Items outside `possible` (no add could have
    written them) are reported once per key as ``unexpected``.
    """
    present: set[Any] = set()
    absent: set[Any] = set()
    since: dict[Any, int] = {}  # item -> index of the read its current run began at
    active: dict[Any, Element] = {}
    starts = [r.invoke_time for r in reads]
    nxt, n_elems, reported = 0, len(elems), set[Any]()
    for j, items in enumerate(carts):
        if not j & 1023:
            budget.check()
        start = starts[j]
        if present:
            gone = present - items
            if gone:  # present until the previous read, absent from this one
                present -= gone
                for item in gone:
                    e = active[item]
                    e.last_present, e.first_absent = reads[j - 1], reads[j]
                    since[item] = j
        else:
            gone = None
        if absent:
            back = absent & items
            if back:  # absent since `since`, present again
                absent -= back
                present |= back
                for item in back:
                    e = active[item]
                    _end_absence(e, reads, starts, since[item], j - 1)
                    e.first_absent = None
                    since[item] = j
        if gone:
            absent |= gone
        while nxt < n_elems and elems[nxt].invoke_time < start:
            e = elems[nxt]
            nxt += 1
            item = e.item
            active[item] = e
            since[item] = j
            (present if item in items else absent).add(item)
        if not items <= possible:
            _report_unexpected(reads[j], items - possible - reported, reported, sink, h)
    last = len(reads) - 1
    for item in present:
        active[item].last_present = reads[last]
    for item in absent:
        _end_absence(active[item], reads, starts, since[item], last)


def _report_unexpected(
    r: Read, strange: set[Any], reported: set[Any], sink: AnomalySink, h: CartHistory
) -> None:
    """Records one ``unexpected`` anomaly per item no add could have written."""
    for item in sorted(strange, key=repr):
        reported.add(item)
        sink.add(
            explain(
                "unexpected",
                r.key,
                [r],
                h.timeline,
                (r.invoke_time, r.time),
                item=item,
                reason="no add of this item could have written it",
            )
        )


def _end_absence(e: Element, reads: list[Read], starts: list[int], j0: int, j1: int) -> None:
    """Records that reads j0..j1 (inclusive) all missed `e`."""
    e.last_absent = reads[j1]
    ack = e.ack
    if ack is not None and e.first_missed_after_ack is None:
        j = bisect.bisect_right(starts, ack.time, j0, j1 + 1)  # reads start in order
        if j <= j1:
            e.first_missed_after_ack = reads[j]


def _classify(e: Element, finals: list[tuple[Read, int, set[Any]]], last_start: int | None) -> str:
    """Sets `e.status` from its evidence, the key's final reads (read, start, cart) and
    its last read's start; returns the status."""
    ack, item = e.ack, e.item
    since = ack.time if ack is not None else e.invoke_time
    fresh = False  # some final read began after `since`
    missing = []
    for r, start, cart in finals:
        if start > since:
            fresh = True
            if item not in cart:
                missing.append(r)
    e.final_missing = missing
    if ack is None:
        if not fresh:
            e.status = "never-read"
        else:
            e.status = "unrecovered" if missing else "recovered"
    elif last_start is None or last_start <= since or not fresh:
        e.status = "never-read"
    elif missing:
        e.status = "lost"
    elif e.first_missed_after_ack is not None:
        e.status = "stale"
    else:
        e.status = "stable"
    return e.status


def _explain_lost(e: Element, h: CartHistory) -> dict[str, Any]:
    first_missing = e.first_absent or e.first_missed_after_ack or e.final_missing[0]
    involved: list[Any] = [*e.adds, e.last_present, first_missing, *e.final_missing[:3]]
    t1 = first_missing.time
    return explain(
        "lost",
        e.key,
        involved,
        h.timeline,
        (e.invoke_time, t1),
        item=e.item,
        acknowledged=e.ack.index if e.ack is not None else None,
        last_seen=e.last_present.index if e.last_present is not None else None,
        first_missing=first_missing.index,
        missing_in_final=[r.index for r in e.final_missing],
    )


def _verdict(elements: list[Element], sink: AnomalySink, n_reads: int) -> Result:
    counts = Counter(e.status for e in elements)
    latencies = sorted(  # the stable latency of each stable or stale element, inlined
        (e.last_absent.time if e.last_absent is not None else e.invoke_time) - e.invoke_time
        for e in elements
        if e.status == "stable" or e.status == "stale"
    )
    if latencies and latencies[0] < 0:  # never in a recorded run: reads end after they begin
        latencies = [max(0, t) for t in latencies]
    stats: dict[str, Any] = {
        "elements": len(elements),
        "reads": n_reads,
        "status_counts": dict(sorted(counts.items())),
        "recovered_indeterminate": counts.get("recovered", 0),
        "unrecovered_indeterminate": counts.get("unrecovered", 0),
        "stable_latency_ms": _quantiles_ms(latencies),
        "anomaly_counts": dict(sorted(sink.counts.items())),
    }
    acked_never_read = sum(1 for e in elements if e.status == "never-read" and e.ack is not None)
    valid: Validity
    if sink.counts:
        valid = False
    elif acked_never_read:
        valid = UNKNOWN
        stats["reason"] = f"{acked_never_read} acknowledged elements were never read"
    else:
        valid = True
    return Result(valid, sink.items, stats)


def _quantiles_ms(sorted_ns: list[int]) -> dict[str, float] | None:
    if not sorted_ns:
        return None
    n = len(sorted_ns)

    def q(p: float) -> float:
        return round(sorted_ns[min(n - 1, int(p * n))] / 1e6, 3)

    return {"p50": q(0.5), "p90": q(0.9), "p99": q(0.99), "max": q(1.0)}
