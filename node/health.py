"""Local failure detection: which peers this node currently routes around.

A peer is marked down when a connection to it fails or a request to it times
out, and up again when it answers anything. Down peers get a ping every
`probe_interval_ms`, so a recovered peer is noticed without client traffic.
"""

from __future__ import annotations

from node.messages import Ping
from node.modes import LogLevel
from node.outbox import Outbox


class Health:
    """The set of peers believed down, and the probe that brings them back."""

    def __init__(self, name: str, outbox: Outbox) -> None:
        self.name = name
        self.outbox = outbox
        self.down: set[str] = set()

    def start(self, probe_interval_s: float) -> None:
        self.outbox.every(probe_interval_s, self.probe)

    def healthy(self, peer: str) -> bool:
        return peer == self.name or peer not in self.down

    def mark_down(self, peer: str) -> None:
        if peer != self.name and peer not in self.down:
            self.down.add(peer)
            self.outbox.log(
                LogLevel.WARNING, f"peer {peer} unreachable; routing around it until it answers"
            )

    def mark_up(self, peer: str) -> None:
        if peer in self.down:
            self.down.discard(peer)
            self.outbox.log(LogLevel.INFO, f"peer {peer} answers again")

    def probe(self) -> None:
        for peer in sorted(self.down):
            self.outbox.send(peer, Ping(0))
