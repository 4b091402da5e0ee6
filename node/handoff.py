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

from typing import TYPE_CHECKING

from node import versions
from node.protocol import Message

if TYPE_CHECKING:
    from node.core import Node

BATCH = 64
"""Hints sent per target per round; bounds the in-flight deliveries."""


class Delivery:
    """One hint in flight to its primary; registered in `node.requests`."""

    def __init__(self, handoff: Handoff, target: str, key: str, data: bytes) -> None:
        self.handoff, self.target, self.key, self.data = handoff, target, key, data
        node = handoff.node
        self.id = node.new_id()
        node.requests[self.id] = self
        self.timer = node.after(node.cfg.request_timeout_ms / 1000, self.on_timeout)
        node.send(target, {"t": "sync", "id": self.id, "key": key, "obj": data})

    def on_reply(self, peer: str, msg: Message) -> None:
        if peer == self.target and msg.get("t") == "sync_ok":
            self.handoff.acknowledged(self)
            self.finish()

    def on_unreachable(self, peer: str) -> None:
        if peer == self.target:
            self.finish()

    def on_timeout(self) -> None:
        self.finish()

    def finish(self) -> None:
        node = self.handoff.node
        node.requests.pop(self.id, None)
        node.cancel(self.timer)
        self.handoff.in_flight.discard((self.target, self.key))


class Handoff:
    """The hint store's policy: accept hints, deliver them, delete them once acknowledged."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.in_flight: set[tuple[str, str]] = set()

    def start(self) -> None:
        self.node.every(self.node.cfg.handoff_interval_ms / 1000, self.deliver_round)

    def store_hint(self, target: str, key: str, incoming: versions.Versioned) -> None:
        """Merges a write meant for `target` into its hints (durable via the usual Persist)."""
        self.node.merge_into_local(key, incoming, space=target)
        self.node.count("hints_stored")

    def deliver_round(self) -> None:
        """Sends a batch of hints to every primary that is believed reachable."""
        node = self.node
        for target in sorted(node.storage.hint_counts()):
            if target not in node.down and target != node.name:
                for key, data in node.storage.hints(target, BATCH):
                    if (target, key) not in self.in_flight:
                        self.in_flight.add((target, key))
                        Delivery(self, target, key, data)

    def acknowledged(self, d: Delivery) -> None:
        """The primary has the hint durably: delete it unless it changed since it was sent."""
        node = self.node
        current = node.local(d.key, space=d.target)
        if versions.encode(current) == d.data:
            self.delete_hint(d.target, d.key)
            node.count("hints_delivered")

    def delete_hint(self, target: str, key: str) -> None:
        """Removes a delivered hint (a named step, so an intercept can replace it)."""
        self.node.store(key, None, None, space=target)

    def pending(self) -> dict[str, int]:
        """Durable hints held per target."""
        return self.node.storage.hint_counts()
