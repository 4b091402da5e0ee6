"""Removed cart items may come back only through a concurrent branch.

A remove of item x by put R is undone legitimately when a later version merges
in a branch that still carries x and that does not descend from R (the
Dynamo shopping-cart anomaly: deleted items can resurface), or when x is added
again. It is an anomaly (``resurrected``) when a version s with R ≼ s shows x
although every path that brings x into s runs through R.

For one remove, "s legitimately carries x" is computed over the key's puts in
topological order: a put carries x if it adds x, or does not remove it and a
parent carries x; a descendant of R carries x legitimately if it adds x, or
does not remove it and has a parent that either legitimately carries x (when
the parent descends from R) or carries x at all (when it does not).
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

from checkers.budget import Budget
from checkers.cart_history import CartHistory, Read, Write
from checkers.explain import explain

if TYPE_CHECKING:
    from checkers.causality import Versions


def find_resurrections(v: Versions, h: CartHistory, budget: Budget) -> list[dict[str, Any]]:
    """Returns one ``resurrected`` anomaly per (remove, version) that shows x without cause.

    Needs `v` with ancestry filled in. Each anomaly names the remove, the first
    read that showed the item again and the version it was in.
    """
    removes: dict[str, dict[Any, list[Write]]] = defaultdict(lambda: defaultdict(list))
    for w in v.puts.values():
        if w.f == "remove" and _hashable(w.item):
            removes[w.key][w.item].append(w)
    out: list[dict[str, Any]] = []
    hits: dict[str, dict[tuple[str, str], Read]] = defaultdict(dict)
    for r in h.reads:
        budget.tick()
        by_item = removes.get(r.key)
        if by_item is None:
            continue
        for s in r.siblings:
            p = s["put"]
            if not v.known(p, r.key):
                continue
            for x in by_item.keys() & s["items"]:
                for rm in by_item[x]:
                    if v.anc[p] >> v.pos[str(rm.put)] & 1:
                        hits[r.key].setdefault((str(rm.put), p), r)
    legit: dict[str, dict[str, bool]] = {}
    for key, found in hits.items():
        for (rm_put, p), r in found.items():
            rm = v.puts[rm_put]
            if rm_put not in legit:
                legit[rm_put] = _legit_carriers(v, key, rm.item, rm_put, budget)
            if not legit[rm_put].get(p, False):
                out.append(
                    explain(
                        "resurrected",
                        key,
                        [rm, v.puts[p], r],
                        h.timeline,
                        (rm.invoke_time, r.time),
                        item=rm.item,
                        remove=rm_put,
                        version=p,
                        read=r.index,
                    )
                )
    return out


def _hashable(x: Any) -> bool:
    return isinstance(x, int | str | float | bool | type(None))


def _legit_carriers(v: Versions, key: str, x: Any, removal: str, budget: Budget) -> dict[str, bool]:
    """For each descendant of `removal`, whether it carries x through a legitimate path."""
    bit = 1 << v.pos[removal]
    anc, pred, puts = v.anc, v.graph.pred, v.puts
    carries: dict[str, bool] = {}
    legit: dict[str, bool] = {}
    for p in v.order[key]:
        budget.tick()
        w = puts[p]
        adds = w.f == "add" and w.item == x
        removes = w.f == "remove" and w.item == x
        parents = pred[p]
        carries[p] = adds or (not removes and any(carries[q] for q in parents))
        if anc[p] & bit:
            legit[p] = adds or (
                not removes and any(legit[q] if anc[q] & bit else carries[q] for q in parents)
            )
    return legit
