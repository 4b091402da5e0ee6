"""Get and put as per-request state machines (Riak's get/put FSMs).

* get: ask the first N healthy nodes of the preference list (sloppy quorum),
  answer once R replied, merging with `sync`; the context is the merged clock.
  When every target has answered (or the timeout fires), replicas that lag get
  the merged object as a non-coordinated sync write (read repair).
* put: coordinated by a node among the first N healthy; any other node
  forwards it there. The coordinator applies the put to its local object (a
  fresh dot of its actor), then sends the whole new object to the other
  targets as a sync write. W counts the coordinator's own durable write.
* A fallback (a target standing in for an unhealthy primary) gets the write as
  a hint for that primary; a target found unreachable mid-request is replaced
  by the next healthy spare, which inherits its hint.
* strict mode: primaries only; a put first reads a quorum and supersedes all
  it saw, with a timestamp above every sibling's; a get returns the one
  sibling that wins the total order (timestamp, dot) and, before answering,
  writes the merged object back until W primaries hold it.

A reply never claims more than happened: "ok" for a put means W replicas had
it durably; any error on a put is indeterminate (it may have landed).
"""

from __future__ import annotations

from typing import Any

from node import versions
from node.core import Node
from node.protocol import MAX_FRAME_BYTES, Message
from node.versions import Clock, Versioned, VersionError

MAX_OBJECT_BYTES = MAX_FRAME_BYTES // 2
"""A key's whole object (all siblings) must fit a frame with room to spare."""
NOT_COORDINATOR = "not_coordinator"
"""Error code of a forwarded put sent to a node that is not among its replicas: nothing written."""


class Origin:
    """Where a request's answer goes: a client connection, or a forwarding peer."""

    def __init__(self, node: Node, rid: Any, conn: int | None = None, peer: str | None = None):
        self.node, self.rid, self.conn, self.peer = node, rid, conn, peer

    def answer(self, msg: Message) -> None:
        if self.conn is not None:
            self.node.reply(self.conn, {**msg, "id": self.rid})
        elif self.peer is not None:
            self.node.send(self.peer, {"t": "fwd_reply", "id": self.rid, "result": msg})


def hint_map(node: Node, key: str, targets: list[str]) -> dict[str, str]:
    """For each fallback among `targets`, the unhealthy primary it stands in for."""
    primaries = node.primaries(key)
    missing = [p for p in primaries if p not in targets]
    fallbacks = [t for t in targets if t not in primaries]
    return dict(zip(fallbacks, missing, strict=False))


class Request:
    """Shared lifecycle: registered under an id, one timeout, answered at most once."""

    def __init__(self, node: Node, origin: Origin, key: str) -> None:
        self.node, self.origin, self.key = node, origin, key
        self.id = node.new_id()
        self.answered = False
        self.pending: set[str] = set()
        self.targets, self.spares = node.targets(key)
        self.hints = hint_map(node, key, self.targets)
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

    def substitute(self, peer: str) -> str | None:
        """Replaces an unreachable target by the next spare (inheriting its hint), if any."""
        if not self.spares:
            return None
        spare = self.spares.pop(0)
        primary = self.hints.pop(peer, peer if peer in self.node.primaries(self.key) else None)
        if primary is not None:
            self.hints[spare] = primary
        return spare

    def send_sync(self, peer: str, obj: bytes, rid: int) -> None:
        """A sync write of `obj` to `peer`, as a hint when `peer` is a fallback."""
        msg: Message = {"t": "sync", "id": rid, "key": self.key, "obj": obj}
        if peer in self.hints:
            msg["hint"] = self.hints[peer]
        self.node.send(peer, msg)

    def on_reply(self, peer: str, msg: Message) -> None:
        raise NotImplementedError

    def on_unreachable(self, peer: str, unsent: bool = False) -> None:
        raise NotImplementedError

    def on_timeout(self) -> None:
        raise NotImplementedError


class GetRequest(Request):
    """Reads R of the first N healthy replicas, then repairs the laggards."""

    def __init__(self, node: Node, origin: Origin, key: str) -> None:
        super().__init__(node, origin, key)
        self.replies: dict[str, Versioned] = {}
        self.holders: set[str] = set()  # strict mode: replicas known to hold the merged object
        self.writing_back: Versioned | None = None

    def start(self) -> None:
        # Remote targets first: a local read answers at once and may complete the request.
        me = self.node.name
        for target in [t for t in self.targets if t != me] + [t for t in self.targets if t == me]:
            self.ask(target)

    def ask(self, target: str) -> None:
        if target == self.node.name:
            hint = self.hints.get(target)
            if self.node.cfg.quorum == "strict":  # count only what is on disk
                self.pending.add(target)
                view = lambda: self.got(target, self.node.replica_view(self.key, hint))  # noqa: E731
                self.node.when_durable(self.key, view)
            else:
                self.got(target, self.node.replica_view(self.key, hint))
        else:
            self.pending.add(target)
            msg: Message = {"t": "read", "id": self.id, "key": self.key}
            if target in self.hints:
                msg["hint"] = self.hints[target]
            self.node.send(target, msg)

    def on_reply(self, peer: str, msg: Message) -> None:
        if msg.get("t") == "sync_ok":
            self.written_back(peer)
            return
        if peer not in self.pending or msg.get("t") != "read_ok":
            return
        try:
            obj = versions.decode(msg["obj"]) if msg.get("obj") else versions.EMPTY
        except VersionError as e:
            self.node.log("error", f"unreadable object from {peer} for {self.key!r}: {e}")
            obj = versions.EMPTY
        self.got(peer, obj)

    def got(self, peer: str, obj: Versioned) -> None:
        if self.id not in self.node.requests:
            return  # a durable local read that completed after the request ended
        self.pending.discard(peer)
        self.replies[peer] = obj
        if len(self.replies) >= self.node.cfg.r and not self.answered:
            if self.node.cfg.quorum == "strict":
                if self.writing_back is None:  # one write-back round: acks name one object
                    self.write_back()
            else:
                self.respond(self.merged())
        if not self.pending and self.writing_back is None:
            self.done()

    def respond(self, merged: Versioned) -> None:
        sibs = versions.lww_winner(merged.siblings) if self.node.cfg.quorum == "strict" else None
        values = merged.values if sibs is None else [s.value for s in sibs]
        ctx = versions.encode_context(merged.clock)
        self.answer({"t": "ok", "siblings": values, "context": ctx, "node": self.node.name})

    def merged(self) -> Versioned:
        out = versions.EMPTY
        for obj in self.replies.values():
            out = self.node.sync(out, obj)
        return out

    def write_back(self) -> None:
        """Strict mode: answer only once W replicas hold the merged object."""
        merged = self.merged()
        self.writing_back = merged
        self.holders = {p for p, obj in self.replies.items() if obj == merged}
        if len(self.holders) >= self.node.cfg.w:
            self.respond(merged)
            self.writing_back = None
            return
        payload = versions.encode(merged)
        for peer, obj in self.replies.items():
            if obj == merged:
                continue
            if peer == self.node.name:
                self.node.merge_into_local(self.key, merged)
                self.node.when_durable(self.key, lambda: self.written_back(self.node.name))
            else:
                self.send_sync(peer, payload, self.id)

    def written_back(self, peer: str) -> None:
        if self.writing_back is None or self.answered:
            return
        self.holders.add(peer)
        if len(self.holders) >= self.node.cfg.w:
            self.respond(self.writing_back)
            self.writing_back = None
            self.done()

    def on_unreachable(self, peer: str, unsent: bool = False) -> None:
        if peer not in self.pending:
            return
        self.pending.discard(peer)
        spare = self.substitute(peer)
        if spare is not None:
            self.ask(spare)
        elif not self.pending and self.writing_back is None:
            self.done()

    def on_timeout(self) -> None:
        for peer in sorted(self.pending):
            self.node.mark_down(peer)
        self.pending.clear()
        self.writing_back = None
        self.done()

    def done(self) -> None:
        if not self.answered:
            have, need = len(self.replies), self.node.cfg.r
            self.fail("unavailable", f"only {have} of R={need} replicas answered in time")
        if self.node.cfg.read_repair and self.replies:
            self.repair(self.merged())
        self.finish()

    def repair(self, merged: Versioned) -> None:
        """Sends `merged` to every replica whose reply lagged (no reply wanted)."""
        payload = b""
        for peer, obj in self.replies.items():
            if obj == merged:
                continue
            self.node.count("read_repairs")
            if peer == self.node.name:
                self.node.merge_into_local(self.key, merged, self.hints.get(peer, ""))
            else:
                payload = payload or versions.encode(merged)
                self.send_sync(peer, payload, 0)


class PutRequest(Request):
    """Coordinates a put here: local write first, then the whole object to the others."""

    def __init__(self, node: Node, origin: Origin, key: str) -> None:
        super().__init__(node, origin, key)
        self.acks = 0
        self.payload = b""
        self.context: Clock = {}
        self.value = b""
        self.reads: dict[str, Versioned] | None = None  # strict mode's quorum read

    def start(self, context: Clock, value: bytes) -> None:
        self.context, self.value = context, value
        if self.node.cfg.quorum == "strict":
            self.reads = {}
            for target in self.targets:
                if target == self.node.name:
                    continue
                self.pending.add(target)
                self.node.send(target, {"t": "read", "id": self.id, "key": self.key})
            self.read_reply(self.node.name, self.node.local(self.key))
        else:
            self.write(context, self.node.now.wall_ms)

    def read_reply(self, peer: str, obj: Versioned) -> None:
        assert self.reads is not None
        self.pending.discard(peer)
        self.reads[peer] = obj
        if len(self.reads) >= self.node.cfg.r:
            seen = versions.EMPTY
            for o in self.reads.values():
                seen = versions.sync(seen, o)
            newest = max((s.timestamp_ms for s in seen.siblings), default=0)
            self.reads = None
            self.pending.clear()
            self.write(
                versions.merge(self.context, seen.clock), max(self.node.now.wall_ms, newest + 1)
            )

    def write(self, context: Clock, ts_ms: int) -> None:
        node = self.node
        local = node.local(self.key)
        if node.cfg.conflict == "lww":
            new = versions.update_lww(local, self.value, node.actor, ts_ms)
        else:
            new = versions.update(local, context, self.value, node.actor, ts_ms,
                                  node.cfg.max_clock_entries)  # fmt: skip
        payload = versions.encode(new)
        if len(payload) > MAX_OBJECT_BYTES:
            self.fail("too_large", f"the key's siblings would take {len(payload)} bytes "
                      f"(limit {MAX_OBJECT_BYTES}); reconcile them in one put")  # fmt: skip
            self.finish()
            return
        self.pending.add(node.name)
        node.store(self.key, new, lambda: self.ack(node.name))
        if node.name in self.hints:
            node.handoff.store_hint(self.hints[node.name], self.key, new)
        self.payload = payload
        for target in self.targets:
            if target != node.name:
                self.replicate(target)

    def replicate(self, target: str) -> None:
        self.pending.add(target)
        self.send_sync(target, self.payload, self.id)

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
        t = msg.get("t")
        if t == "sync_ok":
            self.ack(peer)
        elif t == "read_ok" and self.reads is not None and peer in self.pending:
            try:
                obj = versions.decode(msg["obj"]) if msg.get("obj") else versions.EMPTY
            except VersionError:
                obj = versions.EMPTY
            self.read_reply(peer, obj)

    def on_unreachable(self, peer: str, unsent: bool = False) -> None:
        # The same object (same dot) to a spare is idempotent, sent or not.
        if peer not in self.pending:
            return
        self.pending.discard(peer)
        spare = self.substitute(peer) if self.reads is None else None
        if spare is not None:
            self.replicate(spare)
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
            self.fail("unavailable", "no replica of this key answered; the put may have landed")
            self.finish()
            return
        target = self.candidates.pop(0)
        self.pending = {target}
        self.node.send(target, {**self.body, "t": "fwd_put", "id": self.id})

    def on_reply(self, peer: str, msg: Message) -> None:
        if peer in self.pending and msg.get("t") == "fwd_reply":
            result = msg.get("result")
            if isinstance(result, dict) and result.get("code") == NOT_COORDINATOR:
                self.try_next()  # it wrote nothing: safe to ask the next one
                return
            self.answer(result if isinstance(result, dict) else {"t": "ok"})
            self.finish()

    def on_unreachable(self, peer: str, unsent: bool = False) -> None:
        if peer not in self.pending:
            return
        if unsent:
            self.try_next()  # the put never left this node
        else:
            # It may have landed: retrying elsewhere would apply it twice (two dots).
            self.fail("unavailable", f"lost the connection to coordinator {peer}; "
                      "the put may have landed")  # fmt: skip
            self.finish()

    def on_timeout(self) -> None:
        self.fail("timeout", "the coordinator did not answer in time; the put may have landed")
        self.finish()
