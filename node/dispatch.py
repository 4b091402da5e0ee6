"""Message dispatch: client requests and peer messages to handlers and in-flight requests.

Client requests are get, put and the debug calls (`local_get`: one replica's
own state without repair; `status`: identity, wall clock, peers, hint queue,
Merkle roots, counters and ring view). Peer messages are reads, sync writes
(plain, or hints for an unreachable primary), forwarded puts, pings, and the
anti-entropy exchange; replies are routed to the request that awaits them.
"""

from __future__ import annotations

from node import antientropy, membership, versions
from node.coordinator import NOT_COORDINATOR, ForwardRequest, GetRequest, Origin, PutRequest
from node.core import Node, validate_key, validate_value
from node.protocol import Message, error
from node.versions import VersionError


class Dispatcher:
    """Routes client requests and peer messages to handlers and in-flight requests."""

    def __init__(self, node: Node) -> None:
        self.node = node

    def client_request(self, conn: int, msg: Message) -> None:
        handler = CLIENT_HANDLERS.get(msg["t"])
        if handler is None:
            known = ", ".join(sorted(CLIENT_HANDLERS))
            self.node.reply(
                conn,
                error(
                    msg.get("id"),
                    "bad_request",
                    f"unknown request type {msg['t']!r}; known: {known}",
                ),
            )
            return
        handler(self.node, Origin(self.node, msg.get("id"), conn=conn), msg)

    def peer_message(self, peer: str, msg: Message) -> None:
        t = msg["t"]
        handler = PEER_HANDLERS.get(t)
        if handler is not None:
            handler(self.node, peer, msg)
            return
        if t in REPLIES:
            self.node.mark_up(peer)
            request = self.node.requests.get(msg.get("id", 0))
            if request is not None:
                request.on_reply(peer, msg)
            return
        self.node.log("warning", f"ignored unknown message type {t!r} from {peer}")

    def unreachable(self, peer: str, unsent: bool = False) -> None:
        for request in list(self.node.requests.values()):
            request.on_unreachable(peer, unsent)


# --- client requests --------------------------------------------------------


def client_get(node: Node, origin: Origin, msg: Message) -> None:
    key = validate_key(msg)
    if isinstance(key, dict):
        origin.answer(key)
        return
    GetRequest(node, origin, key).start()


def client_put(node: Node, origin: Origin, msg: Message, hops: int = 0) -> None:
    key = validate_key(msg)
    value = validate_value(msg) if isinstance(key, str) else key
    if isinstance(key, dict) or isinstance(value, dict):
        origin.answer(key if isinstance(key, dict) else value)  # type: ignore[arg-type]
        return
    raw_ctx = msg.get("context") or b""
    try:
        context = versions.decode_context(raw_ctx) if isinstance(raw_ctx, bytes) else None
    except VersionError:
        context = None
    if context is None:
        origin.answer(error(None, "bad_request", "field 'context' must be a context from a get"))
        return
    targets, _ = node.targets(key)
    if node.name in targets or not targets:
        PutRequest(node, origin, key).start(context, value)
    elif hops > 0:
        # Coordinating here would count a copy no anti-entropy or handoff ever moves.
        origin.answer(error(None, NOT_COORDINATOR, f"{node.name} is not a replica of this key"))
    else:
        body = {"key": key, "value": value, "context": raw_ctx}
        ForwardRequest(node, origin, key, list(targets)).start(body)


def client_ping(node: Node, origin: Origin, msg: Message) -> None:
    origin.answer({"t": "pong", "node": node.name})


def client_local_get(node: Node, origin: Origin, msg: Message) -> None:
    """Debug: this replica's own state of a key, without coordination or repair."""
    key = validate_key(msg)
    if isinstance(key, dict):
        origin.answer(key)
        return
    obj = node.local(key)
    origin.answer(
        {
            "t": "ok",
            "siblings": obj.values,
            "context": versions.encode_context(obj.clock),
            "clock": versions.describe(obj),
            "node": node.name,
        }
    )


def client_status(node: Node, origin: Origin, msg: Message) -> None:
    """Debug: who this node is, what it thinks of its peers, and its wall clock."""
    origin.answer(
        {
            "t": "ok",
            "node": node.name,
            "actor": node.actor,
            "wall_ms": node.now.wall_ms,
            "down": sorted(node.down),
            "counters": dict(sorted(node.counters.items())),
            "ring": list(node.ring.owners),
            "members": [m.name for m in node.ring.members],
            "in_flight": len(node.requests),
            "hints": node.handoff.pending(),
            "merkle_roots": {str(p): r for p, r in sorted(node.antientropy.roots().items())},
        }
    )


CLIENT_HANDLERS = {
    "get": client_get,
    "put": client_put,
    "ping": client_ping,
    "local_get": client_local_get,
    "status": client_status,
    **membership.CLIENT_HANDLERS,
}

# --- peer requests ----------------------------------------------------------


def peer_read(node: Node, peer: str, msg: Message) -> None:
    key, hint = msg.get("key"), msg.get("hint")
    hint = hint if isinstance(hint, str) else None
    if not isinstance(key, str):
        node.send(peer, {"t": "read_ok", "id": msg.get("id"), "obj": None})
        return

    def answer() -> None:
        obj = node.replica_view(key, hint)
        payload = versions.encode(obj) if obj.siblings or obj.clock else None
        node.send(peer, {"t": "read_ok", "id": msg.get("id"), "obj": payload})

    if node.cfg.quorum == "strict":
        node.when_durable(key, answer)  # a strict quorum counts only what is on disk
    else:
        answer()


def peer_sync(node: Node, peer: str, msg: Message) -> None:
    key, data, rid = msg.get("key"), msg.get("obj"), msg.get("id")
    try:
        if not isinstance(key, str) or not isinstance(data, bytes):
            raise VersionError("sync needs a string key and object bytes")
        incoming = versions.decode(data)
    except VersionError as e:
        node.log("error", f"dropped a malformed sync from {peer}: {e}")
        return
    hint = msg.get("hint")
    if isinstance(hint, str) and hint and hint != node.name:
        node.handoff.store_hint(hint, key, incoming)
        space = hint
    else:
        node.merge_into_local(key, incoming)
        space = ""
    node.count("syncs_applied")
    if rid:
        node.when_durable(key, lambda: node.send(peer, {"t": "sync_ok", "id": rid}), space)


def peer_fwd_put(node: Node, peer: str, msg: Message) -> None:
    client_put(node, Origin(node, msg.get("id"), peer=peer), msg, hops=1)


def peer_ping(node: Node, peer: str, msg: Message) -> None:
    node.send(peer, {"t": "pong", "id": msg.get("id", 0)})


PEER_HANDLERS = {
    "read": peer_read,
    "sync": peer_sync,
    "fwd_put": peer_fwd_put,
    "ping": peer_ping,
    **antientropy.PEER_HANDLERS,
    **membership.PEER_HANDLERS,
}
REPLIES = ("read_ok", "sync_ok", "fwd_reply", "pong")
