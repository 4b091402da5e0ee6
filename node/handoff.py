"""Hinted handoff: a fallback keeps writes meant for an unreachable primary, then delivers them.

A fallback stores a hinted write in the hint store for its target primary
(separate from its own replicas), merging with `sync`, and acknowledges it
only once that is durable. Every `handoff_interval` it sends the hints of
each primary it believes reachable as ordinary sync writes, which the primary
merges with `sync` (never overwriting). A hint is deleted **only after the
primary acknowledged a durable write** of it, and only if the hint did not
change meanwhile; otherwise it stays for the next round. Delivery is
idempotent, so a lost acknowledgement just means the hint is sent again.
"""

from __future__ import annotations

from node import versions
from node.delivery import AckedSync
from node.health import Health
from node.inflight import Requests
from node.outbox import Outbox
from node.replica import ReplicaStore

BATCH = 64
"""Hints sent per target per round; bounds the in-flight deliveries."""


class Handoff:
    """The hint store's policy: accept hints, deliver them, delete them once acknowledged."""

    def __init__(
        self, name: str, outbox: Outbox, store: ReplicaStore, requests: Requests, health: Health
    ) -> None:
        self.name, self.outbox, self.store, self.requests = name, outbox, store, requests
        self.storage, self.health = store.storage, health
        self.in_flight: set[tuple[str, str]] = set()

    def start(self, interval_s: float) -> None:
        self.outbox.every(interval_s, self.deliver_round)

    def store_hint(self, target: str, key: str, incoming: versions.Versioned) -> None:
        """Merges a write meant for `target` into its hints (durable via the usual Persist)."""
        self.store.merge_into_local(key, incoming, space=target)
        self.outbox.count("hints_stored")

    def deliver_round(self) -> None:
        """Sends a batch of hints to every primary that is believed reachable."""
        for target in sorted(self.storage.hint_counts()):
            if target not in self.health.down and target != self.name:
                for key, data in self.storage.hints(target, BATCH):
                    if (target, key) not in self.in_flight:
                        self.deliver(target, key, data)

    def deliver(self, target: str, key: str, data: bytes) -> None:
        """Sends one hint; it is deleted only once `target` acknowledges it durably."""
        self.in_flight.add((target, key))
        AckedSync(self.outbox, self.requests, target, key, data,
                  on_acked=lambda: self.acknowledged(target, key, data),
                  on_done=lambda: self.in_flight.discard((target, key)))  # fmt: skip

    def acknowledged(self, target: str, key: str, data: bytes) -> None:
        """The primary has the hint durably: delete it unless it changed since it was sent."""
        if versions.encode(self.store.local(key, space=target)) == data:
            self.delete_hint(target, key)
            self.outbox.count("hints_delivered")

    def delete_hint(self, target: str, key: str) -> None:
        """Removes a delivered hint (a named step, so an intercept can replace it)."""
        self.store.store(key, None, None, space=target)

    def pending(self) -> dict[str, int]:
        """Durable hints held per target."""
        return self.storage.hint_counts()
