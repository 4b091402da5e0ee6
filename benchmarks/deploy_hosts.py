"""Deploy time to 5 hosts, one at a time against 5 in parallel (root: a netns lab of 5 hosts).

It brings up a netns lab (namespaces `sibylbench-*`, so a lab of the default
prefix is left alone), builds the wheel and wheelhouse once, then re-executes
itself inside the lab's controller namespace and, for each round, removes every
host's venv and times `deploy_all` with parallel=1 and with parallel=5 (SSH,
upload, `python3 -m venv`, `pip install --no-index`). The lab is taken down at
the end, whatever happened. Usage (root):

    .venv/bin/python benchmarks/deploy_hosts.py [--rounds 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PREFIX = "sibylbench"
HOSTS = 5


def inner(inventory: str, rounds: int) -> None:
    from harness.deploy import deploy_all, undeploy_host
    from harness.inventory import load_inventory
    from harness.remote_lab import close_all, connect_all

    inv = load_inventory(inventory)
    remotes = connect_all(inv)
    times: dict[int, list[float]] = {1: [], HOSTS: []}
    try:
        for _ in range(rounds):
            for parallel in times:
                for remote, host in zip(remotes, inv.hosts):
                    undeploy_host(remote, host)
                started = time.monotonic()
                deploy_all(remotes, list(inv.hosts), parallel)
                times[parallel].append(time.monotonic() - started)
    finally:
        close_all(remotes)
    for parallel, values in times.items():
        label = "serial (parallel=1)" if parallel == 1 else f"parallel={parallel}"
        print(f"deploy to {HOSTS} hosts, {label:20s} median {statistics.median(values):6.2f} s  "
              f"runs {[round(v, 2) for v in values]}")  # fmt: skip
    ratio = statistics.median(times[1]) / statistics.median(times[HOSTS])
    print(f"parallel speed-up: {ratio:.2f}x on {os.cpu_count()} cores "
          f"(load average {os.getloadavg()[0]:.1f})")  # fmt: skip


def outer(rounds: int) -> None:
    from harness import netns
    from harness.deploy import prebuild_for_local_hosts

    if os.geteuid() != 0:
        sys.exit("deploy_hosts.py needs root (a netns lab)")
    prebuild_for_local_hosts(["python3"])
    with tempfile.TemporaryDirectory(prefix="sibyl-deploy-bench-") as tmp:
        try:
            inv = netns.up(Path(tmp), HOSTS, prefix=PREFIX)
            cmd = ["ip", "netns", "exec", f"{PREFIX}-ctl", sys.executable, __file__,
                   "--inner", str(inv.path), "--rounds", str(rounds)]  # fmt: skip
            subprocess.run(cmd, check=True, cwd=Path(__file__).resolve().parents[1])
        finally:
            netns.down(Path(tmp))


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--inner", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    inner(args.inner, args.rounds) if args.inner else outer(args.rounds)
