"""Seeds until the first failure, per planted bug, on `sibyl sim` next to `sibyl run`, and
the shrink of the first failing simulated seed.

For each planted bug (tests/intercepts/) with the fault and options that expose
it (the same for both commands, as tests/quality/ uses them):

* `sibyl sim`: which of seeds 1..--seeds fail (all cores), and the wall time;
  the first failing seed is the seeds-until-failure;
* `sibyl run` (the anchor): which of seeds 1..--real-seeds fail on real node
  processes, with the same options and time limit, and the wall time
  (0 real seeds skips it; crash needs FUSE/LazyFS);
* the shrink (`sibyl shrink`, at most --max-runs simulations) of the first
  failing simulated seed: faults and ops before and after, and its wall time,
  then whether `sibyl sim --schedule` on the shrunk file still fails.

    .venv/bin/python benchmarks/sim_bugs.py [--seeds 8] [--real-seeds 1]
        [--bugs no_fsync,stuck_down] [--max-runs 60]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Bug:
    """A planted bug, the options both commands run it with, and the sim-only options."""

    name: str
    options: tuple[str, ...]
    time_limit: float = 10.0
    sim_only: tuple[str, ...] = ()


LIVENESS = ("--sim-mode", "liveness")
BUGS = (
    Bug("no_fsync", ("--nemesis", "crash")),
    Bug("ack_before_fsync", ("--nodes", "3", "--nemesis", "crash")),
    Bug("restart_ignores_syncs", ()),
    Bug("sync_overwrites", ()),
    Bug(
        "reissued_dots",
        ("--nodes", "3", "--nemesis", "wipe", "--blind-writes", "0.8", "--keys", "1"),
        8.0,
    ),  # fmt: skip
    Bug("same_seq_joins", ("--nodes", "3", "--nemesis", "join"), 6.0, LIVENESS),
    Bug("stuck_down", ("--nodes", "3", "--nemesis", "partition"), 5.0, LIVENESS),
    Bug("trusting_puts", ("--nemesis", "partition", "--partition-mode", "drop"), 5.0, LIVENESS),
    Bug("ae_keys_only", (), sim_only=LIVENESS),
)
SUFFICE = re.compile(r"(\d+) faults and (\d+) ops suffice \(from (\d+) faults and (\d+) ops\)")


def sibyl(*argv: str, timeout: float = 1800) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness.cli", *argv], cwd=ROOT, text=True,
                          capture_output=True, timeout=timeout)  # fmt: skip


def on_sim(bug: Bug, seeds: int, store: Path) -> tuple[list[int], float]:
    """The failing seeds among 1..seeds on the simulator, and the wall time."""
    t0 = time.monotonic()
    out = sibyl("sim", "--seeds", f"1..{seeds}", "--time-limit", f"{bug.time_limit:g}",
                *bug.options, *bug.sim_only, "--store", str(store),
                "--intercept", f"tests.intercepts.{bug.name}")  # fmt: skip
    if out.returncode not in (0, 1):
        raise SystemExit(f"sibyl sim on {bug.name} exited {out.returncode}: {out.stderr[-400:]}")
    failing = sorted(int(s) for s in re.findall(r"seed (\d+) fails", out.stdout))
    return failing, time.monotonic() - t0


def on_real(bug: Bug, seeds: int, store: Path) -> tuple[list[int], list[int], float]:
    """The failing and the crashed/unknown seeds among 1..seeds with `sibyl run`, and the
    wall time."""
    t0 = time.monotonic()
    failing: list[int] = []
    other: list[int] = []
    for seed in range(1, seeds + 1):
        out = sibyl("run", "--seed", str(seed), "--time-limit", f"{bug.time_limit:g}",
                    "--quiesce", "3", *bug.options, "--store", str(store),
                    "--intercept", f"tests.intercepts.{bug.name}", timeout=900)  # fmt: skip
        (failing if out.returncode == 1 else other if out.returncode else []).append(seed)
    return failing, other, time.monotonic() - t0


def shrink(store: Path, seed: int, max_runs: int) -> str:
    """Shrinks the simulated run of `seed` in `store`; a line of figures."""
    runs = sorted(store.glob("*-sim/2*"))
    run = next((d for d in runs if json.loads((d / "results.json").read_text())["seed"] == seed),
               None)  # fmt: skip
    if run is None:
        return "no run directory to shrink"
    out_file = store / f"shrunk-{seed}.json"
    t0 = time.monotonic()
    out = sibyl("shrink", str(run), "--max-runs", str(max_runs), "--out", str(out_file))
    took = time.monotonic() - t0
    m = SUFFICE.search(" ".join(out.stdout.split()))
    if not m:
        return f"shrink failed ({out.returncode}): {(out.stdout + out.stderr)[-300:]}"
    f1, o1, f0, o0 = m.groups()
    replay = sibyl("sim", "--schedule", str(out_file), "--store", str(store))
    still = {1: "still fails", 0: "PASSES"}.get(replay.returncode, f"exit {replay.returncode}")
    return (f"shrink: faults {f0} -> {f1}, ops {o0} -> {o1} in {took:.1f}s wall; "
            f"replay of the shrunk file {still}")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=8, help="simulated seeds per bug")
    ap.add_argument("--real-seeds", type=int, default=1, help="sibyl run seeds per bug (0: none)")
    ap.add_argument("--bugs", default="", help="comma list of bug names (default: all)")
    ap.add_argument("--max-runs", type=int, default=60, help="simulations per shrink")
    args = ap.parse_args()
    names = [b.name for b in BUGS]
    chosen = [b for b in BUGS if not args.bugs or b.name in args.bugs.split(",")]
    if args.bugs and (bad := set(args.bugs.split(",")) - set(names)):
        raise SystemExit(f"--bugs: unknown {sorted(bad)}; known: {', '.join(names)}")
    print(f"{os.cpu_count()} cores (shared: figures measured under whatever load there is)")
    for bug in chosen:
        with tempfile.TemporaryDirectory() as tmp:
            store = Path(tmp)
            failing, sim_s = on_sim(bug, args.seeds, store / "sim")
            first = failing[0] if failing else None
            mode = "liveness" if bug.sim_only == LIVENESS else "safety"
            line = (f"{bug.name} [{' '.join(bug.options) or 'default nemesis'}, "
                    f"{bug.time_limit:g}s, sim {mode}]: sibyl sim: first failing seed "
                    f"{first}, {len(failing)} of {args.seeds} fail "
                    f"({sim_s:.0f}s wall)")  # fmt: skip
            if args.real_seeds:
                real, other, real_s = on_real(bug, args.real_seeds, store / "real")
                line += (f"; sibyl run: {len(real)} of {args.real_seeds} fail {real}"
                         f"{f', {len(other)} crashed/unknown {other}' if other else ''} "
                         f"({real_s:.0f}s wall)")  # fmt: skip
            print(line, flush=True)
            if first is not None:
                print(f"  seed {first} {shrink(store / 'sim', first, args.max_runs)}", flush=True)


if __name__ == "__main__":
    main()
