"""Ownership transfer: when the ring changes, local keys go to the primaries they gained.

On each ring change (a `Placement` listener) every locally stored key
whose first N preference-list nodes now include nodes that were not among them
before is queued for those nodes. Each `step()` sends up to `MOVE_BATCH` queued
(key, node) pairs to reachable targets as sync writes, which the target merges
with `sync` and acknowledges once durable (`sync_ok`). Unacknowledged pairs are
retried in later steps; pairs whose target is no longer a primary are dropped.

Local copies are never deleted: core.py's invariant needs the local object to
keep every live dot of this node's actor, and an extra stale replica is harmless.
"""

from __future__ import annotations

from node import versions
from node.delivery import AckedSync
from node.health import Health
from node.inflight import Requests
from node.outbox import Outbox
from node.placement import Placement
from node.replica import ReplicaStore
from node.ring import Ring

MOVE_BATCH = 64
"""(key, new primary) pairs in flight per node at a time."""


class Mover:
    """Queues local keys for the primaries they gain on ring changes; sends them until acked."""

    def __init__(
        self,
        outbox: Outbox,
        store: ReplicaStore,
        requests: Requests,
        placement: Placement,
        health: Health,
    ) -> None:
        self.outbox, self.store, self.requests = outbox, store, requests
        self.placement, self.health = placement, health
        self.name, self.n = placement.name, placement.n
        self.ring: Ring | None = None
        self.pending: dict[str, set[str]] = {}
        self.in_flight: set[tuple[str, str]] = set()
        placement.listeners.append(self.on_ring)

    def watch(self) -> None:
        """Tracks ring changes from now on, relative to the current ring."""
        self.ring = self.placement.ring

    def on_ring(self, ring: Ring) -> None:
        """Queues every local key whose primaries under `ring` include new nodes."""
        old, self.ring = self.ring, ring
        if old is None:
            return
        n = self.n
        for key in self.store.storage.keys():
            before = old.preference_list(key, n)
            gained = [p for p in ring.preference_list(key, n) if p not in before]
            gained = [p for p in gained if p != self.name]
            if gained:
                self.pending.setdefault(key, set()).update(gained)

    def step(self) -> None:
        """Sends up to MOVE_BATCH pending (key, primary) pairs to primaries not marked down."""
        budget = MOVE_BATCH - len(self.in_flight)
        for key in list(self.pending):
            if budget <= 0:
                return
            targets = self.pending[key] & set(self.placement.primaries(key))
            if not targets:
                del self.pending[key]
                continue
            self.pending[key] = targets
            for target in sorted(targets):
                if (
                    budget > 0
                    and (target, key) not in self.in_flight
                    and target not in self.health.down
                ):
                    self.send(target, key)
                    budget -= 1

    def send(self, target: str, key: str) -> None:
        """Sends the local object of `key` to `target`, until it acknowledges it durably."""
        self.in_flight.add((target, key))
        data = versions.encode(self.store.local(key))
        AckedSync(self.outbox, self.requests, target, key, data,
                  on_acked=lambda: self.delivered(target, key),
                  on_done=lambda: self.in_flight.discard((target, key)))  # fmt: skip

    def delivered(self, target: str, key: str) -> None:
        self.outbox.count("keys_moved")
        targets = self.pending.get(key)
        if targets is not None:
            targets.discard(target)
            if not targets:
                del self.pending[key]
