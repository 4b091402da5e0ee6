"""One simulated test: the workload, the nemesis, heal, quiesce, replica and final reads, checks.

`simulate(spec, schedule)` runs the same phases as `harness.engine` on a
`node.sim.Simulator`, with the workload's coroutines driven on virtual time
(`node.sim.clients`), and records the same history (op times are virtual
nanoseconds). Guarantee: the result, the history and the trace digest are a
function of the spec and the schedule only (not of wall time, threads or
PYTHONHASHSEED).

A `SimSchedule` is what a run is made of: the seed, the faults and, when
replaying or shrinking, the exact client ops per slot (each with the virtual
pause after it). Without explicit ops, ops come from the workload's generator
seeded per process as in `sibyl run` (`workloads.streams`), and `SimResult.ops`
records them, so any run can be replayed with a subset of its faults and ops.
"""

from __future__ import annotations

import gc
import random
import time
from collections.abc import Collection, Coroutine, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from checkers.cart_history import SharedHistory
from checkers.history import Op, OpType
from checkers.result import Result, Validity, merge_valid, run_safely

# The engine's own record of an applied fault and reading of a stored value: one definition.
from harness.engine import _realised, replica_round
from harness.faults import Fault
from harness.generator import fault_schedule
from harness.runner import RunConfig
from harness.sim_clients import ClientSlots, Step, VirtualRecorder
from harness.sim_liveness import liveness_result, record_statuses
from harness.sim_nemesis import SIM_CLOCK_OPS, SimNemesis
from node import versions
from node.sim.clients import Scheduler, SimClient, sleep_until
from node.sim.cluster import HandlerBug, SimConfig, Simulator
from node.sim.faults import add_spare
from workloads.base import INDETERMINATE, Completion, OpSpec, Workload


class SimMode(StrEnum):
    """Safety: check the history. Liveness: also require convergence within a bound after
    faults stop, and pass `sibyl run`'s liveness checker on node status rounds read from
    the simulated nodes (harness/sim_liveness.py)."""

    SAFETY = "safety"
    LIVENESS = "liveness"


@dataclass(frozen=True)
class SimSpec:
    """What `sibyl sim` runs per seed (the options besides the seed)."""

    workload: str = "cart"
    nodes: int = 5
    nemesis: tuple[str, ...] = ("partition", "kill", "pause", "clock")
    time_limit_s: float = 20.0
    rate: float = 100.0
    concurrency: int = 5
    mode: str = "sloppy"
    conflict: str = "siblings"
    n: int = 3
    r: int = 2
    w: int = 2
    quiesce_s: float = 5.0
    converge_s: float = 15.0
    sim_mode: SimMode = SimMode.SAFETY
    op_timeout_ms: int = 2000
    partition_mode: str = "hold"  # hold, drop, reset or mixed (as sibyl run's --partition-mode)
    fault_overlap: float = 0.0
    nemesis_interval_s: float | None = None
    partition_until_end: bool = False
    keys: int | None = None  # as sibyl run's --keys, --key-distribution, --blind-writes
    key_distribution: str = "uniform"
    blind_writes: float = 0.0
    node_settings: dict[str, Any] = field(default_factory=dict)  # as --node-setting

    def settings(self) -> dict[str, Any]:
        """The node config fields (as `sibyl run` sets them: one definition)."""
        return as_run_config(self).settings()

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "nemesis": list(self.nemesis), "sim_mode": self.sim_mode.value}

    @staticmethod
    def from_dict(d: Mapping[str, Any]) -> SimSpec:
        known = set(SimSpec.__dataclass_fields__)
        kw = {k: v for k, v in d.items() if k in known}
        kw["nemesis"] = tuple(kw.get("nemesis", ()))
        kw["sim_mode"] = SimMode(kw.get("sim_mode", "safety"))
        kw["node_settings"] = dict(kw.get("node_settings", {}))
        return SimSpec(**kw)


@dataclass
class SimSchedule:
    """The seed, the faults, and (for replays) each slot's exact ops."""

    seed: int
    faults: list[Fault]
    ops: dict[int, list[Step]] | None = None

    def op_count(self) -> int:
        return sum(len(v) for v in (self.ops or {}).values())

    def to_dict(self) -> dict[str, Any]:
        ops = None if self.ops is None else {
            str(slot): [[s.f, s.key, s.value, dict(s.extra), gap] for s, gap in steps]
            for slot, steps in self.ops.items()}  # fmt: skip
        return {"seed": self.seed, "faults": [f.to_dict() for f in self.faults], "ops": ops}

    @staticmethod
    def from_dict(d: Mapping[str, Any]) -> SimSchedule:
        """Reads the JSON form; raises ValueError / KeyError / TypeError on a malformed one."""
        ops = d.get("ops")
        steps = None if ops is None else {
            int(slot): [(OpSpec(f, key, value, dict(extra)), int(gap))
                        for f, key, value, extra, gap in v] for slot, v in ops.items()}  # fmt: skip
        return SimSchedule(int(d["seed"]), [Fault.from_dict(f) for f in d["faults"]], steps)


@dataclass
class SimResult:
    """What one simulated run produced."""

    seed: int
    results: dict[str, Result]
    history: list[Op]
    digest: str
    realised: list[dict[str, Any]]
    ops: dict[int, list[Step]]
    sim_s: float
    wall_s: float
    notes: list[str] = field(default_factory=list)

    @property
    def valid(self) -> Validity:
        return merge_valid(r.valid for r in self.results.values())

    def failing(self) -> list[str]:
        return sorted(name for name, r in self.results.items() if r.valid is False)


def as_run_config(spec: SimSpec, **extra: Any) -> RunConfig:
    """The `sibyl run` config closest to `spec` (its schedule options are `sibyl run`'s)."""
    return RunConfig(nodes=spec.nodes, workload=spec.workload, nemesis=spec.nemesis,
                     time_limit_s=spec.time_limit_s, rate=spec.rate, concurrency=spec.concurrency,
                     mode=spec.mode, conflict=spec.conflict, n=spec.n, r=spec.r, w=spec.w,
                     quiesce_s=spec.quiesce_s, partition_mode=spec.partition_mode,
                     fault_overlap=spec.fault_overlap, nemesis_interval_s=spec.nemesis_interval_s,
                     partition_until_end=spec.partition_until_end, keys=spec.keys,
                     key_distribution=spec.key_distribution, blind_writes=spec.blind_writes,
                     node_settings=dict(spec.node_settings), **extra)  # fmt: skip


def planned_faults(spec: SimSpec, seed: int) -> list[Fault]:
    """The fault schedule `sibyl run` would draw for this seed, by the same code and options
    (`RunConfig.schedule_options`), except that the simulator's clocks only jump (freeze and
    rate are libfaketime's)."""
    names = [f"n{i}" for i in range(1, spec.nodes + 1)]
    opts = replace(as_run_config(spec).schedule_options(), clock_ops=SIM_CLOCK_OPS)
    return fault_schedule(spec.nemesis, names, spec.time_limit_s, random.Random(seed), opts)


def new_simulator(spec: SimSpec, seed: int, trace: bool = True) -> Simulator:
    """The simulated cluster for `spec`: its members, plus the spares (each joining through
    one seed) that membership faults need, laid out as `sibyl run` lays them out."""
    cfg = SimConfig(spec.nodes, spec.settings(), client_timeout_ms=spec.op_timeout_ms, trace=trace)
    sim = Simulator(seed, cfg)
    seeds, spares = as_run_config(spec).membership()
    for i in range(spares):
        add_spare(sim, f"n{spec.nodes + i + 1}", (sim.names[i % max(seeds, 1)],))
    return sim


def simulate(
    spec: SimSpec, schedule: SimSchedule, trace: bool = True, only: Collection[str] = ()
) -> SimResult:
    """Runs one test on the simulator; see the module docstring for the guarantee.

    `trace=False` skips the event trace (faster; the digest is then of nothing);
    `only` limits the checkers run to those names (all when empty).
    """
    t0 = time.perf_counter()
    # The cyclic collector is paused for the whole run (`Scheduler.run` says why): paused
    # only while coroutines run, it passed over every object they made at its next
    # collection, in quiescence or the checks, while the cluster was still alive. It
    # resumes once the cluster is gone and the node codec's memos are emptied, so its
    # first collection passes over what the result holds, not a whole cluster.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _simulate(spec, schedule, trace, only, t0)
    finally:
        versions.forget()
        if collecting:
            gc.enable()


def _simulate(
    spec: SimSpec, schedule: SimSchedule, trace: bool, only: Collection[str], t0: float
) -> SimResult:
    run = _SimRun(spec, schedule, new_simulator(spec, schedule.seed, trace))
    try:
        run.chaos()
        run.after_chaos()
    except HandlerBug as bug:  # a verdict on the node, not a crash of the simulator
        run.bug = bug
        run.notes.append(f"stopped at {bug.at_ms} virtual ms: {bug}")
    results = run.check(set(only))
    digest, wall_s = run.sim.trace_digest(), time.perf_counter() - t0
    return SimResult(schedule.seed, results, run.rec.ops, digest, run.realised, run.clients.ops,
                     run.sim.now_ms / 1000, wall_s, run.notes)  # fmt: skip


class _SimRun:
    def __init__(self, spec: SimSpec, schedule: SimSchedule, sim: Simulator) -> None:
        self.spec, self.schedule, self.sim = spec, schedule, sim
        self.workload: Workload = as_run_config(spec).make_workload()
        self.rec = VirtualRecorder(sim)
        self.deadline_ms = round(spec.time_limit_s * 1000)
        self.clients = ClientSlots(sim, self.workload, self.rec, schedule.seed, spec.concurrency,
                                   spec.rate, self.deadline_ms, schedule.ops)  # fmt: skip
        self.nemesis = SimNemesis(sim, schedule.seed)
        self.realised: list[dict[str, Any]] = []
        self.notes: list[str] = []
        self.agreed = False
        self.bug: HandlerBug | None = None

    def chaos(self) -> None:
        sched = Scheduler(self.sim)
        for fault in sorted(self.schedule.faults, key=lambda f: f.start_s):
            sched.spawn(self._fault(fault))
        for slot in self.clients.slots():
            sched.spawn(self.clients.slot(slot))
        sched.run()
        self.nemesis.heal_all()
        notes: list[str] = []
        if self.sim.spares or self.nemesis.membership.departed:
            sched.spawn(_collect(self.nemesis.membership.restore(), notes))
            sched.run()
        self.rec.nemesis("heal", {"began": self.rec.now(), **({"notes": notes} if notes else {})})

    async def _fault(self, fault: Fault) -> None:
        """One fault on its own clock, as the engine runs it (harness/engine.py), so faults
        whose intervals overlap are in force together (composed faults)."""
        start_ms, end_ms = round(fault.start_s * 1000), round(fault.end_s * 1000)
        if start_ms > self.deadline_ms:
            return
        await sleep_until(start_ms)
        details = await self.nemesis.begin(fault)
        self.rec.nemesis("start", {**fault.to_dict(), **details, "began": self.rec.now()})
        self.realised.append(_realised(fault, details))
        await sleep_until(min(end_ms, self.deadline_ms))
        stopped = await self.nemesis.end(fault, details)
        self.rec.nemesis("stop", {**fault.to_dict(), **details, **stopped,
                                  "began": self.rec.now()})  # fmt: skip

    def after_chaos(self) -> None:
        self.sim.run_for(round(self.spec.quiesce_s * 1000))
        sched = Scheduler(self.sim)
        sched.spawn(self._replica_reads())
        sched.run()
        if self.spec.sim_mode is SimMode.LIVENESS:  # judged on the quiesced cluster
            sched.spawn(record_statuses(self.rec, self.sim, self.workload.keys()))
            sched.run()
        sched.spawn(self._final_reads())
        sched.run()

    async def _replica_reads(self) -> None:
        """Rounds of per-replica reads of every key's primaries until they agree or time out."""
        end_ms = self.sim.now_ms + round(self.spec.converge_s * 1000)
        for round_ in range(1, 1000):
            agreed = await replica_round(self.rec, self.workload.keys(), self.sim.primaries,
                                         _sim_local_get, round_)  # fmt: skip
            if agreed or self.sim.now_ms > end_ms:
                self.agreed = agreed
                self.notes.append(f"replicas {'agree' if agreed else 'still differ'} "
                                  f"after {round_} round(s)")  # fmt: skip
                return
            await sleep_until(self.sim.now_ms + 500)

    async def _final_reads(self) -> None:
        for node in self.sim.names:
            for key in self.workload.keys():
                invoke = self.rec.invoke(f"final-{node}", "read", key)
                try:
                    done = await self.workload.final_read(SimClient(node), key)
                except INDETERMINATE as e:
                    done = Completion(OpType.FAIL, {"error": f"get: {e}", "final": True})
                self.rec.finish(invoke, done, node)

    def check(self, only: set[str]) -> dict[str, Result]:
        n = min(self.spec.n, self.spec.nodes)
        checkers = self.workload.checkers({"time_limit_s": 60.0, "n": n})
        shared = SharedHistory(self.rec.ops)  # the Dynamo checkers index it once, not once each
        out = {name: run_safely(check, shared)
               for name, check in checkers.items() if not only or name in only}  # fmt: skip
        if self.bug is not None:
            out["handler-bug"] = handler_bug_result(self.bug)
        if self.spec.sim_mode is SimMode.LIVENESS:
            out["liveness"] = liveness_result(self.rec.ops, self.agreed, self.spec.converge_s,
                                              self.spec.settings())  # fmt: skip
        return out


def handler_bug_result(bug: HandlerBug) -> Result:
    """The verdict on a node whose handler raised: invalid, naming the node and the error."""
    return Result(False, [{"kind": "handler-bug", "key": None, "ops": [], "processes": [],
                           "nodes": [bug.node], "faults": [],
                           "details": {"node": bug.node, "at_ms": bug.at_ms, "error": bug.error},
                           "explanation": f"{bug.node}'s handler raised at {bug.at_ms} virtual "
                                          f"ms (caught at its dispatch boundary): {bug.error}"}],
                  {"node": bug.node, "at_ms": bug.at_ms})  # fmt: skip


async def _collect(coro: Coroutine[Any, Any, list[str]], into: list[str]) -> None:
    into += await coro


async def _sim_local_get(node: str, key: str) -> dict[str, Any]:
    return await SimClient(node).local_get(key)
