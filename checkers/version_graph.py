"""The causal graph of versions: one vertex per put, an edge from each parent.

A put's parents are the siblings its get step returned (its context), so an
edge u → v means v's writer had seen u, and u ≼ v (u is an ancestor of v or
v itself) is reachability. `build_graph` keeps the edges as adjacency lists
(a networkx DiGraph is built only to name a cycle, which is rare: building it
for every history cost more than the whole check); only parents written by
some put to the same key get edges (the others are phantoms, reported by the
caller).

`fill_ancestry` orders each key's puts topologically (a depth-first
post-order, fast when parents come first in invoke order, as they nearly
always do) and gives each put the bitset of its ancestors-or-self over that
order: a Python int whose bit i is the key's i-th put. A key with m puts costs
m²/8 bytes. A cycle (a put preceding itself) stops it and is returned.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from checkers.budget import Budget
from checkers.cart_history import CartHistory, HistoryShapeError, Outcome, Read, Write


@dataclass
class Versions:
    """The puts by id, their parents, and (after `fill_ancestry`) order, positions and bitsets.

    `parents` holds each put's known, distinct parents (the graph's edges, as
    adjacency lists: a networkx graph is built only to name a cycle);
    `suspects` the writes whose context named an unknown or repeated put (to be
    reported); `seen` each distinct (items, first read) that reads showed for a put.
    """

    puts: dict[str, Write]
    parents: dict[str, list[str]] = field(default_factory=dict)
    order: dict[str, list[str]] = field(default_factory=dict)
    pos: dict[str, int] = field(default_factory=dict)
    anc: dict[str, int] = field(default_factory=dict)
    seen: dict[str, list[tuple[list[Any], Read]]] = field(default_factory=dict)
    n_edges: int = 0
    suspects: list[Write] = field(default_factory=list)
    sizes: dict[str, int] = field(default_factory=dict)
    indeterminate: int = 0
    pending: list[str] | None = None
    removes: list[Write] = field(default_factory=list)
    """The remove puts (in invoke order)."""
    """After a `build_graph` that placed puts as it went: the puts still to place."""

    def known(self, put: str, key: str) -> bool:
        """True if `put` was written by some put to `key`."""
        w = self.puts.get(put)
        return w is not None and w.key == key

    def precedes(self, u: str, v: str) -> bool:
        """u ≼ v: u is an ancestor of v or equal to it (both known, same key)."""
        return bool(self.anc[v] >> self.pos[u] & 1)

    def ancestry_bytes(self) -> int:
        """What `fill_ancestry` would need: the sum over keys of m²/8 for m puts."""
        return sum(m * m // 8 for m in self.sizes.values())

    def graph(self) -> nx.DiGraph:
        """The version graph as a networkx DiGraph (an edge from each parent)."""
        g: nx.DiGraph = nx.DiGraph()
        g.add_nodes_from(self.puts)
        g.add_edges_from((q, p) for p, ps in self.parents.items() for q in ps)
        return g


def build_graph(h: CartHistory, max_ancestry_bytes: int = -1) -> Versions:
    """Returns the versions: one per put that may have been written, with its known parents.

    If their ancestry fits in `max_ancestry_bytes`, it also places, as it goes,
    every put whose parents are placed already (nearly all: parents come first
    in invoke order), which saves `fill_ancestry` a pass over every put (on a
    history of a million ops, each pass over its objects costs a noticeable
    share of the check). Raises HistoryShapeError if two writes claim the same
    put id.
    """
    puts: dict[str, Write] = {}
    sizes: dict[str, int] = defaultdict(int)
    removes: list[Write] = []
    ok = Outcome.OK
    n_ok = 0
    for w in h.writes:
        p = w.put
        if p is None:
            continue
        if puts.setdefault(p, w) is not w:
            raise HistoryShapeError(w.invoke_index, f"put id {p!r} is used twice")
        sizes[w.key] += 1
        if w.outcome is ok:
            n_ok += 1
        if w.f == "remove":
            removes.append(w)
    v = Versions(puts, sizes=dict(sizes), indeterminate=len(puts) - n_ok, removes=removes)
    v.n_edges = _link(v, v.ancestry_bytes() <= max_ancestry_bytes)
    return v


def _link(v: Versions, place: bool) -> int:
    """Fills `v.parents` and `v.suspects` (and, if `place`, places what it can); returns
    the number of edges. Most puts have one parent: that case is handled first."""
    puts, parents, suspects, n_edges = v.puts, v.parents, v.suspects, 0
    get = puts.get
    anc, pos, pending = v.anc, v.pos, []
    order: dict[str, list[str]] = defaultdict(list)
    for p, w in puts.items():
        key, ws = w.key, w.parents
        if len(ws) == 1 and (wq := get(ws[0])) is not None and wq.key == key:
            parents[p] = ws  # the put's own list: read-only from here on
            n_edges += 1
            if place:
                aq = anc.get(wq.put or ws[0])  # the dict's own key object: found by identity
                if aq is None:
                    pending.append(p)
                else:
                    lst = order[key]
                    pos[p] = i = len(lst)
                    lst.append(p)
                    anc[p] = aq | 1 << i
            continue
        ps = []
        for q in ws:
            wq = get(q)
            if wq is not None and wq.key == key and q not in ps:
                ps.append(q)
        parents[p] = ps
        n_edges += len(ps)
        if len(ps) != len(ws):
            suspects.append(w)
        if place:
            a = 0
            for q in ps:
                aq = anc.get(q)
                if aq is None:
                    pending.append(p)
                    break
                a |= aq
            else:  # every parent placed already
                lst = order[key]
                pos[p] = i = len(lst)
                lst.append(p)
                anc[p] = a | 1 << i
    if place:
        v.order, v.pending = order, pending
    return n_edges


def fill_ancestry(v: Versions, budget: Budget) -> list[str] | None:
    """Fills `v.order`, `v.pos` and `v.anc`; returns a cycle's put ids if there is one."""
    anc, parents, puts, pos = v.anc, v.parents, v.puts, v.pos
    order: dict[str, list[str]] = defaultdict(list, v.order)
    todo = puts.items() if v.pending is None else [(p, puts[p]) for p in v.pending]
    for n, (root, w) in enumerate(todo):
        if not n & 1023:
            budget.check()
        if root in anc:
            continue
        a = 0
        for q in parents[root]:
            aq = anc.get(q)
            if aq is None:
                break
            a |= aq
        else:  # every parent placed already: the common case, inlined `_place`
            lst = order[w.key]
            pos[root] = i = len(lst)
            lst.append(root)
            anc[root] = a | 1 << i
            continue
        if not _place_tree(v, order, root, budget):
            return [u for u, _ in nx.find_cycle(v.graph(), root)]
    v.order = dict(order)
    return None


def _place(v: Versions, order: dict[str, list[str]], p: str) -> None:
    """Appends `p` (all of whose parents are placed) to its key's order; sets its bitset."""
    lst = order[v.puts[p].key]
    v.pos[p] = len(lst)
    lst.append(p)
    a = 1 << v.pos[p]
    anc = v.anc
    for q in v.parents[p]:
        a |= anc[q]
    anc[p] = a


def _place_tree(v: Versions, order: dict[str, list[str]], root: str, budget: Budget) -> bool:
    """Places `root` after its unplaced ancestors (iterative DFS); False on a cycle."""
    anc, parents = v.anc, v.parents
    stack = [(root, iter(parents[root]))]
    on_stack = {root}
    while stack:
        budget.tick()
        node, it = stack[-1]
        for q in it:
            if q in anc:
                continue
            if q in on_stack:
                return False
            on_stack.add(q)
            stack.append((q, iter(parents[q])))
            break
        else:
            stack.pop()
            on_stack.discard(node)
            _place(v, order, node)
    return True
