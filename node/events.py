"""What the node's core consumes (events) and produces (effects).

`core.Node.handle(event, now) -> list[Effect]` is the node's one entry point;
`server.py` (production) and `sim/cluster.py` (the simulator) both feed these
events and carry out these effects, so both import them from here. Messages
travel as wire maps (`protocol.Message`); `messages/` types them.

They are values: never change one once built. (They are not frozen because a
frozen dataclass costs three times as much to build, and the node builds a
few per message.)
"""

from __future__ import annotations

from dataclasses import dataclass

from node.modes import LogLevel
from node.protocol import Message
from node.storage import Write

# --- events ----------------------------------------------------------------


@dataclass(slots=True)
class Now:
    """Wall-clock milliseconds (may be skewed) and monotonic seconds."""

    wall_ms: int
    mono: float


@dataclass(slots=True)
class ClientRequest:
    conn: int
    msg: Message


@dataclass(slots=True)
class PeerMessage:
    peer: str
    msg: Message


@dataclass(slots=True)
class PeerUnreachable:
    """A peer's connection failed. `unsent`: nothing queued for it was sent (the
    connection never came up), so a request to it certainly did not arrive."""

    peer: str
    unsent: bool = False


@dataclass(slots=True)
class TimerFired:
    timer: int


@dataclass(slots=True)
class Persisted:
    token: int


Event = ClientRequest | PeerMessage | PeerUnreachable | TimerFired | Persisted

# --- effects ---------------------------------------------------------------


@dataclass(slots=True)
class SendPeer:
    peer: str
    msg: Message


@dataclass(slots=True)
class Reply:
    conn: int
    msg: Message


@dataclass(slots=True)
class SetTimer:
    timer: int
    delay_s: float


@dataclass(slots=True)
class CancelTimer:
    timer: int


@dataclass(slots=True)
class Persist:
    token: int
    items: tuple[Write, ...]


@dataclass(slots=True)
class Log:
    level: LogLevel
    message: str


Effect = SendPeer | Reply | SetTimer | CancelTimer | Persist | Log
