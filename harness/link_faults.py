"""Link faults that lose data: reset_peer and limit_data on the proxy mesh.

* reset_peer: every connection through a target's links (both directions,
  client links included) is reset (TCP RST) `timeout_ms` after data first
  flows on it: requests in flight are lost and the node must reconnect.
* limit_data: every such connection is closed once `bytes` have passed in a
  direction: long-lived connections die part-way through a frame.

Each is verified by the toxics being present on every chosen link (and, for
reset_peer, by a ping through one running target's client link failing);
stopping removes them and verifies that those links answer again.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from harness.faults import Fault, FaultKind
from harness.mesh import BOTH_STREAMS, CLIENT, Mesh, answers, proxy_name, silent
from harness.partitions import Link, sorted_links
from harness.toxiproxy import ToxicKind

if TYPE_CHECKING:
    from harness.nemesis import Nemesis

Details = dict[str, Any]


class LinkFaultError(RuntimeError):
    """A link fault that did not show or did not go away; the message says where."""


def _attributes(fault: Fault) -> tuple[ToxicKind, dict[str, int]]:
    if fault.kind is FaultKind.RESET_PEER:
        return ToxicKind.RESET_PEER, {"timeout": int(fault.params.get("timeout_ms", 0))}
    return ToxicKind.LIMIT_DATA, {"bytes": int(fault.params["bytes"])}


def _mesh(nemesis: Nemesis) -> Mesh:
    """The lab's Toxiproxy mesh; these toxics exist only there."""
    if not isinstance(nemesis.net, Mesh):
        raise LinkFaultError("reset_peer and limit_data need the local lab's fault proxy")
    return nemesis.net


def _add(nemesis: Nemesis, links: frozenset[Link], tag: str, fault: Fault) -> None:
    kind, attrs = _attributes(fault)
    for link in sorted(links):
        for stream in BOTH_STREAMS:
            _mesh(nemesis).client.add_toxic(
                proxy_name(link), kind, name=f"{tag}-{kind}-{stream}", stream=stream,
                attributes=attrs,
            )  # fmt: skip


async def start_lossy(nemesis: Nemesis, fault: Fault) -> Details:
    """Adds the fault's toxic to both streams of its links; verified (module doc)."""
    links = nemesis.slow_links(fault)
    nemesis.links[fault.id] = links
    tag = f"f{fault.id}"
    await asyncio.to_thread(_add, nemesis, links, tag, fault)
    tagged = await asyncio.to_thread(_mesh(nemesis).tagged, tag, links)
    missing = [x for x, has in tagged.items() if not has]
    if missing:
        raise LinkFaultError(f"fault {fault.id}: toxics missing on links {missing}")
    if fault.kind is FaultKind.RESET_PEER:
        await _verify_reset(nemesis, fault, links)
    return {"links": sorted_links(links)}


async def _verify_reset(nemesis: Nemesis, fault: Fault, links: frozenset[Link]) -> None:
    probe = sorted(x for x in links if x[0] == CLIENT and nemesis.running(x[1]))
    if not probe:
        return
    timeout_s = nemesis.timing.silence_s + fault.params.get("timeout_ms", 0) / 1000
    if await answers(_mesh(nemesis).link_addr(probe[0]), timeout_s):
        raise LinkFaultError(f"fault {fault.id}: a ping through {probe[0]} was answered "
                             "under reset_peer")  # fmt: skip


async def stop_lossy(nemesis: Nemesis, fault: Fault) -> Details:
    """Removes the fault's toxics and verifies its links answer again."""
    links = nemesis.links.get(fault.id, frozenset())
    await asyncio.to_thread(_mesh(nemesis).remove_tagged, f"f{fault.id}", links)
    addrs = {x: _mesh(nemesis).link_addr(x) for x in links if nemesis.running(x[1])}
    dead = await silent(addrs, nemesis.timing.ready_s)
    if dead:
        raise LinkFaultError(f"fault {fault.id}: links still silent after removal: {dead}")
    return {"links": sorted_links(links)}


STARTS = {FaultKind.RESET_PEER: start_lossy, FaultKind.LIMIT_DATA: start_lossy}
STOPS = {FaultKind.RESET_PEER: stop_lossy, FaultKind.LIMIT_DATA: stop_lossy}
