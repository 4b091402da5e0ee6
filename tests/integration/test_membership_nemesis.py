"""Membership under the proxy mesh: seeded clusters, concurrent joins, and the nemesis's
join / leave / replace faults verified by every node's ring view."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import pytest

from harness.cluster import statuses, wait_one_ring
from harness.faults import Fault, FaultKind
from harness.lab import Lab

pytestmark = pytest.mark.timeout(90)

FAST = {"gossip_interval_ms": 100, "seed_interval_ms": 200, "probe_interval_ms": 100,
        "request_timeout_ms": 500}  # fmt: skip


def test_two_nodes_joining_through_different_seeds_at_once_end_in_one_ring(
    tmp_path: Path,
) -> None:
    async def go() -> None:
        lab = await Lab.start(tmp_path, 3, FAST, ("join",), 1, seeds=2, spares=2)
        try:
            cluster, mesh = lab.cluster, lab.mesh
            assert mesh is not None
            # n4 knows only seed n1, n5 only seed n2 (both through their proxies).
            cluster.write_config("n4", mesh.addr_for, seed_nodes=["n1"])
            cluster.write_config("n5", mesh.addr_for, seed_nodes=["n2"])
            assert (
                '"127.0.0.1:{}"'.format(mesh.link_addr(("n5", "n2"))[1])
                in (cluster.node_dir("n5") / "node.toml").read_text()
            )
            cluster.start("n4")
            cluster.start("n5")
            await cluster.wait_ready(["n4", "n5"])
            await wait_one_ring(cluster, ["n1", "n2", "n3", "n4", "n5"])
            st = await statuses(cluster, ["n4"])
            assert sorted(st["n4"]["members"]) == ["n1", "n2", "n3", "n4", "n5"]
            # They joined by hand, not by a fault: the heal keeps them as members.
            lab.nemesis.membership.set_up(sorted(cluster.nodes), [], ["n1", "n2"])
        finally:
            await lab.stop()

    asyncio.run(go())


def test_join_leave_replace_faults_are_verified_by_ring_views_and_healed(
    tmp_path: Path,
) -> None:
    async def go() -> None:
        lab = await Lab.start(tmp_path, 3, FAST, ("join", "leave"), 1, seeds=1, spares=1)
        nem = lab.nemesis
        try:
            join = Fault(1, FaultKind.JOIN, 0, 1, ("n4",))
            got = await nem.start(join)
            assert sorted(got["members"]) == ["n1", "n2", "n3", "n4"]
            leave = Fault(2, FaultKind.LEAVE, 0, 1, ("n2",))
            got = await nem.start(leave)
            assert sorted(got["members"]) == ["n1", "n3", "n4"]
            st = await statuses(lab.cluster, ["n1", "n2", "n3", "n4"])
            assert all(sorted(s["members"]) == ["n1", "n3", "n4"] for s in st.values())
            # n4 cannot go first: n1 and n3 alone would be below N=3, which no node allows
            await nem.stop(leave)  # n2 rejoins
            await nem.stop(join)  # n4 leaves and stops: the initial membership again
            await nem.heal_all()
            await wait_one_ring(lab.cluster, ["n1", "n2", "n3"])
            replace = Fault(3, FaultKind.REPLACE, 0, 1, ("n3", "n4"))
            got = await nem.start(replace)
            assert sorted(got["members"]) == ["n1", "n2", "n4"]
            await nem.stop(replace)
            await wait_one_ring(lab.cluster, ["n1", "n2", "n3"])
            assert lab.cluster.nodes["n4"].pid is None, "the spare is stopped again"
        finally:
            await lab.stop()

    asyncio.run(go())


def test_generated_membership_faults_name_spares_and_non_seeds() -> None:
    from harness.generator import ScheduleOptions, fault_schedule

    opts = ScheduleOptions(seeds=("n1",), spares=("n4",))
    faults = fault_schedule(["join", "leave", "replace"], ["n1", "n2", "n3"], 60,
                            random.Random(3), opts)  # fmt: skip
    assert faults
    for f in faults:
        if f.kind is FaultKind.JOIN:
            assert f.targets == ("n4",)
        elif f.kind is FaultKind.LEAVE:
            assert f.targets[0] in ("n2", "n3")
        else:
            assert f.targets[0] in ("n2", "n3") and f.targets[1] == "n4"
