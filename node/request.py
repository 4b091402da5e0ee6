"""What every coordinated request shares: the ports it acts through, and its lifecycle.

A request is registered in the in-flight table under a fresh id with one
timeout (an `inflight.InFlight`), answers its origin at most once, and when a
target proves unreachable hands its work (and hint) to the next healthy spare.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from node import versions
from node.config import NodeConfig
from node.health import Health
from node.inflight import Requests
from node.messages import PeerReply, Sync
from node.modes import LogLevel
from node.origin import Origin
from node.outbox import Outbox
from node.placement import Placement
from node.replica import ReplicaStore
from node.versions import Versioned, VersionError


class HintSink(Protocol):
    """Where a fallback coordinator keeps its own copy of a write meant for another primary."""

    def store_hint(self, target: str, key: str, incoming: Versioned) -> None: ...


@dataclass(frozen=True)
class Ports:
    """What a request needs: the settings, this node's actor, and the ports it acts through."""

    cfg: NodeConfig
    actor: str
    outbox: Outbox
    store: ReplicaStore
    requests: Requests
    placement: Placement
    health: Health
    hints: HintSink


def hint_map(primaries: list[str], targets: list[str]) -> dict[str, str]:
    """For each fallback among `targets`, the unhealthy primary it stands in for."""
    if targets == primaries:  # every primary healthy: no fallback
        return {}
    missing = [p for p in primaries if p not in targets]
    fallbacks = [t for t in targets if t not in primaries]
    return dict(zip(fallbacks, missing, strict=False))


def decode_obj(io: Ports, peer: str, key: str, data: bytes | None) -> Versioned:
    """A replica's reply object; an unreadable one is logged and counts as empty."""
    try:
        return versions.decode(data) if data else versions.EMPTY
    except VersionError as e:
        io.outbox.log(LogLevel.ERROR, f"unreadable object from {peer} for {key!r}: {e}")
        return versions.EMPTY


class Request:
    """Shared lifecycle: registered under an id with one timeout; the origin answered once."""

    def __init__(self, io: Ports, origin: Origin, key: str) -> None:
        self.io, self.origin, self.key = io, origin, key
        self.cfg = io.cfg
        self.me = io.cfg.name
        self.pending: set[str] = set()
        primaries, self.targets, self.spares = io.placement.route(key)
        self.hints = hint_map(primaries, self.targets)
        self.id = io.requests.open(self)

    def fail(self, code: str, message: str) -> None:
        self.origin.fail(code, message)

    def finish(self) -> None:
        self.io.requests.close(self.id)

    def substitute(self, peer: str) -> str | None:
        """Replaces an unreachable target by the next spare (inheriting its hint), if any."""
        if not self.spares:
            return None
        spare = self.spares.pop(0)
        primaries = self.io.placement.primaries(self.key)
        primary = self.hints.pop(peer, peer if peer in primaries else None)
        if primary is not None:
            self.hints[spare] = primary
        return spare

    def send_sync(self, peer: str, obj: bytes, rid: int) -> None:
        """A sync write of `obj` to `peer`, as a hint when `peer` is a fallback."""
        self.io.outbox.send(peer, Sync(rid, self.key, obj, self.hints.get(peer)))

    def on_reply(self, peer: str, msg: PeerReply) -> None:
        raise NotImplementedError

    def on_unreachable(self, peer: str, unsent: bool) -> None:
        raise NotImplementedError

    def on_timeout(self) -> None:
        raise NotImplementedError
