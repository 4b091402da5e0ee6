"""Merkle-tree anti-entropy between replicas of the same partition (being built).

Interface the node relies on (keep it): `AntiEntropy(node)` registers itself
as a change listener; `start()` arms the periodic exchange; `roots()` returns
the Merkle root per partition for the debug API; `PEER_HANDLERS` maps the
anti-entropy message types to handlers `(node, peer, msg) -> None`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from node.protocol import Message
from node.versions import Versioned

if TYPE_CHECKING:
    from node.core import Node


class AntiEntropy:
    """Placeholder until the Merkle exchange lands: tracks nothing, exchanges nothing."""

    def __init__(self, node: Node) -> None:
        self.node = node
        node.change_listeners.append(self.on_change)

    def start(self) -> None:
        """Arms the periodic exchange (no-op for now)."""

    def on_change(self, key: str, obj: Versioned) -> None:
        """Called on every change to the local replica store."""

    def roots(self) -> dict[int, str]:
        """Merkle root (hex) per locally replicated partition."""
        return {}


PEER_HANDLERS: dict[str, Callable[[Node, str, Message], None]] = {}
