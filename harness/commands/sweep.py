"""`sibyl sweep CONFIG.toml`: a nightly matrix of runs, sharded over machines (docs/nightly.md)."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from pathlib import Path

from harness.errors import ExitCode
from harness.sweep import SweepError, load, parse_shard, run_sweep

BAD_INPUT = int(ExitCode.USAGE)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sweep",
        help="run a matrix of workloads x nemeses x seeds (nightly), optionally one shard",
        description="Run every cell of the sweep file's matrix as an ordinary `sibyl run`, "
        "PARALLEL at a time (the file's `parallel`). --shard I/N runs cells I, I+N, ... so N "
        "machines split one matrix; with --shard N alone, I comes from JOB_COMPLETION_INDEX "
        "(Kubernetes Indexed Jobs). Exit status: 255 if a run crashed, else 1 if one was "
        "invalid, else 2 if one was unknown, else 0. See docs/nightly.md.",
    )
    p.add_argument("config", help="the sweep file (TOML)")
    p.add_argument("--store", default="store", help="where run directories go (default store)")
    p.add_argument("--shard", default=None, metavar="I/N",
                   help="run only shard I of N (0-based; default: all cells)")  # fmt: skip
    p.add_argument("--sweep-id", default=None,
                   help="the id shared by all shards (default: NAME-YYYY-MM-DD, UTC)")  # fmt: skip
    p.set_defaults(func=_sweep)


def _sweep(args: argparse.Namespace) -> int:
    try:
        sweep = load(Path(args.config))
        part = parse_shard(args.shard, os.environ.get("JOB_COMPLETION_INDEX"))
    except SweepError as e:
        print(f"sibyl sweep: {e}", file=sys.stderr)
        return BAD_INPUT
    sweep_id = args.sweep_id or f"{sweep.name}-{dt.datetime.now(dt.UTC).date().isoformat()}"
    return run_sweep(sweep, Path(args.store), sweep_id, part)
