"""Where a request's answer goes: a client connection, or the peer that forwarded the put.

An origin is answered at most once; a second answer is dropped, so no
request can claim two outcomes.
"""

from __future__ import annotations

from typing import Any

from node.messages import Answer, ErrorReply, FwdReply, PutOk
from node.outbox import Outbox


class Origin:
    """A client connection (`conn`) or a forwarding peer (`peer`), and the request id `rid`."""

    def __init__(
        self, outbox: Outbox, rid: Any, conn: int | None = None, peer: str | None = None
    ) -> None:
        self.outbox, self.rid, self.conn, self.peer = outbox, rid, conn, peer
        self.answered = False

    def answer(self, msg: Answer) -> None:
        if self.answered:
            return
        self.answered = True
        if self.conn is not None:
            self.outbox.reply(self.conn, self.rid, msg)
        elif self.peer is not None:
            result = msg if isinstance(msg, (PutOk, ErrorReply)) else PutOk()
            self.outbox.send(self.peer, FwdReply(self.rid, result))

    def fail(self, code: str, message: str) -> None:
        self.answer(ErrorReply(code, message))
