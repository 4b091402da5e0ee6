"""The node as a sans-I/O state machine: `Node.handle(event, now) -> list[Effect]`.

Events are frozen records (a client request, a peer message, a peer found
unreachable, a timer, a storage completion), each handled with the current
`Now` read from the injected clock. Effects say what the I/O layer must do:
send a frame to a peer, reply to a client, arm or cancel a timer, persist
objects durably, log. Reads of the local store go through the synchronous
`Storage` port; writes are `Persist` effects, and objects not yet durable stay
in an in-memory overlay so later requests see them.

Invariants the node keeps:
* A replica acknowledges a write (`sync_ok`, or the coordinator's own vote)
  only after the `Persisted` event for it.
* Dots are never reissued: the actor id names this node, its data-directory
  incarnation and its boot count, and the local object for a key always holds
  every live dot of the current actor (it is written first, and never deleted).
* Randomness comes only from the injected `random.Random`; iteration that
  reaches the wire or the disk is over sorted or insertion-ordered data.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from node import versions
from node.config import NodeConfig
from node.protocol import MAX_KEY_BYTES, MAX_VALUE_BYTES, Message, error
from node.ring import Member, Ring
from node.storage import OBJECTS, Storage, Write
from node.versions import Versioned

# --- events ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Now:
    """Wall-clock milliseconds (may be skewed) and monotonic seconds."""

    wall_ms: int
    mono: float


@dataclass(frozen=True, slots=True)
class ClientRequest:
    conn: int
    msg: Message


@dataclass(frozen=True, slots=True)
class PeerMessage:
    peer: str
    msg: Message


@dataclass(frozen=True, slots=True)
class PeerUnreachable:
    """A peer's connection failed. `unsent`: nothing queued for it was sent (the
    connection never came up), so a request to it certainly did not arrive."""

    peer: str
    unsent: bool = False


@dataclass(frozen=True, slots=True)
class TimerFired:
    timer: int


@dataclass(frozen=True, slots=True)
class Persisted:
    token: int


Event = ClientRequest | PeerMessage | PeerUnreachable | TimerFired | Persisted

# --- effects ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SendPeer:
    peer: str
    msg: Message


@dataclass(frozen=True, slots=True)
class Reply:
    conn: int
    msg: Message


@dataclass(frozen=True, slots=True)
class SetTimer:
    timer: int
    delay_s: float


@dataclass(frozen=True, slots=True)
class CancelTimer:
    timer: int


@dataclass(frozen=True, slots=True)
class Persist:
    token: int
    items: tuple[Write, ...]


@dataclass(frozen=True, slots=True)
class Log:
    level: str
    message: str


Effect = SendPeer | Reply | SetTimer | CancelTimer | Persist | Log


def id_base(actor: str) -> int:
    """Where this boot's request ids start: 40 bits from the (boot-unique) actor id.

    A late reply meant for a request of an earlier boot must not match a
    request of this one, so ids never restart at the same number.
    """
    return int.from_bytes(hashlib.md5(actor.encode()).digest()[:5], "big") << 22


def boot_actor(storage: Storage, name: str, fresh_incarnation: int) -> str:
    """Returns this boot's actor id, durably bumping the boot counter first.

    A new data directory takes `fresh_incarnation` (random, from the I/O
    layer), so a wiped node never reuses an actor id it had before.
    """
    inc = storage.meta_get("incarnation")
    if inc is None:
        inc = f"{fresh_incarnation & 0xFFFFFFFF:08x}".encode()
        storage.meta_put("incarnation", inc)
    boot = int(storage.meta_get("boot") or b"0") + 1
    storage.meta_put("boot", str(boot).encode())
    return f"{name}.{inc.decode()}.{boot}"


class Node:
    """One Dynamo node's logic. Not thread-safe; drive it from one loop."""

    def __init__(self, cfg: NodeConfig, storage: Storage, rng: random.Random, actor: str) -> None:
        self.cfg = cfg
        self.name = cfg.name
        self.storage = storage
        self.rng = rng
        self.actor = actor
        self.ring = Ring(cfg.ring_members, cfg.partitions)
        self.down: set[str] = set()
        self.now = Now(0, 0.0)
        self.counters: dict[str, int] = {}
        self._out: list[Effect] = []
        self._next_id = id_base(actor)
        self._dirty: dict[tuple[str, str], tuple[Versioned | None, int]] = {}
        self._token_key: dict[int, tuple[str, str]] = {}
        self.change_listeners: list[Callable[[str, bytes], None]] = []  # (key, encoded object)
        self._on_durable: dict[int, list[Callable[[], None]]] = {}
        self._timers: dict[int, Callable[[], None]] = {}
        self.requests: dict[int, Any] = {}
        # These modules build on this one, so they are imported here, not at the top.
        from node.antientropy import AntiEntropy
        from node.dispatch import Dispatcher
        from node.handoff import Handoff
        from node.membership import Membership

        self.ring_listeners: list[Callable[[Ring], None]] = []
        self.membership = Membership(self)
        self.handoff = Handoff(self)
        self.antientropy = AntiEntropy(self)
        self.dispatch = Dispatcher(self)

    # --- the entry point ---------------------------------------------------

    def start(self, now: Now) -> list[Effect]:
        """Effects to run once at boot (the failure detector's first probe timer)."""
        self.now = now
        self.every(self.cfg.probe_interval_ms / 1000, self._probe)
        self.membership.start()
        self.handoff.start()
        self.antientropy.start()
        return self._take()

    def handle(self, event: Event, now: Now) -> list[Effect]:
        """Feeds one event; returns the effects to carry out, in order."""
        self.now = now
        if isinstance(event, PeerMessage):
            self.dispatch.peer_message(event.peer, event.msg)
        elif isinstance(event, ClientRequest):
            self.dispatch.client_request(event.conn, event.msg)
        elif isinstance(event, Persisted):
            self._persisted(event.token)
        elif isinstance(event, TimerFired):
            callback = self._timers.pop(event.timer, None)
            if callback is not None:
                callback()
        elif isinstance(event, PeerUnreachable):
            self.mark_down(event.peer)
            self.dispatch.unreachable(event.peer, event.unsent)
        return self._take()

    def _take(self) -> list[Effect]:
        out, self._out = self._out, []
        return out

    # --- services for the coordinator and the other modules --------------

    def emit(self, effect: Effect) -> None:
        self._out.append(effect)

    def send(self, peer: str, msg: Message) -> None:
        self._out.append(SendPeer(peer, msg))

    def reply(self, conn: int, msg: Message) -> None:
        self._out.append(Reply(conn, msg))

    def log(self, level: str, message: str) -> None:
        self._out.append(Log(level, message))

    def count(self, name: str, by: int = 1) -> None:
        self.counters[name] = self.counters.get(name, 0) + by

    def new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def after(self, delay_s: float, callback: Callable[[], None]) -> int:
        """Arms a one-shot timer; returns its id for `cancel`."""
        tid = self.new_id()
        self._timers[tid] = callback
        self._out.append(SetTimer(tid, delay_s))
        return tid

    def every(self, interval_s: float, callback: Callable[[], None]) -> None:
        """Runs `callback` every `interval_s` seconds for the node's lifetime."""

        def tick() -> None:
            callback()
            self.after(interval_s, tick)

        self.after(interval_s, tick)

    def cancel(self, tid: int) -> None:
        if self._timers.pop(tid, None) is not None:
            self._out.append(CancelTimer(tid))

    # --- local store --------------------------------------------------------

    def local(self, key: str, space: str = OBJECTS) -> Versioned:
        """The newest local state of `key` in `space` (objects, or a hint store), durable or not."""
        pending = self._dirty.get((space, key))
        if pending is not None:
            return pending[0] or versions.EMPTY
        data = self.storage.read(key, space)
        return versions.EMPTY if data is None else versions.decode(data)

    def store(
        self,
        key: str,
        obj: Versioned | None,
        on_durable: Callable[[], None] | None,
        space: str = OBJECTS,
    ) -> None:
        """Makes `obj` the local state of `key` in `space` (None deletes it).

        Calls `on_durable` once the write is on disk, and tells the change
        listeners (anti-entropy) about every change to the replica store.
        """
        token = self.new_id()
        self._dirty[(space, key)] = (obj, token)
        self._token_key[token] = (space, key)
        self._on_durable[token] = [on_durable] if on_durable else []
        data = None if obj is None else versions.encode(obj)
        self._out.append(Persist(token, ((space, key, data),)))
        if space == OBJECTS and data is not None:
            for listener in self.change_listeners:
                listener(key, data)

    def when_durable(self, key: str, callback: Callable[[], None], space: str = OBJECTS) -> None:
        """Calls `callback` once the current local state of `key` is on disk (maybe now)."""
        pending = self._dirty.get((space, key))
        if pending is None:
            callback()
        else:
            self._on_durable[pending[1]].append(callback)

    def _persisted(self, token: int) -> None:
        key = self._token_key.pop(token, None)
        pending = self._dirty.get(key) if key is not None else None
        if key is not None and pending is not None and pending[1] == token:
            del self._dirty[key]
        for callback in self._on_durable.pop(token, []):
            callback()

    def merge_into_local(self, key: str, incoming: Versioned, space: str = OBJECTS) -> Versioned:
        """Sync-merges `incoming` into the local state (never overwrites); returns the result."""
        local = self.local(key, space)
        merged = self.sync(local, incoming)
        if merged != local:
            self.store(key, merged, None, space)
        return merged

    def sync(self, a: Versioned, b: Versioned) -> Versioned:
        """The configured merge: siblings, or last-write-wins."""
        if self.cfg.conflict == "lww":
            return versions.sync_lww(a, b)
        return versions.sync(a, b)

    # --- health -------------------------------------------------------------

    def healthy(self, peer: str) -> bool:
        return peer == self.name or peer not in self.down

    def mark_down(self, peer: str) -> None:
        if peer != self.name and peer not in self.down:
            self.down.add(peer)
            self.log("warning", f"peer {peer} unreachable; routing around it until it answers")

    def mark_up(self, peer: str) -> None:
        if peer in self.down:
            self.down.discard(peer)
            self.log("info", f"peer {peer} answers again")

    def _probe(self) -> None:
        for peer in sorted(self.down):
            self.send(peer, {"t": "ping", "id": 0})

    def set_members(self, members: Sequence[Member]) -> None:
        """Rebuilds the ring for `members` (in join order) and tells the ring listeners."""
        ring = Ring(members, self.cfg.partitions)
        if ring.owners == self.ring.owners and ring.members == self.ring.members:
            return
        self.ring = ring
        self.down &= {m.name for m in members}
        for listener in self.ring_listeners:
            listener(ring)

    def primaries(self, key: str) -> list[str]:
        """The first N nodes of the key's preference list, healthy or not."""
        return self.ring.walk(self.ring.partition_of(key))[: self.cfg.n]

    def replica_view(self, key: str, hint: str | None) -> Versioned:
        """What this node holds for `key`: its replica, merged with the hint for `hint` if any."""
        obj = self.local(key)
        return obj if hint is None else self.sync(obj, self.local(key, hint))

    def targets(self, key: str) -> tuple[list[str], list[str]]:
        """(the first N healthy nodes of the preference list, the healthy spares after them)."""
        walk = self.ring.walk(self.ring.partition_of(key))
        if self.cfg.quorum == "strict":
            return walk[: self.cfg.n], []
        ok = [p for p in walk if p == self.name or p not in self.down]
        return ok[: self.cfg.n], ok[self.cfg.n :]


def validate_key(msg: Message) -> str | Message:
    """The request's key, or an error reply saying what is wrong with it."""
    key = msg.get("key")
    if not isinstance(key, str):
        return error(msg.get("id"), "bad_request", "field 'key' must be a string")
    if len(key.encode("utf-8")) > MAX_KEY_BYTES:
        return error(
            msg.get("id"),
            "too_large",
            f"key is {len(key.encode('utf-8'))} bytes; the limit is {MAX_KEY_BYTES}",
        )
    return key


def validate_value(msg: Message) -> bytes | Message:
    """The request's value, or an error reply saying what is wrong with it."""
    value = msg.get("value")
    if not isinstance(value, bytes):
        return error(msg.get("id"), "bad_request", "field 'value' must be bytes")
    if len(value) > MAX_VALUE_BYTES:
        return error(
            msg.get("id"),
            "too_large",
            f"value is {len(value)} bytes; the limit is {MAX_VALUE_BYTES} (1 MiB)",
        )
    return value
