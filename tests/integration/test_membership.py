"""Gossip membership with real processes: discovery from one seed, join, leave, pause."""

from __future__ import annotations

import asyncio
from pathlib import Path

from harness.cluster import LocalCluster
from node.client import Client
from node.ring import Member, Ring
from tests.support.cluster import eventually, local_values, running_cluster, statuses

FAST = {
    "gossip_interval_ms": 100,
    "seed_interval_ms": 500,
    "probe_interval_ms": 100,
    "handoff_interval_ms": 100,
    "request_timeout_ms": 500,
    "antientropy_interval_ms": 0,
}


async def one_view(cluster: LocalCluster, names: list[str]) -> Ring | None:
    """The ring every named node reports, if they all report the same one with `names`."""
    st = await statuses(cluster, names)
    views = {(tuple(s["members"]), tuple(s["ring"])) for s in st.values()}
    if len(views) != 1:
        return None
    members, owners = views.pop()
    if sorted(members) != sorted(names):
        return None
    ring = Ring([Member(m) for m in members], len(owners))
    assert ring.owners == owners, "the test's ring model disagrees with the nodes'"
    return ring


async def converged(cluster: LocalCluster, names: list[str], timeout_s: float = 20) -> Ring:
    found: list[Ring] = []

    async def check() -> bool:
        ring = await one_view(cluster, names)
        found[:] = [ring] if ring else []
        return bool(found)

    await eventually(check, timeout_s)
    return found[0]


async def write(cluster: LocalCluster, via: str, keys: list[str], value: bytes) -> None:
    c = await Client.connect(*cluster.addr(via))
    try:
        await asyncio.gather(*(c.put(k, value) for k in keys))
    finally:
        await c.close()


async def all_on(cluster: LocalCluster, ring: Ring, keys: list[str], value: bytes) -> bool:
    """Whether every primary of every key holds `value` in its own replica."""
    by_node: dict[str, list[str]] = {}
    for k in keys:
        for p in ring.preference_list(k, 3):
            by_node.setdefault(p, []).append(k)
    for node, ks in sorted(by_node.items()):
        got = await local_values(cluster, node, ks)
        if any(v != [value] for v in got.values()):
            return False
    return True


def test_nodes_that_know_one_seed_converge_then_a_sixth_joins_and_gets_its_keys(
    tmp_path: Path,
) -> None:
    with running_cluster(tmp_path, 5, seed_nodes=["n1"], **FAST) as cluster:

        async def go() -> None:
            five = [f"n{i}" for i in range(1, 6)]
            before = await converged(cluster, five)
            c = await Client.connect(*cluster.addr("n4"))
            view = await c.members()
            await c.close()
            assert view["history_length"] == 5 and view["tombstones"] == []
            keys = [f"join-{i}" for i in range(150)]
            await write(cluster, "n2", keys, b"v")

            cluster.add_node("n6")
            cluster.start("n6")
            await cluster.wait_ready(["n6"])
            after = await converged(cluster, [*five, "n6"])
            assert list(after.members[:5]) == list(before.members), "n6 joins at the end"
            moved = [k for k in keys if "n6" in after.preference_list(k, 3)]
            assert moved, "some keys must now have n6 as a primary"

            async def n6_has_them() -> bool:
                got = await local_values(cluster, "n6", moved)
                return all(v == [b"v"] for v in got.values())

            await eventually(n6_has_them, 20)

        asyncio.run(go())


def test_a_leaving_node_is_tombstoned_and_its_keys_reach_the_new_primaries(
    tmp_path: Path,
) -> None:
    with running_cluster(tmp_path, 5, **FAST) as cluster:

        async def go() -> None:
            names = [f"n{i}" for i in range(1, 6)]
            before = await converged(cluster, names)
            keys = [
                k
                for k in (f"leave-{i}" for i in range(200))
                if "n5" in before.preference_list(k, 3)
            ]
            await write(cluster, "n1", keys, b"v")
            c = await Client.connect(*cluster.addr("n2"), secret=cluster.secret())
            view = await c.leave("n5")
            await c.close()
            assert view["tombstones"] == ["n5"] and "n5" not in view["members"]
            after = await converged(cluster, names[:4])
            await eventually(lambda: all_on(cluster, after, keys, b"v"), 20)
            # n5 kept running and gossiping all along, yet it was not re-learned.
            st = await statuses(cluster)
            assert all("n5" not in s["members"] for s in st.values())
            # Only an explicit join brings it back, as the newest member.
            c = await Client.connect(*cluster.addr("n5"), secret=cluster.secret())
            await c.join("{}:{}".format(*cluster.addr("n3")))
            await c.close()
            again = await converged(cluster, names)
            assert again.members[-1] == Member("n5")

        asyncio.run(go())


def test_a_paused_node_is_routed_around_and_used_again_after_it_resumes(
    tmp_path: Path,
) -> None:
    with running_cluster(tmp_path, 5, **FAST) as cluster:

        async def go() -> None:
            names = [f"n{i}" for i in range(1, 6)]
            others = [n for n in names if n != "n3"]
            ring = await converged(cluster, names)
            cluster.pause("n3")

            async def n3_down_everywhere() -> bool:
                st = await statuses(cluster, others)
                return all("n3" in s["down"] for s in st.values())

            await eventually(n3_down_everywhere, 20)
            keys = [
                k for k in (f"pause-{i}" for i in range(100)) if "n3" in ring.preference_list(k, 3)
            ]
            await write(cluster, "n1", keys[:10], b"while-paused")
            cluster.resume("n3")

            async def n3_up_everywhere() -> bool:
                st = await statuses(cluster)
                return all("n3" not in s["down"] for s in st.values())

            await eventually(n3_up_everywhere, 20)
            await write(cluster, "n1", keys[10:], b"after-resume")
            await eventually(lambda: all_on(cluster, ring, keys[10:], b"after-resume"), 20)
            await eventually(lambda: all_on(cluster, ring, keys[:10], b"while-paused"), 20)

        asyncio.run(go())
