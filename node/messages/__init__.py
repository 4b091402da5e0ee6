"""The message catalogue: one typed record per wire message, and the one way to read them.

Every message is a msgpack map with a string "t" (protocol.py frames it).
Each record names its "t" (`T`), builds its wire map (`wire`) and reads one
back (`parse`), validating every field it uses. Reading has exactly one way
to fail: `ProtocolError` (`MessageError` for a field that is wrong, carrying
the error code a client is told; `UnknownMessage` for a type this node does
not know). No module outside this package builds or reads a wire map by hand.

=================  ==========================================  =================
"t"                record (module)                             sent by → to
=================  ==========================================  =================
hello              Hello (client)                              both ways, first
auth / auth_ok     Auth, AUTH_OK (client)                      connector ↔ node
get, put           Get, Put (client)                           client → node
local_get, status  LocalGet, Status (client)                   client → node
preference_lists   PreferenceLists (client)                    client → node
join, leave        Join, Leave, Members (client)               client → node
members
ping / pong        Ping (client) / Pong (answers)              client or node
ok                 GetOk, PutOk, LocalGetOk, StatusOk,         node → client
                   PreferenceListsOk, MembersOk (answers)
error              ErrorReply (answers)                        node → client
read / read_ok     Read / ReadOk (peer)                        node → node
sync / sync_ok     Sync / SyncOk (peer)                        node → node
fwd_put            FwdPut (peer)                               node → node
fwd_reply          FwdReply (peer; result PutOk | ErrorReply)  node → node
ae_root            AeRoot (peer)                               node → node
ae_buckets         AeBuckets (peer)                            node → node
ae_keys            AeKeys (peer)                               node → node
ae_objects         AeObjects (peer)                            node → node
gossip             Gossip (peer)                               node → node
gossip_ack         GossipAck (peer)                            node → node
join_req           JoinReq (peer)                              node → node
=================  ==========================================  =================

Objects and contexts travel as the opaque bytes of versions.encode /
encode_context; their receivers decode them.

Records are plain (not frozen) slotted dataclasses: one is built per message
sent or read and dropped at once, and a frozen one costs three times as much
to build on this hot path. Treat them as values all the same.
"""

from __future__ import annotations

# ruff: noqa: E402  (the package path is set before the package's modules are imported)
# first: a current mypyc build of the hot modules, where a process opts in (see `native`)
import native

native.activate(__name__, __path__)

from node.messages.answers import (
    A,
    Answer,
    ErrorReply,
    GetOk,
    LocalGetOk,
    MembersOk,
    Pong,
    PreferenceListsOk,
    PutOk,
    StatusOk,
    answer_wire,
    decode_answer,
)
from node.messages.catalogue import (
    CLIENT_REQUESTS,
    PEER_MESSAGES,
    ClientReq,
    PeerMsg,
    PeerReply,
    decode_peer,
    decode_request,
)
from node.messages.client import (
    AUTH_OK,
    MAX_PREFERENCE_KEYS,
    Auth,
    Get,
    Hello,
    Join,
    Leave,
    LocalGet,
    Members,
    Ping,
    PreferenceLists,
    Put,
    Status,
    check_hello,
    hello,
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

__all__ = [
    "AUTH_OK", "Auth", "CLIENT_REQUESTS", "MAX_PREFERENCE_KEYS", "PEER_MESSAGES", "A",
    "AeBuckets", "AeKeys",
    "AeObjects", "AeRoot", "Answer", "ClientReq", "ErrorReply", "FwdPut", "FwdReply", "Get",
    "GetOk", "Gossip", "GossipAck", "Hello", "Join", "JoinReq", "Leave", "LocalGet",
    "LocalGetOk", "Members", "MembersOk", "MessageError", "PeerMsg", "PeerReply", "Ping", "Pong",
    "PreferenceLists", "PreferenceListsOk", "Put", "PutOk", "Read", "ReadOk", "Status",
    "StatusOk", "Sync", "SyncOk", "UnknownMessage", "answer_wire", "check_hello",
    "decode_answer", "decode_peer", "decode_request", "hello",
]  # fmt: skip
