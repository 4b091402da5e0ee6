"""Throughput and latency of a local 5-node cluster, next to the physical floor.

Drives the cluster with C concurrent clients (spread over P client processes):
50/50 get/put over 1,000 keys, 100-byte values, for T seconds. A put carries
the newest context any client of its process read for that key, so siblings
stay few. In the same run it measures the floor: the p50 of one fsync'd
SQLite insert and the p50 of a loopback TCP round trip.

    .venv/bin/python benchmarks/node_throughput.py [--clients 64] [--procs 2] [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import random
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.cluster import LocalCluster  # noqa: E402
from node.client import Client  # noqa: E402
from node.storage import SQLiteStorage  # noqa: E402

KEYS = 1000
VALUE = b"v" * 100


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else float("nan")


async def drive(addrs: list[tuple[str, int]], clients: int, seconds: float, seed: int) -> dict:
    rng = random.Random(seed)
    conns = [await Client.connect(*addrs[i % len(addrs)]) for i in range(clients)]
    contexts: dict[str, bytes] = {}
    lat: dict[str, list[float]] = {"get": [], "put": []}
    errors = 0
    stop_at = time.perf_counter() + seconds

    async def worker(c: Client) -> None:
        nonlocal errors
        while time.perf_counter() < stop_at:
            key = f"k{rng.randrange(KEYS)}"
            op = "get" if rng.random() < 0.5 else "put"
            t = time.perf_counter()
            try:
                if op == "get":
                    contexts[key] = (await c.get(key)).context
                else:
                    await c.put(key, VALUE, contexts.get(key, b""))
            except Exception:  # noqa: BLE001 - counted, not fatal
                errors += 1
                continue
            lat[op].append(time.perf_counter() - t)

    await asyncio.gather(*(worker(c) for c in conns))
    for c in conns:
        await c.close()
    return {"lat": lat, "errors": errors}


async def unloaded(addr: tuple[str, int], ops: int = 300) -> dict[str, list[float]]:
    """One client, one request at a time: latency without queueing."""
    c = await Client.connect(*addr)
    lat: dict[str, list[float]] = {"get": [], "put": []}
    for i in range(ops):
        key = f"u{i % 50}"
        t = time.perf_counter()
        r = await c.get(key)
        lat["get"].append(time.perf_counter() - t)
        t = time.perf_counter()
        await c.put(key, VALUE, r.context)
        lat["put"].append(time.perf_counter() - t)
    await c.close()
    return lat


def _proc_main(addrs: list[list], clients: int, seconds: float, seed: int, q: mp.Queue) -> None:
    q.put(json.dumps(asyncio.run(drive([tuple(a) for a in addrs], clients, seconds, seed))))


def fsync_floor(n: int = 200) -> float:
    with tempfile.TemporaryDirectory() as d:
        s = SQLiteStorage(Path(d) / "floor.db")
        times = []
        for i in range(n):
            t = time.perf_counter()
            s.write([("", f"k{i}", VALUE)])
            times.append(time.perf_counter() - t)
        s.close()
    return statistics.median(times)


def loopback_floor(n: int = 2000) -> float:
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)

    def echo() -> None:
        conn, _ = srv.accept()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        while data := conn.recv(4096):
            conn.sendall(data)
        conn.close()

    th = threading.Thread(target=echo, daemon=True)
    th.start()
    c = socket.create_connection(srv.getsockname())
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    times = []
    for _ in range(n):
        t = time.perf_counter()
        c.sendall(VALUE)
        got = 0
        while got < len(VALUE):
            got += len(c.recv(4096))
        times.append(time.perf_counter() - t)
    c.close()
    th.join(timeout=5)
    srv.close()
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--clients", type=int, default=64, help="concurrent clients in total")
    ap.add_argument("--procs", type=int, default=2, help="client processes")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--nodes", type=int, default=5)
    args = ap.parse_args()

    fs, rt = fsync_floor(), loopback_floor()
    with tempfile.TemporaryDirectory() as d:
        cluster = LocalCluster.create(d, args.nodes)
        cluster.start_all()
        try:
            asyncio.run(cluster.wait_ready())
            idle = asyncio.run(unloaded(cluster.addr("n1")))
            addrs = [list(cluster.addr(n)) for n in cluster.nodes]
            q: mp.Queue = mp.Queue()
            per = max(1, args.clients // args.procs)
            procs = [mp.Process(target=_proc_main, args=(addrs, per, args.seconds, i, q))
                     for i in range(args.procs)]  # fmt: skip
            for p in procs:
                p.start()
            results = [json.loads(q.get(timeout=args.seconds + 120)) for _ in procs]
            for p in procs:
                p.join()
        finally:
            cluster.stop_all()

    gets = [x for r in results for x in r["lat"]["get"]]
    puts = [x for r in results for x in r["lat"]["put"]]
    both = gets + puts
    errors = sum(r["errors"] for r in results)
    ms = 1000
    print(f"cluster: {args.nodes} nodes, N=3 R=2 W=2; {per * args.procs} clients in "
          f"{args.procs} processes; {args.seconds:.0f}s; 50/50 get/put, "
          f"{KEYS} keys, 100 B values")  # fmt: skip
    print(f"throughput: {len(both) / args.seconds:,.0f} ops/s  ({errors} errors)")
    print(f"latency all: p50 {pct(both, 0.5) * ms:.2f} ms  p99 {pct(both, 0.99) * ms:.2f} ms")
    print(f"latency get: p50 {pct(gets, 0.5) * ms:.2f} ms  p99 {pct(gets, 0.99) * ms:.2f} ms")
    print(f"latency put: p50 {pct(puts, 0.5) * ms:.2f} ms  p99 {pct(puts, 0.99) * ms:.2f} ms")
    print(f"unloaded (1 client, 1 request at a time): get p50 {pct(idle['get'], .5) * ms:.2f} ms"
          f"  put p50 {pct(idle['put'], .5) * ms:.2f} ms")  # fmt: skip
    floor = fs + 2 * rt
    print(f"floor (same run): fsync'd SQLite insert p50 {fs * ms:.3f} ms; "
          f"loopback round trip p50 {rt * ms:.3f} ms; "
          f"fsync + 2 RTT = {floor * ms:.3f} ms")  # fmt: skip
    print(f"unloaded put p50 / floor = {pct(idle['put'], .5) / floor:.1f}x (goal <= 3x); "
          f"loaded put p50 / floor = {pct(puts, .5) / floor:.1f}x")  # fmt: skip


if __name__ == "__main__":
    main()
