"""Hinted handoff with real processes: hints are delivered, and survive kill -9."""

from __future__ import annotations

import asyncio
from pathlib import Path

from node.client import Client
from tests.support.cluster import (
    eventually,
    keys_with_primary,
    local_values,
    ring_of,
    running_cluster,
    statuses,
)

FAST = {"handoff_interval_ms": 100, "probe_interval_ms": 100, "antientropy_interval_ms": 0}


async def write_all(addr: tuple[str, int], keys: list[str], value: bytes) -> None:
    c = await Client.connect(*addr)
    try:
        await asyncio.gather(*(c.put(k, value) for k in keys))
    finally:
        await c.close()


def hint_total(st: dict[str, dict], target: str) -> int:
    return sum(s["hints"].get(target, 0) for s in st.values())


def test_stopped_primary_gets_every_hint_after_restart(tmp_path: Path) -> None:
    with running_cluster(tmp_path, 5, **FAST) as cluster:

        async def go() -> None:
            ring = await ring_of(cluster)
            keys = keys_with_primary(ring, "n2", 30, "handoff")
            cluster.stop("n2")
            await write_all(cluster.addr("n1"), keys, b"while-n2-was-down")
            others = ["n1", "n3", "n4", "n5"]
            assert hint_total(await statuses(cluster, others), "n2") == len(keys)
            cluster.start("n2")
            await cluster.wait_ready(["n2"])

            async def delivered() -> bool:
                st = await statuses(cluster, others)
                return hint_total(st, "n2") == 0

            await eventually(delivered, 20)
            got = await local_values(cluster, "n2", keys)
            assert got == {k: [b"while-n2-was-down"] for k in keys}

        asyncio.run(go())


def test_hints_survive_kill_9_of_the_fallback(tmp_path: Path) -> None:
    with running_cluster(tmp_path, 5, **FAST) as cluster:

        async def go() -> None:
            ring = await ring_of(cluster)
            keys = keys_with_primary(ring, "n2", 20, "survive")
            cluster.stop("n2")
            await write_all(cluster.addr("n1"), keys, b"hinted")
            others = ["n1", "n3", "n4", "n5"]
            before = {
                n: s["hints"].get("n2", 0) for n, s in (await statuses(cluster, others)).items()
            }
            holders = [n for n, count in before.items() if count]
            assert holders, "no fallback holds hints for n2"
            for n in holders:
                cluster.kill(n)
                cluster.start(n)
            await cluster.wait_ready(holders)
            after = {
                n: s["hints"].get("n2", 0) for n, s in (await statuses(cluster, holders)).items()
            }
            assert after == {n: before[n] for n in holders}
            cluster.start("n2")
            await cluster.wait_ready(["n2"])
            await eventually(lambda: _none_left(cluster, others), 20)
            assert await local_values(cluster, "n2", keys) == {k: [b"hinted"] for k in keys}

        asyncio.run(go())


async def _none_left(cluster, names: list[str]) -> bool:  # type: ignore[no-untyped-def]
    return hint_total(await statuses(cluster, names), "n2") == 0
