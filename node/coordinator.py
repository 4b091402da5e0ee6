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

Each machine's states are an enum and its legal moves one table (`GET_MOVES`,
`PUT_MOVES`); `to` refuses any other. A reply never claims more than
happened: "ok" for a put means W replicas had it durably; any error on a put
is indeterminate (it may have landed).
"""

from __future__ import annotations

import enum
from typing import Final, NoReturn

from node import versions
from node.messages import (
    ErrorReply,
    FwdPut,
    FwdReply,
    GetOk,
    PeerReply,
    PutOk,
    Read,
    ReadOk,
    SyncOk,
)
from node.modes import ConflictMode, QuorumMode
from node.origin import Origin
from node.protocol import MAX_FRAME_BYTES
from node.request import Ports, Request, decode_obj
from node.versions import Clock, Versioned

MAX_OBJECT_BYTES: Final = MAX_FRAME_BYTES // 2
"""A key's whole object (all siblings) must fit a frame with room to spare."""
NOT_COORDINATOR: Final = "not_coordinator"
"""Error code of a forwarded put sent to a node that is not among its replicas: nothing written."""


class GetState(enum.Enum):
    __hash__ = object.__hash__  # members are singletons; Enum's hash is Python, run per move
    READING = "reading"
    """Asking the targets; answers once R replied."""
    WRITING_BACK = "writing_back"
    """Strict mode: R replied; writing the merged object back until W replicas hold it."""
    ANSWERED = "answered"
    """Answered; waiting for the remaining replies, to repair the replicas that lag."""
    DONE = "done"
    """Finished (answered or failed) and out of the in-flight table."""


class PutState(enum.Enum):
    __hash__ = object.__hash__  # members are singletons; Enum's hash is Python, run per move
    NEW = "new"
    READING = "reading"
    """Strict mode: reading a quorum, to supersede everything it saw."""
    WRITING = "writing"
    """The new object is stored locally and sent to the other targets; waiting for W acks."""
    ANSWERED = "answered"
    """W durable acks: answered ok; waiting for the remaining acks."""
    DONE = "done"


GET_MOVES: Final[dict[GetState, frozenset[GetState]]] = {
    GetState.READING: frozenset({GetState.WRITING_BACK, GetState.ANSWERED, GetState.DONE}),
    GetState.WRITING_BACK: frozenset({GetState.ANSWERED, GetState.DONE}),
    GetState.ANSWERED: frozenset({GetState.DONE}),
    GetState.DONE: frozenset(),
}
PUT_MOVES: Final[dict[PutState, frozenset[PutState]]] = {
    PutState.NEW: frozenset({PutState.READING, PutState.WRITING}),
    PutState.READING: frozenset({PutState.WRITING, PutState.DONE}),
    PutState.WRITING: frozenset({PutState.ANSWERED, PutState.DONE}),
    PutState.ANSWERED: frozenset({PutState.DONE}),
    PutState.DONE: frozenset(),
}


def illegal(state: GetState | PutState, to: GetState | PutState) -> NoReturn:
    """A move the table does not allow: a bug in this module."""
    raise AssertionError(f"illegal move {state.name} -> {to.name}")


class GetRequest(Request):
    """Reads R of the first N healthy replicas, then repairs the laggards."""

    def __init__(self, io: Ports, origin: Origin, key: str) -> None:
        super().__init__(io, origin, key)
        self.state = GetState.READING
        self.replies: dict[str, Versioned] = {}
        self.holders: set[str] = set()  # strict mode: replicas known to hold the merged object
        self.written: Versioned = versions.EMPTY  # strict mode: the object being written back
        self._fold: tuple[int, Versioned] = (0, versions.EMPTY)  # (replies merged, result)

    def to(self, state: GetState) -> None:
        if state not in GET_MOVES[self.state]:
            illegal(self.state, state)
        self.state = state

    def start(self) -> None:
        # Remote targets first: a local read answers at once and may complete the request.
        for target in [t for t in self.targets if t != self.me] + [
            t for t in self.targets if t == self.me
        ]:
            self.ask(target)

    def ask(self, target: str) -> None:
        store, hint = self.io.store, self.hints.get(target)
        if target != self.me:
            self.pending.add(target)
            self.io.outbox.send(target, Read(self.id, self.key, hint))
        elif self.cfg.quorum is QuorumMode.STRICT:  # count only what is on disk
            self.pending.add(target)
            store.when_durable(
                self.key, lambda: self.got(target, store.replica_view(self.key, hint))
            )
        else:
            self.got(target, store.replica_view(self.key, hint))

    def on_reply(self, peer: str, msg: PeerReply) -> None:
        if isinstance(msg, SyncOk):
            self.written_back(peer)
        elif isinstance(msg, ReadOk) and peer in self.pending:
            self.got(peer, decode_obj(self.io, peer, self.key, msg.obj))

    def got(self, peer: str, obj: Versioned) -> None:
        if self.state is GetState.DONE:
            return  # a durable local read that completed after the request ended
        self.pending.discard(peer)
        if peer in self.replies:
            self._fold = (0, versions.EMPTY)  # a peer answered again: merge from scratch
        self.replies[peer] = obj
        if len(self.replies) >= self.cfg.r and self.state is GetState.READING:
            if self.cfg.quorum is QuorumMode.STRICT:
                self.write_back()  # one write-back round: acks name one object
            else:
                self.respond(self.merged())
        if not self.pending and self.state is not GetState.WRITING_BACK:
            self.done()

    def respond(self, merged: Versioned) -> None:
        strict = self.cfg.quorum is QuorumMode.STRICT
        sibs = versions.lww_winner(merged.siblings) if strict else merged.siblings
        ctx = versions.encode_context(merged.clock)
        self.origin.answer(GetOk([s.value for s in sibs], ctx, self.me))
        self.to(GetState.ANSWERED)

    def merged(self) -> Versioned:
        """Every reply so far merged, in arrival order (folding in only the new ones)."""
        done, out = self._fold
        replies = list(self.replies.values())
        for obj in replies[done:]:
            out = self.io.store.sync(out, obj)
        self._fold = (len(replies), out)
        return out

    def write_back(self) -> None:
        """Strict mode: answer only once W replicas hold the merged object."""
        merged = self.merged()
        self.holders = {p for p, obj in self.replies.items() if obj == merged}
        if len(self.holders) >= self.cfg.w:
            self.respond(merged)
            return
        self.to(GetState.WRITING_BACK)
        self.written = merged
        payload = versions.encode(merged)
        for peer, obj in self.replies.items():
            if obj == merged:
                continue
            if peer == self.me:
                self.io.store.merge_into_local(self.key, merged)
                self.io.store.when_durable(self.key, lambda: self.written_back(self.me))
            else:
                self.send_sync(peer, payload, self.id)

    def written_back(self, peer: str) -> None:
        if self.state is not GetState.WRITING_BACK:
            return
        self.holders.add(peer)
        if len(self.holders) >= self.cfg.w:
            self.respond(self.written)
            self.done()

    def on_unreachable(self, peer: str, unsent: bool) -> None:
        if peer not in self.pending:
            return
        self.pending.discard(peer)
        spare = self.substitute(peer)
        if spare is not None:
            self.ask(spare)
        elif not self.pending and self.state is not GetState.WRITING_BACK:
            self.done()

    def on_timeout(self) -> None:
        for peer in sorted(self.pending):
            self.io.health.mark_down(peer)
        self.pending.clear()
        self.done()

    def done(self) -> None:
        if self.state in (GetState.READING, GetState.WRITING_BACK):
            have, need = len(self.replies), self.cfg.r
            self.fail("unavailable", f"only {have} of R={need} replicas answered in time")
        self.to(GetState.DONE)
        if self.cfg.read_repair and self.replies:
            self.repair(self.merged())
        self.finish()

    def repair(self, merged: Versioned) -> None:
        """Sends `merged` to every replica whose reply lagged (no reply wanted)."""
        payload = b""
        for peer, obj in self.replies.items():
            if obj == merged:
                continue
            self.io.outbox.count("read_repairs")
            if peer == self.me:
                self.io.store.merge_into_local(self.key, merged, self.hints.get(peer, ""))
            else:
                payload = payload or versions.encode(merged)
                self.send_sync(peer, payload, 0)


class PutRequest(Request):
    """Coordinates a put here: local write first, then the whole object to the others."""

    def __init__(self, io: Ports, origin: Origin, key: str) -> None:
        super().__init__(io, origin, key)
        self.state = PutState.NEW
        self.acks = 0
        self.payload = b""
        self.context: Clock = {}
        self.value = b""
        self.reads: dict[str, Versioned] = {}  # strict mode's quorum read

    def to(self, state: PutState) -> None:
        if state not in PUT_MOVES[self.state]:
            illegal(self.state, state)
        self.state = state

    def start(self, context: Clock, value: bytes) -> None:
        self.context, self.value = context, value
        if self.cfg.quorum is QuorumMode.STRICT:
            self.to(PutState.READING)
            for target in self.targets:
                if target != self.me:
                    self.pending.add(target)
                    self.io.outbox.send(target, Read(self.id, self.key))
            self.read_reply(self.me, self.io.store.local(self.key))
        else:
            self.write(context, self.io.outbox.now.wall_ms)

    def read_reply(self, peer: str, obj: Versioned) -> None:
        self.pending.discard(peer)
        self.reads[peer] = obj
        if len(self.reads) >= self.cfg.r:
            seen = versions.EMPTY
            for o in self.reads.values():
                seen = versions.sync(seen, o)
            newest = max((s.timestamp_ms for s in seen.siblings), default=0)
            self.pending.clear()
            wall_ms = self.io.outbox.now.wall_ms
            self.write(versions.merge(self.context, seen.clock), max(wall_ms, newest + 1))

    def write(self, context: Clock, ts_ms: int) -> None:
        self.to(PutState.WRITING)
        store, key = self.io.store, self.key
        local = store.local(key)
        if self.cfg.conflict is ConflictMode.LWW:
            new = versions.update_lww(local, self.value, self.io.actor, ts_ms)
        else:
            new = versions.update(local, context, self.value, self.io.actor, ts_ms,
                                  self.cfg.max_clock_entries)  # fmt: skip
        payload = versions.encode(new)
        if len(payload) > MAX_OBJECT_BYTES:
            self.fail("too_large", f"the key's siblings would take {len(payload)} bytes "
                      f"(limit {MAX_OBJECT_BYTES}); reconcile them in one put")  # fmt: skip
            self.to(PutState.DONE)
            self.finish()
            return
        self.pending.add(self.me)
        store.store(key, new, lambda: self.ack(self.me))
        if self.me in self.hints:
            self.io.hints.store_hint(self.hints[self.me], key, new)
        self.payload = payload
        for target in self.targets:
            if target != self.me:
                self.replicate(target)

    def replicate(self, target: str) -> None:
        self.pending.add(target)
        self.send_sync(target, self.payload, self.id)

    def ack(self, peer: str) -> None:
        if peer not in self.pending:
            return
        self.pending.discard(peer)
        self.acks += 1
        if self.acks >= self.cfg.w and self.state is PutState.WRITING:
            self.origin.answer(PutOk())
            self.to(PutState.ANSWERED)
        if not self.pending:
            self.done()

    def on_reply(self, peer: str, msg: PeerReply) -> None:
        if isinstance(msg, SyncOk):
            self.ack(peer)
        elif isinstance(msg, ReadOk) and self.state is PutState.READING and peer in self.pending:
            obj = decode_obj(self.io, peer, self.key, msg.obj)
            self.read_reply(peer, obj)

    def on_unreachable(self, peer: str, unsent: bool) -> None:
        # The same object (same dot) to a spare is idempotent, sent or not.
        if peer not in self.pending:
            return
        self.pending.discard(peer)
        spare = self.substitute(peer) if self.state is not PutState.READING else None
        if spare is not None:
            self.replicate(spare)
        elif not self.pending:
            self.done()

    def on_timeout(self) -> None:
        for peer in sorted(self.pending - {self.me}):
            self.io.health.mark_down(peer)
        self.pending.clear()
        self.done()

    def done(self) -> None:
        if self.state is not PutState.ANSWERED:
            w = self.cfg.w
            self.fail("unavailable", f"only {self.acks} of W={w} durable acks; it may have landed")
        self.to(PutState.DONE)
        self.finish()


class ForwardRequest(Request):
    """Hands a put to a node among the first N healthy, trying the next on failure."""

    def __init__(self, io: Ports, origin: Origin, key: str, candidates: list[str]) -> None:
        super().__init__(io, origin, key)
        self.candidates = candidates
        self.put = FwdPut(key, b"")

    def start(self, put: FwdPut) -> None:
        self.put = put
        self.try_next()

    def try_next(self) -> None:
        if not self.candidates:
            self.fail("unavailable", "no replica of this key answered; the put may have landed")
            self.finish()
            return
        target = self.candidates.pop(0)
        self.pending = {target}
        p = self.put
        self.io.outbox.send(target, FwdPut(p.key, p.value, p.context, self.id))

    def on_reply(self, peer: str, msg: PeerReply) -> None:
        if peer in self.pending and isinstance(msg, FwdReply):
            result = msg.result
            if isinstance(result, ErrorReply) and result.code == NOT_COORDINATOR:
                self.try_next()  # it wrote nothing: safe to ask the next one
                return
            self.origin.answer(result)
            self.finish()

    def on_unreachable(self, peer: str, unsent: bool) -> None:
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
