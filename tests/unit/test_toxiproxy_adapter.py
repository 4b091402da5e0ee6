"""`ToxiproxyClient` against a canned in-process HTTP server: errors, timeouts, binding."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import toxiproxy.api
import toxiproxy.exceptions

from harness.toxiproxy import (
    InvalidRequest,
    NotFound,
    ProxyExists,
    ServerError,
    ServerUnreachable,
    ToxiproxyClient,
)

#: path -> (status, body) answered by the canned server, for any method.
CANNED: dict[str, tuple[int, bytes]] = {
    "/version": (200, b'{"version": "2.9.0"}'),
    "/proxies/missing": (404, b'{"error": "proxy not found", "status": 404}'),
    "/proxies/dup": (409, b'{"error": "proxy already exists", "status": 409}'),
    "/proxies/bad": (400, b'{"error": "bad request body: x", "status": 400}'),
    "/proxies": (
        500,
        b'{"error": "listen tcp 127.0.0.1:1: bind: permission denied", "status": 500}',
    ),
    "/proxies/plain/toxics": (502, b"upstream gateway exploded"),
}


class _Canned(BaseHTTPRequestHandler):
    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        status, body = CANNED.get(self.path, (404, b"404 page not found"))
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_DELETE = do_PATCH = _answer

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def client() -> Iterator[ToxiproxyClient]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Canned)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield ToxiproxyClient("127.0.0.1", server.server_address[1], timeout_s=2.0)
    server.shutdown()
    server.server_close()


def test_version(client: ToxiproxyClient) -> None:
    assert client.version() == "2.9.0" and client.running()


def test_statuses_map_to_errors_the_library_also_catches(client: ToxiproxyClient) -> None:
    with pytest.raises(NotFound) as missing:
        client.proxy("missing")
    assert isinstance(missing.value, toxiproxy.exceptions.NotFound)
    assert missing.value.status == 404 and "proxy not found" in str(missing.value)
    with pytest.raises(toxiproxy.exceptions.ProxyExists):
        client.proxy("dup")
    with pytest.raises(InvalidRequest):
        client.proxy("bad")
    assert issubclass(ProxyExists, toxiproxy.exceptions.ProxyExists)


def test_500_is_surfaced_with_the_server_message(client: ToxiproxyClient) -> None:
    with pytest.raises(ServerError) as caught:
        client.create_proxy("p", "127.0.0.1:2", listen="127.0.0.1:1")
    assert caught.value.status == 500 and "permission denied" in str(caught.value)


def test_non_json_error_bodies_are_kept(client: ToxiproxyClient) -> None:
    with pytest.raises(ServerError, match="exploded"):
        client.toxics("plain")


def test_refused_connection_names_the_address_and_the_fix() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, not listening: connections are refused
        client = ToxiproxyClient("127.0.0.1", port, timeout_s=1.0)
        with pytest.raises(ServerUnreachable) as caught:
            client.proxies()
    message = str(caught.value)
    assert f"127.0.0.1:{port}" in message and "sibyl toxiproxy" in message


def test_silent_server_times_out() -> None:
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts, never answers
        client = ToxiproxyClient("127.0.0.1", silent.getsockname()[1], timeout_s=0.2)
        with pytest.raises(ServerUnreachable, match="within 0.2 s"):
            client.version()


def test_library_is_bound_then_restored(client: ToxiproxyClient) -> None:
    consumer = toxiproxy.api.APIConsumer
    before = (consumer.host, consumer.port)
    with client.library() as lib:
        assert (consumer.host, consumer.port) == (client.host, client.port)
        assert json.loads(lib.version()) == {"version": "2.9.0"}
    assert (consumer.host, consumer.port) == before
