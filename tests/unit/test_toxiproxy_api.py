"""The Toxiproxy-compatible API in memory: validation, routing and JSON shapes.

No sockets: requests go straight to `Api.handle`, and only proxies that are
created disabled (so nothing listens) are used.
"""

from __future__ import annotations

import asyncio
import json
import random
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.toxiproxy.api import Api
from harness.toxiproxy.collection import ProxyCollection
from harness.toxiproxy.http import Request
from harness.toxiproxy.spec import (
    ApiError,
    ProxySpec,
    Stream,
    ToxicKind,
    parse_address,
    parse_populate,
    parse_proxy_create,
    parse_toxic_create,
    parse_toxic_update,
)
from harness.toxiproxy.toxics import slice_sizes


def call(api: Api, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    raw = body if isinstance(body, bytes) else (b"" if body is None else json.dumps(body).encode())
    segments = tuple(s for s in path.split("/") if s)
    request = Request(method, segments, {}, raw)
    response = asyncio.run(api.handle(request))
    return response.status, json.loads(response.body) if response.body.strip() else None


@pytest.fixture
def api() -> Api:
    return Api(ProxyCollection(random.Random(1)))


DISABLED = {"name": "p", "upstream": "127.0.0.1:9", "enabled": False}


def test_toxic_defaults_follow_toxiproxy() -> None:
    spec = parse_toxic_create({"type": "latency"})
    assert spec.name == "latency_downstream"
    assert spec.stream is Stream.DOWNSTREAM and spec.toxicity == 1.0
    assert spec.attributes == {"latency": 0, "jitter": 0}


def test_toxic_update_merges_attributes() -> None:
    spec = parse_toxic_create({"type": "latency", "attributes": {"latency": 5, "jitter": 2}})
    updated = parse_toxic_update(spec, {"attributes": {"latency": 9}})
    assert updated.attributes == {"latency": 9, "jitter": 2}
    assert (updated.name, updated.kind, updated.toxicity) == (spec.name, spec.kind, 1.0)


@pytest.mark.parametrize(
    "body",
    [
        {"type": "nope"},
        {"type": "latency", "stream": "both"},
        {"type": "latency", "toxicity": 1.5},
        {"type": "latency", "attributes": {"latency": -1}},
        {"type": "latency", "attributes": {"latency": True}},
        {"type": "latency", "attributes": {"latency": 1.5}},
        {"type": "latency", "attributes": []},
        {"type": "slicer", "attributes": {"average_size": 0}},
        ["not", "an", "object"],
    ],
)
def test_bad_toxics_are_400(body: Any) -> None:
    with pytest.raises(ApiError) as caught:
        parse_toxic_create(body)
    assert caught.value.status == 400 and caught.value.message


def test_every_kind_has_a_default_spec() -> None:
    for kind in ToxicKind:
        attributes = {"average_size": 1} if kind is ToxicKind.SLICER else {}
        spec = parse_toxic_create({"type": kind.value, "attributes": attributes})
        assert spec.kind is kind


@pytest.mark.parametrize("text", ["nohost", "h:", "h:port", "h:70000", ""])
def test_bad_addresses_are_400(text: str) -> None:
    with pytest.raises(ApiError):
        parse_address(text, "listen")


def test_address_parsing_handles_ipv6() -> None:
    address = parse_address("[::1]:80", "upstream")
    assert (address.host, address.port, str(address)) == ("::1", 80, "[::1]:80")


def test_proxy_create_requires_name_and_upstream() -> None:
    with pytest.raises(ApiError, match="missing required field: name"):
        parse_proxy_create({"upstream": "a:1"})
    with pytest.raises(ApiError, match="missing required field: upstream"):
        parse_proxy_create({"name": "a"})
    assert parse_proxy_create({"name": "a", "upstream": "a:1"}) == ProxySpec(
        "a", "127.0.0.1:0", "a:1", True
    )


def test_populate_validates_everything_first() -> None:
    with pytest.raises(ApiError, match="at proxy 2"):
        parse_populate([{"name": "a", "upstream": "a:1"}, {"name": "b"}])
    with pytest.raises(ApiError, match="duplicate"):
        parse_populate([{"name": "a", "upstream": "a:1"}, {"name": "a", "upstream": "a:2"}])


def test_api_crud_on_a_disabled_proxy(api: Api) -> None:
    assert call(api, "POST", "/proxies", DISABLED)[0] == 201
    assert call(api, "POST", "/proxies", DISABLED)[0] == 409
    status, toxic = call(
        api, "POST", "/proxies/p/toxics", {"type": "timeout", "stream": "upstream"}
    )
    assert status == 200 and toxic["name"] == "timeout_upstream"
    call(api, "POST", "/proxies/p/toxics", {"type": "latency"})
    status, toxics = call(api, "GET", "/proxies/p/toxics")
    assert [t["stream"] for t in toxics] == ["upstream", "downstream"]
    status, shown = call(api, "GET", "/proxies/p")
    assert set(shown) == {"name", "listen", "upstream", "enabled", "toxics"}
    assert call(api, "DELETE", "/proxies/p/toxics/timeout_upstream")[0] == 204
    assert call(api, "DELETE", "/proxies/p/toxics/timeout_upstream")[0] == 404
    assert call(api, "DELETE", "/proxies/p")[0] == 204
    assert call(api, "GET", "/proxies/p")[0] == 404


@pytest.mark.parametrize("body", [b"{", b"", b"\xff\xfe", b"[1, 2"])
def test_malformed_json_is_400_with_message(api: Api, body: bytes) -> None:
    status, answer = call(api, "POST", "/proxies", body)
    assert status == 400 and answer["status"] == 400 and "bad request body" in answer["error"]


def test_unknown_routes_and_methods(api: Api) -> None:
    assert call(api, "GET", "/nope")[0] == 404
    assert call(api, "PUT", "/proxies")[0] == 405
    assert call(api, "GET", "/proxies/p/other/x")[0] == 404


def test_browsers_are_refused(api: Api) -> None:
    request = Request("GET", ("version",), {"user-agent": "Mozilla/5.0"}, b"")
    assert asyncio.run(api.handle(request)).status == 403


def test_version_shape(api: Api) -> None:
    status, answer = call(api, "GET", "/version")
    assert status == 200 and isinstance(answer["version"], str)


@given(
    total=st.integers(min_value=0, max_value=5000),
    average=st.integers(min_value=1, max_value=100),
    variation=st.integers(min_value=0, max_value=200),
    seed=st.integers(min_value=0, max_value=2**32),
)
def test_slice_sizes_cover_the_chunk(total: int, average: int, variation: int, seed: int) -> None:
    sizes = slice_sizes(total, average, variation, random.Random(seed))
    assert sum(sizes) == total and all(size >= 1 for size in sizes)
    assert all(size <= average + variation for size in sizes)
    assert sizes == slice_sizes(total, average, variation, random.Random(seed))
