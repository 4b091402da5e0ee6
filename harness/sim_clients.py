"""The simulated run's client slots: what each invokes, applies and records, on virtual time.

`ClientSlots.slot(i)` is the coroutine of client slot `i` in `harness.sim_runner`: it
draws ops as `harness.engine` does (process ids and op streams from `workloads.streams`,
pauses from the slot's pace rng), or takes them from a schedule, applies each through a
`SimClient`, records the invocation and the completion, and waits the pause, until the
run's deadline. Guarantee: the ops drawn and recorded are those the interpreted loop drew
(the same rng calls in the same order); `SimResult.ops` gets each slot's steps.

The module is compiled (native/__init__.py), with the recorder: it runs once per client
op, and interpreted it cost a tenth of a simulated run. Like the node's build, it opts in
(`SIBYL_NATIVE_NODE`), as it calls the node's compiled classes directly.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from checkers.history import Op, OpType
from harness.history import Recorder
from node.sim.clients import SimClient, sleep_until
from node.sim.cluster import Simulator
from workloads import streams
from workloads.base import INDETERMINATE, Completion, OpSpec, Workload

Step = tuple[OpSpec, int]
"""A client op and the virtual milliseconds its slot waits after it."""


class VirtualRecorder(Recorder):
    """A Recorder kept in memory whose clock is the simulator's (virtual ns)."""

    def __init__(self, sim: Simulator) -> None:
        super().__init__("/dev/null")
        self.sim = sim

    def now(self) -> int:
        return self.sim.now_ms * 1_000_000

    def record(self, op: Op) -> Op:
        """Keeps `op` in memory only: `sim_store` writes a failing seed's history (a JSON
        line per op to /dev/null cost a tenth of a simulated run)."""
        self.ops.append(op)
        self.counts[op.type] += 1
        return op


class ClientSlots:
    """The client slots of one simulated run, and the steps each took (`ops`)."""

    def __init__(
        self,
        sim: Simulator,
        workload: Workload,
        rec: VirtualRecorder,
        seed: int,
        concurrency: int,
        rate: float,
        deadline_ms: int,
        given: dict[int, list[Step]] | None,
    ) -> None:
        self.sim, self.workload, self.rec = sim, workload, rec
        self.seed, self.concurrency, self.deadline_ms = seed, concurrency, deadline_ms
        self.pace_ms = 1000 * concurrency / rate
        self.given = given
        self.ops: dict[int, list[Step]] = {}

    def slots(self) -> list[int]:
        """The slots to run: every slot, or those the schedule gives ops for."""
        return list(range(self.concurrency)) if self.given is None else list(self.given)

    async def slot(self, slot: int) -> None:
        """Client slot `slot` until the deadline (or the end of its given ops)."""
        seed, incarnation = self.seed, 0  # process ids and streams as in the engine
        process, node = slot, self.sim.names[slot % len(self.sim.names)]
        client = SimClient(node)
        rng, pauses = streams.op_rng(seed, process), streams.pace_rng(seed, slot)
        rate = 1 / self.pace_ms
        given: Iterator[Step] | None = None if self.given is None else iter(self.given[slot])
        steps = self.ops.setdefault(slot, [])
        rec, workload = self.rec, self.workload
        while self.sim.now_ms < self.deadline_ms:
            if given is None:
                spec = workload.next_op(rng, process)
                # Random.expovariate(rate), written out (the same float: the same draw and
                # the same arithmetic); the library's runs as Python
                gap = round(-math.log(1.0 - pauses.random()) / rate)
            else:
                step = next(given, None)
                if step is None:
                    return
                spec, gap = step
            steps.append((spec, gap))
            invoke = rec.invoke_spec(process, spec)
            learned: dict[str, Any] = dict(spec.extra)
            try:  # no coroutine of its own: each await below passes through every caller
                done = await workload.apply(client, spec, process, learned)
            except INDETERMINATE as e:
                done = Completion(OpType.INFO, {**learned, "error": f"{type(e).__name__}: {e}"})
            rec.finish(invoke, done, node)
            if done.type is OpType.INFO:
                incarnation += 1
                process = streams.process_id(slot, incarnation, self.concurrency)
                rng = streams.op_rng(seed, process)
            await sleep_until(self.sim.now_ms + gap)
