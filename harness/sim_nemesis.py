"""The nemesis on the simulator: the `--nemesis` fault records carried out on a `Simulator`.

The same `harness.faults.Fault` records as on real processes, so schedules
move between `sibyl run`, `sibyl sim` and `sibyl shrink`. What each kind
becomes here (`SIM_KINDS`):

* partition: the shape's links (drawn from the fault's own seeded rng, or its
  explicit `links`) are cut and lose what is sent over them (iptables DROP);
  stop reconnects exactly those links;
* kill: `crash` (memory, unwritten disk writes, timers and in-flight messages
  lost); stop: `restart` from the disk;
* pause: approximated: every link to and from the target is cut and *holds*
  its messages until stop; unlike SIGSTOP, its timers keep firing and its
  clients are still served (the simulator cannot freeze one node's time);
* clock: bump and strobe set the target's skew to `delta_s` (strobe does not
  flip), reset and stop set it back to 0;
* latency: `latency_ms` (+ up to `jitter_ms`, fixed per fault) added to every
  peer link into or out of the target; client links are not slowed.

`UNSUPPORTED` lists what it cannot model (bandwidth: the simulator has no
byte-rate model).
"""

from __future__ import annotations

import random
from typing import Any

from harness.faults import Fault, FaultKind
from harness.partitions import SHAPES, Shape
from node.sim.cluster import Simulator
from node.sim.network import CLEAN, LinkFaults

SIM_KINDS = (FaultKind.PARTITION, FaultKind.KILL, FaultKind.PAUSE, FaultKind.CLOCK,
             FaultKind.LATENCY)  # fmt: skip
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

    def _targets(self, fault: Fault) -> list[str]:
        return list(fault.targets) or [random.Random(f"{self.seed}/{fault.id}").choice(
            self.sim.names)]  # fmt: skip

    def _peer_links(self, fault: Fault, node: str) -> list[tuple[str, str]]:
        if "links" in fault.params:
            return [(a, b) for a, b in fault.params["links"] if a in self.sim.names]
        return [(x, y) for o in self.sim.names if o != node for x, y in ((node, o), (o, node))]

    def start(self, fault: Fault) -> dict[str, Any]:
        """Applies `fault`; the details say which nodes and links it hit."""
        sim, kind = self.sim, fault.kind
        if kind is FaultKind.PARTITION:
            links = self._partition_links(fault)
            for a, b in links:
                sim.network.cut_link(a, b)
            self._links[fault.id] = links
            return {"links": [list(x) for x in links], "targets": list(fault.targets)}
        targets = self._targets(fault)
        for node in targets:
            self._start_on(fault, node)
        return {"targets": targets}

    def _start_on(self, fault: Fault, node: str) -> None:
        sim, kind = self.sim, fault.kind
        if kind is FaultKind.KILL and sim.is_up(node):
            sim.crash(node)
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

    def _partition_links(self, fault: Fault) -> list[tuple[str, str]]:
        if "links" in fault.params:
            return sorted((a, b) for a, b in fault.params["links"])
        nodes = list(fault.targets) or self.sim.names
        cut = SHAPES[Shape(fault.params["shape"])](nodes, random.Random(f"{self.seed}/{fault.id}"))
        return sorted(cut)

    def stop(self, fault: Fault, details: dict[str, Any]) -> None:
        """Reverts `fault` as `start` applied it (`details`: what start returned)."""
        sim = self.sim
        links = self._links.pop(fault.id, [])
        if fault.kind in (FaultKind.PARTITION, FaultKind.PAUSE):
            for link in links:
                sim.network.cut.pop(link, None)
            if fault.kind is FaultKind.PAUSE:
                _release(sim)
        elif fault.kind is FaultKind.LATENCY:
            for a, b in links:
                sim.network.set_faults(a, b, CLEAN)
        for node in details.get("targets", []):
            if fault.kind is FaultKind.KILL and not sim.is_up(node):
                sim.restart(node)
            elif fault.kind is FaultKind.CLOCK:
                sim.set_skew(node, 0)

    def heal_all(self) -> None:
        """Reconnects every link, clears every skew and restarts every crashed node."""
        self._links.clear()
        self.sim.network.heal()
        for node in self.sim.names:
            if not self.sim.is_up(node):
                self.sim.restart(node)
            if self.sim.skew_ms[node]:
                self.sim.set_skew(node, 0)


def _release(sim: Simulator) -> None:
    """Lets held messages on reconnected links go (the others stay held)."""
    for listener in sim.network.heal_listeners:
        listener()
