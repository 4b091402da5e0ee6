"""Membership faults on the simulator: join, leave and replace, as on real runs.

The same steps as harness/membership_nemesis.py, through the node's own
membership protocol (its `join`/`leave` client calls and gossip); only the
transport differs:

* join (targets: spares): the spares boot at the same moment (a spare's
  config names only itself and its seeds, so it joins by gossip; one that was
  a member before asks its seed explicitly, as a removed name must). Stop:
  they leave through a running member, the running views agree without them,
  and they are stopped with their disks wiped.
* leave (target: a member): a running member is asked to remove it (the node
  refuses to go below N members: the leave floor); it keeps running. Stop: it
  rejoins through a seed.
* replace (targets: old member, spare): the spare joins, the views agree, then
  the old member leaves. Stop: the reverse.

Agreement is waited for on virtual time (every running node's ring members
equal the expected set) for at most `AGREE_MS`; a view that does not agree is
recorded in the details (`agreed` false, and the `MembershipError` the real
nemesis records), not raised: it is a finding about the nodes, for the
liveness checker (checkers/liveness.py), not a harness failure. Nodes that are down are
not asked; they catch up by gossip. `restore` (after the heal) brings the
membership back to the initial one.
"""

from __future__ import annotations

from typing import Any

from harness.faults import Fault, FaultError, FaultKind
from node.client import NodeError
from node.messages import Join, Leave, MembersOk
from node.sim.clients import SimClient, sleep_until
from node.sim.cluster import Simulator
from node.sim.faults import wipe

MEMBERSHIP = (FaultKind.JOIN, FaultKind.LEAVE, FaultKind.REPLACE)
#: How long (virtual ms) every running ring view may take to agree after a change.
AGREE_MS = 10_000
POLL_MS = 100
Details = dict[str, Any]


class SimMembership:
    """Who is a member, a spare or departed, and the steps that change it on `sim`."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.initial = set(sim.names)
        self.members = set(sim.names)
        self.departed: set[str] = set()
        self.used_spares: set[str] = set()

    def view(self, name: str) -> set[str]:
        """`name`'s ring members as its node sees them now."""
        return {m.name for m in self.sim.nodes[name].ring.members}

    async def agree(self) -> bool:
        """Waits until every running member's view is `members`; whether it came in time."""
        end = self.sim.now_ms + AGREE_MS
        while True:
            running = [n for n in sorted(self.members) if self.sim.is_up(n)]
            if all(self.view(n) == self.members for n in running):
                return True
            if self.sim.now_ms >= end:
                return False
            await sleep_until(self.sim.now_ms + POLL_MS)

    def _seed_addr(self, name: str) -> str:
        seeds = self.sim.spares.get(name) or self.sim.names[:2]
        live = [s for s in seeds if s != name and self.sim.is_up(s)] or [
            s for s in sorted(self.members) if s != name and self.sim.is_up(s)]  # fmt: skip
        if not live:
            raise FaultError(f"{name} has no running seed to join through")
        return self.sim.addr(live[0])

    async def join(self, *spares: str) -> None:
        for spare in spares:
            if spare not in self.sim.spares or spare in self.members:
                raise FaultError(f"{spare} is not a spare node (spares: {sorted(self.sim.spares)})")
        for spare in spares:
            self.sim.restart(spare)
            self.members.add(spare)
        for spare in [s for s in spares if s in self.used_spares]:
            await self._ask(spare, Join(seed=self._seed_addr(spare)))
        self.used_spares.update(spares)

    async def _ask(self, node: str, msg: Join | Leave) -> None:
        """One membership call; a refusal or a lost reply is left to the agreement wait."""
        try:
            await SimClient(node).call(msg, MembersOk)
        except (NodeError, OSError, TimeoutError):
            pass

    async def leave_via_peer(self, name: str) -> None:
        """Asks the first running member other than `name` to remove it."""
        peers = [n for n in sorted(self.members | {name}) if n != name and self.sim.is_up(n)]
        if peers:
            await self._ask(peers[0], Leave(name))

    async def retire(self, *spares: str) -> None:
        """The spares leave, the views agree without them, then they stop, wiped."""
        self.members.difference_update(spares)
        for spare in spares:
            await self.leave_via_peer(spare)
        await self.agree()
        for spare in spares:
            wipe(self.sim, spare)

    async def rejoin(self, victim: str) -> None:
        if victim in self.departed and self.sim.is_up(victim):
            await self._ask(victim, Join(seed=self._seed_addr(victim)))
            self.departed.discard(victim)
            self.members.add(victim)

    async def leave(self, victim: str, fault: Fault) -> None:
        n = self.sim.n
        if victim not in self.members or len(self.members) - 1 < n:
            raise FaultError(f"fault {fault.id}: {victim} cannot leave: the ring would keep "
                             f"fewer than N={n} members, which no node allows")  # fmt: skip
        self.members.discard(victim)
        self.departed.add(victim)
        await self.leave_via_peer(victim)

    async def start(self, fault: Fault) -> Details:
        """Carries out a join, leave or replace (module doc); the details say how it ended."""
        targets = list(fault.targets)
        if fault.kind is FaultKind.JOIN:
            await self.join(*targets)
        elif fault.kind is FaultKind.LEAVE:
            await self.leave(targets[0], fault)
        else:
            await self.join(targets[-1])
            await self.agree()  # the leave must see the new member, or it would break the floor
            await self.leave(targets[0], fault)
        agreed = await self.agree()
        out = {"targets": targets, "members": sorted(self.members), "agreed": agreed}
        return out if agreed else {**out, "error": self._disagree()}

    def _disagree(self) -> str:
        return (f"MembershipError: ring views do not agree on {sorted(self.members)} after "
                f"{AGREE_MS / 1000:g} virtual s")  # fmt: skip

    async def stop(self, fault: Fault) -> None:
        targets = list(fault.targets)
        if fault.kind is FaultKind.JOIN:
            await self.retire(*targets)
        elif fault.kind is FaultKind.LEAVE:
            await self.rejoin(targets[0])
            await self.agree()
        else:
            await self.rejoin(targets[0])
            await self.agree()
            await self.retire(targets[-1])

    async def restore(self) -> list[str]:
        """Back to the initial membership: departed members rejoin, joined spares retire.
        Returns what could not be restored (as the real nemesis's heal notes)."""
        for victim in sorted(self.departed):
            await self.rejoin(victim)
        extra = sorted(self.members - self.initial)
        if extra:
            await self.retire(*extra)
        return [] if await self.agree() else [f"initial ring: {self._disagree()}"]
