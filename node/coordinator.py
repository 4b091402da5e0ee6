"""Get and put as per-request state machines (Riak's get/put FSMs), and message dispatch.

* get: ask the first N healthy nodes of the preference list (sloppy quorum),
  answer once R replied, merging with `sync`; the context is the merged clock.
  When every target has answered (or the timeout fires), replicas that lag get
  the merged object as a non-coordinated sync write (read repair).
* put: coordinated by a node among the first N healthy; any other node
  forwards it there. The coordinator applies the put to its local object (a
  fresh dot of its actor), then sends the whole new object to the other
  targets as a sync write. W counts the coordinator's own durable write.
* A target found unreachable mid-request is replaced by the next healthy spare.

A reply never claims more than happened: "ok" for a put means W replicas had
it durably; any error on a put is indeterminate (it may have landed).
"""

from __future__ import annotations

from typing import Any

from node import versions
from node.core import Node, validate_key, validate_value
from node.protocol import Message, error
from node.versions import Clock, Versioned, VersionError


class Origin:
    """Where a request's answer goes: a client connection, or a forwarding peer."""

    def __init__(self, node: Node, rid: Any, conn: int | None = None, peer: str | None = None):
        self.node, self.rid, self.conn, self.peer = node, rid, conn, peer

    def answer(self, msg: Message) -> None:
        if self.conn is not None:
            self.node.reply(self.conn, {**msg, "id": self.rid})
        elif self.peer is not None:
            self.node.send(self.peer, {"t": "fwd_reply", "id": self.rid, "result": msg})


class Request:
    """Shared lifecycle: registered under an id, one timeout, answered at most once."""

    def __init__(self, node: Node, origin: Origin, key: str) -> None:
        self.node, self.origin, self.key = node, origin, key
        self.id = node.new_id()
        self.answered = False
        self.pending: set[str] = set()
        node.requests[self.id] = self
        self.timer = node.after(node.cfg.request_timeout_ms / 1000, self.on_timeout)

    def answer(self, msg: Message) -> None:
        if not self.answered:
            self.answered = True
            self.origin.answer(msg)

    def fail(self, code: str, message: str) -> None:
        self.answer({"t": "error", "code": code, "message": message})

    def finish(self) -> None:
        self.node.requests.pop(self.id, None)
        self.node.cancel(self.timer)

    def on_reply(self, peer: str, msg: Message) -> None:
        raise NotImplementedError

    def on_unreachable(self, peer: str) -> None:
        raise NotImplementedError

    def on_timeout(self) -> None:
        raise NotImplementedError


class GetRequest(Request):
    """Reads R of the first N healthy replicas, then repairs the laggards."""

    def __init__(self, node: Node, origin: Origin, key: str) -> None:
        super().__init__(node, origin, key)
        self.targets, self.spares = node.targets(key)
        self.replies: dict[str, Versioned] = {}

    def start(self) -> None:
        # Remote targets first: a local read answers at once and may complete the request.
        me = self.node.name
        for target in [t for t in self.targets if t != me] + [t for t in self.targets if t == me]:
            self.ask(target)

    def ask(self, target: str) -> None:
        if target == self.node.name:
            self.got(target, self.node.local(self.key))
        else:
            self.pending.add(target)
            self.node.send(target, {"t": "read", "id": self.id, "key": self.key})

    def on_reply(self, peer: str, msg: Message) -> None:
        if peer not in self.pending or msg.get("t") != "read_ok":
            return
        try:
            obj = versions.decode(msg["obj"]) if msg.get("obj") else versions.EMPTY
        except VersionError as e:
            self.node.log("error", f"unreadable object from {peer} for {self.key!r}: {e}")
            obj = versions.EMPTY
        self.got(peer, obj)

    def got(self, peer: str, obj: Versioned) -> None:
        self.pending.discard(peer)
        self.replies[peer] = obj
        if len(self.replies) >= self.node.cfg.r and not self.answered:
            merged = self.merged()
            self.answer(
                {
                    "t": "ok",
                    "siblings": merged.values,
                    "context": versions.encode_context(merged.clock),
                    "node": self.node.name,
                }
            )
        if not self.pending:
            self.done()

    def merged(self) -> Versioned:
        out = versions.EMPTY
        for obj in self.replies.values():
            out = self.node.sync(out, obj)
        return out

    def on_unreachable(self, peer: str) -> None:
        if peer not in self.pending:
            return
        self.pending.discard(peer)
        if self.spares:
            self.ask(self.spares.pop(0))
        elif not self.pending:
            self.done()

    def on_timeout(self) -> None:
        for peer in sorted(self.pending):
            self.node.mark_down(peer)
        self.pending.clear()
        self.done()

    def done(self) -> None:
        if not self.answered:
            have, need = len(self.replies), self.node.cfg.r
            self.fail("unavailable", f"only {have} of R={need} replicas answered")
        if self.node.cfg.read_repair and self.replies:
            self.repair(self.merged())
        self.finish()

    def repair(self, merged: Versioned) -> None:
        """Sends `merged` to every replica whose reply lagged (no reply wanted)."""
        for peer, obj in self.replies.items():
            if obj == merged:
                continue
            self.node.count("read_repairs")
            if peer == self.node.name:
                self.node.merge_into_local(self.key, merged)
            else:
                msg = {"t": "sync", "id": 0, "key": self.key, "obj": versions.encode(merged)}
                self.node.send(peer, msg)


class PutRequest(Request):
    """Coordinates a put here: local write first, then the whole object to the others."""

    def __init__(self, node: Node, origin: Origin, key: str) -> None:
        super().__init__(node, origin, key)
        self.targets, self.spares = node.targets(key)
        self.acks = 0
        self.payload = b""

    def start(self, context: Clock, value: bytes) -> None:
        node = self.node
        local = node.local(self.key)
        if node.cfg.conflict == "lww":
            new = versions.update_lww(local, value, node.actor, node.now.wall_ms)
        else:
            new = versions.update(
                local, context, value, node.actor, node.now.wall_ms, node.cfg.max_clock_entries
            )
        self.pending.add(node.name)
        node.store(self.key, new, lambda: self.ack(node.name))
        self.payload = versions.encode(new)
        for target in self.targets:
            if target != node.name:
                self.replicate(target)

    def replicate(self, target: str) -> None:
        self.pending.add(target)
        msg = {"t": "sync", "id": self.id, "key": self.key, "obj": self.payload}
        self.node.send(target, msg)

    def ack(self, peer: str) -> None:
        if peer not in self.pending:
            return
        self.pending.discard(peer)
        self.acks += 1
        if self.acks >= self.node.cfg.w:
            self.answer({"t": "ok"})
        if not self.pending:
            self.done()

    def on_reply(self, peer: str, msg: Message) -> None:
        if msg.get("t") == "sync_ok":
            self.ack(peer)

    def on_unreachable(self, peer: str) -> None:
        if peer not in self.pending:
            return
        self.pending.discard(peer)
        if self.spares:
            self.replicate(self.spares.pop(0))
        elif not self.pending:
            self.done()

    def on_timeout(self) -> None:
        for peer in sorted(self.pending - {self.node.name}):
            self.node.mark_down(peer)
        self.pending.clear()
        self.done()

    def done(self) -> None:
        if not self.answered:
            w = self.node.cfg.w
            self.fail("unavailable", f"only {self.acks} of W={w} durable acks; it may have landed")
        self.finish()


class ForwardRequest(Request):
    """Hands a put to a node among the first N healthy, trying the next on failure."""

    def __init__(self, node: Node, origin: Origin, key: str, candidates: list[str]) -> None:
        super().__init__(node, origin, key)
        self.candidates = candidates
        self.body: Message = {}

    def start(self, body: Message) -> None:
        self.body = body
        self.try_next()

    def try_next(self) -> None:
        if not self.candidates:
            self.fail("unavailable", "no replica of this key is reachable")
            self.finish()
            return
        target = self.candidates.pop(0)
        self.pending = {target}
        self.node.send(target, {**self.body, "t": "fwd_put", "id": self.id})

    def on_reply(self, peer: str, msg: Message) -> None:
        if peer in self.pending and msg.get("t") == "fwd_reply":
            result = msg.get("result")
            self.answer(result if isinstance(result, dict) else {"t": "ok"})
            self.finish()

    def on_unreachable(self, peer: str) -> None:
        if peer in self.pending:
            self.try_next()

    def on_timeout(self) -> None:
        self.fail("timeout", "the coordinator did not answer in time; the put may have landed")
        self.finish()


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
        if t in ("read_ok", "sync_ok", "fwd_reply", "pong"):
            self.node.mark_up(peer)
            request = self.node.requests.get(msg.get("id", 0))
            if request is not None:
                request.on_reply(peer, msg)
            return
        self.node.log("warning", f"ignored unknown message type {t!r} from {peer}")

    def unreachable(self, peer: str) -> None:
        for request in list(self.node.requests.values()):
            request.on_unreachable(peer)


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
    if node.name in targets or hops > 0 or not targets:
        PutRequest(node, origin, key).start(context, value)
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
            "in_flight": len(node.requests),
        }
    )


CLIENT_HANDLERS = {
    "get": client_get,
    "put": client_put,
    "ping": client_ping,
    "local_get": client_local_get,
    "status": client_status,
}

# --- peer requests ----------------------------------------------------------


def peer_read(node: Node, peer: str, msg: Message) -> None:
    key = msg.get("key")
    obj = node.local(key) if isinstance(key, str) else versions.EMPTY
    payload = versions.encode(obj) if obj.siblings or obj.clock else None
    node.send(peer, {"t": "read_ok", "id": msg.get("id"), "obj": payload})


def peer_sync(node: Node, peer: str, msg: Message) -> None:
    key, data, rid = msg.get("key"), msg.get("obj"), msg.get("id")
    try:
        if not isinstance(key, str) or not isinstance(data, bytes):
            raise VersionError("sync needs a string key and object bytes")
        incoming = versions.decode(data)
    except VersionError as e:
        node.log("error", f"dropped a malformed sync from {peer}: {e}")
        return
    node.merge_into_local(key, incoming)
    node.count("syncs_applied")
    if rid:
        node.when_durable(key, lambda: node.send(peer, {"t": "sync_ok", "id": rid}))


def peer_fwd_put(node: Node, peer: str, msg: Message) -> None:
    client_put(node, Origin(node, msg.get("id"), peer=peer), msg, hops=1)


def peer_ping(node: Node, peer: str, msg: Message) -> None:
    node.send(peer, {"t": "pong", "id": msg.get("id", 0)})


PEER_HANDLERS = {
    "read": peer_read,
    "sync": peer_sync,
    "fwd_put": peer_fwd_put,
    "ping": peer_ping,
}
