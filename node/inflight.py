"""In-flight requests: the typed protocol a request implements, and the registry that routes
replies, unreachable peers and timeouts to it.

A request (a get, a put, a forwarded put, an acknowledged sync) is opened
under a fresh id with one timeout timer; replies carrying that id reach its
`on_reply`. `close` ends it (cancelling the timer) exactly once.
"""

from __future__ import annotations

from typing import Protocol

from node.messages import PeerReply
from node.outbox import Outbox


class InFlight(Protocol):
    """What every in-flight request answers to."""

    def on_reply(self, peer: str, msg: PeerReply) -> None:
        """A reply carrying this request's id arrived from `peer`."""
        ...

    def on_unreachable(self, peer: str, unsent: bool) -> None:
        """`peer`'s connection failed; `unsent`: nothing sent to it arrived."""
        ...

    def on_timeout(self) -> None:
        """The request timeout passed before it was closed."""
        ...


class Requests:
    """The open requests by id, each with its timeout timer."""

    def __init__(self, outbox: Outbox, timeout_s: float) -> None:
        self.outbox = outbox
        self.timeout_s = timeout_s
        self._open: dict[int, tuple[InFlight, int]] = {}

    def open(self, request: InFlight) -> int:
        """Registers `request` under a fresh id and arms its timeout; returns the id."""
        rid = self.outbox.new_id()
        self._open[rid] = (request, self.outbox.after(self.timeout_s, request.on_timeout))
        return rid

    def close(self, rid: int) -> bool:
        """Ends request `rid` and cancels its timer; False if it was not open."""
        entry = self._open.pop(rid, None)
        if entry is None:
            return False
        self.outbox.cancel(entry[1])
        return True

    def is_open(self, rid: int) -> bool:
        return rid in self._open

    def __len__(self) -> int:
        return len(self._open)

    def reply(self, peer: str, msg: PeerReply) -> None:
        """Routes a reply to the request it answers (a late or unknown one is dropped)."""
        entry = self._open.get(msg.id) if isinstance(msg.id, int) else None
        if entry is not None:
            entry[0].on_reply(peer, msg)

    def unreachable(self, peer: str, unsent: bool) -> None:
        """Tells every open request that `peer` is unreachable."""
        for request, _ in list(self._open.values()):
            request.on_unreachable(peer, unsent)
