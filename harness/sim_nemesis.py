"""The nemesis on the simulator: the `--nemesis` fault records carried out on a `Simulator`.

The same `harness.faults.Fault` records as on real processes, so schedules
move between `sibyl run`, `sibyl sim` and `sibyl shrink`. What each kind
becomes here (`SIM_KINDS`):

* partition: the shape's links (drawn from the fault's own seeded rng, or its
  explicit `links`) are cut; stop reconnects exactly those links. By `mode`:
  hold (the default, as on real runs) keeps what is sent and delivers it at
  the stop; drop loses it, and at the stop each cut link's sender is told its
  connection closed (Toxiproxy closes them when the toxic goes); reset is drop
  plus that notice at the cut too (live connections reset);
* kill: `crash` (memory, unwritten disk writes, timers and in-flight messages
  lost; the disk's page cache survives, as the OS's does a kill -9); stop:
  `restart` from the disk;
* crash: a kill that also loses every disk change not synced (`lose_power`:
  the page cache of a lazy filesystem, harness/lazyfs.py); stop: restart;
* wipe: a kill that deletes the whole disk (`wipe`); stop: restart, empty
  (node/sim/faults.py has both);
* reset_peer, limit_data: every peer link into or out of the target (or the
  explicit `links`) breaks its connections (node/sim/lossy.py): reset
  `timeout_ms` after opening, or closed once `bytes` of encoded frames passed;
  lost frames are lost, and the sender gets `PeerUnreachable`; client links
  are not affected (clients do not go through the simulated network);
* join, leave, replace: as on real runs (harness/sim_membership.py): spares
  boot and join through seeds; a member leaves through a running member's
  `leave` (the node keeps the floor N); stop reverses it;
* pause: approximated: every link to and from the target is cut and *holds*
  its messages until stop; unlike SIGSTOP, its timers keep firing and its
  clients are still served (the simulator cannot freeze one node's time);
* clock: bump and strobe set the target's skew to `delta_s` (strobe does not
  flip), reset and stop set it back to 0;
* latency: `latency_ms` (+ up to `jitter_ms`, fixed per fault) added to every
  peer link into or out of the target; client links are not slowed.

Process faults aimed at a key (`key`, `scope`) hit the key's primaries by
the simulator's ring. `UNSUPPORTED` lists what it cannot model (bandwidth:
the simulator has no byte-rate model).
"""

from __future__ import annotations

import random
from typing import Any

from harness.faults import Fault, FaultError, FaultKind
from harness.partitions import SHAPES, PartitionMode, Shape
from harness.sim_membership import MEMBERSHIP, SimMembership
from harness.targeting import Scope
from node.sim.cluster import Simulator
from node.sim.faults import break_link, lose_power, wipe
from node.sim.lossy import Break, LossyFault
from node.sim.network import CLEAN, LinkFaults

SIM_KINDS = (FaultKind.PARTITION, FaultKind.KILL, FaultKind.PAUSE, FaultKind.CLOCK,
             FaultKind.LATENCY, FaultKind.CRASH, FaultKind.WIPE, FaultKind.RESET_PEER,
             FaultKind.LIMIT_DATA, FaultKind.JOIN, FaultKind.LEAVE, FaultKind.REPLACE)  # fmt: skip
#: Process faults: the target is down from start to stop.
DOWN = (FaultKind.KILL, FaultKind.CRASH, FaultKind.WIPE)
LOSSY = (FaultKind.RESET_PEER, FaultKind.LIMIT_DATA)
UNSUPPORTED = {FaultKind.BANDWIDTH: "the simulator has no byte-rate model"}
#: The clock operations a simulated clock can do (a jump; no freeze or rate change).
SIM_CLOCK_OPS = ("bump", "bump", "strobe")


def unsupported(kinds: tuple[str, ...]) -> list[str]:
    """The kinds in `kinds` the simulator cannot model, each with the reason."""
    return [
        f"{k} ({UNSUPPORTED.get(FaultKind(k), 'not modelled by the simulator yet')})"
        for k in kinds
        if FaultKind(k) not in SIM_KINDS
    ]


class SimNemesis:
    """Starts and stops faults on `sim`; each returns the realised record's details."""

    def __init__(self, sim: Simulator, seed: int) -> None:
        self.sim = sim
        self.seed = seed
        self._links: dict[int, list[tuple[str, str]]] = {}
        self.membership = SimMembership(sim)
        self._downed: dict[int, set[str]] = {}

    async def begin(self, fault: Fault) -> dict[str, Any]:
        """`start`, for every kind: membership changes take virtual time (they wait for
        the ring views to agree), so this is a coroutine for `node.sim.clients`."""
        if fault.kind in MEMBERSHIP:
            try:
                return await self.membership.start(fault)
            except FaultError as e:  # refused up front, as the real nemesis refuses it
                return {"error": f"FaultError: {e}"}
        return self.start(fault)

    async def end(self, fault: Fault, details: dict[str, Any]) -> dict[str, Any]:
        """`stop`, for every kind (see `begin`); returns what changed in the details (a
        membership change: the members after it)."""
        if fault.kind not in MEMBERSHIP:
            self.stop(fault, details)
            return {}
        await self.membership.stop(fault)  # after a failed start too, as on real runs
        return {"members": sorted(self.membership.members)}

    def nodes(self) -> list[str]:
        """The nodes faults pick from: the initial members, then spares that have joined
        (as on real runs, where every node of the cluster can be hit). Without membership
        faults this is `sim.names`, so those schedules draw as before."""
        return [*self.sim.names, *sorted(self.membership.members - set(self.sim.names))]

    def _targets(self, fault: Fault) -> list[str]:
        if not fault.targets and "key" in fault.params:
            walk = self.sim.primaries(fault.params["key"])
            count = len(walk) if fault.params.get("scope") == Scope.ALL else len(walk) // 2 + 1
            return sorted(walk[:count])
        return list(fault.targets) or [random.Random(f"{self.seed}/{fault.id}").choice(
            self.nodes())]  # fmt: skip

    def _peer_links(self, fault: Fault, node: str) -> list[tuple[str, str]]:
        if "links" in fault.params:
            return [(a, b) for a, b in fault.params["links"] if a in self.sim.disks]
        return [(x, y) for o in self.nodes() if o != node for x, y in ((node, o), (o, node))]

    def start(self, fault: Fault) -> dict[str, Any]:
        """Applies `fault`; the details say which nodes and links it hit."""
        sim, kind = self.sim, fault.kind
        if kind is FaultKind.PARTITION:
            links = self._partition_links(fault)
            mode = PartitionMode(fault.params.get("mode", PartitionMode.HOLD))
            for a, b in links:
                sim.network.cut_link(a, b, hold=mode is PartitionMode.HOLD)
                if mode is PartitionMode.RESET:
                    break_link(sim, a, b)
            self._links[fault.id] = links
            return {"links": [list(x) for x in links], "targets": list(fault.targets)}
        if kind in LOSSY:
            return self._start_lossy(fault)
        targets = self._targets(fault)
        for node in targets:
            self._start_on(fault, node)
        return {"targets": targets}

    def _start_on(self, fault: Fault, node: str) -> None:
        sim, kind = self.sim, fault.kind
        if kind in DOWN and sim.is_up(node):
            self._downed.setdefault(fault.id, set()).add(node)
        if kind is FaultKind.KILL and sim.is_up(node):
            sim.crash(node)
        elif kind is FaultKind.CRASH and sim.is_up(node):
            lose_power(sim, node)
        elif kind is FaultKind.WIPE and sim.is_up(node):
            wipe(sim, node)
        elif kind is FaultKind.PAUSE:
            self._links[fault.id] = self._peer_links(fault, node)
            for a, b in self._links[fault.id]:
                sim.network.cut_link(a, b, hold=True)
        elif kind is FaultKind.CLOCK:
            op = fault.params.get("op", "bump")
            sim.set_skew(node, 0 if op == "reset" else round(fault.params["delta_s"] * 1000))
        elif kind is FaultKind.LATENCY:
            jitter = random.Random(f"{self.seed}/{fault.id}").randint(
                0, int(fault.params.get("jitter_ms", 0)))  # fmt: skip
            delay = LinkFaults(delay_ms=int(fault.params["latency_ms"]) + jitter)
            self._links[fault.id] = self._peer_links(fault, node)
            for a, b in self._links[fault.id]:
                sim.network.set_faults(a, b, delay)
        elif kind is FaultKind.BANDWIDTH:
            raise ValueError(f"the simulator cannot model {kind}: {UNSUPPORTED[kind]}")

    def _start_lossy(self, fault: Fault) -> dict[str, Any]:
        if fault.kind is FaultKind.RESET_PEER:
            lossy = LossyFault(Break.RESET, timeout_ms=int(fault.params.get("timeout_ms", 0)))
        else:
            lossy = LossyFault(Break.LIMIT, limit_bytes=int(fault.params["bytes"]))
        targets = [] if "links" in fault.params else self._targets(fault)
        links = sorted({x for node in targets or [""] for x in self._peer_links(fault, node)})
        for link in links:
            self.sim.lossy.set(link, lossy)
        self._links[fault.id] = links
        return {"links": [list(x) for x in links], "targets": targets}

    def _partition_links(self, fault: Fault) -> list[tuple[str, str]]:
        if "links" in fault.params:
            return sorted((a, b) for a, b in fault.params["links"])
        nodes = list(fault.targets) or self.nodes()
        cut = SHAPES[Shape(fault.params["shape"])](nodes, random.Random(f"{self.seed}/{fault.id}"))
        return sorted(cut)

    def stop(self, fault: Fault, details: dict[str, Any]) -> None:
        """Reverts `fault` as `start` applied it (`details`: what start returned)."""
        sim = self.sim
        links = self._links.pop(fault.id, [])
        if fault.kind in (FaultKind.PARTITION, FaultKind.PAUSE):
            lossy = fault.params.get("mode", PartitionMode.HOLD) != PartitionMode.HOLD
            for link in links:
                sim.network.cut.pop(link, None)
                if fault.kind is FaultKind.PARTITION and lossy:
                    break_link(sim, *link)
            if fault.kind is FaultKind.PAUSE or not lossy:
                _release(sim)
        elif fault.kind is FaultKind.LATENCY:
            for a, b in links:
                sim.network.set_faults(a, b, CLEAN)
        elif fault.kind in LOSSY:
            for link in links:
                sim.lossy.clear(link)
            return
        downed = self._downed.pop(fault.id, set())
        for node in details.get("targets", []):
            if fault.kind in DOWN and node in downed and not sim.is_up(node):
                sim.restart(node)
            elif fault.kind is FaultKind.CLOCK:
                sim.set_skew(node, 0)

    def heal_all(self) -> None:
        """Reconnects every link, clears every skew and restarts every crashed node."""
        self._links.clear()
        self.sim.network.heal()
        for link in list(self.sim.lossy.faults):
            self.sim.lossy.clear(link)
        self._downed.clear()
        for node in self.nodes():
            if not self.sim.is_up(node):
                self.sim.restart(node)
        for node in self.sim.skew_ms:  # spares too: a clock fault may have hit one that left
            if self.sim.skew_ms[node]:
                self.sim.set_skew(node, 0)


def _release(sim: Simulator) -> None:
    """Lets held messages on reconnected links go (the others stay held)."""
    for listener in sim.network.heal_listeners:
        listener()
