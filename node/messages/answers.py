"""Answers to client requests (and, inside fwd_reply, to a forwarding node).

Every success is an "ok" map whose fields depend on the request, so each
request has its own answer record, and the reader of an answer names the one
it expects (`decode_answer`). An answer carries the id of the request it
answers; `answer_wire` adds it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from node.messages.fields import MessageError, Record, blob, integer, items, mapping, opt_text, text
from node.protocol import Message


@dataclass(slots=True)
class ErrorReply(Record):
    """A request failed: `code` (bad_request, too_large, unavailable, ...) and a message."""

    code: str
    message: str

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        self.message = message

    def wire(self) -> Message:
        return {"t": "error", "code": self.code, "message": self.message}

    @classmethod
    def parse(cls, m: Message) -> ErrorReply:
        return cls(str(m.get("code")), str(m.get("message")))


ErrorReply.T = "error"


@dataclass(slots=True)
class PutOk(Record):
    """A put is durable on W replicas."""

    def __init__(self) -> None:
        pass

    def wire(self) -> Message:
        return {"t": "ok"}

    @classmethod
    def parse(cls, m: Message) -> PutOk:
        return cls()


PutOk.T = "ok"


def _values(m: Message) -> list[bytes]:
    sibs = items(m, "siblings")
    if not all(type(s) is bytes for s in sibs):
        raise MessageError("field 'siblings' must be a list of bytes")
    return sibs


@dataclass(slots=True)
class GetOk(Record):
    """A get's answer: the sibling values and the context covering them."""

    siblings: list[bytes]
    context: bytes
    node: str

    def __init__(self, siblings: list[bytes], context: bytes, node: str) -> None:
        self.siblings = siblings
        self.context = context
        self.node = node

    def wire(self) -> Message:
        return {"t": "ok", "siblings": self.siblings, "context": self.context, "node": self.node}

    @classmethod
    def parse(cls, m: Message) -> GetOk:
        sibs, ctx, node = m.get("siblings"), m.get("context"), m.get("node")
        if type(sibs) is list and type(ctx) is bytes and type(node) is str:
            if all(type(s) is bytes for s in sibs):
                return cls(sibs, ctx, node)  # the well-formed case, without a call per field
        return cls(_values(m), blob(m, "context"), opt_text(m, "node") or "")


GetOk.T = "ok"


@dataclass(slots=True)
class LocalGetOk(Record):
    """One replica's own state: values, context, and its clock described for people."""

    siblings: list[bytes]
    context: bytes
    clock: dict[str, Any]
    node: str

    def wire(self) -> Message:
        return {"t": "ok", "siblings": self.siblings, "context": self.context,
                "clock": self.clock, "node": self.node}  # fmt: skip

    @classmethod
    def parse(cls, m: Message) -> LocalGetOk:
        return cls(_values(m), blob(m, "context"), mapping(m, "clock"), text(m, "node"))


LocalGetOk.T = "ok"


@dataclass(slots=True)
class StatusOk(Record):
    """A node's identity, wall clock, view of its peers, hints, Merkle roots and counters."""

    node: str
    actor: str
    wall_ms: int
    down: list[str]
    counters: dict[str, int]
    ring: list[str]
    members: list[str]
    in_flight: int
    hints: dict[str, int]
    merkle_roots: dict[str, str]

    def wire(self) -> Message:
        return {"t": "ok", "node": self.node, "actor": self.actor, "wall_ms": self.wall_ms,
                "down": self.down, "counters": self.counters, "ring": self.ring,
                "members": self.members, "in_flight": self.in_flight, "hints": self.hints,
                "merkle_roots": self.merkle_roots}  # fmt: skip

    @classmethod
    def parse(cls, m: Message) -> StatusOk:
        return cls(text(m, "node"), text(m, "actor"), integer(m, "wall_ms"), items(m, "down"),
                   mapping(m, "counters"), items(m, "ring"), items(m, "members"),
                   integer(m, "in_flight"), mapping(m, "hints"),
                   mapping(m, "merkle_roots"))  # fmt: skip


StatusOk.T = "ok"


@dataclass(slots=True)
class PreferenceListsOk(Record):
    """Per key asked, the first N nodes of its preference list."""

    node: str
    lists: dict[str, list[str]]

    def wire(self) -> Message:
        return {"t": "ok", "node": self.node, "lists": self.lists}

    @classmethod
    def parse(cls, m: Message) -> PreferenceListsOk:
        lists = mapping(m, "lists")
        if not all(isinstance(k, str) and isinstance(v, list) for k, v in lists.items()):
            raise MessageError("field 'lists' must map keys to lists of node names")
        return cls(text(m, "node"), lists)


PreferenceListsOk.T = "ok"


@dataclass(slots=True)
class MembersOk(Record):
    """A node's membership view (the answer to join, leave and members)."""

    node: str
    members: list[str]
    tombstones: list[str]
    history_length: int
    joining: bool
    moving: int
    addresses: dict[str, str]

    def wire(self) -> Message:
        return {"t": "ok", "node": self.node, "members": self.members,
                "tombstones": self.tombstones, "history_length": self.history_length,
                "joining": self.joining, "moving": self.moving,
                "addresses": self.addresses}  # fmt: skip

    @classmethod
    def parse(cls, m: Message) -> MembersOk:
        return cls(text(m, "node"), items(m, "members"), items(m, "tombstones"),
                   integer(m, "history_length"), m.get("joining") is True,
                   integer(m, "moving"), mapping(m, "addresses"))  # fmt: skip


MembersOk.T = "ok"


@dataclass(slots=True)
class Pong(Record):
    """The answer to a ping: to a client it names the node; to a peer it just echoes the id."""

    id: Any = 0
    node: str | None = None

    def __init__(self, id: Any = 0, node: str | None = None) -> None:
        self.id = id
        self.node = node

    def wire(self) -> Message:
        out: Message = {"t": "pong", "id": self.id}
        if self.node is not None:
            out["node"] = self.node
        return out

    @classmethod
    def parse(cls, m: Message) -> Pong:
        return cls(m.get("id", 0), opt_text(m, "node"))


Pong.T = "pong"


Answer = ErrorReply | PutOk | GetOk | LocalGetOk | StatusOk | PreferenceListsOk | MembersOk | Pong
A = TypeVar("A", GetOk, PutOk, LocalGetOk, StatusOk, PreferenceListsOk, MembersOk, Pong)


def answer_wire(msg: Answer, rid: Any) -> Message:
    """The wire form of an answer to request `rid`."""
    out = msg.wire()
    out["id"] = rid
    return out


def decode_answer(m: Message, expect: type[A]) -> A | ErrorReply:
    """Reads the answer to a request that expects `expect`: that, or an ErrorReply."""
    t = m.get("t")
    if t == "error":
        return ErrorReply.parse(m)
    if t != expect.T:
        raise MessageError(f"expected an answer of type {expect.T!r}, got {t!r}")
    parsed: A = expect.parse(m)  # named: mypyc does not solve `type[A]` for a constrained A
    return parsed
