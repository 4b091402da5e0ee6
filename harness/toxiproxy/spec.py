"""What a Toxiproxy client configures, validated: proxies, toxics, their attributes.

This module is pure: it turns decoded JSON into frozen specs or raises `ApiError`
with the HTTP status Toxiproxy 2.x answers (400 for a bad body or attribute, 404
for an unknown name, 409 for a duplicate, 500 for a failure of the server
itself). Every 400 is decided here, so the API and the tests agree on one list.

Invariant: a `ToxicSpec` always holds every attribute of its kind (absent ones
are 0, as in Toxiproxy), each a non-negative int, and a toxicity in [0, 1].
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any


class ToxicKind(StrEnum):
    """The toxic types this server implements (Toxiproxy's names)."""

    NOOP = "noop"
    LATENCY = "latency"
    BANDWIDTH = "bandwidth"
    SLOW_CLOSE = "slow_close"
    TIMEOUT = "timeout"
    RESET_PEER = "reset_peer"
    SLICER = "slicer"
    LIMIT_DATA = "limit_data"


class Stream(StrEnum):
    """Direction a toxic applies to: upstream is client→server, downstream server→client."""

    UPSTREAM = "upstream"
    DOWNSTREAM = "downstream"


#: Attribute names per kind; every one is a non-negative integer.
#: Units: latency/jitter/delay/timeout in ms, except slicer.delay in µs;
#: bandwidth.rate in KB/s (1 KB = 1000 bytes); sizes and bytes in bytes.
ATTRIBUTES: dict[ToxicKind, tuple[str, ...]] = {
    ToxicKind.NOOP: (),
    ToxicKind.LATENCY: ("latency", "jitter"),
    ToxicKind.BANDWIDTH: ("rate",),
    ToxicKind.SLOW_CLOSE: ("delay",),
    ToxicKind.TIMEOUT: ("timeout",),
    ToxicKind.RESET_PEER: ("timeout",),
    ToxicKind.SLICER: ("average_size", "size_variation", "delay"),
    ToxicKind.LIMIT_DATA: ("bytes",),
}

#: Largest attribute value accepted (about 49 days in ms); bounds timers and sizes.
MAX_ATTRIBUTE = 2**32


class ApiError(Exception):
    """An API failure with its HTTP status and a message for the client."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message

    def to_json(self) -> dict[str, Any]:
        """Toxiproxy's error body: `{"error": message, "status": code}`."""
        return {"error": self.message, "status": self.status}


def bad_request(detail: str) -> ApiError:
    """A 400 worded like Toxiproxy's ("bad request body: ...")."""
    return ApiError(400, f"bad request body: {detail}")


def missing_field(detail: str) -> ApiError:
    """A 400 for an absent required field."""
    return ApiError(400, f"missing required field: {detail}")


@dataclass(frozen=True)
class ToxicSpec:
    """One toxic as configured: applies to `stream` of every connection of its proxy,
    on each connection with probability `toxicity`."""

    name: str
    kind: ToxicKind
    stream: Stream
    toxicity: float
    attributes: Mapping[str, int] = field(default_factory=dict)

    def attr(self, key: str) -> int:
        """The integer attribute `key` (every attribute of the kind is present)."""
        return self.attributes[key]

    def to_json(self) -> dict[str, Any]:
        """Toxiproxy's toxic shape."""
        return {
            "attributes": dict(self.attributes),
            "name": self.name,
            "type": self.kind.value,
            "stream": self.stream.value,
            "toxicity": self.toxicity,
        }


@dataclass(frozen=True)
class Address:
    """A parsed `host:port`; host "" means every interface."""

    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


@dataclass(frozen=True)
class ProxySpec:
    """One proxy as configured: accept on `listen`, forward to `upstream`."""

    name: str
    listen: str
    upstream: str
    enabled: bool = True


#: Listen address used when a create request omits it: loopback, any free port.
DEFAULT_LISTEN = "127.0.0.1:0"


def parse_address(text: str, what: str) -> Address:
    """Parses `host:port` (IPv6 hosts in brackets); raises a 400 naming `what`."""
    host, sep, port_text = text.rpartition(":")
    if not sep or not port_text.isdigit() or int(port_text) > 65535:
        raise bad_request(f"{what} must be host:port with a port 0-65535, got {text!r}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return Address(host, int(port_text))


def _require_object(body: object, what: str) -> Mapping[str, Any]:
    if not isinstance(body, Mapping):
        raise bad_request(f"{what} must be a JSON object, got {type(body).__name__}")
    return body


def _string(body: Mapping[str, Any], key: str, default: str) -> str:
    value = body.get(key, default)
    if value is None:
        return default
    if not isinstance(value, str):
        raise bad_request(f"field {key!r} must be a string, got {value!r}")
    return value


def _boolean(body: Mapping[str, Any], key: str, default: bool) -> bool:
    value = body.get(key, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise bad_request(f"field {key!r} must be true or false, got {value!r}")
    return value


def _proxy_from(body: Mapping[str, Any], base: ProxySpec, where: str) -> ProxySpec:
    spec = ProxySpec(
        name=_string(body, "name", base.name),
        listen=_string(body, "listen", base.listen) or DEFAULT_LISTEN,
        upstream=_string(body, "upstream", base.upstream),
        enabled=_boolean(body, "enabled", base.enabled),
    )
    if not spec.name:
        raise missing_field(f"name{where}")
    if not spec.upstream:
        raise missing_field(f"upstream{where}")
    parse_address(spec.listen, "listen")
    parse_address(spec.upstream, "upstream")
    return spec


def parse_proxy_create(body: object) -> ProxySpec:
    """Validates a POST /proxies body; `enabled` defaults to true, `listen` to loopback:0."""
    fields = _require_object(body, "a proxy")
    return _proxy_from(fields, ProxySpec("", DEFAULT_LISTEN, ""), "")


def parse_proxy_update(current: ProxySpec, body: object) -> ProxySpec:
    """Validates a POST/PATCH /proxies/{name} body; absent fields keep their values.
    The name cannot change (Toxiproxy ignores it too)."""
    fields = _require_object(body, "a proxy update")
    return replace(_proxy_from(fields, current, ""), name=current.name)


def parse_populate(body: object) -> list[ProxySpec]:
    """Validates a POST /populate body (a JSON array of proxies) before anything is applied."""
    if not isinstance(body, list):
        raise bad_request(f"populate expects a JSON array of proxies, got {type(body).__name__}")
    specs: list[ProxySpec] = []
    seen: set[str] = set()
    for index, item in enumerate(body, start=1):
        where = f" at proxy {index}"
        fields = _require_object(item, f"proxy {index}")
        spec = _proxy_from(fields, ProxySpec("", DEFAULT_LISTEN, ""), where)
        if spec.name in seen:
            raise bad_request(f"duplicate proxy name {spec.name!r}{where}")
        seen.add(spec.name)
        specs.append(spec)
    return specs


def _integer(kind: ToxicKind, key: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise bad_request(f"attribute {key!r} of a {kind} toxic must be an integer, got {value!r}")
    if isinstance(value, float) and not (math.isfinite(value) and value.is_integer()):
        raise bad_request(f"attribute {key!r} of a {kind} toxic must be an integer, got {value!r}")
    if not 0 <= value <= MAX_ATTRIBUTE:
        raise bad_request(
            f"attribute {key!r} of a {kind} toxic must be between 0 and {MAX_ATTRIBUTE}, "
            f"got {value!r}"
        )
    return int(value)


def parse_attributes(kind: ToxicKind, raw: object, base: Mapping[str, int]) -> dict[str, int]:
    """Merges `raw` (a JSON object or null) over `base`; unknown keys are ignored, as in
    Toxiproxy. Raises a 400 for a non-integer or negative value, or a slicer whose
    average_size is 0 (it could never make progress)."""
    merged = {key: base.get(key, 0) for key in ATTRIBUTES[kind]}
    if raw is None:
        fields: Mapping[str, Any] = {}
    else:
        fields = _require_object(raw, "attributes")
    for key in ATTRIBUTES[kind]:
        if key in fields and fields[key] is not None:
            merged[key] = _integer(kind, key, fields[key])
    if kind is ToxicKind.SLICER and merged["average_size"] < 1:
        raise bad_request("attribute 'average_size' of a slicer toxic must be at least 1")
    return merged


def _toxicity(value: object, default: float) -> float:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise bad_request(f"toxicity must be a number between 0 and 1, got {value!r}")
    return float(value)


def _kind(value: object) -> ToxicKind:
    try:
        return ToxicKind(str(value))
    except ValueError:
        known = ", ".join(k.value for k in ToxicKind)
        raise ApiError(400, f"invalid toxic type: {value!r} (known: {known})") from None


def _stream(value: object) -> Stream:
    try:
        return Stream(str(value))
    except ValueError:
        raise ApiError(
            400, f"stream was invalid, can be either upstream or downstream (got {value!r})"
        ) from None


def parse_toxic_create(body: object) -> ToxicSpec:
    """Validates a POST /proxies/{name}/toxics body. Defaults as in Toxiproxy: stream
    downstream, toxicity 1.0, name `<type>_<stream>`, absent attributes 0."""
    fields = _require_object(body, "a toxic")
    kind = _kind(fields.get("type"))
    stream = _stream(fields.get("stream") or Stream.DOWNSTREAM.value)
    name = _string(fields, "name", "") or f"{kind.value}_{stream.value}"
    return ToxicSpec(
        name=name,
        kind=kind,
        stream=stream,
        toxicity=_toxicity(fields.get("toxicity"), 1.0),
        attributes=parse_attributes(kind, fields.get("attributes"), {}),
    )


def parse_toxic_update(current: ToxicSpec, body: object) -> ToxicSpec:
    """Validates a POST/PATCH /proxies/{name}/toxics/{toxic} body: merges `attributes`
    and replaces `toxicity` when present; name, type and stream cannot change."""
    fields = _require_object(body, "a toxic update")
    return replace(
        current,
        toxicity=_toxicity(fields.get("toxicity"), current.toxicity),
        attributes=parse_attributes(current.kind, fields.get("attributes"), current.attributes),
    )
