"""Throughput and peak memory of the Dynamo checkers on a reference-model cart history.

Generates a cart history of about `--ops` ops (default 1,000,000) with the
reference model (workloads/reference.py), then runs each checker on it in a
forked child, so that each measurement starts from the same memory state:

* seconds and ops/s: wall time of `check(history)`, indexing included;
* peak RSS: the child's high-water resident set (the loaded history included),
  and the checker's own share, peak minus the RSS at the start of the child.

Goal: >= 200k ops/s per checker and <= 1 GiB. For scale, Elle publishes
100-160k transactions/s. Usage:

    .venv/bin/python benchmarks/dynamo_checkers.py [--ops N] [--keys K] [--seed S]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from checkers import causality, convergence, lost_adds, staleness  # noqa: E402
from checkers.history import Op  # noqa: E402
from workloads.reference import ReferenceConfig, generate  # noqa: E402

CHECKERS: dict[str, Callable[..., Any]] = {
    "lost_adds": lost_adds.check,
    "causality": causality.check,
    "convergence": convergence.check,
    "staleness": staleness.check,
}
GOAL_OPS_PER_S = 200_000
GOAL_BYTES = 2**30


def rss_bytes() -> int:
    """The current resident set size of this process."""
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def measure(check: Callable[..., Any], history: list[Op]) -> dict[str, Any]:
    """Runs one checker here; returns its verdict, time and memory figures."""
    start_rss = rss_bytes()
    t0 = time.perf_counter()
    result = check(history, time_limit_s=600.0)
    elapsed = time.perf_counter() - t0
    return {
        "valid": result.valid,
        "anomalies": len(result.anomalies),
        "seconds": elapsed,
        "ops_per_s": len(history) / elapsed,
        "peak_rss": peak_rss_bytes(),
        "own": peak_rss_bytes() - start_rss,
        "reason": result.stats.get("reason"),
    }


def measure_forked(check: Callable[..., Any], history: list[Op]) -> dict[str, Any]:
    """Runs `measure` in a forked child and returns what it reports through a pipe."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            out = json.dumps(measure(check, history)).encode()
        except BaseException as e:  # noqa: BLE001 - report, never return into the parent's code
            out = json.dumps({"error": repr(e)}).encode()
        os.write(w, out)
        os._exit(0)
    os.close(w)
    chunks = []
    while chunk := os.read(r, 65536):
        chunks.append(chunk)
    os.close(r)
    os.waitpid(pid, 0)
    return json.loads(b"".join(chunks))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ops", type=int, default=1_000_000, help="history size (ops)")
    ap.add_argument("--keys", type=int, default=None, help="keys (default: ops / 100)")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
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
    print(
        f"{'checker':<12} {'valid':>7} {'seconds':>8} {'ops/s':>10} {'peak MiB':>9} "
        f"{'own MiB':>8}  goal"
    )
    ok = True
    for name, check in CHECKERS.items():
        m = measure_forked(check, history) if hasattr(os, "fork") else measure(check, history)
        if "error" in m:
            print(f"{name:<12} crashed: {m['error']}")
            ok = False
            continue
        met = m["ops_per_s"] >= GOAL_OPS_PER_S and m["peak_rss"] <= GOAL_BYTES
        ok = ok and met and m["valid"] is True
        print(
            f"{name:<12} {m['valid']!s:>7} {m['seconds']:>8.2f} {m['ops_per_s']:>10,.0f} "
            f"{m['peak_rss'] / 2**20:>9.0f} {m['own'] / 2**20:>8.0f}  "
            f"{'met' if met else 'MISSED'}{'  ' + m['reason'] if m['reason'] else ''}"
        )
    print(
        f"goal: >= {GOAL_OPS_PER_S:,} ops/s and <= 1024 MiB peak per checker (Elle: 100-160k txn/s)"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
