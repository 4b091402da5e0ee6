"""Merkle anti-entropy with real processes: replicas converge through it alone, and
only the keys that differ travel.

Every other repair path is off: read repair is disabled and nothing reads the
keys through the coordinator, hinted handoff would first run after ten
minutes, and membership is static (no data moves).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from harness.cluster import LocalCluster
from node.client import Client
from node.ring import Ring
from tests.support.cluster import eventually, keys_with_primary, ring_of, running_cluster, statuses

INTERVAL_MS = 200
BOUND_S = 10.0
"""Convergence bound after the heal: 50 exchange intervals."""
SETTINGS = {
    "read_repair": False,
    "handoff_interval_ms": 600_000,
    "antientropy_interval_ms": INTERVAL_MS,
    "probe_interval_ms": 100,
}


async def write_all(addr: tuple[str, int], keys: list[str], value: bytes) -> None:
    """Blind puts of `value` to every key, concurrently, through one node."""
    c = await Client.connect(*addr)
    try:
        await asyncio.gather(*(c.put(k, value) for k in keys))
    finally:
        await c.close()


async def replicas_hold(
    cluster: LocalCluster, ring: Ring, keys: list[str], want: list[bytes], skip: str = ""
) -> bool:
    """True iff every primary of every key (but `skip`) holds exactly the values `want`."""
    clients: dict[str, Client] = {}
    try:
        for key in keys:
            for node in ring.preference_list(key, 3):
                if node == skip:
                    continue
                if node not in clients:
                    clients[node] = await Client.connect(*cluster.addr(node))
                if sorted((await clients[node].local_get(key))["siblings"]) != want:
                    return False
        return True
    finally:
        for c in clients.values():
            await c.close()


async def roots_agree(cluster: LocalCluster, ring: Ring) -> bool:
    """True iff, for every partition, all its replicas report the same Merkle root."""
    roots = {n: s["merkle_roots"] for n, s in (await statuses(cluster)).items()}
    return all(
        len({roots[n][str(p)] for n in ring.walk(p)[:3]}) == 1 for p in range(ring.partitions)
    )


async def counters(cluster: LocalCluster, names: list[str] | None = None) -> dict[str, dict]:
    return {n: s["counters"] for n, s in (await statuses(cluster, names)).items()}


def delta(after: dict[str, dict], before: dict[str, dict], name: str) -> dict[str, int]:
    """Per node, how much counter `name` grew (a node missing from `before` started at 0)."""
    return {n: c.get(name, 0) - before.get(n, {}).get(name, 0) for n, c in after.items()}


def test_a_restarted_replica_gets_exactly_the_keys_it_missed(tmp_path: Path) -> None:
    with running_cluster(tmp_path, 5, **SETTINGS) as cluster:

        async def go() -> None:
            ring = await ring_of(cluster)
            common = keys_with_primary(ring, "n2", 100, "common")
            await write_all(cluster.addr("n1"), common, b"before")
            await eventually(lambda: replicas_hold(cluster, ring, common, [b"before"]), 10)

            cluster.stop("n2")
            missed = keys_with_primary(ring, "n2", 40, "missed")
            await write_all(cluster.addr("n1"), missed, b"while-n2-was-down")
            late = [b"while-n2-was-down"]
            await eventually(lambda: replicas_hold(cluster, ring, missed, late, skip="n2"), 10)
            others = ["n1", "n3", "n4", "n5"]
            before = await counters(cluster, others)

            cluster.start("n2")
            await cluster.wait_ready(["n2"])
            await eventually(lambda: replicas_hold(cluster, ring, missed, late), BOUND_S)
            await eventually(lambda: roots_agree(cluster, ring), BOUND_S)
            assert await replicas_hold(cluster, ring, common, [b"before"])

            after = await counters(cluster)
            repaired = delta(after, before, "ae_keys_repaired")
            assert repaired == {"n1": 0, "n2": len(missed), "n3": 0, "n4": 0, "n5": 0}
            sent = sum(delta(after, before, "ae_keys_sent").values())
            # Each missed key travels once from each of at most two replicas that hold it;
            # none of the 100 keys n2 already had travels at all.
            assert len(missed) <= sent <= 2 * len(missed), sent
            assert after["n2"]["ae_exchanges"] > 0

        asyncio.run(go())


def test_concurrent_siblings_written_during_an_outage_converge(tmp_path: Path) -> None:
    with running_cluster(tmp_path, 5, **SETTINGS) as cluster:

        async def go() -> None:
            ring = await ring_of(cluster)
            keys = keys_with_primary(ring, "n3", 30, "sib")
            await write_all(cluster.addr("n1"), keys, b"first")
            await eventually(lambda: replicas_hold(cluster, ring, keys, [b"first"]), 10)
            cluster.stop("n3")
            await write_all(cluster.addr("n4"), keys, b"second")  # blind: a concurrent sibling
            both = [b"first", b"second"]
            await eventually(lambda: replicas_hold(cluster, ring, keys, both, skip="n3"), 10)
            cluster.start("n3")
            await cluster.wait_ready(["n3"])
            await eventually(lambda: replicas_hold(cluster, ring, keys, both), BOUND_S)
            st = (await counters(cluster, ["n3"]))["n3"]
            assert st["ae_keys_repaired"] == len(keys)

        asyncio.run(go())
