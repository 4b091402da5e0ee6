"""`sibyl demo`: the shopping-cart siblings demo on a local cluster (a one-minute tour)."""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from pathlib import Path

from rich.console import Console

from harness.commands.run import check_store
from harness.demo import run_demo
from harness.errors import UsageError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="see siblings appear and be reconciled on a local cluster",
        description="Start a local cluster, have concurrent writers add items to one shopping "
        "cart without reading each other's writes (so siblings appear), reconcile them, "
        "print what happened and stop the cluster. Exit 0 if no add was lost.",
    )
    p.add_argument("--nodes", type=int, default=5, help="cluster size")
    p.add_argument("--writers", type=int, default=5, help="concurrent blind writers")
    p.add_argument("--seed", type=int, default=None, help="seed (default: random, printed)")
    p.add_argument("--store", default="store", help="folder where run directories go")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    for name in ("nodes", "writers"):
        if not 1 <= getattr(args, name) <= 64:
            raise UsageError(f"--{name} must be 1..64, got {getattr(args, name)}")
    check_store(args.store)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 31)
    run_dir = Path(args.store) / "demo" / time.strftime("%Y%m%dT%H%M%S")
    console = Console()
    status = asyncio.run(run_demo(run_dir, args.nodes, args.writers, seed, console))
    console.print(
        f"rerun with: sibyl demo --nodes {args.nodes} --writers {args.writers} --seed {seed} "
        f"--store {args.store}",
        soft_wrap=True,
    )
    return status
