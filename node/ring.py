"""Consistent hashing with Q fixed partitions (Dynamo's strategy 3).

MD5(key) gives a 128-bit ring position; the ring is cut into Q equal
partitions (Q a power of two). Each partition has one owner. Ownership is a
pure function of the membership in join order, so every node that knows the
same members computes the same ring:

* Each member's target share is proportional to its weight (largest remainder).
* A join or leave moves only the partitions it must: over-target owners hand
  partitions to under-target ones, each partition chosen by a stable hash score,
  so adding a node moves about 1/(n+1) of the partitions, all to the new node.

A preference list walks the partitions clockwise from the key's partition and
skips owners already chosen, so it names distinct physical nodes.
"""

from __future__ import annotations

import functools
import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Member:
    """A physical node and its capacity weight (a positive integer)."""

    name: str
    weight: int = 1


@functools.lru_cache(maxsize=4096)  # bounded: a node places the same few keys over and over
def key_position(key: str) -> int:
    """The key's 128-bit ring position: MD5 of its UTF-8 bytes."""
    return int.from_bytes(hashlib.md5(key.encode("utf-8")).digest(), "big")


def _score(node: str, partition: int) -> bytes:
    return hashlib.md5(f"{node}/{partition}".encode()).digest()


def targets(members: Sequence[Member], partitions: int) -> dict[str, int]:
    """Partition counts per member, proportional to weight, summing to `partitions`."""
    total = sum(m.weight for m in members)
    exact = {m.name: partitions * m.weight / total for m in members}
    out = {name: int(share) for name, share in exact.items()}
    spare = partitions - sum(out.values())
    by_remainder = sorted(exact, key=lambda n: (-(exact[n] - out[n]), n))
    for name in by_remainder[:spare]:
        out[name] += 1
    return out


def rebalance(owners: list[str], members: Sequence[Member]) -> list[str]:
    """Moves the fewest partitions so each member owns its target share.

    Partitions of non-members are handed out first; the receiver with the
    largest deficit takes, from over-target owners, the partition it scores
    best on. Deterministic for given inputs.
    """
    out = list(owners)
    want = targets(members, len(out))
    have = Counter(out)
    for _ in range(len(out)):
        need = {n: want[n] - have[n] for n in want if want[n] > have[n]}
        if not need:
            break
        receiver = min(need, key=lambda n: (-need[n], n))
        donors = {o for o in have if have[o] > want.get(o, 0)}
        candidates = [p for p, o in enumerate(out) if o in donors]
        orphans = [p for p in candidates if out[p] not in want]
        pick = min(orphans or candidates, key=lambda p: _score(receiver, p))
        have[out[pick]] -= 1
        have[receiver] += 1
        out[pick] = receiver
    return out


_MAX_LAYOUTS = 64
_layouts: dict[tuple[tuple[Member, ...], int], tuple[tuple[str, ...], list[list[str]]]] = {}
"""Computed layouts by (members, partitions). Rebalancing hashes every (member, partition)
pair, and a node rebuilds its ring on every membership change it hears of (and every
simulated node on every boot), so equal memberships share one immutable layout."""


class Ring:
    """The partition → owner map for a membership (given in join order)."""

    def __init__(self, members: Sequence[Member], partitions: int = 64) -> None:
        if partitions < 1 or partitions & (partitions - 1):
            raise ValueError(f"partitions must be a power of two, got {partitions}")
        if not members:
            raise ValueError("a ring needs at least one member")
        names = [m.name for m in members]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate member names in {names}")
        self.members = tuple(members)
        self.partitions = partitions
        self._shift = 128 - (partitions.bit_length() - 1)
        layout = _layouts.get((self.members, partitions))
        if layout is None:
            layout = self._layout()
            if len(_layouts) >= _MAX_LAYOUTS:  # bounded: forget the oldest membership
                del _layouts[next(iter(_layouts))]
            _layouts[(self.members, partitions)] = layout
        self.owners: tuple[str, ...] = layout[0]
        self._walks = layout[1]

    def _layout(self) -> tuple[tuple[str, ...], list[list[str]]]:
        """(owners, walks) of this membership: a pure function of (members, partitions)."""
        members = self.members
        owners = [members[0].name] * self.partitions
        for k in range(2, len(members) + 1):
            owners = rebalance(owners, members[:k])
        self.owners = tuple(owners)
        return self.owners, [self._walk(p) for p in range(self.partitions)]

    def partition_of(self, key: str) -> int:
        """The partition holding `key`."""
        return key_position(key) >> self._shift

    def walk(self, partition: int) -> list[str]:
        """All distinct owners, clockwise from `partition` (a shared list: do not mutate)."""
        return self._walks[partition]

    def _walk(self, partition: int) -> list[str]:
        seen: list[str] = []
        q = self.partitions
        for i in range(q):
            owner = self.owners[(partition + i) % q]
            if owner not in seen:
                seen.append(owner)
                if len(seen) == len(self.members):
                    break
        return seen

    def preference_list(self, key: str, length: int) -> list[str]:
        """The first `length` distinct physical nodes for `key` (fewer if the ring is smaller)."""
        return self.walk(self.partition_of(key))[:length]

    def share(self) -> dict[str, float]:
        """Fraction of partitions each member owns."""
        c = Counter(self.owners)
        return {m.name: c[m.name] / self.partitions for m in self.members}
