"""The catalogue: which record reads each "t", for client requests and peer messages.

Apart from the package's `__init__` so that it is compiled with the records
(native/__init__.py): every message a node takes is read here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

import node.messages.answers as answers  # modules, not the package: it imports this one
import node.messages.client as client
import node.messages.peer as peer
from node.messages.fields import MessageError, UnknownMessage
from node.protocol import Message

ClientReq = (
    client.Get | client.Put | client.Ping | client.LocalGet | client.Status
    | client.PreferenceLists | client.Join | client.Leave | client.Members
)  # fmt: skip
PeerReply = peer.ReadOk | peer.SyncOk | peer.FwdReply | answers.Pong
PeerMsg = (
    peer.Read | peer.ReadOk | peer.Sync | peer.SyncOk | peer.FwdPut | peer.FwdReply
    | client.Ping | answers.Pong | peer.AeRoot | peer.AeBuckets | peer.AeKeys
    | peer.AeObjects | peer.Gossip | peer.GossipAck | peer.JoinReq
)  # fmt: skip

CLIENT_REQUESTS: Final[dict[str, type[ClientReq]]] = {
    c.T: c
    for c in (client.Get, client.Put, client.Ping, client.LocalGet, client.Status,
              client.PreferenceLists, client.Join, client.Leave, client.Members)
}  # fmt: skip
PEER_MESSAGES: Final[dict[str, type[PeerMsg]]] = {
    c.T: c
    for c in (peer.Read, peer.ReadOk, peer.Sync, peer.SyncOk, peer.FwdPut, peer.FwdReply,
              client.Ping, answers.Pong, peer.AeRoot, peer.AeBuckets, peer.AeKeys,
              peer.AeObjects, peer.Gossip, peer.GossipAck, peer.JoinReq)
}  # fmt: skip


_PARSE_PEER: Final[dict[str, Callable[[Message], PeerMsg]]] = {
    t: c.parse for t, c in PEER_MESSAGES.items()
}
"""Each peer message's reader, by its "t" (a bound reader is called directly; a class
from the table would look its reader up first, for every message)."""


def decode_request(m: Message) -> ClientReq:
    """A client's request as its record; raises MessageError (an unknown type included)."""
    cls = CLIENT_REQUESTS.get(m.get("t", ""))
    if cls is None:
        known = ", ".join(sorted(CLIENT_REQUESTS))
        raise MessageError(f"unknown request type {m.get('t')!r}; known: {known}")
    return cls.parse(m)


def decode_peer(m: Message) -> PeerMsg:
    """A peer's message as its record; raises UnknownMessage or MessageError."""
    parse = _PARSE_PEER.get(m.get("t", ""))
    if parse is None:
        raise UnknownMessage(f"unknown message type {m.get('t')!r}")
    return parse(m)
