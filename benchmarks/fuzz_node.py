"""The long fuzz of a live 3-node cluster, and the cost of the authenticated hello.

Fuzz: writes 50 keys (acknowledged), then sends M arbitrary framed messages from C
concurrent fake peers and clients, with and without the cluster secret
(tests/support/livefuzz.py), and checks the invariants: every node answers, the ring
views are the same, every acknowledged write reads back exactly once, no replica holds
a dot twice or outside its clock, no node counted or logged a handler bug. Prints the
messages per second (sent, and until every node answered again) and the violations
(goal: 0 over 1,000,000 messages).

Hello: the mean time to open a connection and be ready to send, over K connections:
TCP connect alone (the anchor), connect + hello (no proof: what every connection cost
before), connect + hello + proof of the secret (peers and admin clients now).

    .venv/bin/python benchmarks/fuzz_node.py [--messages 1000000] [--connections 8]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.cluster import LocalCluster, statuses  # noqa: E402
from node.client import Client  # noqa: E402
from tests.support.livefuzz import fuzz_cluster, violations, write_keys  # noqa: E402


async def connect_cost(cluster: LocalCluster, count: int) -> dict[str, float]:
    """Mean milliseconds per connection set-up: TCP only, hello, hello + proof."""
    host, port = cluster.addr("n1")
    secret = cluster.secret()
    out = {}

    async def tcp() -> None:
        _, w = await asyncio.open_connection(host, port)
        w.close()

    async def plain() -> None:
        await (await Client.connect(host, port)).close()

    async def proven() -> None:
        await (await Client.connect(host, port, secret=secret)).close()

    for name, make in (("tcp connect (anchor)", tcp), ("hello, no proof (before)", plain),
                       ("hello + proof (after)", proven)):  # fmt: skip
        await make()  # warm up
        start = time.perf_counter()
        for _ in range(count):
            await make()
        out[name] = (time.perf_counter() - start) / count * 1000
    return out


async def run(cluster: LocalCluster, messages: int, connections: int, hellos: int) -> int:
    costs = await connect_cost(cluster, hellos)
    for name, ms in costs.items():
        print(f"connection set-up, {name}: {ms:.3f} ms (mean of {hellos})")
    keys = await write_keys(cluster, 50)
    start = time.perf_counter()
    sent_s = await fuzz_cluster(cluster, keys, messages, connections, seed=16)
    await statuses(cluster)  # every node answers again
    answered_s = time.perf_counter() - start
    found = await violations(cluster, keys)
    print(f"fuzz: {messages} messages over {connections} connections to 3 nodes")
    print(f"  sent in {sent_s:.1f} s: {messages / sent_s:,.0f} messages/s")
    print(f"  every node answered after {answered_s:.1f} s: {messages / answered_s:,.0f} msg/s")
    print(f"  acknowledged writes checked: {len(keys)}")
    print(f"  violations: {len(found)}")
    for v in found[:20]:
        print(f"    {v}")
    return 1 if found else 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--messages", type=int, default=1_000_000)
    p.add_argument("--connections", type=int, default=8)
    p.add_argument("--hellos", type=int, default=300, help="connections per set-up figure")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as d:
        cluster = LocalCluster.create(Path(d) / "cluster", 3, gossip_interval_ms=100)
        try:
            cluster.start_all()
            asyncio.run(cluster.wait_ready())
            return asyncio.run(run(cluster, args.messages, args.connections, args.hellos))
        finally:
            cluster.stop_all()


if __name__ == "__main__":
    sys.exit(main())
