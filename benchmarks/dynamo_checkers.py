"""Throughput and peak memory of the Dynamo checkers on a reference-model cart history.

Generates a cart history of about `--ops` ops (default 1,000,000) with the
reference model (workloads/reference.py), then runs each checker on it in a
forked child, so that each measurement starts from the same memory state:

* seconds and ops/s: time of `check(history)`, indexing included (wall time,
  or process CPU time with `--cpu`, steadier on a shared machine);
* peak RSS: the child's high-water resident set (the loaded history included),
  and the checker's own share, peak minus the RSS at the start of the child.

Then the runner's way: the history indexed once (`SharedHistory`, as
harness/runner.py hands it to every checker) and each checker on that index.

The anchor, measured in the same run on the same history: each checker alone
as git revision `--baseline` (default 5757409, before the alone-path work of
issue 17) has it, imported from a `git archive` of it in a forked child. Its
checkers read the very same ops when its checkers/history.py is this one's (as
at 5757409); otherwise the ops are rebuilt as its own `Op`s first (untimed).

The checkers run as the mypyc build when it is current (native/__init__.py: the
index, the ops and the Dynamo checkers are compiled); with SIBYL_NO_MYPYC=1 they
run as pure Python. The anchor is always pure Python (it predates the build).

Goal: >= 500k ops/s per checker, alone (indexing included) and on the shared
index, and <= 1 GiB peak with the history loaded. The figures move with the
machine's load. For scale, Elle publishes 100-160k transactions/s. Usage:

    .venv/bin/python benchmarks/dynamo_checkers.py [--ops N] [--keys K] [--seed S] [--cpu]
        [--baseline REF | --baseline ""]
"""

from __future__ import annotations

import argparse
import gc
import importlib
import io
import os
import resource
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import native  # noqa: E402
from benchmarks.forked import run_forked  # noqa: E402
from checkers import causality, convergence, lost_adds, staleness  # noqa: E402
from checkers.budget import Budget  # noqa: E402
from checkers.cart_history import SharedHistory, run_checked  # noqa: E402
from checkers.history import Op  # noqa: E402
from checkers.result import Result  # noqa: E402
from workloads.reference import ReferenceConfig, generate  # noqa: E402

CHECKERS: dict[str, Callable[..., Any]] = {
    "lost_adds": lost_adds.check,
    "causality": causality.check,
    "convergence": convergence.check,
    "staleness": staleness.check,
}
GOAL_OPS_PER_S = 500_000
CLOCK: Callable[[], float] = time.perf_counter
GOAL_BYTES = 2**30


def rss_bytes() -> int:
    """The current resident set size of this process."""
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def measure(check: Callable[..., Any], history: Any, n_ops: int, repeat: int) -> dict[str, Any]:
    """Runs one checker `repeat` times here; returns its verdict, best time and memory."""
    start_rss = rss_bytes()
    times = []
    for _ in range(repeat):
        t0 = CLOCK()
        result = check(history, time_limit_s=600.0)
        times.append(CLOCK() - t0)
    best = min(times)
    return {
        "valid": result.valid,
        "anomalies": len(result.anomalies),
        "seconds": best,
        "ops_per_s": n_ops / best,
        "peak_rss": peak_rss_bytes(),
        "own": peak_rss_bytes() - start_rss,
        "reason": result.stats.get("reason"),
    }


def index_only(history: list[Op], time_limit_s: float = 600.0, **_: Any) -> Result:
    """The shared first step of every checker: pairing and indexing the history.

    Through `run_checked`, as the checkers do (the cyclic GC off while indexing).
    """
    return run_checked(lambda h, b: Result(True), history, time_limit_s)


def measure_forked(
    check: Callable[..., Any], history: Any, n_ops: int, repeat: int
) -> dict[str, Any]:
    """Runs `measure` in a forked child and returns what it reports."""
    return run_forked(measure, check, history, n_ops, repeat)


def extract(ref: str, into: str) -> Path:
    """The files of git revision `ref` in a new directory under `into`."""
    out = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", ref],
                         capture_output=True, timeout=300)  # fmt: skip
    if out.returncode != 0:
        raise SystemExit(f"--baseline {ref}: git archive failed: {out.stderr.decode()[-300:]}")
    tree = Path(into) / "baseline"
    with tarfile.open(fileobj=io.BytesIO(out.stdout)) as tar:
        tar.extractall(tree, filter="data")
    return tree


def measure_baseline(
    tree: str, name: str, history: list[Op], n_ops: int, repeat: int
) -> dict[str, Any]:
    """`measure` of checker `name` as the revision in `tree` has it (in a forked child).

    If that revision's checkers/history.py is this one's, its checkers read the
    very same ops (this module kept); otherwise the ops are rebuilt as its own
    `Op`s first (untimed, but their memory layout differs).
    """
    same = (Path(tree) / "checkers/history.py").read_bytes() == (
        ROOT / "checkers/history.py"
    ).read_bytes()
    keep = {"checkers.history"} if same else set()
    for mod in [m for m in sys.modules if m.split(".")[0] == "checkers" and m not in keep]:
        del sys.modules[mod]  # in this child only: the baseline's own modules from here on
    sys.path.insert(0, tree)
    ops: list[Any] = history
    if not same:
        old_history = importlib.import_module("checkers.history")
        ops = [old_history.op_from_dict(op.to_dict()) for op in history]
    return measure(importlib.import_module(f"checkers.{name}").check, ops, n_ops, repeat)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ops", type=int, default=1_000_000, help="history size (ops)")
    ap.add_argument("--keys", type=int, default=None, help="keys (default: ops / 100)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=3, help="runs per checker; the best counts")
    ap.add_argument("--cpu", action="store_true", help="time with process CPU time")
    ap.add_argument("--baseline", default="5757409", metavar="REF",
                    help="git revision measured alone as the anchor ('' for none)")  # fmt: skip
    args = ap.parse_args(argv)
    global CLOCK
    CLOCK = time.process_time if args.cpu else time.perf_counter
    keys = args.keys or max(1, args.ops // 100)
    config = ReferenceConfig(n_ops=args.ops, n_keys=keys, n_processes=16)
    t0 = time.perf_counter()
    history = generate(config, args.seed)
    gen_s = time.perf_counter() - t0
    print(
        f"reference model: {len(history)} ops, {keys} keys, seed {args.seed}, "
        f"generated in {gen_s:.1f} s; RSS with the history loaded {rss_bytes() / 2**20:.0f} MiB"
    )
    gc.collect()
    gc.freeze()
    clock = "CPU" if args.cpu else "wall"
    build = "mypyc-compiled" if all(native.in_use("checkers").values()) else "pure Python"
    print(f"checkers: {build} ({native.DISABLE_ENV}=1: pure Python)")
    print(f"best of {args.repeat} runs ({clock} time), each checker in a fresh fork; "
          "ops/s = history ops / s")  # fmt: skip
    print(
        f"{'checker':<22} {'valid':>7} {'seconds':>8} {'ops/s':>10} {'peak MiB':>9} "
        f"{'own MiB':>8}  goal"
    )
    ok = True
    for name, check in CHECKERS.items():
        m = measure_forked(check, history, len(history), args.repeat)
        ok = report(name, m, goal=True) and ok
    if args.baseline:
        with tempfile.TemporaryDirectory() as tmp:
            tree = str(extract(args.baseline, tmp))
            for name in CHECKERS:
                m = run_forked(measure_baseline, tree, name, history, len(history), args.repeat)
                report(f"{name} @{args.baseline[:10]}", m)
    print("the runner's way: indexing once (SharedHistory), then each checker on that index")
    report("index_history", measure_forked(index_only, history, len(history), args.repeat))
    shared = SharedHistory(history)
    shared.cart_index(Budget(600.0))
    for name, check in CHECKERS.items():
        m = measure_forked(check, shared, len(history), args.repeat)
        ok = report(f"{name} (on index)", m, goal=True) and ok
    print(
        f"goal: >= {GOAL_OPS_PER_S:,} ops/s and <= 1024 MiB peak per checker (Elle: 100-160k txn/s)"
    )
    return 0 if ok else 1


def report(name: str, m: dict[str, Any], *, goal: bool = False) -> bool:
    """Prints one row; returns whether the checker passed and met the goal."""
    if "error" in m:
        print(f"{name:<22} crashed: {m['error']}")
        return False
    met = m["ops_per_s"] >= GOAL_OPS_PER_S and m["peak_rss"] <= GOAL_BYTES
    verdict = ("met" if met else "MISSED") if goal else ""
    reason = f"  {m['reason']}" if m["reason"] else ""
    print(
        f"{name:<22} {m['valid']!s:>7} {m['seconds']:>8.2f} {m['ops_per_s']:>10,.0f} "
        f"{m['peak_rss'] / 2**20:>9.0f} {m['own'] / 2**20:>8.0f}  {verdict}{reason}"
    )
    return met and m["valid"] is True


if __name__ == "__main__":
    sys.exit(main())
