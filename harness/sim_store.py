"""Simulated runs on disk: an ordinary run directory per failing seed, and schedule files.

A run directory written here has the layout of `sibyl run`'s (config.json,
command.txt, history.jsonl, schedule.json, results.json, junit.xml,
report.html), so `sibyl check`, `sibyl report` and `sibyl serve` read it
unchanged. Its schedule.json also holds the `simulation` (spec, seed, faults
and the exact client ops), which `sibyl sim --schedule FILE` replays event for
event. Creating run directories is serialised by a lock file in the store, as
several simulator processes may write at once.
"""

from __future__ import annotations

import fcntl
import shlex
from pathlib import Path
from typing import Any

from checkers.history import write_jsonl
from harness.generator import schedule_doc as run_schedule_doc
from harness.report import write_all
from harness.runner import RunConfig
from harness.sim_runner import SimResult, SimSchedule, SimSpec, as_run_config
from harness.store import new_run_dir, read_json, write_json

FORMAT = "sibyl-sim-schedule/1"


def run_config(spec: SimSpec, seed: int, store: str, intercepts: tuple[str, ...]) -> RunConfig:
    """The `sibyl run` config closest to `spec` (what config.json and the report show)."""
    return as_run_config(spec, seed=seed, store=store, intercepts=intercepts)


def schedule_doc(
    spec: SimSpec, schedule: SimSchedule, intercepts: tuple[str, ...], **extra: Any
) -> dict[str, Any]:
    """The replayable form of one simulated run (the `simulation` of schedule.json)."""
    return {"format": FORMAT, "spec": spec.to_dict(), "intercepts": list(intercepts),
            **schedule.to_dict(), **extra}  # fmt: skip


def read_schedule(path: str) -> tuple[SimSpec, SimSchedule, tuple[str, ...]]:
    """Reads a schedule file or a simulated run's schedule.json (or its run directory).

    Raises ValueError naming the file when it is not one.
    """
    p = Path(path)
    p = p / "schedule.json" if p.is_dir() else p
    try:
        doc = read_json(p)
        doc = doc.get("simulation", doc)
        if doc.get("format") != FORMAT:
            raise ValueError(f"it is not a simulator schedule (no format {FORMAT!r})")
        return (SimSpec.from_dict(doc["spec"]), SimSchedule.from_dict(doc),
                tuple(doc.get("intercepts", ())))  # fmt: skip
    except (OSError, KeyError, TypeError, ValueError) as e:
        raise ValueError(f"{p}: cannot replay it: {e}") from None


def write_run(
    spec: SimSpec,
    result: SimResult,
    schedule: SimSchedule,
    store: str,
    intercepts: tuple[str, ...],
    note: str = "",
    shrunk_from: Path | None = None,
) -> Path:
    """Writes `result` as an ordinary run directory; returns its path. A run `sibyl shrink`
    made (`shrunk_from` the original) gets a shrink.json, with `note` as its summary, before
    its report, which then says what suffices and links to the original."""
    cfg = run_config(spec, result.seed, store, intercepts)
    Path(store).mkdir(parents=True, exist_ok=True)
    with (Path(store) / ".sim.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        run_dir = new_run_dir(store, f"{cfg.test}-sim")
    replayed = SimSchedule(result.seed, schedule.faults, result.ops)
    command = shlex.join(["sibyl", "sim", "--schedule", str(run_dir / "schedule.json")])
    write_json(run_dir / "config.json", {**cfg.to_dict(), "simulator": spec.to_dict()})
    (run_dir / "command.txt").write_text(command + "\n")
    write_jsonl(result.history, run_dir / "history.jsonl")
    planned = [f.to_dict() for f in schedule.faults]
    simulation = schedule_doc(spec, replayed, intercepts, digest=result.digest)
    # The shape of `sibyl run`'s schedule.json (one definition), plus the replayable form.
    doc = run_schedule_doc(result.seed, spec.concurrency, schedule.faults, result.realised)
    write_json(run_dir / "schedule.json", {**doc, "simulation": simulation})
    if shrunk_from is not None:
        write_json(run_dir / "shrink.json", {"original": str(shrunk_from), "summary": note})
    meta = {"test": f"{cfg.test}-sim", "seed": result.seed, "command": command,
            "config": cfg.to_dict(), "simulated": True,
            "stats": _stats(result, note, spec.time_limit_s)}  # fmt: skip
    write_all(run_dir, result.results, meta, planned, result.history)
    return run_dir


def _stats(result: SimResult, note: str, chaos_s: float) -> dict[str, Any]:
    client = [
        op for op in result.history if isinstance(op.process, int) and op.type.value != "invoke"
    ]
    counts = {t: sum(1 for op in client if op.type.value == t) for t in ("ok", "fail", "info")}
    notes = [*result.notes, f"simulated {result.sim_s:g} virtual s in {result.wall_s:.2f} wall s",
             f"trace digest {result.digest[:16]}", *([note] if note else [])]  # fmt: skip
    return {"ops_completed": len(client), **counts, "chaos_s": chaos_s,
            "ops_per_s": round(len(client) / chaos_s, 1) if chaos_s else 0,
            "history_ops": len(result.history), "notes": notes}  # fmt: skip
