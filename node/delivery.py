"""One key's whole object sent to one peer as a sync write, until the peer has it on disk.

Hinted handoff and ownership transfer both need this: send, then act only on
the peer's `sync_ok` (which it sends after its write is durable), and give up
quietly on an unreachable peer or a timeout so the caller can retry later.
"""

from __future__ import annotations

from collections.abc import Callable

from node.inflight import Requests
from node.messages import PeerReply, Sync, SyncOk
from node.outbox import Outbox


class AckedSync:
    """A sync write in flight, an `inflight.InFlight` request.

    Calls `on_acked` once the target acknowledged durable storage, and
    `on_done` exactly once when the request ends, however it ends.
    """

    def __init__(
        self,
        outbox: Outbox,
        requests: Requests,
        target: str,
        key: str,
        data: bytes,
        on_acked: Callable[[], None],
        on_done: Callable[[], None],
    ) -> None:
        self.requests, self.target, self.on_acked, self.on_done = (
            requests,
            target,
            on_acked,
            on_done,
        )
        self.id = requests.open(self)
        outbox.send(target, Sync(self.id, key, data))

    def on_reply(self, peer: str, msg: PeerReply) -> None:
        if peer == self.target and isinstance(msg, SyncOk):
            self.on_acked()
            self.finish()

    def on_unreachable(self, peer: str, unsent: bool) -> None:
        if peer == self.target:
            self.finish()

    def on_timeout(self) -> None:
        self.finish()

    def finish(self) -> None:
        if self.requests.close(self.id):
            self.on_done()
