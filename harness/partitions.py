"""Partition shapes: pure functions from the node list to the directed links to cut.

A *link* `(src, dst)` is the connection src opens to dst. In the Sibyl mesh each
node sends its requests *and its replies* to a peer on its own outbound link, so
cutting `(a, b)` silences everything a says to b while b can still talk to a.
A partition between groups cuts both directions of every link across them;
`one_way` cuts one direction only.

Every shape takes the node names and a `random.Random` (the only source of
randomness; the same seed gives the same cut) and returns a `frozenset` of
links. Nothing here touches a process or a socket: `harness.nemesis` applies
what these functions compute.

Invariant: a returned link always joins two distinct names from `nodes`.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Sequence
from enum import StrEnum

Link = tuple[str, str]
Cut = frozenset[Link]


class PartitionMode(StrEnum):
    """What a cut link does with the bytes sent across it."""

    HOLD = "hold"  # kept and delivered at the heal (bandwidth 0): a short TCP outage
    DROP = "drop"  # lost, and connections closed at the heal (Toxiproxy's timeout 0)
    RESET = "reset"  # as drop, and live connections are also reset at the cut


class Shape(StrEnum):
    """The partition shapes a `partition` fault may ask for (mildest first)."""

    ONE = "one"
    HALVES = "halves"
    ONE_WAY = "one-way"
    BRIDGE = "bridge"
    MAJORITIES_RING = "majorities-ring"


#: The fewest distinct nodes each shape can be drawn on.
MIN_NODES: dict[Shape, int] = {
    Shape.ONE: 2,
    Shape.HALVES: 2,
    Shape.ONE_WAY: 2,
    Shape.BRIDGE: 3,
    Shape.MAJORITIES_RING: 4,
}


def shapes_for(count: int) -> list[Shape]:
    """The shapes a cluster of `count` nodes can have, mildest first."""
    return [s for s in Shape if MIN_NODES[s] <= count]


def cut_between(a: Iterable[str], b: Iterable[str]) -> Cut:
    """Every link from a node of `a` to a node of `b` and back (both directions)."""
    left, right = list(a), list(b)
    return frozenset(link for x in left for y in right if x != y for link in ((x, y), (y, x)))


def cut_from(a: Iterable[str], b: Iterable[str]) -> Cut:
    """Every link from a node of `a` to a node of `b` (one direction only)."""
    right = list(b)
    return frozenset((x, y) for x in a for y in right if x != y)


def shuffled(nodes: Sequence[str], rng: random.Random) -> list[str]:
    """The node names, de-duplicated, sorted, then shuffled by `rng` (so the result
    depends only on the set of names and the rng state, not on the input order)."""
    names = sorted(set(nodes))
    rng.shuffle(names)
    return names


def _require(nodes: Sequence[str], shape: Shape) -> None:
    at_least = MIN_NODES[shape]
    if len(set(nodes)) < at_least:
        raise ValueError(
            f"partition shape {shape.value!r} needs at least {at_least} nodes, "
            f"got {len(set(nodes))}: {sorted(set(nodes))}"
        )


def halves(nodes: Sequence[str], rng: random.Random) -> Cut:
    """Splits the nodes at random into a smaller half (⌊n/2⌋ nodes) and a larger one,
    and cuts every link between them in both directions."""
    _require(nodes, Shape.HALVES)
    order = shuffled(nodes, rng)
    mid = len(order) // 2
    return cut_between(order[:mid], order[mid:])


def isolate_one(nodes: Sequence[str], rng: random.Random) -> Cut:
    """Cuts one node chosen at random from all the others, both directions."""
    _require(nodes, Shape.ONE)
    order = shuffled(nodes, rng)
    return cut_between(order[:1], order[1:])


def one_way(nodes: Sequence[str], rng: random.Random) -> Cut:
    """Splits the nodes as `halves` does and cuts only the links from the smaller half
    to the larger one: the larger half still reaches the smaller, but nothing the
    smaller half says (requests or replies) reaches the larger."""
    _require(nodes, Shape.ONE_WAY)
    order = shuffled(nodes, rng)
    mid = len(order) // 2
    return cut_from(order[:mid], order[mid:])


def bridge(nodes: Sequence[str], rng: random.Random) -> Cut:
    """Cuts the network into two halves, except one bridge node that keeps both
    directions to every node on either side."""
    _require(nodes, Shape.BRIDGE)
    order = shuffled(nodes, rng)
    mid = (len(order) - 1) // 2
    return cut_between(order[:mid], order[mid + 1 :])


def majorities_ring(nodes: Sequence[str], rng: random.Random) -> Cut:
    """Arranges the nodes in a random ring; each node keeps both directions to the
    nodes within ring distance k = ⌈⌊n/2⌋ / 2⌉ and loses every other link. Every node
    then sees a majority (itself and 2k others), and, since 2k + 1 < n, no two
    nodes see the same majority. Needs at least 4 nodes (with 3, any majority a
    node sees is also seen by the other member of it)."""
    _require(nodes, Shape.MAJORITIES_RING)
    order = shuffled(nodes, rng)
    n = len(order)
    k = -(-(n // 2) // 2)  # ceil(floor(n/2) / 2): 2k >= majority - 1
    cut: set[Link] = set()
    for i, a in enumerate(order):
        for j, b in enumerate(order):
            distance = min((i - j) % n, (j - i) % n)
            if distance > k:
                cut.add((a, b))
    return frozenset(cut)


SHAPES: dict[Shape, Callable[[Sequence[str], random.Random], Cut]] = {
    Shape.ONE: isolate_one,
    Shape.HALVES: halves,
    Shape.ONE_WAY: one_way,
    Shape.BRIDGE: bridge,
    Shape.MAJORITIES_RING: majorities_ring,
}


def cut_for(shape: Shape | str, nodes: Sequence[str], rng: random.Random) -> Cut:
    """The cut of the named shape; raises ValueError naming the known shapes."""
    try:
        known = Shape(shape)
    except ValueError:
        names = ", ".join(s.value for s in Shape)
        raise ValueError(f"unknown partition shape {shape!r} (known: {names})") from None
    return SHAPES[known](nodes, rng)


def visible(nodes: Iterable[str], cut: Iterable[Link]) -> dict[str, frozenset[str]]:
    """For each node, itself and the nodes it can talk with in both directions
    (neither link between them cut)."""
    names = sorted(set(nodes))
    gone = set(cut)
    return {
        a: frozenset(b for b in names if a == b or ((a, b) not in gone and (b, a) not in gone))
        for a in names
    }


def sorted_links(cut: Iterable[Link]) -> list[list[str]]:
    """The links as sorted `[src, dst]` lists (the JSON form used in fault details)."""
    return [[src, dst] for src, dst in sorted(cut)]
