"""`sibyl shrink RUN_DIR`: the fewest faults (and, on the simulator, ops) that still fail."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

from harness.commands.run import check_store
from harness.errors import UsageError
from harness.real_shrink import failing_checkers, shrink_run
from harness.sim_runner import simulate
from harness.sim_shrink import shrink
from harness.sim_store import read_schedule, schedule_doc, write_run
from harness.sim_worker import import_intercepts
from harness.store import StoreError, find_run, read_json, write_json


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "shrink",
        help="minimise a failing run's faults (and ops, on the simulator)",
        description="Replay a failing run with subsets of its faults (delta debugging) and keep "
        "the smallest that still fails the same checker. A simulated run (sibyl sim) is "
        "replayed exactly, and its client ops are shrunk too; the result is a schedule file "
        "for `sibyl sim --schedule`. A real run (sibyl run) is replayed on a real cluster, each "
        "candidate up to --tries times; the result is the run directory of the last failure.",
    )
    p.add_argument("run_dir", help="a failing run directory, e.g. store/latest")
    p.add_argument("--tries", type=int, default=3, help="real runs per candidate schedule")
    p.add_argument("--max-runs", type=int, default=300, help="most replays in all")
    p.add_argument(
        "--out",
        default=None,
        help="schedule file to write (simulated runs; default RUN_DIR/shrunk.json)",
    )
    p.add_argument("--store", default=None, help="where new run directories go")
    p.set_defaults(func=_shrink)


def _shrink(args: argparse.Namespace) -> int:
    for name in ("tries", "max_runs"):
        if getattr(args, name) < 1:
            raise UsageError(f"--{name.replace('_', '-')} must be at least 1")
    try:
        run_dir = find_run(args.run_dir)
        checkers = failing_checkers(run_dir)
        simulated = "simulation" in read_json(run_dir / "schedule.json")
    except (StoreError, OSError, KeyError) as e:
        raise UsageError(f"{args.run_dir}: cannot shrink it: {e}") from None
    if not checkers:
        raise UsageError(f"{run_dir}: no checker found it invalid, so there is nothing to shrink")
    if args.store:
        check_store(args.store)
    console = Console()
    if simulated:
        return _shrink_simulated(args, run_dir, checkers, console)
    console.print(f"[bold]sibyl shrink[/] {run_dir}: real runs, {args.tries} tries per candidate",
                  soft_wrap=True)  # fmt: skip
    out = shrink_run(run_dir, args.tries, args.max_runs, args.store, console)
    console.print(
        f"{len(out.faults)} faults suffice (from {out.before}) for "
        f"{', '.join(checkers)}; {out.runs} runs -> {out.run_dir}",
        soft_wrap=True,
    )
    return 0 if out.run_dir is not None else 2


def _shrink_simulated(
    args: argparse.Namespace, run_dir: Path, checkers: list[str], console: Console
) -> int:
    try:
        spec, schedule, intercepts = read_schedule(str(run_dir))
    except ValueError as e:
        raise UsageError(str(e)) from None
    import_intercepts(intercepts)
    console.print(
        f"[bold]sibyl shrink[/] {run_dir}: seed {schedule.seed}, "
        f"{len(schedule.faults)} faults, {schedule.op_count()} ops",
        soft_wrap=True,
    )
    out = shrink(spec, schedule, checkers, args.max_runs, lambda m: console.print(f"  {m}"))
    path = Path(args.out or run_dir / "shrunk.json")
    write_json(path, schedule_doc(spec, out.schedule, intercepts, shrunk_from=str(run_dir),
                                  summary=out.summary()))  # fmt: skip
    replay = simulate(spec, out.schedule)
    store = args.store or str(run_dir.parent.parent)
    new = write_run(spec, replay, out.schedule, store, intercepts, out.summary(), run_dir)
    console.print(out.summary())
    console.print(f"schedule: {path}  (replay: sibyl sim --schedule {path})", soft_wrap=True)
    console.print(f"replayed: {'still fails' if replay.valid is False else 'PASSES'} -> {new}",
                  soft_wrap=True)  # fmt: skip
    return 0 if replay.valid is False else 2
