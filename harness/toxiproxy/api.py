"""The Toxiproxy 2.x HTTP API: routes, JSON shapes and status codes.

Routes (as in Shopify/toxiproxy `api.go`):

    GET  /proxies                      200 {name: proxy}
    POST /proxies                      201 proxy          (409 duplicate, 400 bad body, 500 bind)
    POST /populate                     201 {"proxies": [proxy]}
    GET  /proxies/{p}                  200 proxy          (404 unknown)
    POST|PATCH /proxies/{p}            200 proxy
    DELETE /proxies/{p}                204
    GET  /proxies/{p}/toxics           200 [toxic]
    POST /proxies/{p}/toxics           200 toxic          (409 duplicate, 400 bad input)
    GET  /proxies/{p}/toxics/{t}       200 toxic          (404 unknown)
    POST|PATCH /proxies/{p}/toxics/{t} 200 toxic
    DELETE /proxies/{p}/toxics/{t}     204
    POST /reset                        204
    GET  /version                      200 {"version": "..."}

Errors are `{"error": message, "status": code}`. Requests are applied one at a
time under the collection's lock. Like Toxiproxy, a browser user agent gets 403.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from harness.toxiproxy.collection import ProxyCollection
from harness.toxiproxy.http import Request, Response
from harness.toxiproxy.spec import (
    ApiError,
    bad_request,
    parse_populate,
    parse_proxy_create,
    parse_proxy_update,
    parse_toxic_create,
    parse_toxic_update,
)

#: The Toxiproxy API version this server implements, reported by GET /version.
VERSION = "2.9.0"

Route = Callable[..., Awaitable[Response]]


class Api:
    """Answers HTTP requests against one `ProxyCollection`."""

    def __init__(self, collection: ProxyCollection) -> None:
        self.collection = collection

    async def handle(self, request: Request) -> Response:
        """Routes one request; every failure becomes a JSON error response."""
        if request.headers.get("user-agent", "").startswith("Mozilla/"):
            return Response(403, b"User agent not allowed\n", "text/plain; charset=utf-8")
        try:
            route, args = self._route(request)
            async with self.collection.lock:
                return await route(request, *args)
        except ApiError as exc:
            return Response.json(exc.status, exc.to_json())

    def _route(self, request: Request) -> tuple[Route, tuple[str, ...]]:
        method, seg = request.method, request.segments
        table: dict[tuple[int, str], dict[str, Route]] = {
            (1, "proxies"): {"GET": self._proxy_index, "POST": self._proxy_create},
            (1, "populate"): {"POST": self._populate},
            (1, "reset"): {"POST": self._reset},
            (1, "version"): {"GET": self._version},
            (2, "proxies"): {
                "GET": self._proxy_show,
                "POST": self._proxy_update,
                "PATCH": self._proxy_update,
                "DELETE": self._proxy_delete,
            },
            (3, "proxies"): {"GET": self._toxic_index, "POST": self._toxic_create},
            (4, "proxies"): {
                "GET": self._toxic_show,
                "POST": self._toxic_update,
                "PATCH": self._toxic_update,
                "DELETE": self._toxic_delete,
            },
        }
        methods = table.get((len(seg), seg[0] if seg else ""))
        if methods is None or (len(seg) >= 3 and seg[2] != "toxics"):
            raise ApiError(404, f"no such endpoint: {method} /{'/'.join(seg)}")
        if method not in methods:
            allowed = ", ".join(sorted(methods))
            raise ApiError(
                405, f"method {method} not allowed on /{'/'.join(seg)} (allowed: {allowed})"
            )
        args = tuple(seg[1:2]) + tuple(seg[3:4])
        return methods[method], args

    # -- proxies --
    async def _proxy_index(self, request: Request) -> Response:
        payload = {p.spec.name: p.to_json() for p in self.collection.ordered()}
        return Response.json(200, payload)

    async def _proxy_create(self, request: Request) -> Response:
        proxy = await self.collection.add(parse_proxy_create(_json_body(request)))
        return Response.json(201, proxy.to_json())

    async def _populate(self, request: Request) -> Response:
        try:
            specs = parse_populate(_json_body(request))
            proxies = await self.collection.populate(specs)
        except ApiError as exc:
            return Response.json(exc.status, {**exc.to_json(), "proxies": None})
        return Response.json(201, {"proxies": [p.to_json() for p in proxies]})

    async def _proxy_show(self, request: Request, name: str) -> Response:
        return Response.json(200, self.collection.get(name).to_json())

    async def _proxy_update(self, request: Request, name: str) -> Response:
        proxy = self.collection.get(name)
        await proxy.update(parse_proxy_update(proxy.spec, _json_body(request)))
        return Response.json(200, proxy.to_json())

    async def _proxy_delete(self, request: Request, name: str) -> Response:
        self.collection.remove(name)
        return Response(204)

    async def _reset(self, request: Request) -> Response:
        await self.collection.reset()
        return Response(204)

    async def _version(self, request: Request) -> Response:
        body = json.dumps({"version": VERSION}).encode() + b"\n"
        return Response(200, body, "application/json;charset=utf-8")

    # -- toxics --
    async def _toxic_index(self, request: Request, name: str) -> Response:
        toxics = self.collection.get(name).toxic_list()
        return Response.json(200, [t.to_json() for t in toxics])

    async def _toxic_create(self, request: Request, name: str) -> Response:
        proxy = self.collection.get(name)
        spec = parse_toxic_create(_json_body(request))
        proxy.add_toxic(spec)
        return Response.json(200, spec.to_json())

    async def _toxic_show(self, request: Request, name: str, toxic: str) -> Response:
        return Response.json(200, self.collection.get(name).toxic(toxic).to_json())

    async def _toxic_update(self, request: Request, name: str, toxic: str) -> Response:
        proxy = self.collection.get(name)
        spec = parse_toxic_update(proxy.toxic(toxic), _json_body(request))
        proxy.update_toxic(spec)
        return Response.json(200, spec.to_json())

    async def _toxic_delete(self, request: Request, name: str, toxic: str) -> Response:
        self.collection.get(name).remove_toxic(toxic)
        return Response(204)


def _json_body(request: Request) -> Any:
    """The decoded JSON body; a 400 naming the parse error otherwise (an empty body
    is an error too, "EOF" as Go words it)."""
    if not request.body.strip():
        raise bad_request("EOF (expected a JSON body)")
    try:
        return json.loads(request.body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise bad_request(f"invalid JSON: {exc}") from None
