"""`sibyl sim` speed, bug-finding rate and shrinking, next to `sibyl run` on the same bugs.

Reported, all measured in this run:

* simulated seconds per wall second in one process (one core) on the default
  workload (cart, 5 nodes, default nemesis, 100 ops/s over 5 clients), for
  `--seeds` seeds; the anchor is real time (1x), which `sibyl run` cannot beat;
* seeds per minute over every core (`harness.sim_batch`, one process per core);
* per planted bug: which seeds fail on the simulator (10 virtual s each) and
  on real processes (`sibyl run`, 10 s each, `--real-seeds` seeds), with the
  wall time of each (the first failing seed is the seeds-until-failure);
* the shrink of the first failing simulated seed of the first bug: faults and
  ops before and after, simulations used, and its wall time.

    .venv/bin/python benchmarks/sim_speed.py [--seeds 6] [--bug-seeds 12] [--real-seeds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.sim_batch import BatchJob, run_seeds  # noqa: E402
from harness.sim_runner import SimSchedule, SimSpec, planned_faults, simulate  # noqa: E402

BUGS = ("tests.intercepts.restart_ignores_syncs", "tests.intercepts.sync_overwrites")


def one_core(seeds: int) -> None:
    spec = SimSpec()
    sim_s = wall_s = 0.0
    for seed in range(1, seeds + 1):
        r = simulate(spec, SimSchedule(seed, planned_faults(spec, seed)))
        sim_s, wall_s = sim_s + r.sim_s, wall_s + r.wall_s
    print(
        f"one core: {sim_s:.0f} simulated s in {wall_s:.1f} wall s = {sim_s / wall_s:.1f}x "
        f"real time (anchor: sibyl run = 1x), {seeds} seeds of {spec.time_limit_s:g} s chaos"
    )


def all_cores(seeds: int, store: str) -> None:
    jobs = os.cpu_count() or 1
    t0 = time.monotonic()
    lines = run_seeds(BatchJob(SimSpec(), store), list(range(1, seeds + 1)), jobs, lambda _: None)
    wall = time.monotonic() - t0
    sim_s = sum(line["sim_s"] for line in lines)
    print(
        f"{jobs} processes: {len(lines)} seeds in {wall:.1f}s = {60 * len(lines) / wall:.1f} "
        f"seeds/min, {sim_s / wall:.1f}x real time over all cores"
    )


def sim_failures(bug: str, seeds: int, store: str) -> tuple[list[int], float]:
    """The failing seeds among 1..seeds on the simulator, and the wall time."""
    t0 = time.monotonic()
    spec = SimSpec(time_limit_s=10.0)
    lines = run_seeds(BatchJob(spec, store, (bug,)), list(range(1, seeds + 1)),
                      os.cpu_count() or 1, lambda _: None)  # fmt: skip
    return [line["seed"] for line in lines if line["valid"] is False], time.monotonic() - t0


def real_failures(bug: str, seeds: int, store: str) -> tuple[list[int], float]:
    """The failing seeds among 1..seeds with `sibyl run` (10 s of chaos), and the wall time."""
    t0 = time.monotonic()
    failing = []
    for seed in range(1, seeds + 1):
        proc = subprocess.run([sys.executable, "-m", "harness.cli", "run", "--time-limit", "10",
                               "--seed", str(seed), "--quiesce", "3", "--store", store,
                               "--intercept", bug], cwd=ROOT, capture_output=True, text=True,
                              timeout=600)  # fmt: skip
        if proc.returncode == 1:
            failing.append(seed)
    return failing, time.monotonic() - t0


def shrink_first(bug: str, store: str) -> None:
    runs = sorted(Path(store).glob("*restart_ignores_syncs-sim/2*"))
    if not runs:
        print("shrink: no failing simulated run to shrink")
        return
    out = Path(store) / "shrunk.json"
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "harness.cli", "shrink", str(runs[0]),
                           "--max-runs", "60", "--out", str(out)], cwd=ROOT,
                          capture_output=True, text=True, timeout=1800)  # fmt: skip
    doc = json.loads(out.read_text()) if out.is_file() else {}
    print(
        f"shrink of {runs[0].name} ({bug}): {doc.get('summary', proc.stdout[-300:])}; "
        f"wall {time.monotonic() - t0:.1f}s"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=6)
    ap.add_argument("--bug-seeds", type=int, default=12)
    ap.add_argument("--real-seeds", type=int, default=3)
    args = ap.parse_args()
    os.chdir(ROOT)
    with tempfile.TemporaryDirectory() as store:
        one_core(args.seeds)
        all_cores(args.seeds * 2, store)
        for bug in BUGS:
            sim, sim_s = sim_failures(bug, args.bug_seeds, store)
            real, real_s = real_failures(bug, args.real_seeds, store)
            print(
                f"{bug}: simulator: seeds {sim} of 1..{args.bug_seeds} fail ({sim_s:.0f}s "
                f"wall); sibyl run: seeds {real} of 1..{args.real_seeds} fail ({real_s:.0f}s wall)"
            )
        shrink_first(BUGS[0], store)


if __name__ == "__main__":
    main()
