"""`check_net(net, nodes)`: the conformance kit every fault network (`Net`) passes.

It needs running nodes behind `net` (at least n1, n2, n3). It checks, with real
pings over the links: every link answers; a cut is one-way and silences only its
link; an established client connection goes silent too; two tags on one link
stack (removing one keeps the link cut); a latency toxic slows its link and only
while present; `reset` leaves nothing behind (`dirty()` is empty) and every link
answers again.

`python -m tests.support.net_kit INVENTORY RUNDIR` runs the kit against
`IptablesNet` on a deployed netns lab (it must run inside the lab's controller
namespace, as `sibyl run` does); it exits 0 when the kit passes.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

from harness.net import Net, leaking, silent_links
from harness.toxiproxy import ToxicKind
from node.client import Client

SILENCE_S = 0.6
READY_S = 15.0


async def check_net(net: Net, nodes: list[str], latency: bool = True) -> None:
    """The kit; `latency=False` checks a bandwidth toxic's bookkeeping instead of a
    measured delay (for kernels without netem)."""
    assert isinstance(net, Net)
    n1, n2, n3 = nodes[:3]
    links = net.links()
    assert (n1, n2) in links and (n2, n1) in links and ("client", n3) in links
    assert await silent_links(net, links, READY_S) == []
    await _one_way_cut(net, n1, n2)
    await _established_connection_cut(net, n2)
    await _tags_stack(net, n1, n3)
    await (_latency(net, n1, n3) if latency else _bandwidth(net, n1, n3))
    await asyncio.to_thread(net.reset)
    assert await asyncio.to_thread(net.dirty) == {}
    assert await silent_links(net, links, READY_S) == []


async def _one_way_cut(net: Net, a: str, b: str) -> None:
    await asyncio.to_thread(net.cut, {(a, b)}, "t1")
    assert await asyncio.to_thread(net.tagged, "t1", {(a, b), (b, a)}) == {
        (a, b): True,
        (b, a): False,
    }
    assert await asyncio.to_thread(net.dirty) != {}
    assert await leaking(net, {(a, b)}, SILENCE_S) == []
    assert await leaking(net, {(b, a), ("client", b)}, READY_S) == sorted({(b, a), ("client", b)})
    await asyncio.to_thread(net.remove_tagged, "t1", {(a, b)})
    assert await silent_links(net, {(a, b)}, READY_S) == []


async def _established_connection_cut(net: Net, b: str) -> None:
    client = await Client.connect(*net.client_addr(b), timeout_s=READY_S, name="kit")
    try:
        await client.ping()
        await asyncio.to_thread(net.cut, {("client", b)}, "t2")
        started = time.monotonic()
        try:
            async with asyncio.timeout(SILENCE_S):
                await client.ping()
            answered = True
        except (TimeoutError, OSError):
            answered = False
        assert not answered, "a ping on a connection opened before the cut was answered"
        assert time.monotonic() - started >= SILENCE_S * 0.9
    finally:
        await asyncio.to_thread(net.remove_tagged, "t2", {("client", b)})
        await client.close()
    assert await silent_links(net, {("client", b)}, READY_S) == []


async def _tags_stack(net: Net, a: str, c: str) -> None:
    await asyncio.to_thread(net.cut, {(a, c)}, "t3")
    await asyncio.to_thread(net.cut, {(a, c)}, "t4")
    await asyncio.to_thread(net.remove_tagged, "t3", {(a, c)})
    assert await leaking(net, {(a, c)}, SILENCE_S) == [], "t4 must keep the link cut"
    await asyncio.to_thread(net.remove_tagged, "t4", {(a, c)})
    assert await silent_links(net, {(a, c)}, READY_S) == []


async def _latency(net: Net, a: str, c: str) -> None:
    attrs = {"latency": 400, "jitter": 0}
    await asyncio.to_thread(net.add_toxic, {(a, c)}, "t5", ToxicKind.LATENCY, attrs)
    assert await asyncio.to_thread(net.tagged, "t5", {(a, c)}) == {(a, c): True}
    slowed = await net.ping_s((a, c), READY_S)
    assert slowed >= 0.35, f"a ping over a 400 ms link took {slowed:.3f} s"
    await asyncio.to_thread(net.remove_tagged, "t5", {(a, c)})
    assert await net.ping_s((a, c), READY_S) < 0.3


async def _bandwidth(net: Net, a: str, c: str) -> None:
    await asyncio.to_thread(net.add_toxic, {(a, c)}, "t7", ToxicKind.BANDWIDTH, {"rate": 100})
    assert await asyncio.to_thread(net.tagged, "t7", {(a, c), (c, a)}) == {
        (a, c): True,
        (c, a): False,
    }
    assert await net.answers((a, c), READY_S), "a shaped link still carries pings"
    await asyncio.to_thread(net.remove_tagged, "t7", {(a, c)})
    assert await asyncio.to_thread(net.tagged, "t7", {(a, c)}) == {(a, c): False}


async def _loss(net: Net, a: str, b: str) -> None:
    lossy = {"latency": 0, "loss_pct": 100}
    await asyncio.to_thread(net.add_toxic, {(a, b)}, "t6", ToxicKind.LATENCY, lossy)
    assert await leaking(net, {(a, b)}, SILENCE_S) == []
    await asyncio.to_thread(net.remove_tagged, "t6")
    assert await silent_links(net, {(a, b)}, READY_S) == []


async def _main(inventory: str, run_dir: str) -> None:
    """Deploys and starts nodes on the lab's hosts, runs the kit on IptablesNet (plus
    netem loss, which only tc can do), and stops everything again."""
    from harness.inventory import load_inventory
    from harness.iptables import IptablesNet
    from harness.remote_lab import start_remote_lab

    inv = load_inventory(inventory)
    settings = {"n": 3, "r": 2, "w": 2, "request_timeout_ms": 1000}
    lab = await start_remote_lab(inv, Path(run_dir), settings, ("partition",), 1)
    try:
        assert isinstance(lab.mesh, IptablesNet)
        names = sorted(lab.cluster.nodes)
        netem = lab.mesh.netem_available(names[0])
        await check_net(lab.mesh, names, latency=netem)
        if netem:
            await _loss(lab.mesh, names[0], names[1])
        else:
            print("NOTE: this kernel has no netem: latency and loss were not checked")
    finally:
        await lab.stop()
        lab.close()
    print("net kit passed on IptablesNet")


if __name__ == "__main__":
    asyncio.run(_main(sys.argv[1], sys.argv[2]))
