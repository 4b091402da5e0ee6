"""The faults of issue 12 against the shared nemesis lab (a 5-node meshed cluster):
lossy and holding partitions, reset_peer, limit_data, a key's primaries, clock
freeze and rate. Each fault is verified by the nemesis itself and checked here
from the outside, through the same proxies the nodes use."""

from __future__ import annotations

import asyncio

import pytest

from harness.clock_rate import measured_rate
from harness.mesh import answers
from harness.nemesis import Fault, FaultKind
from harness.targeting import primaries
from node.client import Client, ConnectionLost
from tests.integration.test_nemesis import READY_S, SILENCE_S, Lab, assert_healed
from tests.integration.test_nemesis import lab as lab  # the shared module fixture

pytestmark = pytest.mark.timeout(60)


async def ping_after_heal(lab: Lab, mode: str) -> bool:
    """Pings over a connection made before a cut of mode `mode`, during the cut; after
    the heal, is that ping answered on that same connection?"""
    link = ("n1", "n2")
    client = await Client.connect(*lab.mesh.link_addr(link), timeout_s=READY_S)
    try:
        async with lab.nemesis() as nemesis:
            fault = Fault(20, FaultKind.PARTITION, 0, 5, params={"links": [list(link)],
                                                                 "mode": mode})  # fmt: skip
            assert (await nemesis.start(fault))["mode"] == mode
            pending = asyncio.ensure_future(client.ping())
            await asyncio.sleep(SILENCE_S)  # the ping is sent during the cut
            assert not pending.done()
            await nemesis.stop(fault)
        try:
            await asyncio.wait_for(pending, 3.0)
            return True
        except (TimeoutError, ConnectionLost, OSError):
            return False
    finally:
        await client.close()


def test_a_lossy_cut_loses_what_was_sent_and_a_holding_cut_delivers_it(lab: Lab) -> None:
    async def scenario() -> None:
        assert await ping_after_heal(lab, "hold") is True
        assert await ping_after_heal(lab, "drop") is False
        await assert_healed(lab)

    asyncio.run(scenario())


def test_reset_peer_breaks_connections_until_stopped(lab: Lab) -> None:
    async def scenario() -> None:
        async with lab.nemesis() as nemesis:
            fault = Fault(21, FaultKind.RESET_PEER, 0, 5, ("n3",), {"timeout_ms": 0})
            details = await nemesis.start(fault)
            assert ["client", "n3"] in details["links"] and ["n3", "n1"] in details["links"]
            assert not await answers(lab.mesh.client_addr("n3"), SILENCE_S)
            assert await answers(lab.mesh.client_addr("n4"), READY_S)
            await nemesis.stop(fault)
            assert await answers(lab.mesh.client_addr("n3"), READY_S)
        await assert_healed(lab)

    asyncio.run(scenario())


def test_limit_data_closes_a_connection_part_way(lab: Lab) -> None:
    async def scenario() -> None:
        async with lab.nemesis() as nemesis:
            fault = Fault(22, FaultKind.LIMIT_DATA, 0, 5, ("n4",), {"bytes": 2048})
            await nemesis.start(fault)
            client = await Client.connect(*lab.mesh.client_addr("n4"), timeout_s=READY_S)
            try:
                with pytest.raises((ConnectionLost, OSError, TimeoutError)):
                    await client.put("limited", b"x" * 8192, timeout_s=2.0)
            finally:
                await client.close()
            await nemesis.stop(fault)
        await assert_healed(lab)

    asyncio.run(scenario())


def test_a_kill_aimed_at_a_key_hits_all_its_primaries(lab: Lab) -> None:
    async def scenario() -> None:
        addrs = [lab.cluster.addr(n) for n in sorted(lab.cluster.nodes)]
        want = await primaries(addrs, "aimed-key", 3, "all")
        async with lab.nemesis() as nemesis:
            fault = Fault(23, FaultKind.KILL, 0, 5, params={"key": "aimed-key", "scope": "all"})
            details = await nemesis.start(fault)
            assert tuple(details["targets"]) == want and len(want) == 3
            majority = Fault(24, FaultKind.PAUSE, 0, 5,
                             params={"key": "aimed-key", "scope": "majority"})  # fmt: skip
            await nemesis.stop(fault)
            assert len((await nemesis.start(majority))["targets"]) == 2
        await assert_healed(lab)

    asyncio.run(scenario())


@pytest.mark.parametrize(("op", "params", "rate"), [("freeze", {}, 0.0),
                                                    ("rate", {"rate": 2.0}, 2.0)])  # fmt: skip
def test_clock_freeze_and_rate(lab: Lab, op: str, params: dict[str, float], rate: float) -> None:
    if lab.clock is None:
        pytest.fail(f"libfaketime is required: {lab.no_clock_why}")

    async def scenario() -> None:
        async with lab.nemesis() as nemesis:
            fault = Fault(25, FaultKind.CLOCK, 0, 5, ("n5",), {"op": op, **params})
            details = await nemesis.start(fault)
            assert details["rate"]["n5"] == pytest.approx(rate, abs=0.3)
            assert await measured_rate(*lab.cluster.addr("n5")) == pytest.approx(rate, abs=0.3)
            assert await measured_rate(*lab.cluster.addr("n1")) == pytest.approx(1.0, abs=0.3)
            await nemesis.stop(fault)
            assert await measured_rate(*lab.cluster.addr("n5")) == pytest.approx(1.0, abs=0.3)
        await assert_healed(lab)

    asyncio.run(scenario())
