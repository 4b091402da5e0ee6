"""`sibyl cluster up|down|status`: a local cluster of node processes on 127.0.0.1."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from harness.cluster import ClusterError, LocalCluster, pid_alive
from harness.errors import ExitCode, UsageError

DEFAULT_DIR = "sibyl-cluster"


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "cluster",
        help="start, stop or inspect a local cluster",
        description="Start or stop a local cluster of node processes on 127.0.0.1. "
        "State (ports, pids) lives in DIR/cluster.json; logs in DIR/<node>/node.log.",
    )
    verbs = p.add_subparsers(dest="verb", metavar="VERB")
    verbs.required = True
    up = verbs.add_parser("up", help="create and start a cluster")
    up.add_argument("--nodes", type=int, default=5, help="number of nodes (1..64)")
    up.add_argument("--dir", default=DEFAULT_DIR, help="cluster directory")
    up.add_argument("--n", type=int, default=3, help="replicas per key (at most --nodes)")
    up.add_argument("--r", type=int, default=2, help="read quorum (1..n)")
    up.add_argument(
        "--w", type=int, default=2, help="write quorum, counting the coordinator (1..n)"
    )
    up.add_argument(
        "--conflict",
        choices=("siblings", "lww"),
        default="siblings",
        help="concurrent writes: keep siblings, or last write (wall clock) wins",
    )
    up.add_argument(
        "--mode",
        choices=("sloppy", "strict"),
        default="sloppy",
        help="quorum mode: sloppy (fallbacks count) or strict (primaries only), as in sibyl run",
    )
    up.set_defaults(func=_up)
    for verb, func, text in (("down", _down, "stop every node of the cluster"),
                             ("status", _status, "show each node's pid and state")):  # fmt: skip
        v = verbs.add_parser(verb, help=text)
        v.add_argument("--dir", default=DEFAULT_DIR, help="cluster directory")
        v.set_defaults(func=func)


def _up(args: argparse.Namespace) -> int:
    if not 1 <= args.nodes <= 64:
        raise UsageError(f"--nodes must be 1..64, got {args.nodes}")
    if not 1 <= args.n <= args.nodes:
        raise UsageError(f"--n {args.n} needs 1 <= n <= --nodes ({args.nodes})")
    for name in ("r", "w"):
        if not 1 <= getattr(args, name) <= args.n:
            raise UsageError(f"--{name} {getattr(args, name)} needs 1 <= {name} <= --n ({args.n})")
    if Path(args.dir).exists() and not Path(args.dir).is_dir():
        raise UsageError(f"--dir {args.dir} is a file; pass a folder for the cluster")
    settings = {"n": args.n, "r": args.r, "w": args.w,
                "conflict": args.conflict, "quorum": args.mode}  # fmt: skip
    cluster = LocalCluster.create(args.dir, args.nodes, **settings)
    cluster.start_all()
    try:
        asyncio.run(cluster.wait_ready())
    except ClusterError as e:
        print(f"sibyl cluster up: {e}", file=sys.stderr)
        cluster.stop_all()
        return int(ExitCode.CRASHED)
    for name, proc in cluster.nodes.items():
        print(f"{name}  127.0.0.1:{proc.port}  pid {proc.pid}")
    print(f"cluster of {args.nodes} up in {cluster.dir}")
    print(f"stop it with: sibyl cluster down --dir {args.dir}")
    return 0


def _down(args: argparse.Namespace) -> int:
    try:
        cluster = LocalCluster.load(args.dir)
    except ClusterError as e:
        raise UsageError(str(e)) from None
    cluster.stop_all()
    print(f"cluster in {cluster.dir} stopped")
    return 0


def _status(args: argparse.Namespace) -> int:
    try:
        cluster = LocalCluster.load(args.dir)
    except ClusterError as e:
        raise UsageError(str(e)) from None
    for name, proc in cluster.nodes.items():
        state = "stopped" if proc.pid is None or not pid_alive(proc.pid) else (
            "paused" if proc.paused else "running")  # fmt: skip
        print(f"{name}  127.0.0.1:{proc.port}  {state}" + (f"  pid {proc.pid}" if proc.pid else ""))
    return 0
