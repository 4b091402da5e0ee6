"""Reading a wire map's fields: each reader returns the field or raises `MessageError`.

`MessageError` and `UnknownMessage` are the only exceptions reading a message
raises; both are a `ProtocolError`.
"""

from __future__ import annotations

from typing import Any, ClassVar, Final

from node.protocol import MAX_KEY_BYTES, MAX_VALUE_BYTES, Message, ProtocolError
from node.versions import VersionError, decode_context


class MessageError(ProtocolError):
    """A message whose fields are wrong; `code` is the error code a client is answered with."""

    def __init__(self, message: str, code: str = "bad_request") -> None:
        super().__init__(message)
        self.code = code


class UnknownMessage(ProtocolError):
    """A message of a type this node does not know."""


class Record:
    """A message record: `T` is its wire type, the "t" of its map.

    Each record's `T` is set after its class: mypyc (native/__init__.py) takes a
    ClassVar in a dataclass's body for a field (mypyc/mypyc#1122). The busiest records
    write out the `__init__` their dataclass would generate: mypyc compiles a written
    one, not a generated one (node/events.py)."""

    T: ClassVar[str]


def text(m: Message, name: str) -> str:
    v = m.get(name)
    if not isinstance(v, str):
        raise MessageError(f"field {name!r} must be a string")
    return v


def opt_text(m: Message, name: str) -> str | None:
    v = m.get(name)
    if v is not None and not isinstance(v, str):
        raise MessageError(f"field {name!r} must be a string if given")
    return v


def blob(m: Message, name: str) -> bytes:
    v = m.get(name)
    if not isinstance(v, bytes):
        raise MessageError(f"field {name!r} must be bytes")
    return v


def integer(m: Message, name: str, default: int = 0) -> int:
    v = m.get(name, default)
    if v is None:
        return default
    if not isinstance(v, int) or isinstance(v, bool):
        raise MessageError(f"field {name!r} must be an integer")
    return v


MAX_ID: Final = 2**64 - 1
MAX_TEXT_ID: Final = 256
"""Characters of a client's string request id."""
MAX_NAME_BYTES: Final = 255
"""Bytes of a node name in a message (a hint's target, a member to add or remove)."""


def int_id(m: Message) -> int:
    """A node's request id: an integer in [0, 2**64) (absent or nil: 0, no reply wanted)."""
    v = m.get("id")
    if type(v) is int and 0 <= v <= MAX_ID:  # the common case first: runs for every message
        return v
    v = integer(m, "id")
    if not 0 <= v <= MAX_ID:
        raise MessageError(f"field 'id' must be in [0, 2**64), not {v}")
    return v


def req_id(m: Message) -> int | str | None:
    """A client's request id, echoed in the answer: absent, an integer or a short string."""
    v = m.get("id")
    if v is None or (type(v) is int and -(2**63) <= v <= MAX_ID):
        return v
    if isinstance(v, str) and len(v) <= MAX_TEXT_ID:
        return v
    raise MessageError(f"field 'id' must be an integer or a string of at most {MAX_TEXT_ID} "
                       "characters")  # fmt: skip


def node_name(m: Message, field: str, required: bool = False) -> str | None:
    """A node name: a non-empty string of at most MAX_NAME_BYTES bytes (or absent)."""
    v = m.get(field)
    if v is None and not required:
        return None
    if not isinstance(v, str) or not v or len(v.encode("utf-8", "replace")) > MAX_NAME_BYTES:
        raise MessageError(f"field {field!r} must be a node name (1 to {MAX_NAME_BYTES} bytes)")
    return v


def key_size(key: str, field: str = "key") -> str:
    """`key`, if it is at most MAX_KEY_BYTES bytes of UTF-8."""
    size = len(key.encode("utf-8", "replace"))
    if size > MAX_KEY_BYTES:
        raise MessageError(f"{field} is {size} bytes; the limit is {MAX_KEY_BYTES}", "too_large")
    return key


def items(m: Message, name: str) -> list[Any]:
    v = m.get(name, [])
    if not isinstance(v, list):
        raise MessageError(f"field {name!r} must be a list")
    return v


def mapping(m: Message, name: str) -> dict[Any, Any]:
    v = m.get(name, {})
    if not isinstance(v, dict):
        raise MessageError(f"field {name!r} must be a map")
    return v


def req_key(m: Message) -> str:
    """A client's key: a string of at most MAX_KEY_BYTES bytes of UTF-8."""
    return key_size(text(m, "key"))


def req_value(m: Message) -> bytes:
    value = blob(m, "value")
    if len(value) > MAX_VALUE_BYTES:
        raise MessageError(
            f"value is {len(value)} bytes; the limit is {MAX_VALUE_BYTES} (1 MiB)", "too_large"
        )
    return value


def req_context(m: Message) -> tuple[bytes, dict[str, tuple[int, int]]]:
    """A put's context: empty, or bytes that decode as a context from a get; and the
    clock they decode to."""
    raw = m.get("context") or b""
    try:
        if isinstance(raw, bytes):
            return raw, decode_context(raw)
    except VersionError:
        pass
    raise MessageError("field 'context' must be a context from a get")


def rows(raw: Any, types: tuple[type, ...]) -> list[list[Any]]:
    """The rows of `raw` (a list) that have exactly the given element types (bool is not an
    int); malformed rows, or a `raw` that is not a list, are skipped, not refused: a bounded
    exchange just finds what it could not read again in its next round."""
    if not isinstance(raw, list):
        return []
    return [
        row
        for row in raw
        if isinstance(row, list)
        and len(row) == len(types)
        and all(isinstance(x, t) and not isinstance(x, bool) for x, t in zip(row, types))
    ]


def bound(x: Any) -> bool:
    """A bucket range bound: a key, or None for open."""
    return x is None or isinstance(x, str)
