"""Message dispatch: client requests and peer messages to handlers and in-flight requests.

Every wire map is read through `messages.py` first. Client requests are get,
put and the debug calls (`local_get`: one replica's own state without
repair; `status`: identity, wall clock, peers, hint queue, Merkle roots,
counters and ring view; `preference_lists`: the primaries of given keys) and
the membership calls. Peer messages are reads, sync writes (plain, or hints
for an unreachable primary), forwarded puts, pings, the anti-entropy exchange
and gossip; replies are routed to the request that awaits them. A client's
malformed request gets an error answer naming the field; a peer's is logged
and dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from node import versions
from node.antientropy import AntiEntropy
from node.coordinator import NOT_COORDINATOR, ForwardRequest, GetRequest, PutRequest
from node.handoff import Handoff
from node.membership import Membership
from node.messages import (
    ClientReq,
    FwdPut,
    FwdReply,
    Get,
    LocalGet,
    LocalGetOk,
    MessageError,
    PeerMsg,
    Ping,
    Pong,
    PreferenceLists,
    PreferenceListsOk,
    Put,
    Read,
    ReadOk,
    Status,
    StatusOk,
    Sync,
    SyncOk,
    UnknownMessage,
    decode_peer,
    decode_request,
)
from node.modes import LogLevel, QuorumMode
from node.origin import Origin
from node.protocol import Message
from node.request import Ports
from node.versions import VersionError

MALFORMED_PEER: Final = "peer_messages_dropped"
"""The counter of peer messages dropped unread (an unknown type, or a field that is wrong)."""
REPLIES: Final = (ReadOk, SyncOk, FwdReply, Pong)
"""Peer messages that answer a request of this node's (routed by their id)."""


class Dispatcher:
    """Routes client requests and peer messages to handlers and in-flight requests."""

    def __init__(
        self, io: Ports, antientropy: AntiEntropy, handoff: Handoff, membership: Membership
    ) -> None:
        self.io, self.outbox = io, io.outbox
        self.antientropy, self.handoff, self.membership = antientropy, handoff, membership
        self.client_handlers: dict[type[Any], Callable[[Origin, Any], None]] = {
            Get: self.client_get,
            Put: self.client_put,
            Ping: self.client_ping,
            LocalGet: self.client_local_get,
            Status: self.client_status,
            PreferenceLists: self.client_preference_lists,
            **membership.client_handlers(),
        }
        self.peer_handlers: dict[type[Any], Callable[[str, Any], None]] = {
            Read: self.peer_read,
            Sync: self.peer_sync,
            FwdPut: self.peer_fwd_put,
            Ping: self.peer_ping,
            **antientropy.peer_handlers(),
            **membership.peer_handlers(),
        }

    def client_request(self, conn: int, raw: Message) -> None:
        try:
            msg: ClientReq = decode_request(raw)
        except MessageError as e:
            rid = raw.get("id")
            echo = rid if rid is None or type(rid) in (int, str) and "'id'" not in str(e) else None
            Origin(self.outbox, echo, conn=conn).fail(e.code, str(e))
            return
        origin = Origin(self.outbox, msg.id, conn=conn)
        self.client_handlers[type(msg)](origin, msg)

    def peer_message(self, peer: str, raw: Message) -> None:
        try:
            msg: PeerMsg = decode_peer(raw)
        except UnknownMessage:
            self.outbox.count(MALFORMED_PEER)
            self.outbox.log(
                LogLevel.WARNING, f"ignored unknown message type {raw['t']!r} from {peer}"
            )
            return
        except MessageError as e:
            self.outbox.count(MALFORMED_PEER)
            if raw["t"] == FwdPut.T:  # the forwarding node is waiting for an answer
                Origin(self.outbox, raw.get("id"), peer=peer).fail(e.code, str(e))
            else:
                self.outbox.log(LogLevel.ERROR, f"dropped a malformed {raw['t']} from {peer}: {e}")
            return
        handler = self.peer_handlers.get(type(msg))
        if handler is not None:
            handler(peer, msg)
        elif isinstance(msg, REPLIES):
            self.io.health.mark_up(peer)
            self.io.requests.reply(peer, msg)

    def unreachable(self, peer: str, unsent: bool = False) -> None:
        self.io.requests.unreachable(peer, unsent)

    # --- client requests ------------------------------------------------------

    def client_get(self, origin: Origin, msg: Get) -> None:
        GetRequest(self.io, origin, msg.key).start()

    def client_put(self, origin: Origin, msg: Put, hops: int = 0) -> None:
        io = self.io
        targets, _ = io.placement.targets(msg.key)
        if io.cfg.name in targets or not targets:
            context = msg.clock
            if context is None:  # a record built here, not read: decode what it carries
                context = versions.decode_context(msg.context)
            PutRequest(io, origin, msg.key).start(context, msg.value)
        elif hops > 0:
            # Coordinating here would count a copy no anti-entropy or handoff ever moves.
            origin.fail(NOT_COORDINATOR, f"{io.cfg.name} is not a replica of this key")
        else:
            put = FwdPut(msg.key, msg.value, msg.context)
            ForwardRequest(io, origin, msg.key, list(targets)).start(put)

    def client_ping(self, origin: Origin, msg: Ping) -> None:
        origin.answer(Pong(node=self.io.cfg.name))

    def client_local_get(self, origin: Origin, msg: LocalGet) -> None:
        """Debug: this replica's own state of a key, without coordination or repair."""
        obj = self.io.store.local(msg.key)
        origin.answer(LocalGetOk(obj.values, versions.encode_context(obj.clock),
                                 versions.describe(obj), self.io.cfg.name))  # fmt: skip

    def client_status(self, origin: Origin, msg: Status) -> None:
        """Debug: who this node is, what it thinks of its peers, and its wall clock."""
        io = self.io
        ring = io.placement.ring
        origin.answer(
            StatusOk(
                node=io.cfg.name,
                actor=io.actor,
                wall_ms=self.outbox.now.wall_ms,
                down=sorted(io.health.down),
                counters=dict(sorted(self.outbox.counters.items())),
                ring=list(ring.owners),
                members=[m.name for m in ring.members],
                in_flight=len(io.requests),
                hints=self.handoff.pending(),
                merkle_roots={str(p): r for p, r in sorted(self.antientropy.roots().items())},
            )
        )

    def client_preference_lists(self, origin: Origin, msg: PreferenceLists) -> None:
        """Debug: the first N nodes of each key's preference list, as this node places it."""
        lists = {k: self.io.placement.primaries(k) for k in msg.keys}
        origin.answer(PreferenceListsOk(self.io.cfg.name, lists))

    # --- peer requests ----------------------------------------------------------

    def peer_read(self, peer: str, msg: Read) -> None:
        store = self.io.store

        def answer() -> None:
            obj = store.replica_view(msg.key, msg.hint)
            payload = versions.encode(obj) if obj.siblings or obj.clock else None
            self.outbox.send(peer, ReadOk(msg.id, payload))

        if self.io.cfg.quorum is QuorumMode.STRICT:
            store.when_durable(msg.key, answer)  # a strict quorum counts only what is on disk
        else:
            answer()

    def peer_sync(self, peer: str, msg: Sync) -> None:
        try:
            incoming = versions.decode(msg.obj)
        except VersionError as e:
            self.outbox.count(MALFORMED_PEER)
            self.outbox.log(LogLevel.ERROR, f"dropped a malformed sync from {peer}: {e}")
            return
        key, hint = msg.key, msg.hint
        if hint and hint != self.io.cfg.name:
            self.handoff.store_hint(hint, key, incoming)
            space = hint
        else:
            self.io.store.merge_into_local(key, incoming)
            space = ""
        self.outbox.count("syncs_applied")
        if msg.id:
            ack = SyncOk(msg.id)
            self.io.store.when_durable(key, lambda: self.outbox.send(peer, ack), space)

    def peer_fwd_put(self, peer: str, msg: FwdPut) -> None:
        self.client_put(Origin(self.outbox, msg.id, peer=peer), msg, hops=1)

    def peer_ping(self, peer: str, msg: Ping) -> None:
        self.outbox.send(peer, Pong(msg.id))
