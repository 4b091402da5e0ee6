"""What the node's core consumes (events) and produces (effects).

`core.Node.handle(event, now) -> list[Effect]` is the node's one entry point;
`server.py` (production) and `sim/cluster.py` (the simulator) both feed these
events and carry out these effects, so both import them from here. Messages
travel as wire maps (`protocol.Message`); `messages/` types them.

They are values: never change one once built. (They are not frozen because a
frozen dataclass costs three times as much to build, and the node builds a
few per message.) Each writes out the `__init__` its dataclass would generate:
mypyc compiles a written one, but leaves a generated one to run as Python
(in the simulator, a tenth of the time went into generated `__init__`s).
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

    def __init__(self, wall_ms: int, mono: float) -> None:
        self.wall_ms = wall_ms
        self.mono = mono


@dataclass(slots=True)
class ClientRequest:
    conn: int
    msg: Message

    def __init__(self, conn: int, msg: Message) -> None:
        self.conn = conn
        self.msg = msg


@dataclass(slots=True)
class PeerMessage:
    peer: str
    msg: Message

    def __init__(self, peer: str, msg: Message) -> None:
        self.peer = peer
        self.msg = msg


@dataclass(slots=True)
class PeerUnreachable:
    """A peer's connection failed. `unsent`: nothing queued for it was sent (the
    connection never came up), so a request to it certainly did not arrive."""

    peer: str
    unsent: bool = False

    def __init__(self, peer: str, unsent: bool = False) -> None:
        self.peer = peer
        self.unsent = unsent


@dataclass(slots=True)
class TimerFired:
    timer: int

    def __init__(self, timer: int) -> None:
        self.timer = timer


@dataclass(slots=True)
class Persisted:
    token: int

    def __init__(self, token: int) -> None:
        self.token = token


Event = ClientRequest | PeerMessage | PeerUnreachable | TimerFired | Persisted

# --- effects ---------------------------------------------------------------


@dataclass(slots=True)
class SendPeer:
    peer: str
    msg: Message

    def __init__(self, peer: str, msg: Message) -> None:
        self.peer = peer
        self.msg = msg


@dataclass(slots=True)
class Reply:
    conn: int
    msg: Message

    def __init__(self, conn: int, msg: Message) -> None:
        self.conn = conn
        self.msg = msg


@dataclass(slots=True)
class SetTimer:
    timer: int
    delay_s: float

    def __init__(self, timer: int, delay_s: float) -> None:
        self.timer = timer
        self.delay_s = delay_s


@dataclass(slots=True)
class CancelTimer:
    timer: int

    def __init__(self, timer: int) -> None:
        self.timer = timer


@dataclass(slots=True)
class Persist:
    token: int
    items: tuple[Write, ...]

    def __init__(self, token: int, items: tuple[Write, ...]) -> None:
        self.token = token
        self.items = items


@dataclass(slots=True)
class Log:
    level: LogLevel
    message: str

    def __init__(self, level: LogLevel, message: str) -> None:
        self.level = level
        self.message = message


Effect = SendPeer | Reply | SetTimer | CancelTimer | Persist | Log
