"""Placement: this node's view of the ring, and which nodes a key's requests go to.

The ring changes only through `set_members` (membership applies its history);
ring listeners (anti-entropy's tree selection, ownership transfer) hear of
every change.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from node.config import NodeConfig
from node.health import Health
from node.modes import QuorumMode
from node.ring import Member, Ring

RingListener = Callable[[Ring], None]


class Placement:
    """The current ring and the preference-list queries the coordinator needs."""

    def __init__(self, cfg: NodeConfig, health: Health) -> None:
        self.name = cfg.name
        self.n = cfg.n
        self.quorum = cfg.quorum
        self.health = health
        self.partitions = cfg.partitions
        self.ring = Ring(cfg.ring_members, cfg.partitions)
        self.listeners: list[RingListener] = []

    def set_members(self, members: Sequence[Member]) -> None:
        """Rebuilds the ring for `members` (in join order) and tells the ring listeners."""
        ring = Ring(members, self.partitions)
        if ring.owners == self.ring.owners and ring.members == self.ring.members:
            return
        self.ring = ring
        self.health.down &= {m.name for m in members}
        for listener in self.listeners:
            listener(ring)

    def walk(self, key: str) -> list[str]:
        """The key's whole preference list (every member, in order)."""
        return self.ring.walk(self.ring.partition_of(key))

    def primaries(self, key: str) -> list[str]:
        """The first N nodes of the key's preference list, healthy or not."""
        ring = self.ring
        return ring.walk(ring.partition_of(key))[: self.n]

    def targets(self, key: str) -> tuple[list[str], list[str]]:
        """(the first N healthy nodes of the preference list, the healthy spares after them)."""
        _, targets, spares = self.route(key)
        return targets, spares

    def route(self, key: str) -> tuple[list[str], list[str], list[str]]:
        """(primaries, targets, spares) of `key`, from one walk of the ring (per request)."""
        ring = self.ring
        walk = ring.walk(ring.partition_of(key))
        primaries = walk[: self.n]
        if self.quorum is QuorumMode.STRICT:
            return primaries, primaries, []
        me, down = self.name, self.health.down  # healthy(), inlined
        ok = [p for p in walk if p == me or p not in down]
        return primaries, ok[: self.n], ok[self.n :]
