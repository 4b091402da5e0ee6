"""Node-to-node messages: reads, sync writes, forwarded puts, anti-entropy and gossip.

(Ping and pong travel between nodes too; they live with the client requests
and answers, whose shapes they share.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from node.messages.answers import ErrorReply, PutOk
from node.messages.client import MAX_WEIGHT, Put
from node.messages.fields import (
    MAX_ID,
    MessageError,
    Record,
    blob,
    bound,
    int_id,
    items,
    key_size,
    mapping,
    node_name,
    rows,
    text,
)
from node.protocol import MAX_KEY_BYTES, Message

FAST_KEY: Final = MAX_KEY_BYTES // 4
"""A key of at most this many characters is within MAX_KEY_BYTES whatever they are."""


@dataclass(slots=True)
class Read(Record):
    """Asks a replica for its state of `key` (merged with its hint for `hint`, if given)."""

    id: int
    key: str
    hint: str | None = None

    def __init__(self, id: int, key: str, hint: str | None = None) -> None:
        self.id = id
        self.key = key
        self.hint = hint

    def wire(self) -> Message:
        out: Message = {"t": "read", "id": self.id, "key": self.key}
        if self.hint is not None:
            out["hint"] = self.hint
        return out

    @classmethod
    def parse(cls, m: Message) -> Read:
        rid, key = m.get("id"), m.get("key")
        if type(rid) is int and type(key) is str and len(key) <= FAST_KEY and "hint" not in m:
            if 0 <= rid <= MAX_ID:  # the well-formed case, without a call per field
                return cls(rid, key)
        return cls(int_id(m), key_size(text(m, "key")), node_name(m, "hint"))


Read.T = "read"


@dataclass(slots=True)
class ReadOk(Record):
    """A replica's state: encoded object bytes, or None for nothing held."""

    id: int
    obj: bytes | None

    def __init__(self, id: int, obj: bytes | None) -> None:
        self.id = id
        self.obj = obj

    def wire(self) -> Message:
        return {"t": "read_ok", "id": self.id, "obj": self.obj}

    @classmethod
    def parse(cls, m: Message) -> ReadOk:
        rid, obj = m.get("id"), m.get("obj") or None
        if type(rid) is int and (obj is None or type(obj) is bytes):
            return cls(rid, obj)  # the well-formed case, without a call per field
        return cls(int_id(m), blob(m, "obj") if obj else None)


ReadOk.T = "read_ok"


@dataclass(slots=True)
class Sync(Record):
    """A whole object to merge (a hint for primary `hint`, if given); id 0 wants no ack."""

    id: int
    key: str
    obj: bytes
    hint: str | None = None

    def __init__(self, id: int, key: str, obj: bytes, hint: str | None = None) -> None:
        self.id = id
        self.key = key
        self.obj = obj
        self.hint = hint

    def wire(self) -> Message:
        out: Message = {"t": "sync", "id": self.id, "key": self.key, "obj": self.obj}
        if self.hint is not None:
            out["hint"] = self.hint
        return out

    @classmethod
    def parse(cls, m: Message) -> Sync:
        rid, key, obj = m.get("id"), m.get("key"), m.get("obj")
        if type(rid) is int and type(key) is str and type(obj) is bytes and "hint" not in m:
            if 0 <= rid <= MAX_ID and len(key) <= FAST_KEY:  # well-formed: no call per field
                return cls(rid, key, obj)
        return cls(int_id(m), key_size(text(m, "key")), blob(m, "obj"), node_name(m, "hint"))


Sync.T = "sync"


@dataclass(slots=True)
class SyncOk(Record):
    """The sync with this id is durable at the sender."""

    id: int

    def __init__(self, id: int) -> None:
        self.id = id

    def wire(self) -> Message:
        return {"t": "sync_ok", "id": self.id}

    @classmethod
    def parse(cls, m: Message) -> SyncOk:
        return cls(int_id(m))


SyncOk.T = "sync_ok"


@dataclass(slots=True, init=False)  # Put's `__init__`, written out: mypyc compiles it
class FwdPut(Put):
    """A client's put handed to a node among the key's first N healthy (same fields)."""


FwdPut.T = "fwd_put"


@dataclass(slots=True)
class FwdReply(Record):
    """The coordinator's answer to a forwarded put (a result that is not an error is ok)."""

    id: int
    result: PutOk | ErrorReply

    def __init__(self, id: int, result: PutOk | ErrorReply) -> None:
        self.id = id
        self.result = result

    def wire(self) -> Message:
        return {"t": "fwd_reply", "id": self.id, "result": self.result.wire()}

    @classmethod
    def parse(cls, m: Message) -> FwdReply:
        raw = m.get("result")
        error = isinstance(raw, dict) and raw.get("t") == "error"
        return cls(int_id(m), ErrorReply.parse(raw) if error else PutOk())  # type: ignore[arg-type]


FwdReply.T = "fwd_reply"


@dataclass(slots=True)
class AeRoot(Record):
    """Anti-entropy, A → B: A's Merkle roots of the partitions both replicate."""

    roots: list[list[Any]]  # [partition, root]

    def wire(self) -> Message:
        return {"t": "ae_root", "roots": self.roots}

    @classmethod
    def parse(cls, m: Message) -> AeRoot:
        return cls(rows(m.get("roots"), (int, bytes)))


AeRoot.T = "ae_root"


@dataclass(slots=True)
class AeBuckets(Record):
    """B → A: B's bucket hashes of the partitions whose roots differ."""

    parts: list[list[Any]]  # [partition, [bucket hash, ...]]

    def wire(self) -> Message:
        return {"t": "ae_buckets", "parts": self.parts}

    @classmethod
    def parse(cls, m: Message) -> AeBuckets:
        return cls(rows(m.get("parts"), (int, list)))


AeBuckets.T = "ae_buckets"


@dataclass(slots=True)
class AeKeys(Record):
    """A → B: A's key digests in the buckets that differ."""

    ranges: list[list[Any]]  # [partition, bucket, lo, hi, [[key, digest], ...]]

    def wire(self) -> Message:
        return {"t": "ae_keys", "ranges": self.ranges}

    @classmethod
    def parse(cls, m: Message) -> AeKeys:
        found = rows(m.get("ranges"), (int, int, object, object, list))
        return cls([[p, b, lo, hi, rows(d, (str, bytes))] for p, b, lo, hi, d in found
                    if bound(lo) and bound(hi)])  # fmt: skip


AeKeys.T = "ae_keys"


@dataclass(slots=True)
class AeObjects(Record):
    """Objects for keys the receiver lacks or holds differently, and the keys wanted back."""

    objs: list[list[Any]]  # [key, encoded object]
    want: list[str] = field(default_factory=list)

    def wire(self) -> Message:
        return {"t": "ae_objects", "objs": self.objs, "want": self.want}

    @classmethod
    def parse(cls, m: Message) -> AeObjects:
        want = m.get("want")
        strings = [x for x in want if isinstance(x, str)] if isinstance(want, list) else []
        return cls(rows(m.get("objs"), (str, bytes)), strings)


AeObjects.T = "ae_objects"


@dataclass(slots=True)
class Gossip(Record):
    """A node's whole membership history and the addresses it knows (push)."""

    id: int
    history: list[Any]
    addrs: dict[Any, Any]

    def __init__(self, id: int, history: list[Any], addrs: dict[Any, Any]) -> None:
        self.id = id
        self.history = history
        self.addrs = addrs

    def wire(self) -> Message:
        return {"t": "gossip", "id": self.id, "history": self.history, "addrs": self.addrs}

    @classmethod
    def parse(cls, m: Message) -> Gossip:
        return cls(int_id(m), items(m, "history"), mapping(m, "addrs"))


Gossip.T = "gossip"


@dataclass(slots=True)
class GossipAck(Record):
    """The answer to gossip (pull) or to join_req (`join`: joined, refused or not_member)."""

    id: int
    history: list[Any]
    addrs: dict[Any, Any]
    join: str | None = None

    def __init__(
        self, id: int, history: list[Any], addrs: dict[Any, Any], join: str | None = None
    ) -> None:
        self.id = id
        self.history = history
        self.addrs = addrs
        self.join = join

    def wire(self) -> Message:
        out: Message = {"t": "gossip_ack", "id": self.id, "history": self.history,
                        "addrs": self.addrs}  # fmt: skip
        if self.join is not None:
            out["join"] = self.join
        return out

    @classmethod
    def parse(cls, m: Message) -> GossipAck:
        join = m.get("join")
        if join not in (None, "joined", "refused", "not_member"):
            raise MessageError("field 'join' must be joined, refused or not_member if given")
        return cls(int_id(m), items(m, "history"), mapping(m, "addrs"), join)


GossipAck.T = "gossip_ack"


@dataclass(slots=True)
class JoinReq(Record):
    """A node asks a seed to add it (`rejoin`: even if it was removed); its addresses ride
    along, its history comes by gossip."""

    id: int
    history: list[Any]
    addrs: dict[Any, Any]
    weight: int = 1
    rejoin: bool = False

    def wire(self) -> Message:
        return {"t": "join_req", "id": self.id, "history": self.history, "addrs": self.addrs,
                "weight": self.weight, "rejoin": self.rejoin}  # fmt: skip

    @classmethod
    def parse(cls, m: Message) -> JoinReq:
        weight, rejoin = m.get("weight", 1), m.get("rejoin", False)
        if not (type(weight) is int and 1 <= weight <= MAX_WEIGHT):
            raise MessageError(f"field 'weight' must be an integer in [1, {MAX_WEIGHT}]")
        if type(rejoin) is not bool:
            raise MessageError("field 'rejoin' must be a boolean")
        return cls(int_id(m), items(m, "history"), mapping(m, "addrs"), weight, rejoin)


JoinReq.T = "join_req"
