"""Throughput and latency of the default workload, netns lab against local lab, one session.

Root only. It brings up a 5-host netns lab (namespaces `sibylbench-*`), then runs
`sibyl run` (cart, 5 nodes, n=3 r=2 w=2, no faults, same seed) on the local lab
and on the netns lab, alternating, at the default rate (200 ops/s) and at a
rate high enough to find the ceiling. From each run's history it prints ops/s
and the p50/p99 latency of completed client ops; the local run is the anchor.
The lab is taken down at the end, whatever happened. Usage (root):

    .venv/bin/python benchmarks/netns_vs_local.py [--time-limit 15]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

PREFIX = "sibylbench"
REPO = Path(__file__).resolve().parents[1]


def latencies_ms(history: Path) -> list[float]:
    """Invoke-to-completion times of the client ops that completed ok."""
    started: dict[int, int] = {}
    out = []
    for line in history.read_text().splitlines():
        op = json.loads(line)
        if not isinstance(op.get("process"), int):
            continue
        if op["type"] == "invoke":
            started[op["process"]] = op["time"]
        elif op["type"] == "ok" and op["process"] in started:
            out.append((op["time"] - started.pop(op["process"])) / 1e6)
    return out


def one_run(store: Path, rate: int, time_limit: float, lab: list[str]) -> str:
    argv = [sys.executable, "-m", "harness.cli", "run", "--nemesis", "none", "--seed", "5",
            "--time-limit", f"{time_limit:g}", "--rate", str(rate), "--quiesce", "1",
            "--concurrency", "10", "--store", str(store), *lab]  # fmt: skip
    done = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        return f"exit {done.returncode}: {(done.stdout + done.stderr)[-1500:]}"
    run = (store / "latest").resolve()
    stats = json.loads((run / "results.json").read_text())["stats"]
    lat = sorted(latencies_ms(run / "history.jsonl"))
    p50, p99 = statistics.median(lat), lat[int(0.99 * (len(lat) - 1))]
    return f"{stats['ops_per_s']:8.1f} ops/s   p50 {p50:6.2f} ms   p99 {p99:7.2f} ms"


def main(time_limit: float) -> None:
    from harness import netns

    if os.geteuid() != 0:
        sys.exit("netns_vs_local.py needs root (a netns lab)")
    with tempfile.TemporaryDirectory(prefix="sibyl-netns-bench-") as tmp:
        try:
            inv = netns.up(Path(tmp) / "lab", 5, prefix=PREFIX)
            remote = ["--lab", "netns", "--inventory", str(inv.path)]
            for rate in (200, 2000):
                for name, lab in (("local", []), ("netns", remote)):
                    figures = one_run(Path(tmp) / f"store-{name}", rate, time_limit, lab)
                    print(f"rate {rate:5d}  {name:6s} {figures}", flush=True)
        finally:
            netns.down(Path(tmp) / "lab")
    print(f"(5 nodes, cart, no faults, {time_limit:g} s each, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f})")  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--time-limit", type=float, default=15.0)
    main(parser.parse_args().time_limit)
