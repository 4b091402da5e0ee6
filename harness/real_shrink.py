"""Shrinking a failing real run: replay subsets of its realised fault schedule.

Real processes are not deterministic (thread timing), so each candidate
schedule is run up to `tries` times and counts as failing when any try has
one of the originally failing checkers invalid. ddmin (`harness.ddmin`) keeps
only candidates it saw fail, so the result is a schedule that failed in a
real run; the last failing candidate's run directory is the output, with a
`shrink.json` naming the original run.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from rich.console import Console

from harness.ddmin import Budget, ddmin
from harness.faults import Fault
from harness.report import regenerate
from harness.runner import Outcome, RunConfig, run_test
from harness.store import read_json, write_json


@dataclasses.dataclass
class RealShrink:
    """The smallest failing schedule found, and the run that showed it fail."""

    original: Path
    faults: list[Fault]
    before: int
    run_dir: Path | None
    runs: int


def failing_checkers(run_dir: Path) -> list[str]:
    """The checkers that found the run invalid (from its results.json)."""
    doc = read_json(run_dir / "results.json")
    return sorted(n for n, r in doc.get("checkers", {}).items() if r.get("valid") is False)


def shrink_run(
    run_dir: Path, tries: int, max_runs: int, store: str | None, console: Console
) -> RealShrink:
    """Shrinks the realised schedule of the failing run in `run_dir`."""
    cfg = RunConfig.from_dict(read_json(run_dir / "config.json"))
    sched = read_json(run_dir / "schedule.json")
    faults = [Fault.from_dict(f) for f in sched.get("realised") or sched["planned"]]
    checkers = failing_checkers(run_dir)
    if store:
        cfg.store = store
    budget = Budget(max_runs)
    last: dict[str, Any] = {}

    def fails(candidate: list[Fault]) -> bool:
        for attempt in range(tries):
            if attempt and not budget.take():
                return False
            out: Outcome = run_test(dataclasses.replace(cfg), f"sibyl shrink {run_dir}",
                                    Console(quiet=True), faults=candidate)  # fmt: skip
            bad = [c for c in checkers if out.doc.get("checkers", {}).get(c, {}).get("valid")
                   is False]  # fmt: skip
            console.print(
                f"  {len(candidate)} faults, try {attempt + 1}: "
                f"{'fails' if bad else 'passes'} -> {out.run_dir}",
                soft_wrap=True,
            )
            if bad:
                last["dir"] = out.run_dir
                return True
        return False

    kept = ddmin(faults, fails, budget)
    best = last.get("dir")  # the last candidate that failed is the one ddmin kept
    if best is not None:
        summary = (f"{len(kept)} of its {len(faults)} faults suffice for {', '.join(checkers)} "
                   f"(each candidate tried up to {tries} times, {budget.used} runs)")  # fmt: skip
        write_json(best / "shrink.json", {"original": str(run_dir), "checkers": checkers,
                   "faults_before": len(faults), "faults_after": len(kept),
                   "tries_per_candidate": tries, "runs": budget.used,
                   "summary": summary})  # fmt: skip
        regenerate(best)  # its report says what suffices and links back to the original
    return RealShrink(run_dir, kept, len(faults), best, budget.used)
