"""Gossip membership (being built).

Interface the node relies on (keep it): `Membership(node)`; `start()` arms
gossip; `address_of(name)` says how to reach a member (None if unknown);
`PEER_HANDLERS` and `CLIENT_HANDLERS` map message types to handlers. Ring
changes go through `node.set_members(...)`, which rebuilds the ring and tells
the ring listeners (anti-entropy).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from node.protocol import Message

if TYPE_CHECKING:
    from node.coordinator import Origin
    from node.core import Node


class Membership:
    """Placeholder until gossip lands: the static member list from the config."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.addresses = {p.name: (p.host, p.port) for p in node.cfg.members}

    def start(self) -> None:
        """Arms the gossip rounds (no-op for now)."""

    def address_of(self, name: str) -> tuple[str, int] | None:
        """How this node reaches `name`, or None if it does not know it."""
        return self.addresses.get(name)


PEER_HANDLERS: dict[str, Callable[[Node, str, Message], None]] = {}
CLIENT_HANDLERS: dict[str, Callable[[Node, Origin, Message], None]] = {}
