"""`Net`: the fault network between a cluster's hosts: cut, slow and heal directed links.

A link is a directed pair (src, dst) of node names, or ("client", dst) for what
the controller's clients send to dst. Two implementations:

* `Mesh` (harness/mesh.py), the local lab: one Toxiproxy proxy per link; a cut is
  a timeout toxic, a slow link a latency or bandwidth toxic.
* `IptablesNet` (harness/iptables.py), the netns, VM and SSH labs: DROP rules in
  a chain of Sibyl's own on the receiving host (plus a conntrack flush, so
  established connections are cut too), and `tc netem` on the sending host for
  delay, jitter, loss, duplication, reordering and rate.

Both are held to one conformance kit (`tests/support/net_kit.py: check_net`).
Faults carry a tag; several faults may cover one link, and removing one tag
leaves the others in force. `answers(link)` is the probe: a real node ping sent
from the link's source to its destination, over that very link.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Mapping
from typing import Protocol, runtime_checkable

from harness.partitions import Link, PartitionMode
from harness.toxiproxy import ToxicKind

Addr = tuple[str, int]


@runtime_checkable
class Net(Protocol):
    """What the nemesis needs of a fault network (blocking calls: use a thread)."""

    def links(self) -> list[Link]: ...
    def cut(self, links: Iterable[Link], tag: str, mode: str = PartitionMode.HOLD) -> None: ...
    def add_toxic(
        self, links: Iterable[Link], tag: str, kind: ToxicKind, attributes: Mapping[str, int]
    ) -> None: ...
    def remove_tagged(self, tag: str, links: Iterable[Link] | None = None) -> None: ...
    def tagged(self, tag: str, links: Iterable[Link]) -> dict[Link, bool]: ...
    def reset(self) -> None: ...
    def dirty(self) -> dict[str, list[str]]: ...
    def client_addr(self, name: str) -> Addr: ...
    async def answers(self, link: Link, timeout_s: float) -> bool: ...
    async def ping_s(self, link: Link, timeout_s: float) -> float: ...


async def leaking(net: Net, links: Iterable[Link], silence_s: float) -> list[Link]:
    """The links over which a ping is still answered within `silence_s` (probed
    concurrently); empty when every link is silent."""
    ordered = sorted(links)
    oks = await asyncio.gather(*(net.answers(x, silence_s) for x in ordered))
    return [x for x, ok in zip(ordered, oks) if ok]


async def wait_link(net: Net, link: Link, deadline_s: float, attempt_s: float = 1.0) -> bool:
    """Probes `link` until it answers or `deadline_s` seconds have passed."""
    deadline = time.monotonic() + deadline_s
    while True:
        remaining = deadline - time.monotonic()
        if await net.answers(link, max(min(attempt_s, remaining), 0.05)):
            return True
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(0.05)  # retry interval while polling a condition


async def silent_links(net: Net, links: Iterable[Link], deadline_s: float) -> list[Link]:
    """The links that still do not answer after `deadline_s`; empty when all answer."""
    ordered = sorted(links)
    oks = await asyncio.gather(*(wait_link(net, x, deadline_s) for x in ordered))
    return [x for x, ok in zip(ordered, oks) if not ok]
