"""`ToxiproxyClient`: the harness's one way to talk to a Toxiproxy(-compatible) server.

It speaks the same HTTP API as `toxiproxy-python` and answers in the same
vocabulary, but fixes what that library (0.1.1) lacks:

* every request has a timeout (`timeout_s`), and an unreachable or silent server
  raises `ServerUnreachable` naming the address and how to start one;
* the server address belongs to the instance (the library's is a class attribute
  shared by the whole process);
* every non-2xx status raises: 404 `NotFound`, 409 `ProxyExists`, 400
  `InvalidRequest`, anything else `ServerError` with the server's message
  (the library turns a 500 on create into `KeyError: 'name'`). They subclass the
  library's own `NotFound` / `ProxyExists` / `InvalidToxic`, so scripts written
  against `toxiproxy-python` keep catching them;
* `add_toxic` returns the toxic the server created, `update_toxic` exists, and
  `populate` is the server-side POST /populate (the library's runs on the client
  and recreates proxies whose `listen` is merely written differently).

`library()` lends the process-global `toxiproxy.Toxiproxy` pointed at this
client's server, for code that wants the library's own objects.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import toxiproxy
import toxiproxy.api
import toxiproxy.exceptions

from harness.toxiproxy.spec import Stream, ToxicKind

_HINT = (
    "is the server running? Start one with `sibyl toxiproxy --port PORT` or "
    "harness.toxiproxy.launcher.start_server()"
)


class ToxiproxyError(Exception):
    """A request to the server failed; `status` is the HTTP status (0 if none)."""

    def __init__(self, message: str, *, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class ServerUnreachable(ToxiproxyError):
    """No answer: connection refused, reset, or the timeout elapsed."""


class ServerError(ToxiproxyError):
    """A status other than 400/404/409, e.g. 500 when a proxy cannot listen."""


class NotFound(ToxiproxyError, toxiproxy.exceptions.NotFound):
    """404: no such proxy or toxic."""


class ProxyExists(ToxiproxyError, toxiproxy.exceptions.ProxyExists):
    """409: a proxy or toxic of that name already exists."""


class InvalidRequest(ToxiproxyError, toxiproxy.exceptions.InvalidToxic):
    """400: the server rejected the body (bad JSON, type, stream or attribute)."""


_BY_STATUS: dict[int, type[ToxiproxyError]] = {
    400: InvalidRequest,
    404: NotFound,
    409: ProxyExists,
}


@dataclass(frozen=True)
class ToxicInfo:
    """A toxic as the server reports it."""

    name: str
    type: str
    stream: str
    toxicity: float
    attributes: dict[str, Any] = field(default_factory=dict)

    @staticmethod
    def from_json(data: Mapping[str, Any]) -> ToxicInfo:
        return ToxicInfo(
            name=data["name"],
            type=data["type"],
            stream=data.get("stream", Stream.DOWNSTREAM.value),
            toxicity=float(data.get("toxicity", 1.0)),
            attributes=dict(data.get("attributes") or {}),
        )


@dataclass(frozen=True)
class ProxyInfo:
    """A proxy as the server reports it; `listen` is the address actually bound."""

    name: str
    listen: str
    upstream: str
    enabled: bool
    toxics: tuple[ToxicInfo, ...] = ()

    @staticmethod
    def from_json(data: Mapping[str, Any]) -> ProxyInfo:
        return ProxyInfo(
            name=data["name"],
            listen=data["listen"],
            upstream=data["upstream"],
            enabled=bool(data["enabled"]),
            toxics=tuple(ToxicInfo.from_json(t) for t in data.get("toxics") or ()),
        )

    @property
    def listen_port(self) -> int:
        """The port clients should connect to."""
        return int(self.listen.rpartition(":")[2])


#: Serialises `library()` users, since the library's address is process-global.
_LIBRARY_LOCK = threading.Lock()


class ToxiproxyClient:
    """A client for one server at `host:port`. Methods block for at most `timeout_s`
    per request and raise `ToxiproxyError` subclasses; they are thread-safe."""

    def __init__(self, host: str = "127.0.0.1", port: int = 8474, *, timeout_s: float = 5.0):
        self.host = host
        self.port = port
        self.timeout_s = timeout_s

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    # -- server --
    def version(self) -> str:
        """The server's version string (from JSON, or the raw text of old servers)."""
        raw = self._request("GET", "/version", decode=False)
        try:
            return str(json.loads(raw)["version"])
        except (ValueError, KeyError, TypeError):
            return raw.decode("utf-8", "replace").strip()

    def running(self) -> bool:
        """True when the server answers /version within the timeout."""
        try:
            self.version()
        except ServerUnreachable:
            return False
        return True

    def reset(self) -> None:
        """Enables every proxy and removes every toxic."""
        self._request("POST", "/reset")

    # -- proxies --
    def proxies(self) -> dict[str, ProxyInfo]:
        data = self._request("GET", "/proxies")
        return {name: ProxyInfo.from_json(p) for name, p in data.items()}

    def proxy(self, name: str) -> ProxyInfo:
        return ProxyInfo.from_json(self._request("GET", _proxy_path(name)))

    def create_proxy(
        self, name: str, upstream: str, listen: str = "127.0.0.1:0", *, enabled: bool = True
    ) -> ProxyInfo:
        """Creates a proxy; `listen` port 0 lets the server pick (see `.listen_port`)."""
        body = {"name": name, "upstream": upstream, "listen": listen, "enabled": enabled}
        return ProxyInfo.from_json(self._request("POST", "/proxies", body))

    def update_proxy(
        self,
        name: str,
        *,
        enabled: bool | None = None,
        listen: str | None = None,
        upstream: str | None = None,
    ) -> ProxyInfo:
        """Changes the given fields only (a new listen/upstream restarts the proxy)."""
        fields = {"enabled": enabled, "listen": listen, "upstream": upstream}
        body = {k: v for k, v in fields.items() if v is not None}
        return ProxyInfo.from_json(self._request("POST", _proxy_path(name), body))

    def enable(self, name: str) -> ProxyInfo:
        return self.update_proxy(name, enabled=True)

    def disable(self, name: str) -> ProxyInfo:
        """Closes the proxy's connections and refuses new ones until enabled."""
        return self.update_proxy(name, enabled=False)

    def delete_proxy(self, name: str) -> None:
        self._request("DELETE", _proxy_path(name))

    def populate(self, proxies: Sequence[Mapping[str, Any]]) -> list[ProxyInfo]:
        """Server-side populate: creates or replaces the given proxies (dicts with name,
        upstream, listen, enabled?) and keeps unchanged ones with their toxics."""
        data = self._request("POST", "/populate", list(proxies))
        return [ProxyInfo.from_json(p) for p in data.get("proxies") or ()]

    # -- toxics --
    def toxics(self, proxy: str) -> list[ToxicInfo]:
        return [ToxicInfo.from_json(t) for t in self._request("GET", _proxy_path(proxy, "toxics"))]

    def add_toxic(
        self,
        proxy: str,
        kind: ToxicKind | str,
        *,
        name: str | None = None,
        stream: Stream | str = Stream.DOWNSTREAM,
        toxicity: float = 1.0,
        attributes: Mapping[str, int] | None = None,
    ) -> ToxicInfo:
        """Adds a toxic (default name `<type>_<stream>`) and returns it as created."""
        body: dict[str, Any] = {
            "type": str(kind),
            "stream": str(stream),
            "toxicity": toxicity,
            "attributes": dict(attributes or {}),
        }
        if name is not None:
            body["name"] = name
        return ToxicInfo.from_json(self._request("POST", _proxy_path(proxy, "toxics"), body))

    def update_toxic(
        self,
        proxy: str,
        name: str,
        *,
        attributes: Mapping[str, int] | None = None,
        toxicity: float | None = None,
    ) -> ToxicInfo:
        """Merges `attributes` into the toxic and/or sets its toxicity."""
        body: dict[str, Any] = {}
        if attributes is not None:
            body["attributes"] = dict(attributes)
        if toxicity is not None:
            body["toxicity"] = toxicity
        path = _proxy_path(proxy, "toxics", name)
        return ToxicInfo.from_json(self._request("POST", path, body))

    def remove_toxic(self, proxy: str, name: str) -> None:
        self._request("DELETE", _proxy_path(proxy, "toxics", name))

    # -- the library, bound to this server --
    @contextmanager
    def library(self) -> Iterator[toxiproxy.Toxiproxy]:
        """Yields `toxiproxy.Toxiproxy()` pointed at this server, holding a process-wide
        lock so no other `library()` user moves the shared address meanwhile. The
        library's calls have no timeout: prefer this class's methods."""
        consumer = toxiproxy.api.APIConsumer
        with _LIBRARY_LOCK:
            saved = (consumer.host, consumer.port)
            consumer.host, consumer.port = self.host, self.port
            try:
                yield toxiproxy.Toxiproxy()
            finally:
                consumer.host, consumer.port = saved

    # -- HTTP --
    def _request(self, method: str, path: str, body: Any = None, *, decode: bool = True) -> Any:
        url = f"http://{self.address}{path}"
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        request.add_header("User-Agent", "sibyl-toxiproxy-client")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                raw: bytes = response.read()
        except urllib.error.HTTPError as exc:
            raise _status_error(method, path, exc) from None
        except (OSError, urllib.error.URLError) as exc:
            raise ServerUnreachable(
                f"Toxiproxy server at {self.address} did not answer {method} {path} within "
                f"{self.timeout_s} s ({_reason(exc)}); {_HINT}"
            ) from None
        if not decode:
            return raw
        return json.loads(raw) if raw.strip() else None


def _proxy_path(*segments: str) -> str:
    return "/proxies/" + "/".join(urllib.parse.quote(s, safe="") for s in segments)


def _reason(exc: BaseException) -> str:
    inner = getattr(exc, "reason", None)
    return str(inner if inner is not None else exc) or type(exc).__name__


def _status_error(method: str, path: str, exc: urllib.error.HTTPError) -> ToxiproxyError:
    raw = exc.read() if exc.fp is not None else b""
    try:
        message = str(json.loads(raw)["error"])
    except (ValueError, KeyError, TypeError):
        message = raw.decode("utf-8", "replace").strip() or exc.reason
    cls = _BY_STATUS.get(exc.code, ServerError)
    return cls(f"{method} {path} failed with {exc.code}: {message}", status=exc.code)
