"""Client requests, and the hello every connection (client or node) starts with."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Self

from node.messages.fields import (
    MessageError,
    Record,
    items,
    key_size,
    node_name,
    opt_text,
    req_context,
    req_id,
    req_key,
    req_value,
)
from node.protocol import PROTOCOL_VERSION, Message, ProtocolError

MAX_PREFERENCE_KEYS = 4096
"""Keys per preference_lists request."""
MAX_NONCE_BYTES = 64
"""A hello's nonce, or an auth proof."""
MAX_WEIGHT = 1024
"""A member's weight (its share of the ring's partitions)."""


@dataclass(slots=True)
class Hello(Record):
    """The first message on every connection, both ways; `nonce` is the sender's challenge
    (node/auth.py)."""

    role: str
    name: str
    nonce: bytes = b""

    def wire(self) -> Message:
        out: Message = {"t": "hello", "v": PROTOCOL_VERSION, "role": self.role, "name": self.name}
        if self.nonce:
            out["nonce"] = self.nonce
        return out

    @classmethod
    def parse(cls, m: Message) -> Hello:
        if m.get("t") != "hello":
            raise ProtocolError(f'expected a "hello" first, got {m.get("t")!r}')
        if m.get("v") != PROTOCOL_VERSION:
            raise ProtocolError(
                f"protocol version {m.get('v')!r} is not supported (this node speaks "
                f"{PROTOCOL_VERSION}); upgrade the client or node"
            )
        role, name, nonce = m.get("role"), m.get("name"), m.get("nonce", b"")
        if role not in ("client", "node") or not isinstance(name, str) or len(name) > 255:
            raise ProtocolError('hello needs role "client" or "node" and a string name')
        if not isinstance(nonce, bytes) or len(nonce) > MAX_NONCE_BYTES:
            raise ProtocolError(f"hello's nonce must be at most {MAX_NONCE_BYTES} bytes")
        return cls(role, name, nonce)


Hello.T = "hello"


def hello(role: str, name: str, nonce: bytes = b"") -> Message:
    """The wire form of the first message on every connection."""
    return Hello(role, name, nonce).wire()


def check_hello(msg: Message) -> tuple[str, str]:
    """Validates a hello; returns (role, name) or raises ProtocolError saying what is wrong."""
    h = Hello.parse(msg)
    return h.role, h.name


@dataclass(slots=True)
class Auth(Record):
    """The connecting side's proof that it holds the cluster secret (after the node's hello);
    the node answers `auth_ok`, or refuses and closes."""

    proof: bytes

    def wire(self) -> Message:
        return {"t": "auth", "proof": self.proof}

    @classmethod
    def parse(cls, m: Message) -> Auth:
        proof = m.get("proof")
        if not isinstance(proof, bytes) or len(proof) > MAX_NONCE_BYTES:
            raise MessageError(f"field 'proof' must be at most {MAX_NONCE_BYTES} bytes")
        return cls(proof)


Auth.T = "auth"


AUTH_OK: Message = {"t": "auth_ok"}
"""The node's answer to a good proof."""


@dataclass(slots=True)
class Get(Record):
    key: str
    id: Any = None

    def __init__(self, key: str, id: Any = None) -> None:
        self.key = key
        self.id = id

    def wire(self) -> Message:
        return {"t": "get", "id": self.id, "key": self.key}

    @classmethod
    def parse(cls, m: Message) -> Get:
        return cls(req_key(m), req_id(m))


Get.T = "get"


@dataclass(slots=True)
class Put(Record):
    """A client's put; `context` is empty (a blind put) or a get's context."""

    key: str
    value: bytes
    context: bytes = b""
    id: Any = None
    clock: dict[str, tuple[int, int]] | None = field(default=None, compare=False, repr=False)
    """The decoded `context`, when the record was read from the wire (not sent)."""

    def __init__(
        self, key: str, value: bytes, context: bytes = b"", id: Any = None,
        clock: dict[str, tuple[int, int]] | None = None,
    ) -> None:  # fmt: skip
        self.key = key
        self.value = value
        self.context = context
        self.id = id
        self.clock = clock

    def wire(self) -> Message:
        return {"t": self.T, "id": self.id, "key": self.key, "value": self.value,
                "context": self.context}  # fmt: skip

    @classmethod
    def parse(cls, m: Message) -> Self:
        key, value = req_key(m), req_value(m)
        context, clock = req_context(m)
        return cls(key, value, context, req_id(m), clock)


Put.T = "put"


@dataclass(slots=True)
class Ping(Record):
    """A liveness probe (a client's, or a node's probe of a peer it marked down)."""

    id: Any = 0

    def __init__(self, id: Any = 0) -> None:
        self.id = id

    def wire(self) -> Message:
        return {"t": "ping", "id": self.id}

    @classmethod
    def parse(cls, m: Message) -> Ping:
        return cls(req_id(m) or 0)


Ping.T = "ping"


@dataclass(slots=True)
class LocalGet(Record):
    """Debug: one replica's own state of a key, without coordination or repair."""

    key: str
    id: Any = None

    def __init__(self, key: str, id: Any = None) -> None:
        self.key = key
        self.id = id

    def wire(self) -> Message:
        return {"t": "local_get", "id": self.id, "key": self.key}

    @classmethod
    def parse(cls, m: Message) -> LocalGet:
        return cls(req_key(m), req_id(m))


LocalGet.T = "local_get"


@dataclass(slots=True)
class Status(Record):
    """Debug: identity, wall clock, peers, hints, Merkle roots, counters and ring view."""

    id: Any = None

    def wire(self) -> Message:
        return {"t": "status", "id": self.id}

    @classmethod
    def parse(cls, m: Message) -> Status:
        return cls(req_id(m))


Status.T = "status"


@dataclass(slots=True)
class PreferenceLists(Record):
    """Debug: the first N nodes of each key's preference list, in this node's ring view."""

    keys: list[str]
    id: Any = None

    def wire(self) -> Message:
        return {"t": "preference_lists", "id": self.id, "keys": self.keys}

    @classmethod
    def parse(cls, m: Message) -> PreferenceLists:
        keys = items(m, "keys")
        if not all(isinstance(k, str) for k in keys):
            raise MessageError("field 'keys' must be a list of strings")
        if len(keys) > MAX_PREFERENCE_KEYS:
            raise MessageError(f"at most {MAX_PREFERENCE_KEYS} keys per request", "too_large")
        for k in keys:
            key_size(k, "a key in 'keys'")
        return cls(keys, req_id(m))


PreferenceLists.T = "preference_lists"


@dataclass(slots=True)
class Join(Record):
    """Membership: {seed}: join through that seed; {node, addr?, weight?}: add that member."""

    seed: str | None = None
    node: str | None = None
    addr: str | None = None
    weight: Any = None  # checked by the handler, whose message explains the whole call
    id: Any = None

    def wire(self) -> Message:
        out: Message = {"t": "join", "id": self.id}
        for name in ("seed", "node", "addr", "weight"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        return out

    @classmethod
    def parse(cls, m: Message) -> Join:
        # The addresses' form ("host:port") is checked by the handler.
        weight = m.get("weight")
        if weight is not None and not (type(weight) is int and 1 <= weight <= MAX_WEIGHT):
            raise MessageError(f"field 'weight' must be an integer in [1, {MAX_WEIGHT}]")
        seed, addr = opt_text(m, "seed"), opt_text(m, "addr")
        return cls(seed, node_name(m, "node"), addr, weight, req_id(m))


Join.T = "join"


@dataclass(slots=True)
class Leave(Record):
    """Membership: `node` (named explicitly: there is no default) leaves the cluster."""

    node: str
    id: Any = None

    def wire(self) -> Message:
        return {"t": "leave", "id": self.id, "node": self.node}

    @classmethod
    def parse(cls, m: Message) -> Leave:
        if m.get("node") is None:
            raise MessageError("field 'node' must name the member that leaves")
        return cls(node_name(m, "node", required=True) or "", req_id(m))


Leave.T = "leave"


@dataclass(slots=True)
class Members(Record):
    """Membership: this node's view of the members."""

    id: Any = None

    def wire(self) -> Message:
        return {"t": "members", "id": self.id}

    @classmethod
    def parse(cls, m: Message) -> Members:
        return cls(req_id(m))


Members.T = "members"
