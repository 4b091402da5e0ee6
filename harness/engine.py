"""The phase engine of a run: client workers and the nemesis concurrently, then heal,
quiesce, final reads.

Phases: chaos (clients + faults for `time_limit_s`), heal (every fault
reverted), replica reads (rounds of per-replica debug reads, polled from the
heal, until the replicas agree or a deadline passes: only handoff and
anti-entropy can have made them agree, and the rounds time convergence from
the heal), the rest of the quiesce (`quiesce_s` after the heal), and final
reads (every key through every node). Every op is recorded at invoke and at
completion; a process whose op ends in `info` is retired and the slot's next
incarnation takes its place under a new id (Jepsen's rule). Process ids, op
streams, pauses and each slot's node are functions of the seed alone
(`workloads.streams`), so two runs with one seed differ only in timing. The
runner does no checking of its own: the workload's checkers read the history
afterwards.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from checkers.history import OpType
from harness.history import Recorder
from harness.status_rounds import record_statuses
from node.client import Client, NodeError
from workloads import streams
from workloads.base import INDETERMINATE, Completion, Workload, b64

Addr = tuple[str, int]
POLL_S = 0.1
"""Pause between replica-read rounds after the heal: the resolution of convergence time."""


class FaultInjector(Protocol):
    """What the runner needs from a nemesis (see harness/nemesis.py)."""

    async def start(self, fault: Any) -> dict[str, Any]: ...

    async def stop(self, fault: Any) -> dict[str, Any]: ...

    async def heal_all(self) -> None: ...

    #: What the last heal found but could not restore (recorded with the heal).
    heal_notes: list[str]


@dataclass
class Progress:
    """Live counters the progress display reads."""

    phase: str = "setup"
    started: float = field(default_factory=time.monotonic)
    ok: int = 0
    fail: int = 0
    info: int = 0
    active_faults: dict[int, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def completed(self) -> int:
        return self.ok + self.fail + self.info


@dataclass
class RunPlan:
    """Everything a run needs besides the cluster: timing, clients, faults."""

    time_limit_s: float
    concurrency: int
    rate: float
    seed: int
    faults: Sequence[Any] = ()
    quiesce_s: float = 3.0
    op_timeout_s: float = 2.0
    converge_timeout_s: float = 15.0
    n: int = 3
    status_rounds: int = 0  # node status snapshots after quiescence (liveness checker)
    status_interval_s: float = 1.0


class Engine:
    """Drives one workload against nodes reached at `client_addrs`, recording everything."""

    def __init__(
        self,
        workload: Workload,
        recorder: Recorder,
        client_addrs: dict[str, Addr],
        direct_addrs: dict[str, Addr],
        nemesis: FaultInjector | None,
        plan: RunPlan,
        progress: Progress | None = None,
    ) -> None:
        self.workload, self.rec, self.plan = workload, recorder, plan
        self.client_addrs, self.direct_addrs = client_addrs, direct_addrs
        self.nemesis = nemesis
        self.progress = progress or Progress()
        self.nodes = sorted(client_addrs)
        self.realised: list[dict[str, Any]] = []

    async def run(self) -> None:
        """All phases; the nemesis is always healed, even when a phase fails."""
        try:
            self.progress.phase = "chaos"
            deadline = time.monotonic() + self.plan.time_limit_s
            async with asyncio.TaskGroup() as tasks:  # one failure cancels the rest
                tasks.create_task(self._nemesis(deadline))
                for slot in range(self.plan.concurrency):
                    tasks.create_task(self._worker(slot, deadline))
        finally:
            self.progress.phase = "heal"
            await self._heal()
        healed = time.monotonic()
        # Replica reads first, polled from the heal: their rounds time convergence (the
        # quiesce must not be part of it), and a coordinated final read repairs the replicas
        # it reads, which would hide a replica that anti-entropy and handoff failed to fix.
        self.progress.phase = "replica reads"
        await self._replica_reads()
        self.progress.phase = "quiesce"
        await asyncio.sleep(max(0.0, healed + self.plan.quiesce_s - time.monotonic()))
        if self.plan.status_rounds:  # liveness is judged on the quiesced cluster
            self.progress.phase = "status"
            await record_statuses(self.rec, self.direct_addrs, self.workload.keys(),
                                  self.plan.status_rounds, self.plan.status_interval_s)  # fmt: skip
        self.progress.phase = "final reads"
        await self._final_reads()
        self.progress.phase = "done"

    # --- clients ----------------------------------------------------------

    async def _worker(self, slot: int, deadline: float) -> None:
        seed, incarnation = self.plan.seed, 0
        process = streams.process_id(slot, incarnation, self.plan.concurrency)
        rng, pauses = streams.op_rng(seed, process), streams.pace_rng(seed, slot)
        node = self.nodes[slot % len(self.nodes)]
        client: Client | None = None
        pace = self.plan.concurrency / self.plan.rate if self.plan.rate > 0 else 0.0
        next_at = time.monotonic()
        while time.monotonic() < deadline:
            if client is None:
                client = await self._connect(node, deadline)
                if client is None:
                    return
            spec = self.workload.next_op(rng, process)
            invoke = self.rec.invoke_spec(process, spec)
            done = await self._apply(client, spec, process)
            self.rec.finish(invoke, done, node)
            self._count(done.type)
            if done.type is OpType.INFO:  # retired: the slot's next incarnation takes over
                incarnation += 1
                process = streams.process_id(slot, incarnation, self.plan.concurrency)
                rng = streams.op_rng(seed, process)
                await client.close()
                client = None
            if pace:  # a Poisson schedule per worker: op latency does not lower the rate
                next_at = max(next_at + pauses.expovariate(1.0 / pace), time.monotonic() - pace)
                await asyncio.sleep(max(0.0, next_at - time.monotonic()))
        if client is not None:
            await client.close()

    async def _connect(self, node: str, deadline: float) -> Client | None:
        while time.monotonic() < deadline:
            try:
                return await Client.connect(
                    *self.client_addrs[node], timeout_s=self.plan.op_timeout_s
                )
            except (ConnectionError, TimeoutError, OSError):
                await asyncio.sleep(0.1)
        return None

    async def _apply(self, client: Client, spec: Any, process: int) -> Completion:
        learned: dict[str, Any] = dict(spec.extra)
        try:
            return await asyncio.wait_for(
                self.workload.apply(client, spec, process, learned), self.plan.op_timeout_s
            )
        except INDETERMINATE as e:
            return Completion(OpType.INFO, {**learned, "error": f"{type(e).__name__}: {e}"})

    def _count(self, t: OpType) -> None:
        p = self.progress
        if t is OpType.OK:
            p.ok += 1
        elif t is OpType.FAIL:
            p.fail += 1
        else:
            p.info += 1

    # --- nemesis ----------------------------------------------------------

    async def _nemesis(self, deadline: float) -> None:
        """Runs every fault on its own clock (start at start_s, stop at end_s), so faults
        whose intervals overlap are in force together (composed faults) and one fault's
        slow verification does not delay another's."""
        if self.nemesis is None:
            return
        t0 = time.monotonic()
        async with asyncio.TaskGroup() as faults:
            for fault in sorted(self.plan.faults, key=lambda f: (f.start_s, f.id)):
                faults.create_task(self._one_fault(fault, t0, deadline))

    async def _one_fault(self, fault: Any, t0: float, deadline: float) -> None:
        assert self.nemesis is not None
        if not await _sleep_until(t0 + fault.start_s, deadline):
            return
        began = self.rec.now()
        self._log_fault("start", fault, await self._try(self.nemesis.start, fault), began)
        if not await _sleep_until(t0 + fault.end_s, deadline):
            return  # still active: the heal phase reverts it
        began = self.rec.now()
        self._log_fault("stop", fault, await self._try(self.nemesis.stop, fault), began)

    async def _try(self, step: Any, fault: Any) -> dict[str, Any]:
        """A nemesis step; a fault that cannot be applied or verified is recorded, not fatal.

        The heal at the end still reverts whatever part of it took effect.
        """
        try:
            return dict(await step(fault))
        except Exception as e:  # noqa: BLE001 - e.g. the proxy server gone: record, go on
            self.progress.notes.append(f"fault {fault.id}: {e}")
            return {"error": f"{type(e).__name__}: {e}"}

    def _log_fault(self, f: str, fault: Any, details: dict[str, Any], began: int) -> None:
        """Records a nemesis start/stop once verified; `began` (ns) is when the step began.

        A start also joins the realised schedule: the fault as it happened
        (resolved targets, the exact links cut), so `sibyl replay` repeats it
        rather than redrawing it.
        """
        record = {**fault.to_dict(), **details, "began": began}
        if "shape" in fault.params:
            record["shape"] = fault.params["shape"]
        self.rec.nemesis(f, record)
        if f == "start":
            self.progress.active_faults[fault.id] = _describe_fault(fault)
            self.realised.append(_realised(fault, details))
        else:
            self.progress.active_faults.pop(fault.id, None)

    async def _heal(self) -> None:
        began = self.rec.now()
        if self.nemesis is not None:
            await self.nemesis.heal_all()
        self.progress.active_faults.clear()
        notes = list(self.nemesis.heal_notes) if self.nemesis is not None else []
        self.rec.nemesis("heal", {"began": began, **({"notes": notes} if notes else {})})

    # --- after the chaos --------------------------------------------------

    async def _final_reads(self) -> None:
        for node in self.nodes:
            client = await Client.connect(*self.direct_addrs[node], timeout_s=5.0)
            try:
                for key in self.workload.keys():
                    invoke = self.rec.invoke(f"final-{node}", "read", key)
                    try:
                        done = await self.workload.final_read(client, key)
                    except INDETERMINATE as e:
                        done = Completion(OpType.FAIL, {"error": f"get: {e}", "final": True})
                    self.rec.finish(invoke, done, node)
            finally:
                await client.close()

    async def _replica_reads(self) -> None:
        """Rounds of per-replica debug reads of every primary until they agree (or time out)."""
        clients = {
            n: await Client.connect(*self.direct_addrs[n], timeout_s=5.0) for n in self.nodes
        }
        try:
            # The node's own placement (its debug API), so the harness never models the ring.
            primaries = await clients[self.nodes[0]].preference_lists(self.workload.keys())
            # Polled from the heal: quiesce_s is the most the run waits, not a fixed sleep.
            deadline = time.monotonic() + self.plan.quiesce_s + self.plan.converge_timeout_s
            for round_ in range(1, 10_000):
                agreed = await self._replica_round(clients, primaries, round_)
                if agreed or time.monotonic() > deadline:
                    self.progress.notes.append(
                        f"replicas {'agree' if agreed else 'still differ'} after {round_} round(s)"
                    )
                    return
                await asyncio.sleep(POLL_S)
        finally:
            for c in clients.values():
                await c.close()

    async def _replica_round(
        self, clients: dict[str, Client], primaries: dict[str, list[str]], round_: int
    ) -> bool:
        async def local_get(node: str, key: str) -> dict[str, Any]:
            return await clients[node].local_get(key)

        keys = self.workload.keys()
        return await replica_round(self.rec, keys, primaries.__getitem__, local_get, round_)


async def replica_round(
    rec: Recorder,
    keys: Sequence[str],
    primaries: Callable[[str], Sequence[str]],
    local_get: Callable[[str, str], Awaitable[dict[str, Any]]],
    round_: int,
) -> bool:
    """One round of per-replica debug reads of every key's primaries, each recorded as a
    `replica-read`; True when, for every key, every primary answered the same siblings
    and context. Shared by the engine and the simulator's runner."""
    agreed = True
    for key in keys:
        views = set()
        for node in primaries(key):
            try:
                r = await local_get(node, key)
            except (NodeError, *INDETERMINATE):
                agreed = False
                continue
            sibs = [_decode_value(v) for v in r["siblings"]]
            ctx = b64(bytes(r["context"]))
            rec.checker_op("replica-read", key, node, siblings=sibs, context=ctx, round=round_)
            views.add(ctx + repr(sorted(map(repr, sibs))))
        agreed = agreed and len(views) <= 1
    return agreed


def _decode_value(raw: bytes) -> Any:
    import json

    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return raw.hex()


async def _sleep_until(when: float, deadline: float) -> bool:
    """Sleeps until `when`; False (after sleeping to `deadline`) if that comes first."""
    target = min(when, deadline)
    await asyncio.sleep(max(0.0, target - time.monotonic()))
    return when <= deadline


def _realised(fault: Any, details: dict[str, Any]) -> dict[str, Any]:
    """The fault as it was applied, as a Fault record (JSON form)."""
    d = fault.to_dict()
    if "error" in details:
        return d
    d["targets"] = list(details.get("targets", d["targets"]))
    if "links" in details and d["kind"] in ("partition", "latency", "bandwidth"):
        d["params"] = {**d["params"], "links": details["links"]}
    return d


def _describe_fault(fault: Any) -> str:
    shape = fault.params.get("shape") if hasattr(fault, "params") else None
    kind = str(getattr(fault.kind, "value", fault.kind))
    targets = ",".join(getattr(fault, "targets", ()) or ())
    return " ".join(x for x in (kind, shape, targets) if x)
