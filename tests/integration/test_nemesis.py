"""The nemesis against a real 5-node cluster meshed through a real proxy server.

One cluster (node processes) and one Toxiproxy server process serve the whole
module; every test heals what it did, and the fixture stops every process it
started by pid. Traffic checks are real protocol exchanges (hello + ping, gets
and puts) through the same proxies the nodes use. Waits are deadlines on
conditions; timing asserts are lower bounds.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.clock import ClockControl, ClockUnavailable, measure_offset_s
from harness.cluster import ClusterError, LocalCluster, pid_alive
from harness.mesh import Mesh, answers, leaking, silent
from harness.nemesis import Fault, FaultError, FaultKind, Nemesis, NemesisError
from harness.shm import remove_shm, shm_paths
from node.client import Client

pytestmark = pytest.mark.timeout(60)

SILENCE_S = 0.5
READY_S = 20.0


@dataclass
class Lab:
    cluster: LocalCluster
    mesh: Mesh
    clock: ClockControl | None
    no_clock_why: str

    def nemesis(self, seed: int = 7) -> Nemesis:
        return Nemesis(self.cluster, self.mesh, self.clock, random.Random(seed))


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    tmp: Path = tmp_path_factory.mktemp("nemesis")
    cluster = LocalCluster.create(tmp / "cluster", 5)
    mesh = Mesh.create(cluster, seed=1)
    clock, why = None, ""
    try:
        clock = ClockControl(cluster)  # finds libfaketime and installs it in node_env
    except ClockUnavailable as e:
        why = str(e)
    try:
        cluster.start_all()
        asyncio.run(cluster.wait_ready(timeout_s=READY_S))
        if clock is not None:
            clock.track()
        yield Lab(cluster, mesh, clock, why)
    finally:
        cluster.stop_all()
        mesh.close()
        if clock is not None:
            assert clock.cleanup() == [], "node processes outlived stop_all"
            for pid in cluster.started_pids:  # restarts the clock did not track
                remove_shm(pid)


async def assert_healed(lab: Lab) -> None:
    """Every proxy is clean and every node answers, directly and through its client proxy."""
    assert await asyncio.to_thread(lab.mesh.dirty) == {}
    names = sorted(lab.cluster.nodes)
    assert await silent({n: lab.cluster.addr(n) for n in names}, READY_S) == []
    assert await silent({n: lab.mesh.client_addr(n) for n in names}, READY_S) == []


def sides(cut: list[list[str]]) -> tuple[set[str], set[str]]:
    return {a for a, _ in cut}, {b for _, b in cut}


def test_mesh_routes_every_peer_through_its_own_proxy(lab: Lab) -> None:
    config = (lab.cluster.node_dir("n1") / "node.toml").read_text()
    for peer in ("n2", "n3", "n4", "n5"):
        port = lab.mesh.link_addr(("n1", peer))[1]
        assert f'addr = "127.0.0.1:{port}"' in config
    assert f'addr = "127.0.0.1:{lab.cluster.nodes["n1"].port}"' in config  # itself: direct
    assert len(lab.mesh.proxies) == 5 * 4 + 5


def test_mesh_refuses_a_running_cluster_and_routes_a_seeded_one(lab: Lab, tmp_path: Path) -> None:
    with pytest.raises(ClusterError, match="before starting"):
        Mesh.create(lab.cluster)
    gossiping = LocalCluster.create(tmp_path / "gossip", 3, seed_nodes=["n1"])
    with Mesh.create(gossiping) as mesh:
        config = (gossiping.node_dir("n2") / "node.toml").read_text()
        assert config.count("[[members]]") == 1, "only itself: the rest is found by gossip"
        for peer in ("n1", "n3"):  # every peer routed through its proxy all the same
            port = mesh.link_addr(("n2", peer))[1]
            assert f'addr = "127.0.0.1:{port}"' in config.split("[[routes]]", 1)[1]


def test_partition_halves_cuts_both_ways_and_heals(lab: Lab) -> None:
    async def scenario() -> None:
        async with lab.nemesis() as nemesis:
            fault = Fault(1, FaultKind.PARTITION, 0, 10, params={"shape": "halves"})
            details = await nemesis.start(fault)
            cut = {(a, b) for a, b in details["links"]}
            small, big = sides(details["links"])
            assert len(cut) == 2 * 2 * 3 and len(small | big) == 5
            assert all((b, a) in cut for a, b in cut)
            assert await leaking(lab.mesh, cut, SILENCE_S) == []
            inside = {(a, b) for a in big for b in big if a != b and (a, b) not in cut}
            assert await leaking(lab.mesh, inside, SILENCE_S) == sorted(inside)
            await nemesis.stop(fault)
            assert await leaking(lab.mesh, cut, SILENCE_S) == sorted(cut)
            assert nemesis.active == {}
        await assert_healed(lab)

    asyncio.run(scenario())


def test_one_way_partition_cuts_one_direction_only(lab: Lab) -> None:
    async def scenario() -> None:
        async with lab.nemesis(seed=3) as nemesis:
            fault = Fault(2, FaultKind.PARTITION, 0, 10, params={"shape": "one-way"})
            details = await nemesis.start(fault)
            cut = {(a, b) for a, b in details["links"]}
            reverse = {(b, a) for a, b in cut}
            assert cut and not cut & reverse
            assert await leaking(lab.mesh, cut, SILENCE_S) == []
            assert await leaking(lab.mesh, reverse, SILENCE_S) == sorted(reverse)
            await nemesis.stop(fault)
        await assert_healed(lab)

    asyncio.run(scenario())


def test_kill_then_restart(lab: Lab) -> None:
    async def scenario() -> None:
        async with lab.nemesis() as nemesis:
            fault = Fault(3, FaultKind.KILL, 0, 1, targets=("n2",))
            details = await nemesis.start(fault)
            old = details["pids"]["n2"]
            assert not pid_alive(old) and lab.cluster.nodes["n2"].pid is None
            if lab.clock is not None:
                assert not any(p.exists() for p in shm_paths(old))
            assert not await answers(lab.cluster.addr("n2"), SILENCE_S)
            details = await nemesis.stop(fault)
            assert details["pids"]["n2"] != old and pid_alive(details["pids"]["n2"])
        await assert_healed(lab)

    asyncio.run(scenario())


def test_pause_then_resume(lab: Lab) -> None:
    async def scenario() -> None:
        async with lab.nemesis() as nemesis:
            fault = Fault(4, FaultKind.PAUSE, 0, 1, targets=("n3",))
            await nemesis.start(fault)
            assert lab.cluster.nodes["n3"].paused
            assert not await answers(lab.cluster.addr("n3"), SILENCE_S)
            await nemesis.stop(fault)
            assert await answers(lab.cluster.addr("n3"), READY_S)
        await assert_healed(lab)

    asyncio.run(scenario())


def test_latency_delays_a_client_request(lab: Lab) -> None:
    async def scenario() -> None:
        params = {"latency_ms": 300, "links": [["client", "n4"]]}
        async with lab.nemesis() as nemesis:
            await nemesis.start(Fault(5, FaultKind.LATENCY, 0, 5, params=params))
            client = await Client.connect(*lab.mesh.client_addr("n4"), timeout_s=READY_S)
            try:
                started = time.monotonic()
                await client.get("latency-key")
                assert time.monotonic() - started >= 0.3
            finally:
                await client.close()
        await assert_healed(lab)

    asyncio.run(scenario())


def test_bandwidth_throttles_a_large_put(lab: Lab) -> None:
    async def scenario() -> None:
        params = {"rate_kbps": 10, "links": [["client", "n5"]]}
        async with lab.nemesis() as nemesis:
            details = await nemesis.start(Fault(6, FaultKind.BANDWIDTH, 0, 5, params=params))
            assert details["links"] == [["client", "n5"]]
            client = await Client.connect(*lab.mesh.client_addr("n5"), timeout_s=READY_S)
            try:
                started = time.monotonic()
                await client.put("bandwidth-key", b"x" * 6000)
                assert time.monotonic() - started >= 0.4  # 6 KB at 10 KB/s
            finally:
                await client.close()
        await assert_healed(lab)

    asyncio.run(scenario())


def test_clock_bump_shows_in_status_wall_ms(lab: Lab) -> None:
    if lab.clock is None:
        print(f"skipping: {lab.no_clock_why}")
        pytest.skip(lab.no_clock_why)

    async def scenario() -> None:
        async with lab.nemesis() as nemesis:
            bump = Fault(7, FaultKind.CLOCK, 0, 5, ("n1",), {"op": "bump", "delta_s": 5})
            details = await nemesis.start(bump)
            assert details["skew_s"]["n1"] == pytest.approx(5, abs=0.5)
            assert await measure_offset_s(*lab.cluster.addr("n1")) == pytest.approx(5, abs=0.5)
            assert await measure_offset_s(*lab.cluster.addr("n2")) == pytest.approx(0, abs=0.5)
            back = Fault(8, FaultKind.CLOCK, 0, 5, ("n2",), {"op": "bump", "delta_s": -3})
            assert (await nemesis.start(back))["skew_s"]["n2"] == pytest.approx(-3, abs=0.5)
            await nemesis.stop(bump)
            assert await measure_offset_s(*lab.cluster.addr("n1")) == pytest.approx(0, abs=0.5)
        await assert_healed(lab)
        assert await measure_offset_s(*lab.cluster.addr("n2")) == pytest.approx(0, abs=0.5)

    asyncio.run(scenario())


def test_clock_strobe_flips_between_offsets(lab: Lab) -> None:
    if lab.clock is None:
        print(f"skipping: {lab.no_clock_why}")
        pytest.skip(lab.no_clock_why)

    async def scenario() -> None:
        params = {"op": "strobe", "delta_s": 4, "period_ms": 100}
        async with lab.nemesis() as nemesis:
            await nemesis.start(Fault(9, FaultKind.CLOCK, 0, 30, ("n5",), params))
            seen: set[int] = set()
            deadline = time.monotonic() + 10
            while seen != {0, 4} and time.monotonic() < deadline:
                seen.add(round(await measure_offset_s(*lab.cluster.addr("n5"))))
            assert seen == {0, 4}
        await assert_healed(lab)
        assert await measure_offset_s(*lab.cluster.addr("n5")) == pytest.approx(0, abs=0.5)

    asyncio.run(scenario())


def test_heal_all_restores_everything_at_once(lab: Lab) -> None:
    async def scenario() -> None:
        nemesis = lab.nemesis(seed=11)
        faults = [
            Fault(10, FaultKind.PARTITION, 0, 9, params={"shape": "majorities-ring"}),
            Fault(11, FaultKind.PAUSE, 1, 9, ("n1",)),
            Fault(12, FaultKind.KILL, 2, 9, ("n2",)),
            Fault(13, FaultKind.LATENCY, 3, 9, ("n3",), {"latency_ms": 50, "jitter_ms": 10}),
        ]
        if lab.clock is not None:
            faults.append(Fault(14, FaultKind.CLOCK, 4, 9, ("n4",), {"delta_s": 30}))
        for fault in faults:
            await nemesis.start(fault)
        assert await asyncio.to_thread(lab.mesh.dirty) != {}
        await nemesis.heal_all()
        await nemesis.heal_all()  # idempotent
        assert nemesis.active == {} and not nemesis.killed
        assert not any(p.paused for p in lab.cluster.nodes.values())
        await assert_healed(lab)
        if lab.clock is not None:
            assert await measure_offset_s(*lab.cluster.addr("n4")) == pytest.approx(0, abs=0.5)

    asyncio.run(scenario())


def test_context_manager_heals_on_error(lab: Lab) -> None:
    async def scenario() -> None:
        with pytest.raises(RuntimeError, match="boom"):
            async with lab.nemesis() as nemesis:
                await nemesis.start(Fault(20, FaultKind.PARTITION, 0, 1, params={"shape": "one"}))
                await nemesis.start(Fault(21, FaultKind.PAUSE, 0, 1))
                raise RuntimeError("boom")
        await assert_healed(lab)

    asyncio.run(scenario())


def test_cancelling_the_task_still_heals(lab: Lab) -> None:
    """What Ctrl-C does under asyncio.run: the main task is cancelled mid-test."""

    async def scenario() -> None:
        started = asyncio.Event()

        async def body() -> None:
            async with lab.nemesis(seed=5) as nemesis:
                await nemesis.start(
                    Fault(25, FaultKind.PARTITION, 0, 1, params={"shape": "bridge"})
                )
                await nemesis.start(Fault(26, FaultKind.KILL, 0, 1))
                started.set()
                await asyncio.Event().wait()  # a test that never ends on its own

        task = asyncio.get_running_loop().create_task(body())
        await asyncio.wait_for(started.wait(), READY_S)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await assert_healed(lab)

    asyncio.run(scenario())


def test_unknown_targets_are_refused_before_anything_happens(lab: Lab) -> None:
    async def scenario() -> None:
        nemesis = lab.nemesis()
        with pytest.raises(FaultError, match="'targets'.*n9"):
            await nemesis.start(Fault(30, FaultKind.KILL, 0, 1, ("n9",)))
        bad_links = {"shape": "halves", "links": [["n1", "n7"]]}
        with pytest.raises(FaultError, match="'params.links'"):
            await nemesis.start(Fault(31, FaultKind.PARTITION, 0, 1, params=bad_links))
        too_few = {"shape": "majorities-ring"}
        with pytest.raises(FaultError, match="'params.shape'.*at least 4"):
            await nemesis.start(Fault(32, FaultKind.PARTITION, 0, 1, ("n1", "n2", "n3"), too_few))
        assert nemesis.active == {}
        await nemesis.heal_all()
        await assert_healed(lab)

    asyncio.run(scenario())


def test_a_clock_fault_without_a_clock_control_says_what_to_do(lab: Lab) -> None:
    async def scenario() -> None:
        nemesis = Nemesis(lab.cluster, lab.mesh, None, random.Random(1))
        with pytest.raises((ClockUnavailable, NemesisError), match="faketime|ClockControl"):
            await nemesis.start(Fault(40, FaultKind.CLOCK, 0, 1, ("n1",), {"delta_s": 1}))

    asyncio.run(scenario())
