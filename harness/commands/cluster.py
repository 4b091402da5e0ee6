"""`sibyl cluster up|down|status`: a local cluster of node processes on 127.0.0.1."""

from __future__ import annotations

import argparse
import asyncio
import sys

from harness.cluster import ClusterError, LocalCluster, pid_alive

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
    up.add_argument("--nodes", type=int, default=5, help="number of nodes (default 5)")
    up.add_argument("--dir", default=DEFAULT_DIR, help=f"cluster directory (default {DEFAULT_DIR})")
    up.add_argument("--n", type=int, default=3, help="replicas per key (default 3)")
    up.add_argument("--r", type=int, default=2, help="read quorum (default 2)")
    up.add_argument("--w", type=int, default=2, help="write quorum, counting the coordinator (2)")
    up.add_argument("--conflict", choices=("siblings", "lww"), default="siblings")
    up.add_argument("--quorum", choices=("sloppy", "strict"), default="sloppy")
    up.set_defaults(func=_up)
    for verb, func, text in (("down", _down, "stop every node of the cluster"),
                             ("status", _status, "show each node's pid and state")):  # fmt: skip
        v = verbs.add_parser(verb, help=text)
        v.add_argument(
            "--dir", default=DEFAULT_DIR, help=f"cluster directory (default {DEFAULT_DIR})"
        )
        v.set_defaults(func=func)


def _up(args: argparse.Namespace) -> int:
    if not 1 <= args.nodes <= 64:
        print(f"sibyl cluster up: --nodes must be 1..64, got {args.nodes}", file=sys.stderr)
        return 2
    settings = {"n": min(args.n, args.nodes), "r": args.r, "w": args.w,
                "conflict": args.conflict, "quorum": args.quorum}  # fmt: skip
    cluster = LocalCluster.create(args.dir, args.nodes, **settings)
    cluster.start_all()
    try:
        asyncio.run(cluster.wait_ready())
    except ClusterError as e:
        print(f"sibyl cluster up: {e}", file=sys.stderr)
        cluster.stop_all()
        return 1
    for name, proc in cluster.nodes.items():
        print(f"{name}  127.0.0.1:{proc.port}  pid {proc.pid}")
    print(f"cluster of {args.nodes} up in {cluster.dir}")
    print(f"stop it with: sibyl cluster down --dir {args.dir}")
    return 0


def _down(args: argparse.Namespace) -> int:
    try:
        cluster = LocalCluster.load(args.dir)
    except ClusterError as e:
        print(f"sibyl cluster down: {e}", file=sys.stderr)
        return 1
    cluster.stop_all()
    print(f"cluster in {cluster.dir} stopped")
    return 0


def _status(args: argparse.Namespace) -> int:
    try:
        cluster = LocalCluster.load(args.dir)
    except ClusterError as e:
        print(f"sibyl cluster status: {e}", file=sys.stderr)
        return 1
    for name, proc in cluster.nodes.items():
        state = "stopped" if proc.pid is None or not pid_alive(proc.pid) else (
            "paused" if proc.paused else "running")  # fmt: skip
        print(f"{name}  127.0.0.1:{proc.port}  {state}" + (f"  pid {proc.pid}" if proc.pid else ""))
    return 0
