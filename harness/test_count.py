"""`sibyl run --test-count N`: the same configuration with N seeds, and how many failed.

Jepsen's `--test-count`. One run on real processes is a sample, not a proof: the
same seed gives the same schedule and ops, not the same thread timing. Runs use
seeds seed, seed+1, ..., each in its own run directory; the summary lists each
run's verdict and directory and is written to `<store>/test-count-<seed>-<N>.json`.
Exit status: 1 if any run was invalid, else 2 if any was unknown or crashed, else 0.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path

from rich.console import Console

from harness.runner import RunConfig, run_test


def run_many(
    cfg: RunConfig, count: int, console: Console, command_for: Callable[[RunConfig], str]
) -> int:
    """Runs `cfg` `count` times with consecutive seeds; returns the combined exit status."""
    assert cfg.seed is not None
    rows = []
    for i in range(count):
        one = dataclasses.replace(cfg, seed=cfg.seed + i)
        outcome = run_test(one, command_for(one), console)
        rows.append({"seed": one.seed, "status": outcome.status, "run_dir": str(outcome.run_dir)})
    failed = [r for r in rows if r["status"] == 1]
    unknown = [r for r in rows if r["status"] not in (0, 1)]
    summary = {"count": count, "failed": len(failed), "unknown": len(unknown), "runs": rows}
    path = Path(cfg.store) / f"test-count-{cfg.seed}-{count}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summary, indent=2) + "\n")
    last = cfg.seed + count - 1
    console.print(f"[bold]{len(failed)} of {count} runs failed[/] ({len(unknown)} unknown or "
                  f"crashed); seeds {cfg.seed}..{last}; summary: {path}")  # fmt: skip
    for r in failed:
        console.print(f"  failed: seed {r['seed']}  {r['run_dir']}")
    return 1 if failed else 2 if unknown else 0
