"""The message catalogue (node/messages/): every record round-trips through a frame, and
reading anything, whole or byte-at-a-time, fails only with ProtocolError."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from node import messages as m
from node import versions
from node.protocol import FrameDecoder, Message, ProtocolError, encode_frame

NODE = Path(__file__).resolve().parents[2] / "node"
CTX = versions.encode_context({"a": (1, 5)})

SAMPLES: list[Any] = [
    m.Get("k", 1), m.Put("k", b"v", CTX, 2), m.Ping(3), m.LocalGet("k", 4), m.Status(5),
    m.PreferenceLists(["a", "b"], 6), m.Join(seed="127.0.0.1:7001", id=7),
    m.Join(node="n4", addr="127.0.0.1:7004", weight=2, id=8), m.Leave("n2", 9), m.Members(10),
    m.Read(11, "k", "n3"), m.ReadOk(12, b"obj"), m.ReadOk(13, None), m.Sync(14, "k", b"o", "n2"),
    m.SyncOk(15), m.FwdPut("k", b"v", b"", 16), m.FwdReply(17, m.PutOk()),
    m.FwdReply(18, m.ErrorReply("not_coordinator", "no")), m.Pong(19, "n1"), m.Pong(20),
    m.AeRoot([[1, b"r"]]), m.AeBuckets([[1, [b"h"]]]), m.AeKeys([[1, 0, None, "k", [["k", b"d"]]]]),
    m.AeObjects([["k", b"o"]], ["j"]), m.Gossip(21, [], {}), m.GossipAck(22, [], {}, "joined"),
    m.JoinReq(23, [], {}, 2, True),
]  # fmt: skip
ANSWERS: list[Any] = [
    m.GetOk([b"x"], CTX, "n1"), m.PutOk(), m.LocalGetOk([b"x"], CTX, {"clock": {}}, "n1"),
    m.StatusOk("n1", "n1.0.1", 5, [], {"c": 1}, ["n1"], ["n1"], 0, {}, {"0": "ab"}),
    m.PreferenceListsOk("n1", {"k": ["n1", "n2"]}),
    m.MembersOk("n1", ["n1"], [], 1, False, 0, {"n1": "127.0.0.1:7001"}), m.Pong(7, "n1"),
]  # fmt: skip


def framed(msg: Message) -> Message:
    return FrameDecoder().feed(encode_frame(msg))[0]


def test_every_record_round_trips_through_a_frame() -> None:
    seen = set()
    for record in SAMPLES:
        wire = framed(record.wire())
        decoded = m.decode_peer(wire) if wire["t"] in m.PEER_MESSAGES else m.decode_request(wire)
        assert decoded == record
        seen.add(wire["t"])
    assert seen >= set(m.CLIENT_REQUESTS) | set(m.PEER_MESSAGES)  # the samples cover them all
    for answer in ANSWERS:
        assert m.decode_answer(framed(m.answer_wire(answer, 7)), type(answer)) == answer
    error = m.answer_wire(m.ErrorReply("too_large", "big"), 7)
    assert m.decode_answer(error, m.GetOk) == m.ErrorReply("too_large", "big")


def test_client_fields_are_checked_with_the_code_a_client_is_told() -> None:
    cases = [
        ({"t": "get"}, "bad_request", "field 'key' must be a string"),
        ({"t": "get", "key": "x" * 2000}, "too_large", "key is 2000 bytes"),
        ({"t": "put", "key": "k", "value": "s"}, "bad_request", "field 'value' must be bytes"),
        ({"t": "put", "key": "k", "value": b"v", "context": b"\xc1"}, "bad_request", "context"),
        ({"t": "nope"}, "bad_request", "unknown request type 'nope'; known: get, join"),
    ]
    for wire, code, text in cases:
        with pytest.raises(m.MessageError, match=text) as e:
            m.decode_request(wire)
        assert e.value.code == code
    with pytest.raises(m.UnknownMessage):
        m.decode_peer({"t": "get"})


scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**63), 2**64 - 1), st.binary(max_size=8),
    st.text(max_size=8), st.floats(allow_nan=False),
)  # fmt: skip
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4)
    ),
    max_leaves=12,
)
FIELDS = ["id", "key", "value", "context", "obj", "hint", "result", "roots", "parts", "ranges",
          "objs", "want", "history", "addrs", "join", "weight", "rejoin", "seed", "node", "addr",
          "keys", "siblings", "code", "message"]  # fmt: skip
maps = st.builds(
    lambda t, fields: {"t": t, **fields},
    st.sampled_from(sorted({*m.CLIENT_REQUESTS, *m.PEER_MESSAGES, "ok", "error", "x"})),
    st.dictionaries(st.sampled_from(FIELDS), values, max_size=6),
)


def read_all(msg: Message) -> None:
    """Every way the node or a client reads a message; only ProtocolError may escape."""
    for read in (m.decode_request, m.decode_peer):
        try:
            record = read(msg)
            assert record.wire()["t"] == msg["t"]  # a record read back writes out again
        except ProtocolError:
            pass
    for expect in (m.GetOk, m.PutOk, m.LocalGetOk, m.StatusOk, m.PreferenceListsOk, m.MembersOk):
        try:
            m.decode_answer(msg, expect)
        except ProtocolError:
            pass


@given(maps)
def test_fuzz_fields_whole(msg: Message) -> None:
    data = encode_frame(msg)
    for decoded in FrameDecoder().feed(data):
        read_all(decoded)


@given(maps, st.integers(1, 7))
def test_fuzz_fields_byte_at_a_time(msg: Message, step: int) -> None:
    data = encode_frame(msg)
    d = FrameDecoder()
    for i in range(0, len(data), step):
        for decoded in d.feed(data[i : i + step]):
            read_all(decoded)


@given(st.binary(max_size=200))
def test_fuzz_bytes_whole_and_byte_at_a_time(data: bytes) -> None:
    body = msgpack.packb({"t": "sync", "id": 1, "key": "k", "obj": data})
    stream = len(body).to_bytes(4, "big") + body + data
    for chunk in (len(stream), 1):
        d = FrameDecoder(max_frame_bytes=1000)
        try:
            for i in range(0, len(stream), chunk):
                for decoded in d.feed(stream[i : i + chunk]):
                    read_all(decoded)
        except ProtocolError:
            pass


def test_no_module_outside_the_catalogue_builds_a_wire_map() -> None:
    """A dict literal with a "t" key anywhere in node/ but node/messages/ is a hand-built
    message (the simulator's and the server's included)."""
    found = []
    for path in sorted(NODE.rglob("*.py")):
        if "messages" in path.relative_to(NODE).parts:
            continue
        for n in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(n, ast.Dict) and any(
                isinstance(k, ast.Constant) and k.value == "t" for k in n.keys
            ):
                found.append(f"{path.relative_to(NODE)}:{n.lineno}")
    assert found == []
