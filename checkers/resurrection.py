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
from typing import Any

from checkers.budget import Budget
from checkers.cart_history import CartHistory, Read, Write
from checkers.explain import explain
from checkers.version_graph import Versions


def find_resurrections(v: Versions, h: CartHistory, budget: Budget) -> list[dict[str, Any]]:
    """Returns one ``resurrected`` anomaly per (remove, version) that shows x without cause.

    Needs `v` with ancestry and `v.seen` (the versions reads showed) filled in.
    Each anomaly names the remove, the version and the first read that showed it.
    """
    removes: dict[str, dict[Any, list[Write]]] = defaultdict(lambda: defaultdict(list))
    masks: dict[str, int] = defaultdict(int)
    pos = v.pos
    for w in v.removes:
        removes[w.key][w.item].append(w)
        masks[w.key] |= 1 << pos[w.put]  # type: ignore[index]  # a put: it has an id
    hits: dict[tuple[str, str], Read] = {}
    anc, seen = v.anc, v.seen
    for key, mask in masks.items():
        budget.tick()
        by_item = removes[key]
        removed = by_item.keys()
        first = (mask & -mask).bit_length() - 1  # no put before the first remove descends from one
        for p in v.order[key][first:]:
            versions = seen.get(p)
            if versions is None or not anc[p] & mask:  # the dict lookup first: it is cheaper
                continue
            for items, r in versions:
                if removed.isdisjoint(items):  # most versions: no set built
                    continue
                for x in removed & items:
                    for rm in by_item[x]:
                        if v.precedes(str(rm.put), p):
                            hits.setdefault((str(rm.put), p), r)
    return _judge(hits, v, h, budget)


def _judge(
    hits: dict[tuple[str, str], Read], v: Versions, h: CartHistory, budget: Budget
) -> list[dict[str, Any]]:
    """Keeps the (remove, version) hits whose version carries the item illegitimately."""
    out: list[dict[str, Any]] = []
    legit: dict[str, dict[str, bool]] = {}
    for (rm_put, p), r in sorted(hits.items(), key=lambda kv: kv[1].index):
        rm = v.puts[rm_put]
        if rm_put not in legit:
            legit[rm_put] = _legit_carriers(v, rm.key, rm.item, rm_put, budget)
        if not legit[rm_put].get(p, False):
            out.append(
                explain(
                    "resurrected",
                    rm.key,
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


def _legit_carriers(v: Versions, key: str, x: Any, removal: str, budget: Budget) -> dict[str, bool]:
    """For each descendant of `removal`, whether it carries x through a legitimate path."""
    bit = 1 << v.pos[removal]
    anc, pred, puts = v.anc, v.parents, v.puts
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
