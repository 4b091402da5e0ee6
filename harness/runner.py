"""Runs one test end to end: set up the lab, run, tear down, check, store.

`run_test(config)` never leaves a process or a fault behind: the lab is healed
and stopped in a `finally`, also on Ctrl-C and on crashes, and the run
directory always ends up with a `results.json` saying what happened. The exit
code follows Jepsen: 0 valid, 1 invalid, 2 unknown, 255 crashed.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import random
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from checkers import liveness
from checkers.cart_history import SharedHistory
from checkers.history import CHECKER, Op, OpType, read_jsonl
from checkers.result import UNKNOWN, Result, run_safely
from harness.clock import ClockUnavailable
from harness.engine import Engine, Progress, RunPlan
from harness.errors import ExitCode
from harness.faults import Fault
from harness.findings import true_counts
from harness.generator import DEFAULT_NEMESES, ScheduleOptions, fault_schedule, schedule_doc
from harness.history import Recorder
from harness.inventory import InventoryError
from harness.lab import Lab
from harness.progress import live_progress
from harness.remote import RemoteError
from harness.report import CRASHED, exit_code, results_doc, write_all, write_crashed
from harness.store import StoreError, new_run_dir, read_json, write_json
from workloads import Cart, Register, SetWorkload, Workload

BAD_INPUT = int(ExitCode.USAGE)  # unusable input (here: the lab's hosts)


@dataclass
class RunConfig:
    """The options of `sibyl run` (stored as config.json; `sibyl replay` reads them back)."""

    nodes: int = 5
    workload: str = "cart"
    nemesis: tuple[str, ...] = DEFAULT_NEMESES
    time_limit_s: float = 60.0
    rate: float = 200.0
    concurrency: int = 10
    seed: int | None = None
    mode: str = "sloppy"
    conflict: str = "siblings"
    n: int = 3
    r: int = 2
    w: int = 2
    store: str = "store"
    keep_cluster: bool = False
    quiesce_s: float = 5.0
    intercepts: tuple[str, ...] = ()
    node_settings: dict[str, Any] = field(default_factory=dict)
    lab: str = "local"  # local | netns | vagrant | ssh
    inventory: str = ""  # the hosts of a remote lab (harness/inventory.py)
    accept_new_host_key: bool = False
    keys: int | None = None  # cart/set carts, register registers (None: the workload's own)
    key_distribution: str = "uniform"  # or "zipf"
    blind_writes: float = 0.0  # share of cart/set adds that skip the read
    partition_mode: str = "hold"  # hold, drop, or mixed (both)
    fault_overlap: float = 0.0  # chance that a fault starts inside the previous one
    nemesis_interval_s: float | None = None  # mean gap between faults (default 1-3 s)
    partition_until_end: bool = False
    liveness: bool = True  # record node status after quiescence and check it
    seeds: int = 0  # >0: configs name only themselves and the first `seeds` nodes

    def membership(self) -> tuple[int, int]:
        """(seeds, spares) the lab needs: membership faults need seeds, and join faults two
        spares (they join at the same moment, each through its own seed)."""
        kinds = set(self.nemesis)
        seeds = self.seeds or (min(2, self.nodes) if kinds & {"join", "leave", "replace"} else 0)
        spares = 2 if "join" in kinds else 1 if "replace" in kinds else 0
        return seeds, spares

    @property
    def test(self) -> str:
        """The test's name: workload, modes, and any planted bug (so a store tells them apart)."""
        planted = "".join(f"-intercept-{m.rsplit('.', 1)[-1]}" for m in self.intercepts)
        return f"{self.workload}-{self.mode}-{self.conflict}{planted}"

    def settings(self) -> dict[str, Any]:
        """The node config fields for this run."""
        return {
            "n": min(self.n, self.nodes), "r": self.r, "w": self.w,
            "quorum": self.mode, "conflict": self.conflict,
            "request_timeout_ms": 1000, "probe_interval_ms": 250,
            "handoff_interval_ms": 250, "antientropy_interval_ms": 500,
            **self.node_settings,
        }  # fmt: skip

    def schedule_options(self) -> ScheduleOptions:
        """How the fault schedule is drawn for this run."""
        mixed = ("hold", "drop", "reset")
        modes = mixed if self.partition_mode == "mixed" else (self.partition_mode,)
        gap = ScheduleOptions.gap_s
        if self.nemesis_interval_s is not None:
            gap = (0.5 * self.nemesis_interval_s, 1.5 * self.nemesis_interval_s)
        seeds, spares = self.membership()
        names = [f"n{i + 1}" for i in range(self.nodes + spares)]
        return ScheduleOptions(gap_s=gap, partition_modes=modes, overlap=self.fault_overlap,
                               partition_until_end=self.partition_until_end,
                               seeds=tuple(names[:seeds]),
                               spares=tuple(names[self.nodes :]),
                               keys=tuple(self.make_workload().keys()))  # fmt: skip

    def make_workload(self) -> Workload:
        """The configured workload, with its key count, key distribution and blind writes."""
        if self.workload == "register":
            return Register(**({"keys": self.keys} if self.keys else {}))
        cls = SetWorkload if self.workload == "set" else Cart
        return cls(self.keys or 5, blind_ratio=self.blind_writes,
                   zipf=self.key_distribution == "zipf")  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @staticmethod
    def from_dict(d: dict[str, Any]) -> RunConfig:
        known = {f.name for f in dataclasses.fields(RunConfig)}
        kw: dict[str, Any] = {
            k: (tuple(v) if isinstance(v, list) else v) for k, v in d.items() if k in known
        }
        return RunConfig(**kw)


@dataclass
class Outcome:
    """What a run produced."""

    run_dir: Path
    status: int
    doc: dict[str, Any]


def run_test(
    cfg: RunConfig, command: str, console: Console, faults: list[Fault] | None = None
) -> Outcome:
    """Runs one test as configured; `faults` replaces the generated schedule (replay)."""
    console.record = True  # what it prints is kept as run_dir/sibyl.log (_save_log)
    if cfg.seed is None:
        cfg.seed = random.SystemRandom().randrange(1 << 31)
    run_dir = new_run_dir(cfg.store, cfg.test)
    # soft_wrap: paths and commands stay on one line, so they paste whole from a CI log.
    console.print(f"[bold]sibyl run[/] {cfg.test}  seed [bold]{cfg.seed}[/]  -> {run_dir}",
                  soft_wrap=True)  # fmt: skip
    write_json(run_dir / "config.json", cfg.to_dict())
    (run_dir / "command.txt").write_text(command + "\n")
    nodes = [f"n{i + 1}" for i in range(cfg.nodes)]
    if faults is None:
        faults = fault_schedule(cfg.nemesis, nodes, cfg.time_limit_s, random.Random(cfg.seed),
                                cfg.schedule_options())  # fmt: skip
    write_json(run_dir / "schedule.json", schedule_doc(cfg.seed, cfg.concurrency, faults))
    try:
        return asyncio.run(_run(cfg, run_dir, command, faults, console))
    except (RemoteError, InventoryError, ClockUnavailable) as e:  # the hosts, not a crash
        console.print(f"[red]sibyl run: {e}[/]")
        return _crashed(cfg, run_dir, command, str(e), console, BAD_INPUT)
    except KeyboardInterrupt:
        console.print("[yellow]interrupted: every fault was healed and every node stopped[/]")
        return _crashed(cfg, run_dir, command, "interrupted by the user (Ctrl-C)", console)
    except Exception as e:  # noqa: BLE001 - a crash must still leave a run directory
        detail = "".join(traceback.format_exception(e))
        (run_dir / "crash.txt").write_text(detail)
        console.print(f"[red]crashed: {type(e).__name__}: {e}[/] (details in {run_dir}/crash.txt)",
                      soft_wrap=True)  # fmt: skip
        return _crashed(cfg, run_dir, command, f"{type(e).__name__}: {e}", console)


async def _run(
    cfg: RunConfig, run_dir: Path, command: str, faults: list[Fault], console: Console
) -> Outcome:
    workload = cfg.make_workload()
    progress = Progress()
    kinds = tuple(sorted({str(f.kind.value) for f in faults}))
    env = intercept_env(cfg.intercepts)
    recorder = Recorder(run_dir / "history.jsonl")
    lab = await _start_lab(cfg, run_dir, kinds, env)
    plan = RunPlan(cfg.time_limit_s, cfg.concurrency, cfg.rate, cfg.seed or 0, faults,
                   quiesce_s=cfg.quiesce_s, n=min(cfg.n, cfg.nodes),
                   status_rounds=3 if cfg.liveness else 0)  # fmt: skip
    engine = Engine(workload, recorder, lab.client_addrs(), lab.direct_addrs(), lab.nemesis,
                    plan, progress)  # fmt: skip
    t0 = time.monotonic()
    try:
        async with live_progress(progress, cfg.time_limit_s, console):
            await engine.run()
    finally:
        recorder.close()
        sched = schedule_doc(cfg.seed, cfg.concurrency, faults, engine.realised)
        write_json(run_dir / "schedule.json", sched)
        await lab.stop(cfg.keep_cluster)
        lab.collect_logs(run_dir / "nodes")
        lab.close()
        if cfg.keep_cluster:
            _print_kept(lab, console, cfg.lab)
    chaos_s = min(time.monotonic() - t0, cfg.time_limit_s)
    results = _check(workload, recorder.ops, min(cfg.n, cfg.nodes), console, cfg.settings())
    meta = _meta(cfg, command, recorder, chaos_s, progress)
    doc = write_all(run_dir, results, meta, [f.to_dict() for f in faults], recorder.ops)
    status = exit_code(doc["valid"])
    _summary(console, doc, results, run_dir, progress)
    _save_log(console, run_dir)
    return Outcome(run_dir, status, doc)


async def _start_lab(
    cfg: RunConfig, run_dir: Path, kinds: tuple[str, ...], env: dict[str, str]
) -> Lab:
    """The local lab, or the inventory's hosts for --lab netns/vagrant/ssh."""
    seeds, spares = cfg.membership()
    if cfg.lab == "local":
        return await Lab.start(run_dir / "nodes", cfg.nodes, cfg.settings(), kinds,
                               cfg.seed or 0, env, seeds=seeds, spares=spares)  # fmt: skip
    if seeds or spares:
        raise RemoteError(f"membership faults and --seeds need the local lab, not --lab {cfg.lab}")
    from harness.inventory import load_inventory
    from harness.remote_lab import start_remote_lab

    inv = load_inventory(cfg.inventory)
    if cfg.accept_new_host_key:
        inv = inv.with_accept_new_host_key()
    return await start_remote_lab(inv, run_dir / "nodes", cfg.settings(), kinds, cfg.seed or 0)


def _check(
    workload: Any,
    ops: list[Op],
    n: int,
    console: Console,
    settings: dict[str, Any],
    only: str | None = None,
) -> dict[str, Result]:
    """The workload's checkers, plus liveness when the history has node status rounds
    (all of them, or the one named `only`)."""
    results = {}
    shared = SharedHistory(ops)  # the Dynamo checkers index it once, not once each
    checks = dict(workload.checkers({"time_limit_s": 60.0, "n": n}))
    if any(op.process == CHECKER and op.f == liveness.STATUS for op in ops):
        clock = int(settings.get("max_clock_entries", 32))
        checks["liveness"] = lambda h: liveness.check(h, max_clock_entries=clock)
    for name, check in checks.items():
        if only is not None and name != only:
            continue
        t = time.monotonic()
        results[name] = run_safely(check, shared)
        results[name].stats.setdefault("check_s", round(time.monotonic() - t, 3))
        console.print(f"  checked {name} in {time.monotonic() - t:.1f}s")
    return results


def recheck(run_dir: Path, console: Console, only: str | None = None) -> Outcome:
    """Re-runs the workload's checkers on a stored run. With all of them, it rewrites the
    run's reports and says so; with `only` (one checker's name) it rewrites nothing.

    Raises StoreError / HistoryError naming the file when the run cannot be read, and
    KeyError naming `only` when the run's workload has no such checker.
    """
    cfg = RunConfig.from_dict(read_json(run_dir / "config.json"))
    ops = read_jsonl(run_dir / "history.jsonl")
    if not any(isinstance(op.process, int) for op in ops):
        raise StoreError(
            f"{run_dir / 'history.jsonl'} records no client operation, so there is nothing "
            "to check (did the run crash before its clients started?)"
        )
    workload = cfg.make_workload()
    if only is not None and only not in workload.checkers({}):
        known = ", ".join(workload.checkers({}))
        raise KeyError(f"the {cfg.workload} workload has no checker {only!r}; it has {known}")
    old = _optional_json(run_dir / "results.json")
    console.print(f"[bold]sibyl check[/] {run_dir} ({cfg.test}, {len(ops)} history ops)",
                  soft_wrap=True)  # fmt: skip
    results = _check(workload, ops, min(cfg.n, cfg.nodes), console, cfg.settings(), only)
    meta = {k: v for k, v in old.items() if k not in ("valid", "checkers", "schema_version")}
    meta.setdefault("test", cfg.test)
    meta.setdefault("seed", cfg.seed)
    meta.setdefault("command", f"sibyl check {run_dir}")
    meta.setdefault("stats", {"ops_completed": 0, "ok": 0, "fail": 0, "info": 0,
                              "chaos_s": 0, "ops_per_s": 0})  # fmt: skip
    faults = _optional_json(run_dir / "schedule.json").get("planned", [])
    if only is None:
        doc = write_all(run_dir, results, meta, list(faults), ops)
        was = _word(old.get("valid", "none"), "valid", "invalid", "unknown")
        console.print(f"rewrote results.json, junit.xml and report.html in {run_dir} "
                      f"(the stored verdict was {was})", soft_wrap=True)  # fmt: skip
    else:
        doc = {**results_doc(results, meta), "rewritten": False}
    _summary(console, doc, results, run_dir, Progress())
    return Outcome(run_dir, exit_code(doc["valid"]), doc)


def _optional_json(path: Path) -> dict[str, Any]:
    return dict(read_json(path)) if path.is_file() else {}


def _meta(
    cfg: RunConfig, command: str, rec: Recorder, chaos_s: float, p: Progress
) -> dict[str, Any]:
    client_ops = p.completed
    recorded = sum(
        1 for op in rec.ops if isinstance(op.process, int) and op.type is not OpType.INVOKE
    )
    return {
        "test": cfg.test,
        "seed": cfg.seed,
        "command": command,
        "config": cfg.to_dict(),
        "stats": {
            "ops_completed": client_ops,
            "ok": p.ok, "fail": p.fail, "info": p.info,
            "chaos_s": round(chaos_s, 2),
            "ops_per_s": round(client_ops / chaos_s, 1) if chaos_s else 0,
            "history_ops": len(rec.ops),
            "recorded_client_completions": recorded,
            "recorded_to_client_ratio": round(recorded / client_ops, 4) if client_ops else None,
            "notes": p.notes,
        },
    }  # fmt: skip


def _crashed(
    cfg: RunConfig, run_dir: Path, command: str, error: str, console: Console,
    status: int = CRASHED,
) -> Outcome:  # fmt: skip
    doc = {"schema_version": 1, "valid": UNKNOWN, "crashed": True, "error": error,
           "test": cfg.test, "seed": cfg.seed, "command": command}  # fmt: skip
    doc = write_crashed(run_dir, doc)
    console.print(f"run directory: {run_dir}", soft_wrap=True)
    _save_log(console, run_dir)
    return Outcome(run_dir, status, doc)


def _save_log(console: Console, run_dir: Path) -> None:
    """The controller's console output of this run, as plain text, in the run directory."""
    (run_dir / "sibyl.log").write_text(console.export_text(clear=False))


def _summary(
    console: Console, doc: dict[str, Any], results: dict[str, Result], run_dir: Path, p: Progress
) -> None:
    s = doc["stats"]
    console.print(f"ops: {s['ops_completed']} ({s['ok']} ok, {s['fail']} fail, {s['info']} info), "
                  f"{s['ops_per_s']} ops/s; {'; '.join(p.notes)}")  # fmt: skip
    for name, r in results.items():
        mark = _word(r.valid, "[green]valid[/]", "[red]INVALID[/]", "[yellow]unknown[/]")
        kinds = true_counts(r.to_dict())  # the checker's count, not the capped list's length
        listed = ", ".join(f"{k}: {v:,}" for k, v in sorted(kinds.items()))
        extra = f"  anomalies: {listed}" if kinds else ""
        if r.stats.get("error"):
            extra += f"  error: {r.stats['error']}"
        console.print(f"  {name:12s} {mark}{extra}")
    word = _word(doc["valid"], "[green]VALID[/]", "[red]INVALID[/]", "[yellow]UNKNOWN[/]")
    console.print(f"verdict: {word}   run directory: {run_dir}", soft_wrap=True)
    console.print(f"rerun: {doc['command']}", soft_wrap=True, markup=False, highlight=False)


def _word(valid: Any, yes: str, no: str, unknown: str) -> str:
    return yes if valid is True else no if valid is False else unknown


def intercept_env(intercepts: tuple[str, ...]) -> dict[str, str]:
    """Node environment that imports `intercepts` (modules importable from here)."""
    if not intercepts:
        return {}
    path = os.pathsep.join(p for p in (os.getcwd(), os.environ.get("PYTHONPATH", "")) if p)
    return {"SIBYL_INTERCEPTS": ",".join(intercepts), "PYTHONPATH": path}


def _print_kept(lab: Lab, console: Console, cfg_lab: str = "local") -> None:
    """Tells the user how to reach and stop what --keep-cluster left running."""
    direct = ", ".join(f"{n}={h}:{p}" for n, (h, p) in lab.direct_addrs().items())
    console.print(f"cluster kept running (healed): {direct}")
    if cfg_lab != "local":
        console.print("the nodes run on the lab's hosts; `sibyl lab down` (or kill their "
                      "node.pid there) stops them")  # fmt: skip
        return
    console.print(f"stop it with: sibyl cluster down --dir {lab.cluster.dir}", soft_wrap=True)
    if lab.mesh is not None:
        console.print(f"the fault proxy server is still running too: kill {lab.mesh.server.pid}")
