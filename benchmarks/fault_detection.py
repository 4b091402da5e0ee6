"""Fault detection: how often each planted bug is caught, how soon, and false alarms.

For each planted bug (tests/intercepts/) a `sibyl run` with the fault class that
exposes it (generated schedules, one seed per run) is repeated over seeds
1..S: the detection rate is the share of runs that end invalid, and the time to
first detection is the wall-clock time spent running seeds in order until the
first invalid one. The anchor, measured in the same invocation, is the same bug
under the faults Sibyl had before issue 12 (kill instead of crash/wipe, hold
instead of drop, no membership change) over the first A seeds. Then the correct
node runs F seeds with every fault kind at once (partition in mixed modes,
kill, pause, clock, latency, bandwidth, crash, wipe, reset_peer, limit_data,
join, leave, replace; overlap 0.5): the false-alarm rate is the share of
those runs not valid (invalid, unknown and crashed are listed apart).

    .venv/bin/python benchmarks/fault_detection.py [--seeds 10] [--anchor-seeds 3]
        [--false-alarm-seeds 20] [--time-limit 10] [--only no_fsync,...] [--json out.json]
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rich.console import Console  # noqa: E402

from harness.runner import RunConfig, run_test  # noqa: E402


@dataclass(frozen=True)
class Bug:
    """A planted bug, the run that exposes it, and the pre-issue-12 run (the anchor)."""

    name: str
    args: dict[str, Any]
    anchor: dict[str, Any]


BUGS = [
    Bug("no_fsync", {"nodes": 3, "nemesis": ("crash",)}, {"nemesis": ("kill",)}),
    Bug("ack_before_fsync", {"nodes": 3, "nemesis": ("crash",)}, {"nemesis": ("kill",)}),
    Bug("reissued_dots", {"nodes": 3, "nemesis": ("wipe",), "blind_writes": 0.5},
        {"nemesis": ("kill",)}),
    Bug("trusting_puts", {"nemesis": ("partition",), "partition_mode": "drop"},
        {"partition_mode": "hold"}),
    Bug("same_seq_joins", {"nodes": 3, "nemesis": ("join",)}, {"nemesis": ("kill",)}),
    Bug("stuck_down", {"nodes": 3, "nemesis": ("partition", "kill")},
        {"nemesis": ("partition", "kill"), "liveness": False}),
]  # fmt: skip
EVERY_FAULT = ("partition", "kill", "pause", "clock", "latency", "bandwidth", "crash", "wipe",
               "reset_peer", "limit_data", "join", "leave", "replace")  # fmt: skip


#: Where the run directories of correct-node runs that were not valid are kept.
KEEP = Path(tempfile.gettempdir()) / "sibyl-false-alarms"


def one_run(store: Path, seed: int, time_limit_s: float, args: dict[str, Any],
            bug: str | None) -> tuple[int, float]:  # fmt: skip
    """(exit status, wall seconds) of one run. A correct-node run that is not valid keeps
    its run directory under KEEP, to be looked at."""
    cfg = RunConfig(**{"time_limit_s": time_limit_s, "quiesce_s": 2.0, "store": str(store),
                       "seed": seed, **args,
                       "intercepts": (f"tests.intercepts.{bug}",) if bug else ()})  # fmt: skip
    started = time.monotonic()
    outcome = run_test(cfg, "benchmarks/fault_detection.py", Console(file=io.StringIO()))
    if bug is None and outcome.status != 0:
        KEEP.mkdir(parents=True, exist_ok=True)
        shutil.move(str(outcome.run_dir), KEEP / f"seed-{seed}-status-{outcome.status}")
    shutil.rmtree(outcome.run_dir, ignore_errors=True)  # histories are large; keep the figures
    return outcome.status, time.monotonic() - started


def detection(store: Path, bug: Bug, seeds: int, anchor_seeds: int, limit: float) -> dict:
    statuses, first_s, spent = [], None, 0.0
    for seed in range(1, seeds + 1):
        status, took = one_run(store, seed, limit, bug.args, bug.name)
        spent += took
        statuses.append(status)
        if status == 1 and first_s is None:
            first_s = round(spent, 1)
    anchor = [one_run(store, s, limit, {**bug.args, **bug.anchor}, bug.name)[0]
              for s in range(1, anchor_seeds + 1)]  # fmt: skip
    return {"bug": bug.name, "runs": seeds, "detected": statuses.count(1),
            "statuses": statuses, "first_detection_s": first_s, "anchor_runs": anchor_seeds,
            "anchor_detected": anchor.count(1), "anchor_statuses": anchor}  # fmt: skip


def false_alarms(store: Path, seeds: int, limit: float) -> dict:
    args = {"nodes": 5, "nemesis": EVERY_FAULT, "partition_mode": "mixed", "fault_overlap": 0.5}
    statuses, secs = [], []
    for seed in range(1, seeds + 1):
        status, took = one_run(store, 100 + seed, limit, args, None)
        statuses.append(status)
        secs.append(took)
        kept = f"; kept in {KEEP}" if status else ""
        print(f"  correct node, every fault, seed {100 + seed}: status {status} "
              f"({took:.0f} s){kept}", flush=True)  # fmt: skip
    return {
        "runs": seeds,
        "invalid": statuses.count(1),
        "unknown_or_crashed": sum(s not in (0, 1) for s in statuses),
        "statuses": statuses,
        "mean_run_s": round(sum(secs) / max(len(secs), 1), 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--anchor-seeds", type=int, default=3)
    ap.add_argument("--false-alarm-seeds", type=int, default=20)
    ap.add_argument("--time-limit", type=float, default=10.0)
    ap.add_argument("--only", default="", help="comma list of bugs (default all)")
    ap.add_argument("--json", default="", help="also write the figures to this file")
    a = ap.parse_args()
    only = set(filter(None, a.only.split(",")))
    store = Path(tempfile.mkdtemp(prefix="sibyl-detect-"))
    out: dict[str, Any] = {"time_limit_s": a.time_limit, "bugs": []}
    print(f"{'bug':18} {'detected':>10} {'first (s)':>10} {'anchor: old faults':>20}")
    try:
        for bug in BUGS:
            if only and bug.name not in only:
                continue
            r = detection(store, bug, a.seeds, a.anchor_seeds, a.time_limit)
            out["bugs"].append(r)
            first = "-" if r["first_detection_s"] is None else f"{r['first_detection_s']:.1f}"
            print(f"{bug.name:18} {r['detected']:>4}/{r['runs']:<5} {first:>10} "
                  f"{r['anchor_detected']:>13}/{r['anchor_runs']}", flush=True)  # fmt: skip
        if a.false_alarm_seeds:
            fa = false_alarms(store, a.false_alarm_seeds, a.time_limit + 5)
            out["false_alarms"] = fa
            print(f"false alarms (correct node, every fault kind): {fa['invalid']}/{fa['runs']} "
                  f"invalid, {fa['unknown_or_crashed']} unknown or crashed; statuses "
                  f"{fa['statuses']}")  # fmt: skip
    finally:
        shutil.rmtree(store, ignore_errors=True)
        if a.json:
            Path(a.json).write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
