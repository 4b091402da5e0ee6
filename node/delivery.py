"""One key's whole object sent to one peer as a sync write, until the peer has it on disk.

Hinted handoff and ownership transfer both need this: send, then act only on
the peer's `sync_ok` (which it sends after its write is durable), and give up
quietly on an unreachable peer or a timeout so the caller can retry later.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from node.protocol import Message

if TYPE_CHECKING:
    from node.core import Node


class AckedSync:
    """A sync write in flight, registered in `node.requests`.

    Calls `on_acked` once the target acknowledged durable storage, and
    `on_done` exactly once when the request ends, however it ends.
    """

    def __init__(
        self,
        node: Node,
        target: str,
        key: str,
        data: bytes,
        on_acked: Callable[[], None],
        on_done: Callable[[], None],
    ) -> None:
        self.node, self.target, self.on_acked, self.on_done = node, target, on_acked, on_done
        self.id = node.new_id()
        node.requests[self.id] = self
        self.timer = node.after(node.cfg.request_timeout_ms / 1000, self.on_timeout)
        node.send(target, {"t": "sync", "id": self.id, "key": key, "obj": data})

    def on_reply(self, peer: str, msg: Message) -> None:
        if peer == self.target and msg.get("t") == "sync_ok":
            self.on_acked()
            self.finish()

    def on_unreachable(self, peer: str, unsent: bool = False) -> None:
        if peer == self.target:
            self.finish()

    def on_timeout(self) -> None:
        self.finish()

    def finish(self) -> None:
        if self.node.requests.pop(self.id, None) is not None:
            self.node.cancel(self.timer)
            self.on_done()
