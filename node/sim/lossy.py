"""Links whose connections break: the simulator's reset_peer and limit_data.

In the lab these are Toxiproxy toxics on a link's proxy; here each directed
link (src, dst) under such a fault has one modelled connection, opened by the
first message sent over it:

* reset: the connection is reset `timeout_ms` after it opened. A copy that
  would arrive by then is delivered; later ones are lost. The sender learns of
  the reset when it happens; its next message opens a new connection. With
  `timeout_ms` 0 every message is lost and every send is promptly refused.
* limit: the connection closes once more than `limit_bytes` of encoded frames
  were sent on it: the frame that crosses the limit is lost (cut part-way),
  the sender learns at once, and the next message opens a new connection.

Pure bookkeeping on virtual time: no randomness, so it keeps the run a
function of the seed. The invariant: a link without a fault is never touched.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

Link = tuple[str, str]


class Break(StrEnum):
    """How a lossy link breaks its connections."""

    RESET = "reset"  # reset_peer: reset `timeout_ms` after the connection opens
    LIMIT = "limit"  # limit_data: closed once `limit_bytes` have passed


@dataclass(frozen=True, slots=True)
class LossyFault:
    kind: Break
    timeout_ms: int = 0
    limit_bytes: int = 0


@dataclass(slots=True)
class _Conn:
    opened_ms: int
    sent: int = 0


class LossyLinks:
    """The lossy faults per directed link, and each one's current connection."""

    def __init__(self) -> None:
        self.faults: dict[Link, LossyFault] = {}
        self._conns: dict[Link, _Conn] = {}

    def __bool__(self) -> bool:
        return bool(self.faults)

    def set(self, link: Link, fault: LossyFault) -> None:
        self.faults[link] = fault
        self._conns.pop(link, None)

    def clear(self, link: Link) -> None:
        self.faults.pop(link, None)
        self._conns.pop(link, None)

    def fates(
        self, src: str, dst: str, now_ms: int, size: int, delays: list[int]
    ) -> tuple[list[int], int | None]:
        """The copies (their delays) of one `size`-byte frame that arrive, and in how many
        ms the sender learns its connection broke (None: it does not)."""
        link = (src, dst)
        fault = self.faults.get(link)
        if fault is None:
            return delays, None
        conn = self._conns.get(link)
        if fault.kind is Break.RESET:
            fresh = conn is None or now_ms >= conn.opened_ms + fault.timeout_ms
            if fresh:
                conn = self._conns[link] = _Conn(now_ms)
            assert conn is not None
            reset_at = conn.opened_ms + fault.timeout_ms
            kept = [d for d in delays if now_ms + d < reset_at]
            return kept, (reset_at - now_ms if fresh else None)
        conn = conn or self._conns.setdefault(link, _Conn(now_ms))
        conn.sent += size
        if conn.sent > fault.limit_bytes:
            del self._conns[link]
            return [], 0
        return delays, None
