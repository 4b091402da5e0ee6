"""The node as a sans-I/O state machine: `Node.handle(event, now) -> list[Effect]`.

Events and effects are `events.py`'s records. This module is the composition
root: it builds the node's ports (the `Outbox`, the `ReplicaStore`, the
in-flight `Requests`, `Health` and `Placement`) and hands each module the
ports it uses; no module reaches the others through the node. Reads of the
local store go through the synchronous `Storage` port; writes are `Persist`
effects, and objects not yet durable stay in an in-memory overlay so later
requests see them.

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

import random
from collections.abc import Sequence
from typing import Final

from node import events
from node.antientropy import AntiEntropy
from node.config import NodeConfig
from node.dispatch import Dispatcher
from node.handoff import Handoff
from node.health import Health
from node.inflight import Requests
from node.membership import Membership
from node.modes import LogLevel
from node.outbox import Outbox
from node.ownership import Mover
from node.placement import Placement
from node.replica import ReplicaStore
from node.request import Ports
from node.ring import Member, Ring
from node.storage import OBJECTS, Storage
from node.versions import Versioned

HANDLER_ERRORS: Final = "handler_errors"
"""The counter of exceptions caught at the dispatch boundary (a bug each; the simulator
fails its run on any)."""


def describe(event: events.Event) -> str:
    """An event as a log names it: its kind, and the message type if it carries one."""
    if isinstance(event, (events.PeerMessage, events.ClientRequest)):
        peer = isinstance(event, events.PeerMessage)
        who = f"peer {event.peer}" if peer else f"conn {event.conn}"  # type: ignore[union-attr]
        return f"{type(event).__name__} {str(event.msg.get('t'))[:40]!r} from {who}"
    return type(event).__name__


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
        self.cfg, self.name, self.storage, self.rng, self.actor = cfg, cfg.name, storage, rng, actor
        self.outbox = outbox = Outbox(actor)
        self.health = health = Health(cfg.name, outbox)
        self.placement = placement = Placement(cfg, health)
        self.replica = replica = ReplicaStore(storage, outbox, cfg.conflict)
        self.requests = requests = Requests(outbox, cfg.request_timeout_ms / 1000)
        self.handoff = Handoff(cfg.name, outbox, replica, requests, health)
        # Ring listeners run in the order they registered: the mover first, then anti-entropy.
        mover = Mover(outbox, replica, requests, placement, health)
        self.membership = Membership(cfg, rng, outbox, storage, placement, health, mover)
        self.antientropy = AntiEntropy(cfg, rng, outbox, storage, replica, placement, health)
        io = Ports(cfg, actor, outbox, replica, requests, placement, health, self.handoff)
        self.dispatch = Dispatcher(io, self.antientropy, self.handoff, self.membership)

    # --- the entry point ---------------------------------------------------

    def start(self, now: events.Now) -> list[events.Effect]:
        """Effects to run once at boot (the failure detector's first probe timer)."""
        self.outbox.now = now
        self.health.start(self.cfg.probe_interval_ms / 1000)
        self.membership.start()
        self.handoff.start(self.cfg.handoff_interval_ms / 1000)
        self.antientropy.start()
        return self.outbox.take()

    def handle(self, event: events.Event, now: events.Now) -> list[events.Effect]:
        """Feeds one event; returns the effects to carry out, in order. Never raises.

        Messages are validated before any handler runs, so an exception here
        is a bug in a handler: it is caught at this boundary, logged with the
        event (and message type), and counted as `handler_errors` (in
        `status`); the effects gathered before it still go out, since the
        state they belong to has already changed.
        """
        self.outbox.now = now
        try:
            self._route(event)
        except Exception as e:  # noqa: BLE001 - the dispatch boundary: nothing escapes the core
            self.outbox.count(HANDLER_ERRORS)
            self.outbox.log(LogLevel.ERROR, f"handler bug on {describe(event)}: "
                            f"{type(e).__name__}: {e}")  # fmt: skip
        return self.outbox.take()

    def _route(self, event: events.Event) -> None:
        if isinstance(event, events.PeerMessage):
            self.dispatch.peer_message(event.peer, event.msg)
        elif isinstance(event, events.ClientRequest):
            self.dispatch.client_request(event.conn, event.msg)
        elif isinstance(event, events.Persisted):
            self.replica.persisted(event.token)
        elif isinstance(event, events.TimerFired):
            self.outbox.fire(event.timer)
        elif isinstance(event, events.PeerUnreachable):
            self.health.mark_down(event.peer)
            self.dispatch.unreachable(event.peer, event.unsent)

    # --- inspection (the simulator, tests, the server's address book) -------

    @property
    def ring(self) -> Ring:
        return self.placement.ring

    @property
    def down(self) -> set[str]:
        return self.health.down

    @property
    def counters(self) -> dict[str, int]:
        return self.outbox.counters

    def local(self, key: str, space: str = OBJECTS) -> Versioned:
        """The newest local state of `key` in `space`, durable or not."""
        return self.replica.local(key, space)

    def set_members(self, members: Sequence[Member]) -> None:
        """Rebuilds the ring for `members` (in join order)."""
        self.placement.set_members(members)
