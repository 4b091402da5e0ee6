"""The wire decoder has one way to fail: ProtocolError, whole or byte-at-a-time."""

from __future__ import annotations

import struct

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from node.messages import check_hello, hello
from node.protocol import MAX_FRAME_BYTES, FrameDecoder, ProtocolError, encode_frame


def test_round_trip_whole_and_bytewise() -> None:
    msgs = [{"t": "put", "id": 1, "key": "k", "value": b"\x00" * 10}, {"t": "get", "id": 2}]
    data = b"".join(encode_frame(m) for m in msgs)
    assert FrameDecoder().feed(data) == msgs
    d = FrameDecoder()
    out = []
    for i in range(len(data)):
        out += d.feed(data[i : i + 1])
    assert out == msgs


def test_oversized_length_is_refused_from_the_header() -> None:
    with pytest.raises(ProtocolError, match="exceeds"):
        FrameDecoder().feed(struct.pack(">I", MAX_FRAME_BYTES + 1))


@pytest.mark.parametrize(
    "body",
    [b"\xc1", msgpack.packb([1, 2]), msgpack.packb({"x": 1}), msgpack.packb({"t": 5})],
)
def test_bad_bodies_raise_protocol_error(body: bytes) -> None:
    with pytest.raises(ProtocolError):
        FrameDecoder().feed(struct.pack(">I", len(body)) + body)


@given(st.binary(max_size=200))
def test_fuzz_whole(data: bytes) -> None:
    try:
        FrameDecoder(max_frame_bytes=1000).feed(data)
    except ProtocolError:
        pass


@given(st.binary(max_size=200))
def test_fuzz_byte_at_a_time(data: bytes) -> None:
    d = FrameDecoder(max_frame_bytes=1000)
    try:
        for i in range(len(data)):
            d.feed(data[i : i + 1])
    except ProtocolError:
        pass


def test_hello_checks_version_and_role() -> None:
    assert check_hello(hello("client", "c")) == ("client", "c")
    with pytest.raises(ProtocolError, match="version"):
        check_hello({**hello("client", "c"), "v": 99})
    with pytest.raises(ProtocolError, match="hello"):
        check_hello({"t": "get"})
