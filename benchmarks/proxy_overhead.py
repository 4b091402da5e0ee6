"""What one toxic-free hop through our Toxiproxy-compatible server costs.

In one run, against the same upstream process, it measures:

1. round-trip latency (64-byte ping-pong, p50/p99), direct and through one proxy;
2. one-way bulk throughput (client → upstream, acknowledged at the end), direct
   and through one proxy;
3. 40 proxies carrying live ping-pong traffic at once, counting errors.

Goals: ≤ 100 µs p50 overhead per hop, proxied throughput ≥ 50 % of direct, 40
busy proxies on 2 cores without errors. The upstream runs in its own process
(`--upstream`), as does the proxy server (via `start_server`); this process is
the client. Usage: `.venv/bin/python benchmarks/proxy_overhead.py [--quick]`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import struct
import subprocess
import sys
import threading
import time
from dataclasses import dataclass

from harness.toxiproxy import ProxyInfo, ServerProcess, ToxiproxyClient, start_server

ECHO, SINK = b"E", b"S"
PING = b"p" * 64


# -- the upstream: echo or counting sink, chosen by the first byte --


class _Upstream(asyncio.Protocol):
    def __init__(self) -> None:
        self.mode = b""
        self.expect = 0
        self.got = 0
        self.head = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        assert self.transport is not None
        if self.mode == ECHO:
            self.transport.write(data)
            return
        if not self.mode:
            self.mode, data = data[:1], data[1:]
            if self.mode == ECHO:
                if data:
                    self.transport.write(data)
                return
        self._sink(data)

    def _sink(self, data: bytes) -> None:
        assert self.transport is not None
        if not self.expect:
            self.head += data
            if len(self.head) < 8:
                return
            (self.expect,), data = struct.unpack("!Q", self.head[:8]), self.head[8:]
        self.got += len(data)
        if self.got >= self.expect:
            self.transport.write(b"k")


async def _serve_upstream() -> None:
    server = await asyncio.get_running_loop().create_server(_Upstream, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await asyncio.Event().wait()


def start_upstream() -> tuple[subprocess.Popen[str], int]:
    """Runs the upstream in a child process; returns it and its port."""
    proc = subprocess.Popen(
        [sys.executable, __file__, "--upstream"], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    return proc, int(proc.stdout.readline())


# -- measurements --


def _connect(port: int, mode: bytes) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.sendall(mode)
    return sock


def _recv_exactly(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        piece = sock.recv(n - len(data))
        if not piece:
            raise ConnectionError(f"EOF after {len(data)} of {n} bytes")
        data += piece
    return data


@dataclass(frozen=True)
class Latency:
    p50_us: float
    p99_us: float


def measure_latency(port: int, rounds: int) -> Latency:
    """Ping-pong `rounds` times on one connection (after a warm-up)."""
    with _connect(port, ECHO) as sock:
        samples = []
        for i in range(rounds + rounds // 10):
            start = time.perf_counter_ns()
            sock.sendall(PING)
            _recv_exactly(sock, len(PING))
            if i >= rounds // 10:
                samples.append((time.perf_counter_ns() - start) / 1000)
    cuts = statistics.quantiles(samples, n=100)
    return Latency(p50_us=statistics.median(samples), p99_us=cuts[98])


def measure_throughput(port: int, total_bytes: int) -> float:
    """Sends `total_bytes` to the sink and waits for its ack; returns MB/s."""
    block = b"x" * (256 * 1024)
    with _connect(port, SINK) as sock:
        start = time.perf_counter()
        sock.sendall(struct.pack("!Q", total_bytes))
        sent = 0
        while sent < total_bytes:
            chunk = block[: total_bytes - sent]
            sock.sendall(chunk)
            sent += len(chunk)
        _recv_exactly(sock, 1)
        return total_bytes / (time.perf_counter() - start) / 1e6


@dataclass
class Busy:
    ops: int = 0
    errors: int = 0
    worst_ms: float = 0.0


async def _ping_loop(port: int, until: float, busy: Busy) -> None:
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(ECHO)
        while time.monotonic() < until:
            start = time.monotonic()
            writer.write(PING)
            if await reader.readexactly(len(PING)) != PING:
                busy.errors += 1
            busy.ops += 1
            busy.worst_ms = max(busy.worst_ms, (time.monotonic() - start) * 1000)
        writer.close()
    except (OSError, asyncio.IncompleteReadError):
        busy.errors += 1


def measure_many(ports: list[int], seconds: float, per_proxy: int) -> Busy:
    """Runs `per_proxy` ping-pong connections on each port for `seconds`."""
    busy = Busy()

    async def main() -> None:
        until = time.monotonic() + seconds
        loops = [_ping_loop(p, until, busy) for p in ports for _ in range(per_proxy)]
        await asyncio.gather(*loops)

    asyncio.run(main())
    return busy


# -- the report --


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds used so far by process `pid` (Linux /proc)."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _bulk(pid: int, upstream_port: int, proxy: ProxyInfo, total: int) -> tuple[float, float, float]:
    """Best-of-3 throughput direct and proxied (interleaved, so both see the same
    background load), and the proxy's CPU seconds per GB over the proxied runs."""
    direct, proxied = [], []
    cpu_before = _cpu_s(pid)
    for _ in range(3):
        direct.append(measure_throughput(upstream_port, total))
        proxied.append(measure_throughput(proxy.listen_port, total))
    cpu_s_per_gb = (_cpu_s(pid) - cpu_before) / (3 * total / 1e9)
    return max(direct), max(proxied), cpu_s_per_gb


def _many_proxies(client: ToxiproxyClient, upstream_port: int, count: int) -> list[int]:
    made = [client.create_proxy(f"bench{i}", f"127.0.0.1:{upstream_port}") for i in range(count)]
    return [p.listen_port for p in made]


def run(quick: bool) -> int:
    rounds = 2000 if quick else 20000
    total = (64 if quick else 256) * 1024 * 1024
    upstream, upstream_port = start_upstream()
    server: ServerProcess = start_server(seed=0, prefer_real=False)
    try:
        print(f"server: {server.kind} pid {server.pid}; upstream pid {upstream.pid}")
        proxy = server.client.create_proxy("one", f"127.0.0.1:{upstream_port}")
        direct = measure_latency(upstream_port, rounds)
        proxied = measure_latency(proxy.listen_port, rounds)
        print(f"latency  direct  p50 {direct.p50_us:7.1f} µs  p99 {direct.p99_us:7.1f} µs")
        print(f"latency  proxied p50 {proxied.p50_us:7.1f} µs  p99 {proxied.p99_us:7.1f} µs")
        overhead = proxied.p50_us - direct.p50_us
        print(f"overhead p50 {overhead:.1f} µs per hop (goal ≤ 100)")
        direct_mb, proxied_mb, cpu_s_per_gb = _bulk(server.pid, upstream_port, proxy, total)
        ratio = proxied_mb / direct_mb
        print(f"bulk     direct {direct_mb:8.1f} MB/s  proxied {proxied_mb:8.1f} MB/s (best of 3)")
        print(f"bulk     ratio {ratio:.0%} of direct (goal ≥ 50%)")
        print(f"bulk     proxy process CPU {cpu_s_per_gb:.2f} s per GB carried")
        ports = _many_proxies(server.client, upstream_port, 40)
        busy = measure_many(ports, seconds=2.0 if quick else 5.0, per_proxy=1)
        print(
            f"40 proxies: {busy.ops} round trips, {busy.errors} errors, "
            f"worst {busy.worst_ms:.1f} ms"
        )
        ok = overhead <= 100 and ratio >= 0.5 and busy.errors == 0
        print("goals met" if ok else "goals NOT met")
        return 0 if ok else 1
    finally:
        server.stop()
        upstream.terminate()
        upstream.wait(timeout=10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds, less data")
    parser.add_argument("--upstream", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.upstream:
        asyncio.run(_serve_upstream())
        return 0
    return run(args.quick)


if __name__ == "__main__":
    threading.current_thread().name = "bench"
    sys.exit(main())
