"""Conformance of a Toxiproxy server, driven through `toxiproxy-python` over real TCP.

Runs against our server (`python -m harness.toxiproxy`, always) and the real
`toxiproxy-server` (when it is on PATH), each as a subprocess on a free loopback
port. Upstreams are small threaded servers in this process: an echo server that
records when bytes reach it, and a server that closes every connection at once.
Waits use socket timeouts as deadlines; timing asserts are lower bounds, plus
generous upper bounds only where "stalls until removed" needs one.
"""

from __future__ import annotations

import http.client
import itertools
import json
import queue
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import toxiproxy
import toxiproxy.exceptions

from harness.toxiproxy import (
    ProxyExists,
    ServerError,
    ServerKind,
    ServerProcess,
    start_server,
)
from harness.toxiproxy.launcher import free_port, real_server_path

pytestmark = pytest.mark.timeout(120)

LATENCY_MS = 300
WAIT_S = 5.0  # generous deadline for things that should happen promptly


class EchoServer:
    """Echoes every byte; records (monotonic time, bytes) of each read in `arrivals`."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.arrivals: queue.Queue[tuple[float, bytes]] = queue.Queue(maxsize=100_000)
        self.conns: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.conns.append(conn)
            threading.Thread(target=self._echo, args=(conn,), daemon=True).start()

    def _echo(self, conn: socket.socket) -> None:
        try:
            while data := conn.recv(65536):
                self.arrivals.put_nowait((time.monotonic(), data))
                conn.sendall(data)
        except OSError:
            pass
        finally:
            conn.close()

    def drain(self) -> None:
        while not self.arrivals.empty():
            self.arrivals.get_nowait()

    def close(self) -> None:
        self.listener.close()
        for conn in self.conns:
            conn.close()


class CloserServer:
    """Accepts every connection, sends `banner` at once, and closes it."""

    def __init__(self, banner: bytes = b"") -> None:
        self.banner = banner
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with conn:
                conn.sendall(self.banner)

    def close(self) -> None:
        self.listener.close()


def _kinds() -> list[ServerKind]:
    """Ours always; the real server too when it is installed."""
    real = [ServerKind.SHOPIFY] if real_server_path() is not None else []
    return [ServerKind.SIBYL, *real]


@pytest.fixture(scope="module", params=_kinds(), ids=str)
def server(request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    proc = start_server(seed=7, prefer_real=request.param is ServerKind.SHOPIFY)
    assert proc.kind is request.param
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def tp(server: ServerProcess) -> Iterator[toxiproxy.Toxiproxy]:
    """toxiproxy-python, pointed at this module's server for the module's duration."""
    with server.client.library() as lib:
        yield lib


@pytest.fixture(scope="module")
def echo() -> Iterator[EchoServer]:
    srv = EchoServer()
    yield srv
    srv.close()


_names = itertools.count()


@pytest.fixture
def proxy(tp: toxiproxy.Toxiproxy, echo: EchoServer) -> Iterator[toxiproxy.Proxy]:
    """A fresh proxy to the echo server, created through toxiproxy-python."""
    echo.drain()
    made = tp.create(upstream=f"127.0.0.1:{echo.port}", name=f"echo{next(_names)}")
    yield made
    made.destroy()


def port_of(proxy: toxiproxy.Proxy) -> int:
    return int(proxy.listen.rpartition(":")[2])


def connect(proxy: toxiproxy.Proxy) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port_of(proxy)), timeout=WAIT_S)
    sock.settimeout(WAIT_S)
    return sock


def recv_exactly(sock: socket.socket, n: int, timeout_s: float = WAIT_S) -> bytes:
    """Reads n bytes before the deadline; fails on EOF or timeout."""
    deadline = time.monotonic() + timeout_s
    data = b""
    while len(data) < n:
        sock.settimeout(max(deadline - time.monotonic(), 0.001))
        piece = sock.recv(n - len(data))
        assert piece, f"EOF after {len(data)} of {n} bytes"
        data += piece
    return data


def read_to_eof(sock: socket.socket, timeout_s: float = WAIT_S) -> list[bytes]:
    """Reads until EOF before the deadline; returns the pieces as received."""
    deadline = time.monotonic() + timeout_s
    pieces: list[bytes] = []
    while True:
        sock.settimeout(max(deadline - time.monotonic(), 0.001))
        piece = sock.recv(65536)
        if not piece:
            return pieces
        pieces.append(piece)


def round_trip_s(sock: socket.socket, payload: bytes = b"ping") -> float:
    start = time.monotonic()
    sock.sendall(payload)
    assert recv_exactly(sock, len(payload)) == payload
    return time.monotonic() - start


def raw(server: ServerProcess, method: str, path: str, body: bytes | None) -> tuple[int, Any]:
    """One raw HTTP request (for calls toxiproxy-python lacks); returns (status, JSON)."""
    conn = http.client.HTTPConnection(server.host, server.port, timeout=WAIT_S)
    try:
        conn.request(method, path, body=body, headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        data = response.read()
        return response.status, json.loads(data) if data.strip() else None
    finally:
        conn.close()


# -- the API --


def test_version_answers_json(server: ServerProcess) -> None:
    with urllib.request.urlopen(f"http://{server.address}/version", timeout=WAIT_S) as response:
        assert "version" in json.loads(response.read())


def test_create_list_and_echo_without_toxics(
    tp: toxiproxy.Toxiproxy, proxy: toxiproxy.Proxy
) -> None:
    listed = tp.proxies()[proxy.name]
    assert (listed.upstream, listed.listen, listed.enabled) == (proxy.upstream, proxy.listen, True)
    with connect(proxy) as sock:
        assert round_trip_s(sock, b"hello") < WAIT_S


def test_duplicate_proxy_is_409(server: ServerProcess, proxy: toxiproxy.Proxy) -> None:
    status, body = raw(server, "POST", "/proxies", json.dumps(_proxy_body(proxy)).encode())
    assert status == 409 and body["error"]
    with pytest.raises(toxiproxy.exceptions.ProxyExists):
        proxy.add_toxic(type="noop", name="n")
        proxy.add_toxic(type="noop", name="n")


def _proxy_body(proxy: toxiproxy.Proxy) -> dict[str, Any]:
    return {"name": proxy.name, "upstream": proxy.upstream, "listen": "127.0.0.1:0"}


def test_unknown_proxy_and_toxic_are_404(server: ServerProcess, proxy: toxiproxy.Proxy) -> None:
    ghost = toxiproxy.Proxy(name="no-such-proxy", upstream="x:1", enabled=True, listen="x:1")
    with pytest.raises(toxiproxy.exceptions.NotFound):
        ghost.disable()
    with pytest.raises(toxiproxy.exceptions.NotFound):
        proxy.destroy_toxic("no-such-toxic")
    assert raw(server, "GET", "/proxies/no-such-proxy", None)[0] == 404
    assert raw(server, "GET", f"/proxies/{proxy.name}/toxics/none", None)[0] == 404


@pytest.mark.parametrize(
    "toxic",
    [
        {"type": "no-such-type"},
        {"type": "latency", "stream": "sideways"},
        {"type": "latency", "attributes": {"latency": "slow"}},
    ],
    ids=["type", "stream", "attribute"],
)
def test_bad_toxic_is_400(proxy: toxiproxy.Proxy, toxic: dict[str, Any]) -> None:
    with pytest.raises(toxiproxy.exceptions.InvalidToxic):
        proxy.add_toxic(**toxic)
    assert proxy.toxics() == {}


@pytest.mark.parametrize("body", [b"{", b"not json", b"", b'{"name": '], ids=repr)
def test_malformed_json_is_400_and_server_keeps_running(server: ServerProcess, body: bytes) -> None:
    status, answer = raw(server, "POST", "/proxies", body)
    assert status == 400
    assert isinstance(answer["error"], str) and answer["error"]
    assert raw(server, "GET", "/version", None)[0] == 200


def test_garbage_request_is_400_and_server_keeps_running(server: ServerProcess) -> None:
    with socket.create_connection((server.host, server.port), timeout=WAIT_S) as sock:
        sock.sendall(b"NOT HTTP AT ALL\r\n\r\n")
        answer = b"".join(read_to_eof(sock))
    assert answer.startswith(b"HTTP/1.1 400")
    assert raw(server, "GET", "/version", None)[0] == 200


def test_update_toxic_by_raw_http(server: ServerProcess, proxy: toxiproxy.Proxy) -> None:
    proxy.add_toxic(type="latency", name="lat", attributes={"latency": 10, "jitter": 1})
    body = json.dumps({"attributes": {"latency": 20}}).encode()
    status, toxic = raw(server, "PATCH", f"/proxies/{proxy.name}/toxics/lat", body)
    assert status == 200
    assert toxic["attributes"] == {"latency": 20, "jitter": 1}
    assert proxy.get_toxic("lat").attributes["latency"] == 20


def test_populate_keeps_unchanged_proxies(server: ServerProcess, echo: EchoServer) -> None:
    spec = [{"name": "pop", "upstream": f"127.0.0.1:{echo.port}", "listen": "127.0.0.1:0"}]
    status, first = raw(server, "POST", "/populate", json.dumps(spec).encode())
    assert status == 201 and first["proxies"][0]["name"] == "pop"
    bound = first["proxies"][0]["listen"]
    spec[0]["listen"] = bound
    status, again = raw(server, "POST", "/populate", json.dumps(spec).encode())
    assert status == 201 and again["proxies"][0]["listen"] == bound
    assert raw(server, "DELETE", "/proxies/pop", None)[0] == 204


def test_reset_enables_and_clears(tp: toxiproxy.Toxiproxy, proxy: toxiproxy.Proxy) -> None:
    proxy.add_toxic(type="latency", attributes={"latency": 5})
    proxy.disable()
    assert tp.reset()
    assert tp.get_proxy(proxy.name).enabled
    assert proxy.toxics() == {}


# -- toxics on real traffic --


@pytest.mark.parametrize("stream", ["upstream", "downstream"])
def test_latency_delays_its_direction(
    proxy: toxiproxy.Proxy, echo: EchoServer, stream: str
) -> None:
    proxy.add_toxic(type="latency", stream=stream, attributes={"latency": LATENCY_MS})
    with connect(proxy) as sock:
        sent = time.monotonic()
        sock.sendall(b"x")
        assert recv_exactly(sock, 1) == b"x"
        received = time.monotonic()
    arrived, _ = echo.arrivals.get(timeout=WAIT_S)
    delayed = arrived - sent if stream == "upstream" else received - arrived
    assert delayed >= LATENCY_MS / 1000


def test_toxicity_zero_never_applies(proxy: toxiproxy.Proxy) -> None:
    proxy.add_toxic(type="latency", toxicity=0.0, attributes={"latency": 3000})
    for _ in range(5):
        with connect(proxy) as sock:
            assert round_trip_s(sock) < 2.0


def test_timeout_zero_drops_data_and_closes_when_removed(
    proxy: toxiproxy.Proxy, echo: EchoServer
) -> None:
    # Toxiproxy's TimeoutToxic: the data is dropped on the floor, and its Cleanup
    # closes the connection when the toxic is removed.
    proxy.add_toxic(type="timeout", name="hole", stream="upstream", attributes={"timeout": 0})
    with connect(proxy) as sock:
        sock.sendall(b"lost")
        sock.settimeout(0.5)
        with pytest.raises(TimeoutError):
            sock.recv(16)
        proxy.destroy_toxic("hole")
        assert _read_to_eof_or_reset(sock) == []
    assert echo.arrivals.empty()
    with connect(proxy) as sock:
        assert round_trip_s(sock) < WAIT_S


def test_removing_a_timeout_closes_every_live_connection(proxy: toxiproxy.Proxy) -> None:
    socks = [connect(proxy) for _ in range(3)]
    try:
        proxy.add_toxic(type="timeout", name="hole", stream="downstream", attributes={"timeout": 0})
        proxy.destroy_toxic("hole")  # closing each link must not upset the removal
        assert all(_read_to_eof_or_reset(s) == [] for s in socks)
    finally:
        for s in socks:
            s.close()


def test_bandwidth_zero_holds_until_removed(proxy: toxiproxy.Proxy, echo: EchoServer) -> None:
    proxy.add_toxic(type="bandwidth", name="hold", stream="upstream", attributes={"rate": 0})
    with connect(proxy) as sock:
        sock.sendall(b"held")
        sock.settimeout(0.5)
        with pytest.raises(TimeoutError):
            sock.recv(16)
        assert echo.arrivals.empty()
        proxy.destroy_toxic("hold")
        assert recv_exactly(sock, 4) == b"held"


def test_toxics_apply_to_live_connections(proxy: toxiproxy.Proxy, echo: EchoServer) -> None:
    with connect(proxy) as sock:
        assert round_trip_s(sock) < WAIT_S
        proxy.add_toxic(type="latency", name="slow", attributes={"latency": LATENCY_MS})
        assert round_trip_s(sock) >= LATENCY_MS / 1000
        proxy.add_toxic(type="bandwidth", name="cut", stream="upstream", attributes={"rate": 0})
        echo.drain()
        sock.sendall(b"during")
        sock.settimeout(0.5)
        with pytest.raises(TimeoutError):
            sock.recv(16)
        assert echo.arrivals.empty()
        proxy.destroy_toxic("cut")
        proxy.destroy_toxic("slow")
        assert recv_exactly(sock, 6) == b"during"
        assert round_trip_s(sock) < WAIT_S


def test_update_toxic_applies_to_live_connections(
    server: ServerProcess, proxy: toxiproxy.Proxy
) -> None:
    proxy.add_toxic(type="latency", name="lat", attributes={"latency": 0})
    with connect(proxy) as sock:
        assert round_trip_s(sock) < WAIT_S
        body = json.dumps({"attributes": {"latency": LATENCY_MS}}).encode()
        assert raw(server, "PATCH", f"/proxies/{proxy.name}/toxics/lat", body)[0] == 200
        assert round_trip_s(sock) >= LATENCY_MS / 1000


def test_timeout_closes_after_its_delay(proxy: toxiproxy.Proxy) -> None:
    proxy.add_toxic(type="timeout", attributes={"timeout": 300})
    start = time.monotonic()
    with connect(proxy) as sock:
        sock.sendall(b"x")
        assert b"".join(_read_to_eof_or_reset(sock)) == b""
    assert time.monotonic() - start >= 0.3


def _read_to_eof_or_reset(sock: socket.socket) -> list[bytes]:
    try:
        return read_to_eof(sock)
    except ConnectionResetError:
        return []


def test_disabled_proxy_closes_and_refuses(proxy: toxiproxy.Proxy) -> None:
    with connect(proxy) as sock:
        assert round_trip_s(sock) < WAIT_S
        proxy.disable()
        assert _read_to_eof_or_reset(sock) == []
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port_of(proxy)), timeout=WAIT_S).close()
    proxy.enable()
    with connect(proxy) as sock:
        assert round_trip_s(sock) < WAIT_S


def test_reset_peer_resets_the_connection(proxy: toxiproxy.Proxy) -> None:
    proxy.add_toxic(type="reset_peer", attributes={"timeout": 0})
    with connect(proxy) as sock:
        sock.sendall(b"boom")
        with pytest.raises(ConnectionResetError):
            read_to_eof(sock)


def test_limit_data_closes_after_n_bytes(proxy: toxiproxy.Proxy) -> None:
    proxy.add_toxic(type="limit_data", attributes={"bytes": 10})
    with connect(proxy) as sock:
        sock.sendall(bytes(range(100)))
        assert b"".join(read_to_eof(sock)) == bytes(range(10))


def test_bandwidth_limits_rate(proxy: toxiproxy.Proxy) -> None:
    rate_kb_s, size = 50, 50_000  # one second at the limit
    proxy.add_toxic(type="bandwidth", stream="upstream", attributes={"rate": rate_kb_s})
    with connect(proxy) as sock:
        start = time.monotonic()
        sock.sendall(b"b" * size)
        assert recv_exactly(sock, size, timeout_s=15) == b"b" * size
        elapsed = time.monotonic() - start
    assert elapsed >= 0.8 * size / (rate_kb_s * 1000)


def test_slicer_splits_writes(proxy: toxiproxy.Proxy) -> None:
    attributes = {"average_size": 10, "size_variation": 2, "delay": 20_000}
    proxy.add_toxic(type="slicer", attributes=attributes)
    payload = bytes(range(100))
    with connect(proxy) as sock:
        sock.sendall(payload)
        pieces: list[bytes] = []
        while sum(len(p) for p in pieces) < len(payload):
            pieces.append(sock.recv(len(payload)))
            assert pieces[-1], "EOF before the sliced payload arrived"
    assert b"".join(pieces) == payload
    assert len(pieces) >= 3


def test_slow_close_delays_close(tp: toxiproxy.Toxiproxy) -> None:
    closer = CloserServer()
    made = tp.create(upstream=f"127.0.0.1:{closer.port}", name=f"closer{next(_names)}")
    try:
        made.add_toxic(type="slow_close", attributes={"delay": 500})
        start = time.monotonic()
        with connect(made) as sock:
            assert read_to_eof(sock) == []
        assert time.monotonic() - start >= 0.5
    finally:
        made.destroy()
        closer.close()


def test_upstream_that_speaks_first_and_closes_is_relayed(tp: toxiproxy.Toxiproxy) -> None:
    greeter = CloserServer(banner=b"hello, bye")
    made = tp.create(upstream=f"127.0.0.1:{greeter.port}", name=f"greeter{next(_names)}")
    try:
        with connect(made) as sock:
            assert b"".join(read_to_eof(sock)) == b"hello, bye"
    finally:
        made.destroy()
        greeter.close()


def test_upstream_down_fails_the_client_cleanly(
    tp: toxiproxy.Toxiproxy, server: ServerProcess
) -> None:
    made = tp.create(upstream=f"127.0.0.1:{free_port()}", name=f"down{next(_names)}")
    try:
        with connect(made) as sock:
            sock.sendall(b"anyone?")
            assert _read_to_eof_or_reset(sock) == []
        assert raw(server, "GET", "/version", None)[0] == 200
    finally:
        made.destroy()


# -- the adapter against this server --


def test_adapter_surfaces_500_and_409(server: ServerProcess, echo: EchoServer) -> None:
    client = server.client
    first = client.create_proxy("adapter", f"127.0.0.1:{echo.port}")
    try:
        with pytest.raises(ProxyExists):
            client.create_proxy("adapter", f"127.0.0.1:{echo.port}")
        with pytest.raises(ServerError) as caught:  # its port is taken: cannot listen
            client.create_proxy("clash", f"127.0.0.1:{echo.port}", listen=first.listen)
        assert caught.value.status == 500
        toxic = client.add_toxic("adapter", "latency", attributes={"latency": 1})
        assert toxic.name == "latency_downstream"
        assert client.update_toxic("adapter", toxic.name, toxicity=0.5).toxicity == 0.5
    finally:
        client.delete_proxy("adapter")


# -- the command line --


def test_malformed_config_names_the_file(tmp_path: Path) -> None:
    config = tmp_path / "proxies.json"
    config.write_text('[{"name": "a", "upstream": ')
    result = subprocess.run(
        [sys.executable, "-m", "harness.toxiproxy", "--port", "0", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 254
    assert str(config) in result.stderr and "not valid JSON" in result.stderr


def test_config_missing_field_names_the_proxy(tmp_path: Path) -> None:
    config = tmp_path / "proxies.json"
    config.write_text('[{"name": "a", "listen": "127.0.0.1:0"}]')
    result = subprocess.run(
        [sys.executable, "-m", "harness.toxiproxy", "--port", "0", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 254
    assert str(config) in result.stderr and "upstream at proxy 1" in result.stderr


# -- replay --


def _toxicity_pattern(seed: int, upstream_port: int, connections: int) -> list[bool]:
    """Which of `connections` successive connections a 50% limit_data toxic hit."""
    proc = start_server(seed=seed, prefer_real=False)
    try:
        made = proc.client.create_proxy("replay", f"127.0.0.1:{upstream_port}")
        proc.client.add_toxic("replay", "limit_data", toxicity=0.5, attributes={"bytes": 1})
        pattern = []
        for _ in range(connections):
            with socket.create_connection(("127.0.0.1", made.listen_port), timeout=WAIT_S) as sock:
                sock.sendall(b"abc")
                pattern.append(b"".join(read_to_eof_after(sock, 3)) == b"a")
        return pattern
    finally:
        proc.stop()


def read_to_eof_after(sock: socket.socket, n: int) -> list[bytes]:
    """Reads up to n bytes, stopping early at EOF (then closes our side)."""
    sock.settimeout(WAIT_S)
    pieces: list[bytes] = []
    while sum(len(p) for p in pieces) < n:
        piece = sock.recv(n)
        if not piece:
            break
        pieces.append(piece)
    return pieces


def test_same_seed_replays_toxicity(server: ServerProcess, echo: EchoServer) -> None:
    if server.kind is not ServerKind.SIBYL:
        pytest.skip("the real toxiproxy-server ignores its seed")
    first = _toxicity_pattern(11, echo.port, 10)
    assert first == _toxicity_pattern(11, echo.port, 10)
    assert any(first) and not all(first)  # seed 11 mixes both outcomes
