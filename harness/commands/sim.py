"""`sibyl sim`: the same tests as `sibyl run`, on the deterministic simulator, over many seeds."""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from rich.console import Console

from harness.commands.run import check_intercept, check_store
from harness.commands.run_options import (
    add_chaos_options,
    add_shape_options,
    chaos_config,
    nemesis_option,
    parse_node_settings,
    shape_config,
)
from harness.errors import UsageError
from harness.generator import DEFAULT_NEMESES
from harness.report import exit_code
from harness.sim_batch import BatchJob, run_seeds
from harness.sim_nemesis import SIM_KINDS, unsupported
from harness.sim_runner import SimMode, SimSpec, simulate
from harness.sim_store import read_schedule, write_run
from harness.sim_worker import import_intercepts
from workloads import WORKLOADS


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sim",
        help="run tests on the deterministic simulator, over many seeds",
        description="Run the workload, nemesis and checkers of `sibyl run` on the deterministic "
        "simulator (the unchanged node code on virtual time), one process per core. The same "
        "seed gives the same run, event for event. Each failing seed gets an ordinary run "
        "directory (sibyl check / report / serve read it); `--schedule FILE` replays one.",
    )
    g = p.add_mutually_exclusive_group()
    g.add_argument("--seeds", help="seeds A..B (inclusive), e.g. 1..500")
    g.add_argument("--count", type=int, help="seeds 1..N (default 20)")
    g.add_argument("--schedule", metavar="FILE", help="replay a schedule file or a simulated "
                   "run's schedule.json / run directory, event for event")  # fmt: skip
    p.add_argument("--workload", choices=sorted(WORKLOADS), default="cart", help="what clients do")
    p.add_argument("--nodes", type=int, default=5, help="cluster size")
    p.add_argument("--nemesis", default=",".join(DEFAULT_NEMESES),
                   help="comma list of faults, or none; the simulator models partition (hold, "
                   "drop, reset), kill, pause (approximately: links hold, timers run), clock "
                   "(jumps only), latency, crash (loses unsynced disk writes), wipe, reset_peer, "
                   "limit_data (peer links; clients are not affected), join, leave, replace; "
                   "not bandwidth (no byte-rate model)")  # fmt: skip
    add_chaos_options(p)
    add_shape_options(p)
    p.add_argument("--time-limit", type=float, default=20.0, help="virtual seconds of chaos")
    p.add_argument("--rate", type=float, default=100.0, help="client ops per virtual second")
    p.add_argument("--concurrency", type=int, default=5, help="client processes")
    p.add_argument("--mode", choices=("sloppy", "strict"), default="sloppy", help="quorum mode")
    p.add_argument("--conflict", choices=("siblings", "lww"), default="siblings",
                   help="concurrent writes: siblings or last write wins")  # fmt: skip
    p.add_argument("--n", type=int, default=3, help="replicas per key")
    p.add_argument("--r", type=int, default=2, help="read quorum")
    p.add_argument("--w", type=int, default=2, help="write quorum")
    p.add_argument("--quiesce", type=float, default=5.0, help="virtual seconds after the heal")
    p.add_argument("--sim-mode", choices=[m.value for m in SimMode], default="safety",
                   help="safety: check the history; liveness: also require the replicas to "
                   "converge within --converge-bound after faults stop, and pass sibyl run's "
                   "liveness checker on node status read after quiescence")  # fmt: skip
    p.add_argument(
        "--converge-bound",
        type=float,
        default=15.0,
        help="virtual seconds the replicas get to agree after the quiesce",
    )
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="simulator processes")
    p.add_argument(
        "--check-determinism",
        action="store_true",
        help="run each seed twice and compare the trace digests",
    )
    p.add_argument("--store", default="store", help="folder where failing runs go")
    p.add_argument(
        "--intercept",
        action="append",
        default=[],
        metavar="MODULE",
        help="import MODULE in every simulator process to plant a bug (repeatable); those "
        "processes run the node from its sources, not its mypyc build",
    )
    p.set_defaults(func=_sim)


def spec_from(args: argparse.Namespace) -> SimSpec:
    """The per-seed spec from the options; raises UsageError naming a bad one."""
    for name in ("nodes", "concurrency", "jobs"):
        if getattr(args, name) < 1:
            raise UsageError(f"--{name} must be at least 1, got {getattr(args, name)}")
    for name, value in (("time-limit", args.time_limit), ("rate", args.rate),
                        ("converge-bound", args.converge_bound)):  # fmt: skip
        if not value > 0:
            raise UsageError(f"--{name} must be a positive number, got {value:g}")
    if not args.quiesce >= 0:
        raise UsageError(f"--quiesce must be 0 or more seconds, got {args.quiesce:g}")
    if not 1 <= args.n <= args.nodes:
        raise UsageError(f"--n {args.n} needs 1 <= n <= --nodes ({args.nodes})")
    for name in ("r", "w"):
        if not 1 <= getattr(args, name) <= args.n:
            raise UsageError(f"--{name} {getattr(args, name)} needs 1 <= {name} <= --n ({args.n})")
    nemesis = nemesis_option(args)
    if bad := unsupported(nemesis):
        can = ", ".join(k.value for k in SIM_KINDS)
        raise UsageError(f"--nemesis: the simulator cannot model {'; '.join(bad)}; "
                         f"drop it (kinds: {can})")  # fmt: skip
    try:
        options = {**chaos_config(args), **shape_config(args)}
        spec = SimSpec(args.workload, args.nodes, nemesis, args.time_limit, args.rate,
                       args.concurrency, args.mode, args.conflict, args.n, args.r, args.w,
                       args.quiesce, args.converge_bound, SimMode(args.sim_mode),
                       **options)  # fmt: skip
        return replace(spec, node_settings=parse_node_settings(args.node_setting,
                                                               spec.settings()))  # fmt: skip
    except ValueError as e:
        raise UsageError(str(e)) from None


def parse_seeds(args: argparse.Namespace) -> list[int]:
    """The seeds from --seeds A..B or --count N (default 1..20)."""
    if args.seeds is None:
        count = 20 if args.count is None else args.count
        if count < 1:
            raise UsageError(f"--count must be at least 1, got {count}")
        return list(range(1, count + 1))
    a, sep, b = args.seeds.partition("..")
    try:
        lo, hi = int(a), int(b if sep else a)
    except ValueError:
        raise UsageError(f"--seeds {args.seeds!r}: write A..B with integers, e.g. 1..500") from None
    if not 0 <= lo <= hi:
        raise UsageError(f"--seeds {args.seeds}: needs 0 <= A <= B")
    return list(range(lo, hi + 1))


def _sim(args: argparse.Namespace) -> int:
    check_store(args.store)
    for module in args.intercept:
        check_intercept(module)
    console = Console()
    if args.schedule:
        return _replay(args, console)
    spec, seeds = spec_from(args), parse_seeds(args)
    job = BatchJob(spec, args.store, tuple(args.intercept), args.check_determinism)
    console.print(f"[bold]sibyl sim[/] {spec.workload} {spec.sim_mode.value}: {len(seeds)} seeds "
                  f"({seeds[0]}..{seeds[-1]}), {spec.time_limit_s:g} virtual s each, "
                  f"{min(args.jobs, len(seeds))} processes", soft_wrap=True)  # fmt: skip
    show = _Progress(console, len(seeds))
    lines = run_seeds(job, seeds, args.jobs, show.line)
    return show.finish(lines)


class _Progress:
    """Prints each failure at once, and seeds/s with failures so far about once a second."""

    def __init__(self, console: Console, total: int) -> None:
        self.console, self.total = console, total
        self.t0 = self.last = time.monotonic()
        self.done = self.failed = 0
        self.sim_s = 0.0

    def line(self, line: dict[str, Any]) -> None:
        self.done += 1
        self.sim_s += line["sim_s"]
        if line.get("run_dir"):
            self.failed += 1
            why = ", ".join(line["failing"]) or "not deterministic"
            self.console.print(f"  [red]seed {line['seed']} fails[/] ({why}): {line['run_dir']}",
                               soft_wrap=True)  # fmt: skip
        now = time.monotonic()
        if now - self.last >= 1.0 or self.done == self.total:
            self.last = now
            wall = max(now - self.t0, 1e-9)
            build = "mypyc-compiled" if line.get("compiled") else "Python"  # harness/sim_batch.py
            self.console.print(
                f"  {self.done}/{self.total} seeds, {self.done / wall:.2f} seeds/s, "
                f"{self.sim_s / wall:.0f}x real time, {self.failed} failing (node: {build})"
            )

    def finish(self, lines: list[dict[str, Any]]) -> int:
        bad = [ln for ln in lines if ln["valid"] is False or ln.get("deterministic") is False]
        unknown = [ln for ln in lines if ln["valid"] not in (True, False)]
        nondet = [ln["seed"] for ln in lines if ln.get("deterministic") is False]
        if nondet:
            self.console.print(f"[red]not deterministic[/]: seeds {nondet}")
        if bad:
            self.console.print(f"verdict: [red]INVALID[/]: {len(bad)} of {len(lines)} seeds fail "
                               f"(first: seed {bad[0]['seed']})")  # fmt: skip
            return exit_code(False)
        word = "[yellow]UNKNOWN[/]" if unknown else "[green]VALID[/]"
        self.console.print(f"verdict: {word}: {len(lines)} seeds, {len(unknown)} unknown")
        return exit_code("unknown" if unknown else True)


def _replay(args: argparse.Namespace, console: Console) -> int:
    try:
        spec, schedule, intercepts = read_schedule(args.schedule)
    except ValueError as e:
        raise UsageError(str(e)) from None
    for module in (*intercepts, *args.intercept):
        check_intercept(module)
    import_intercepts((*intercepts, *args.intercept))
    result = simulate(spec, schedule)
    note = f"replayed {Path(args.schedule)}"
    run_dir = write_run(spec, result, schedule, args.store, (*intercepts, *args.intercept), note)
    word = (
        "[green]VALID[/]"
        if result.valid is True
        else "[red]INVALID[/]"
        if result.valid is False
        else "UNKNOWN"
    )  # noqa: E501
    console.print(f"seed {schedule.seed}: {len(schedule.faults)} faults, "
                  f"{sum(len(v) for v in result.ops.values())} ops: {word} "
                  f"{', '.join(result.failing())}  trace digest {result.digest[:16]}  -> {run_dir}",
                  soft_wrap=True)  # fmt: skip
    return exit_code(result.valid)
