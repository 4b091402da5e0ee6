"""The catalogue: which record reads each "t", for client requests and peer messages.

Apart from the package's `__init__` so that it is compiled with the records
(native/__init__.py): every message a node takes is read here.
"""

from __future__ import annotations

from node.messages.answers import Pong
from node.messages.client import (
    Get,
    Join,
    Leave,
    LocalGet,
    Members,
    Ping,
    PreferenceLists,
    Put,
    Status,
)
from node.messages.fields import MessageError, UnknownMessage
from node.messages.peer import (
    AeBuckets,
    AeKeys,
    AeObjects,
    AeRoot,
    FwdPut,
    FwdReply,
    Gossip,
    GossipAck,
    JoinReq,
    Read,
    ReadOk,
    Sync,
    SyncOk,
)
from node.protocol import Message

ClientReq = Get | Put | Ping | LocalGet | Status | PreferenceLists | Join | Leave | Members
PeerReply = ReadOk | SyncOk | FwdReply | Pong
PeerMsg = (
    Read | ReadOk | Sync | SyncOk | FwdPut | FwdReply | Ping | Pong
    | AeRoot | AeBuckets | AeKeys | AeObjects | Gossip | GossipAck | JoinReq
)  # fmt: skip

CLIENT_REQUESTS: dict[str, type[ClientReq]] = {
    c.T: c for c in (Get, Put, Ping, LocalGet, Status, PreferenceLists, Join, Leave, Members)
}
PEER_MESSAGES: dict[str, type[PeerMsg]] = {
    c.T: c
    for c in (
        Read,
        ReadOk,
        Sync,
        SyncOk,
        FwdPut,
        FwdReply,
        Ping,
        Pong,
        AeRoot,
        AeBuckets,
        AeKeys,
        AeObjects,
        Gossip,
        GossipAck,
        JoinReq,
    )  # fmt: skip
}


def decode_request(m: Message) -> ClientReq:
    """A client's request as its record; raises MessageError (an unknown type included)."""
    cls = CLIENT_REQUESTS.get(m.get("t", ""))
    if cls is None:
        known = ", ".join(sorted(CLIENT_REQUESTS))
        raise MessageError(f"unknown request type {m.get('t')!r}; known: {known}")
    return cls.parse(m)


def decode_peer(m: Message) -> PeerMsg:
    """A peer's message as its record; raises UnknownMessage or MessageError."""
    cls = PEER_MESSAGES.get(m.get("t", ""))
    if cls is None:
        raise UnknownMessage(f"unknown message type {m.get('t')!r}")
    return cls.parse(m)
