"""Scenarios shared by integration tests and planted-bug (quality) tests.

Each scenario runs against a real cluster and returns what went wrong as data
(an empty list means the node behaved). Quality tests run the same scenario on
the correct node (expect []) and with an intercept planting a bug (expect the
right anomaly).
"""

from __future__ import annotations

import asyncio

from harness.cluster import LocalCluster
from node.client import Client
from tests.support.cluster import keys_with_primary, ring_of


async def amnesia(cluster: LocalCluster, node: str = "n1", count: int = 10) -> list[str]:
    """Write through `node`, wipe its data, restart it, write again: both writes must survive."""
    ring = await ring_of(cluster)
    keys = keys_with_primary(ring, node, count, "amnesia")
    c = await Client.connect(*cluster.addr(node))
    await asyncio.gather(*(c.put(k, b"before-wipe") for k in keys))
    await c.close()
    cluster.stop(node)
    cluster.wipe(node)
    cluster.start(node)
    await cluster.wait_ready([node])
    c = await Client.connect(*cluster.addr(node))
    try:
        await asyncio.gather(*(c.put(k, b"after-wipe") for k in keys))
        lost = []
        for k in keys:
            got = sorted((await c.get(k)).siblings)
            if got != [b"after-wipe", b"before-wipe"]:
                lost.append(f"{k}: read {got}, want both acknowledged blind writes")
        return lost
    finally:
        await c.close()


async def concurrent_blind_puts(cluster: LocalCluster, writers: int = 5) -> list[str]:
    """Blind puts through different coordinators must all come back as siblings."""
    clients = [await Client.connect(*cluster.addr(n)) for n in list(cluster.nodes)[:writers]]
    problems = []
    try:
        for round_ in range(3):
            key = f"blind-{round_}"
            values = [f"w{i}".encode() for i in range(writers)]
            await asyncio.gather(*(c.put(key, v) for c, v in zip(clients, values, strict=True)))
            got = sorted((await clients[0].get(key)).siblings)
            if got != values:
                problems.append(f"{key}: read {got}, want all {len(values)} siblings")
        return problems
    finally:
        for c in clients:
            await c.close()


async def crash_after_ack(cluster: LocalCluster, count: int = 20) -> list[str]:
    """Acknowledged puts, then kill -9 every node at once: after restart every put is there."""
    c = await Client.connect(*cluster.addr("n1"), timeout_s=20)
    keys = [f"durable-{i}" for i in range(count)]
    await asyncio.gather(*(c.put(k, b"acked") for k in keys))
    await c.close()
    for name in cluster.nodes:
        cluster.kill(name)
    cluster.start_all()
    await cluster.wait_ready()
    c = await Client.connect(*cluster.addr("n2"))
    try:
        missing = []
        for k in keys:
            got = (await c.get(k)).siblings
            if got != [b"acked"]:
                missing.append(f"{k}: read {got} after the crash, want [b'acked']")
        return missing
    finally:
        await c.close()
