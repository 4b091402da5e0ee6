"""The wire format: length-prefixed msgpack frames, one format for clients and nodes.

A frame is a 4-byte big-endian length followed by that many bytes of msgpack
encoding one map with a string "t" (the message type). Frames over
`MAX_FRAME_BYTES` are refused from the length prefix alone, before any of the
payload is buffered. Every connection starts with a `hello` carrying
`PROTOCOL_VERSION` and the peer's role; a mismatch is refused. What the maps
mean, message by message, is messages.py's catalogue.

Decoding has exactly one way to fail: `ProtocolError`. Whatever bytes arrive,
whole or one at a time, `FrameDecoder.feed` returns complete messages or
raises `ProtocolError`, never anything else.
"""

from __future__ import annotations

import struct
import threading
from typing import Any, Final

import msgpack

PROTOCOL_VERSION: Final = 1
MAX_FRAME_BYTES: Final = 16 * 1024 * 1024
MAX_KEY_BYTES: Final = 1024
MAX_VALUE_BYTES: Final = 1024 * 1024
_HEADER: Final = struct.Struct(">I")

Message = dict[str, Any]


class ProtocolError(Exception):
    """Bytes or a message that break the protocol; the connection must be closed."""


def encode_frame(msg: Message) -> bytes:
    """Returns the framed bytes of `msg`; raises ProtocolError if it is too large."""
    body = encode_body(msg)
    return _HEADER.pack(len(body)) + body


def encode_body(msg: Message) -> bytes:
    """A frame's payload for `msg` (no length prefix); raises ProtocolError if it is too large."""
    body = packb(msg)
    if len(body) > MAX_FRAME_BYTES:
        raise ProtocolError(f"frame of {len(body)} bytes exceeds {MAX_FRAME_BYTES}")
    return body


def packb(obj: Any) -> bytes:
    """`msgpack.packb(obj, use_bin_type=True)`: the same bytes and errors, from a Packer
    kept per thread (`packb` builds one, with a 1 MiB buffer, per call; a Packer must
    not be shared between threads)."""
    pack = getattr(_packers, "pack", None)
    if pack is None:
        pack = _packers.pack = msgpack.Packer(use_bin_type=True).pack
    data: bytes = pack(obj)  # a Packer that raises resets itself: it stays reusable
    return data


_packers: Final = threading.local()


class FrameDecoder:
    """Incremental decoder: feed bytes, get whole messages."""

    def __init__(self, max_frame_bytes: int = MAX_FRAME_BYTES) -> None:
        self._buf = bytearray()
        self._max = max_frame_bytes

    def feed(self, data: bytes) -> list[Message]:
        """Adds `data`; returns every message now complete, in order.

        Raises ProtocolError for an oversized length, bytes that are not
        msgpack, or a payload that is not a map with a string "t".
        """
        self._buf += data
        out: list[Message] = []
        buf = self._buf
        pos = 0
        while len(buf) - pos >= 4:
            (length,) = _HEADER.unpack_from(buf, pos)
            if length > self._max:
                raise ProtocolError(f"frame length {length} exceeds the limit of {self._max}")
            if len(buf) - pos - 4 < length:
                break
            out.append(decode_body(bytes(buf[pos + 4 : pos + 4 + length])))
            pos += 4 + length
        if pos:
            del buf[:pos]
        return out


def decode_body(body: bytes) -> Message:
    """The message a frame's payload holds; raises ProtocolError as `FrameDecoder.feed` does."""
    try:
        # raw=False, strict_map_key=True: msgpack 1.0's defaults, not passed (keywords cost
        # a third of a small message's unpacking)
        msg = msgpack.unpackb(body)
    except Exception as e:  # noqa: BLE001 - msgpack raises many types; all mean "not msgpack"
        raise ProtocolError(f"frame is not valid msgpack ({type(e).__name__})") from None
    if not isinstance(msg, dict) or not isinstance(msg.get("t"), str):
        raise ProtocolError('frame must be a msgpack map with a string "t" (message type)')
    return msg
