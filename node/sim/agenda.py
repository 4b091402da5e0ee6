"""The simulator's agenda: virtual time, and everything due at a later virtual time.

Time is an integer count of milliseconds that only moves forward, to the due
time of the next item taken. Items due at the same millisecond come out in
the order they were put in, so a run depends on nothing but the calls made
and the simulator's seeded `random.Random`.

The items say what falls due: a message delivery, a node's timer, a node's
disk write completing, a refused connection, a client request reaching its
node, a client's deadline. Each item that concerns a node names the boot it
belongs to, so nothing from before a crash reaches the node's next boot.

Items are values: never change one once built. (They are not frozen, as
`node.events` are not: a frozen dataclass costs three times as much to build,
and the simulator builds one per message, timer and disk write.) Each writes out
the `__init__` its dataclass would generate, so that mypyc compiles it
(node/events.py says why).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from typing import Final

from node.events import Persist
from node.protocol import Message


@dataclass(slots=True)
class Delivery:
    """`msg` from `src` (in its boot `src_boot`) arriving at `dst` (in its boot `dst_boot`).

    `body` is the frame payload `msg` was decoded from (what the trace hashes), if known.
    """

    src: str
    src_boot: int
    dst: str
    dst_boot: int
    msg: Message
    body: bytes = b""

    def __init__(
        self, src: str, src_boot: int, dst: str, dst_boot: int, msg: Message, body: bytes = b""
    ) -> None:
        self.src = src
        self.src_boot = src_boot
        self.dst = dst
        self.dst_boot = dst_boot
        self.msg = msg
        self.body = body


@dataclass(slots=True)
class TimerDue:
    node: str
    boot: int
    timer: int

    def __init__(self, node: str, boot: int, timer: int) -> None:
        self.node = node
        self.boot = boot
        self.timer = timer


@dataclass(slots=True)
class DiskWrite:
    node: str
    boot: int
    persist: Persist

    def __init__(self, node: str, boot: int, persist: Persist) -> None:
        self.node = node
        self.boot = boot
        self.persist = persist


@dataclass(slots=True)
class Refused:
    """A send from `node` to `peer` failed: the connection was refused."""

    node: str
    boot: int
    peer: str

    def __init__(self, node: str, boot: int, peer: str) -> None:
        self.node = node
        self.boot = boot
        self.peer = peer


@dataclass(slots=True)
class ClientSend:
    node: str
    conn: int
    msg: Message

    def __init__(self, node: str, conn: int, msg: Message) -> None:
        self.node = node
        self.conn = conn
        self.msg = msg


@dataclass(slots=True)
class ClientDeadline:
    conn: int

    def __init__(self, conn: int) -> None:
        self.conn = conn


Item = Delivery | TimerDue | DiskWrite | Refused | ClientSend | ClientDeadline


SEQ_BITS: Final = 40
"""An agenda key is `due_ms << SEQ_BITS | insertion order`: one int, ordered as the pair
(due ms, insertion order) while fewer than 2**40 items are pushed."""


class Agenda:
    """A min-heap of items by (due ms, insertion order), and the current virtual time.

    The heap holds each item's key alone (an int: `SEQ_BITS`), and `items` the item by
    its key: heapq then compares ints, not (time, order, item) tuples, a quarter of the
    cost of taking an item.
    """

    def __init__(self) -> None:
        self.now_ms = 0
        self.heap: list[int] = []
        self.items: dict[int, Item] = {}
        self._seq = 0  # the insertion order (a plain int: compiled, cheaper than a counter)

    def push(self, delay_ms: int, item: Item) -> None:
        """Makes `item` due `delay_ms` from now (a negative delay counts as zero)."""
        self._seq += 1
        at = self.now_ms + delay_ms if delay_ms > 0 else self.now_ms
        key = at << SEQ_BITS | self._seq
        self.items[key] = item
        heapq.heappush(self.heap, key)

    def pop_due(self, end_ms: int) -> Item | None:
        """The next item due at or before `end_ms`, with time moved to its due time; else None."""
        if not self.heap or self.heap[0] >> SEQ_BITS > end_ms:
            return None
        key = heapq.heappop(self.heap)
        self.now_ms = key >> SEQ_BITS
        return self.items.pop(key)

    def wait_until(self, end_ms: int) -> None:
        """Moves time forward to `end_ms` (never backward)."""
        self.now_ms = max(self.now_ms, end_ms)
