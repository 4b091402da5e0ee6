"""Membership faults: nodes join, leave and replace each other during the chaos phase.

The lab lays out spare nodes (configured with seeds, meshed, not started) and
gives their names to the nemesis. Each fault is verified when every running
node reports the same members and ring (its `status`), with the expected
membership:

* join (targets: spares): the spares start at the same moment and join, each
  through its own seed (a spare that was a member before rejoins explicitly).
  Stop: they leave, the views agree without them, and their processes stop
  and their data is deleted.
* leave (target: a member): it leaves (tombstoned; its data moves to the new
  owners) and keeps running. Stop: it rejoins through a seed.
* replace (targets: old member, spare): the spare joins, then the old member
  leaves, so the spare takes over part of its data. Stop: the reverse.

Nodes that are down (killed, paused, crashed by another fault) are not asked;
they catch up by gossip. `restore` (called by `heal_all`) brings the
membership back to the initial one whatever happened.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from harness.cluster import ClusterError
from harness.faults import Fault, FaultError, FaultKind
from harness.mesh import Mesh
from node.client import Client, NodeError

if TYPE_CHECKING:
    from harness.nemesis import Nemesis

Details = dict[str, Any]
#: How long every ring view may take to agree after a membership change.
AGREE_S = 10.0
View = tuple[tuple[str, ...], str]


@dataclass
class MembershipState:
    """Who is a member, who is a spare, who left: what the lab set up and the faults changed."""

    seeds: list[str] = field(default_factory=list)
    spares: set[str] = field(default_factory=set)  # laid out, meshed, not running
    initial_members: set[str] = field(default_factory=set)
    members: set[str] = field(default_factory=set)
    departed: set[str] = field(default_factory=set)  # members that left and run on
    used_spares: set[str] = field(default_factory=set)  # joined once: rejoin explicitly

    def set_up(self, members: list[str], spares: list[str], seeds: list[str]) -> None:
        self.initial_members, self.members = set(members), set(members)
        self.spares, self.seeds = set(spares), list(seeds)


class MembershipError(RuntimeError):
    """Ring views that did not agree in time; the message shows them."""


async def _call(nemesis: Nemesis, name: str, what: str, *args: Any) -> dict[str, Any]:
    client = await Client.connect(*nemesis.cluster.addr(name), timeout_s=5.0, name="nemesis")
    try:
        return dict(await getattr(client, what)(*args))
    finally:
        await client.close()


async def views(nemesis: Nemesis) -> dict[str, View]:
    """Every running node's (members, ring) as its status reports it."""
    out: dict[str, View] = {}
    for name in sorted(nemesis.cluster.nodes):
        if not nemesis.running(name):
            continue
        try:
            st = await _call(nemesis, name, "status")
        except (OSError, TimeoutError, NodeError):
            continue
        out[name] = (tuple(st["members"]), repr(st["ring"]))
    return out


async def wait_agreement(nemesis: Nemesis, members: set[str], timeout_s: float) -> list[str]:
    """Waits until every running node's view has exactly `members` (running nodes
    outside `members`, e.g. one that left, must agree as well); returns the
    members in ring order, or raises MembershipError with the last views."""
    deadline = time.monotonic() + timeout_s
    while True:
        seen = await views(nemesis)
        distinct = set(seen.values())
        if len(distinct) == 1 and set(next(iter(distinct))[0]) == members:
            return list(next(iter(distinct))[0])
        if time.monotonic() > deadline:
            shown = {n: list(v[0]) for n, v in seen.items()}
            raise MembershipError(f"ring views do not agree on {sorted(members)} after "
                                  f"{timeout_s:g}s: {shown}")  # fmt: skip
        await asyncio.sleep(0.2)  # polling the views until they converge


async def _agree(nemesis: Nemesis) -> list[str]:
    """Waits until every running node's view is the current membership."""
    return await wait_agreement(nemesis, set(nemesis.membership.members), AGREE_S)


def _seed_addr(nemesis: Nemesis, name: str) -> str:
    """The address `name` uses to reach a live seed (through its proxy): its own seed
    first, if it has one."""
    own = nemesis.cluster.node_seeds.get(name, [])
    seeds = [s for s in [*own, *nemesis.membership.seeds] if s != name and nemesis.running(s)]
    if not seeds:
        raise FaultError(f"{name} has no running seed to join through")
    mesh = nemesis.net if isinstance(nemesis.net, Mesh) else None
    route = mesh.addr_for(name, seeds[0]) if mesh else nemesis.cluster.addr(seeds[0])
    return "{}:{}".format(*route)


async def _join(nemesis: Nemesis, *spares: str) -> None:
    """Starts the spares at the same moment; each joins through its seeds."""
    m = nemesis.membership
    for spare in spares:
        if spare not in m.spares:
            raise FaultError(f"{spare} is not a spare node (spares: {sorted(m.spares)})")
    for spare in spares:  # one after another: starting saves the cluster's state file
        await asyncio.to_thread(nemesis.cluster.start, spare)
        m.spares.discard(spare)
        m.members.add(spare)
    await nemesis.cluster.wait_ready(list(spares))
    rejoining = [s for s in spares if s in m.used_spares]  # a removed name asks explicitly
    await asyncio.gather(*(_call(nemesis, s, "join", _seed_addr(nemesis, s)) for s in rejoining))
    m.used_spares.update(spares)


async def _retire(nemesis: Nemesis, *spares: str) -> None:
    """The spares leave, then stop with their data deleted."""
    m = nemesis.membership
    m.members.difference_update(spares)
    for spare in spares:
        await _leave_via_peer(nemesis, spare)
    try:
        await _agree(nemesis)
    finally:
        for spare in spares:
            await asyncio.to_thread(nemesis.cluster.stop, spare)
            await asyncio.to_thread(nemesis.cluster.wipe, spare)
            m.spares.add(spare)


async def _leave_via_peer(nemesis: Nemesis, name: str) -> None:
    """Asks a running member to remove `name`: the first that answers (another fault may
    be restarting one right now)."""
    peers = [n for n in sorted(nemesis.membership.members) if n != name and nemesis.running(n)]
    if not peers:
        raise ClusterError(f"no running member can remove {name}")
    for i, peer in enumerate(peers):
        try:
            await _call(nemesis, peer, "leave", name)
            return
        except NodeError as e:
            if e.code == "not_member":  # already gone: fine
                return
            raise
        except (OSError, TimeoutError):
            if i == len(peers) - 1:
                raise


async def start_join(nemesis: Nemesis, fault: Fault) -> Details:
    began = time.monotonic()
    await _join(nemesis, *fault.targets)
    ring = await _agree(nemesis)
    return {"targets": list(fault.targets), "members": ring,
            "agreed_s": round(time.monotonic() - began, 3)}  # fmt: skip


async def stop_join(nemesis: Nemesis, fault: Fault) -> Details:
    await _retire(nemesis, *fault.targets)
    return {"members": sorted(nemesis.membership.members)}


async def start_leave(nemesis: Nemesis, fault: Fault) -> Details:
    victim = fault.targets[0]
    if victim not in nemesis.membership.members or len(nemesis.membership.members) < 2:
        raise FaultError(f"fault {fault.id}: {victim} is not a member that can leave")
    n = int(nemesis.cluster.settings.get("n", 3))
    if len(nemesis.membership.members) - 1 < n:  # the node would refuse it (the leave floor)
        raise FaultError(f"fault {fault.id}: {victim} leaving would take the ring below "
                         f"N={n} members, which no node allows")  # fmt: skip
    began = time.monotonic()
    nemesis.membership.members.discard(victim)
    nemesis.membership.departed.add(victim)
    await _leave_via_peer(nemesis, victim)
    ring = await _agree(nemesis)
    return {"targets": [victim], "members": ring, "agreed_s": round(time.monotonic() - began, 3)}


async def stop_leave(nemesis: Nemesis, fault: Fault) -> Details:
    await _rejoin(nemesis, fault.targets[0])
    return {"members": await _agree(nemesis)}


async def _rejoin(nemesis: Nemesis, victim: str) -> None:
    if victim not in nemesis.membership.departed:
        return
    if not nemesis.running(victim):
        raise ClusterError(f"{victim} is down; it rejoins once it runs")
    await _call(nemesis, victim, "join", _seed_addr(nemesis, victim))
    nemesis.membership.departed.discard(victim)
    nemesis.membership.members.add(victim)


async def start_replace(nemesis: Nemesis, fault: Fault) -> Details:
    old, new = fault.targets[0], fault.targets[-1]
    if len(fault.targets) != 2 or old not in nemesis.membership.members:
        raise FaultError(f"fault {fault.id}: replace needs targets [member, spare], "
                         f"got {list(fault.targets)}")  # fmt: skip
    began = time.monotonic()
    await _join(nemesis, new)
    await _agree(nemesis)  # the leave must see the new member, or it would break the floor
    nemesis.membership.members.discard(old)
    nemesis.membership.departed.add(old)
    await _leave_via_peer(nemesis, old)
    ring = await _agree(nemesis)
    return {"targets": [old, new], "members": ring,
            "agreed_s": round(time.monotonic() - began, 3)}  # fmt: skip


async def stop_replace(nemesis: Nemesis, fault: Fault) -> Details:
    old, new = fault.targets[0], fault.targets[-1]
    await _rejoin(nemesis, old)
    await _agree(nemesis)
    await _retire(nemesis, new)
    return {"members": sorted(nemesis.membership.members)}


async def restore(nemesis: Nemesis) -> list[str]:
    """Back to the initial membership: departed members rejoin, joined spares retire.
    Returns what could not be restored: ring views that do not converge are a finding
    about the nodes (the liveness checker reports them), not a harness failure."""
    m = nemesis.membership
    notes: list[str] = []
    steps: list[tuple[str, Awaitable[object]]] = [
        ("rejoin " + v, _rejoin(nemesis, v)) for v in sorted(m.departed)
    ]
    steps += [("retire " + ",".join(sorted(m.members - m.initial_members)),
               _retire(nemesis, *sorted(m.members - m.initial_members)))]  # fmt: skip
    steps += [("initial ring", wait_agreement(nemesis, set(m.initial_members), AGREE_S))]
    for what, step in steps:
        try:
            await step
        except (MembershipError, ClusterError, FaultError, OSError, NodeError) as e:
            notes.append(f"{what}: {type(e).__name__}: {e}")
    return notes


STARTS = {FaultKind.JOIN: start_join, FaultKind.LEAVE: start_leave,
          FaultKind.REPLACE: start_replace}  # fmt: skip
STOPS = {FaultKind.JOIN: stop_join, FaultKind.LEAVE: stop_leave, FaultKind.REPLACE: stop_replace}
