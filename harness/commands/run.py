"""`sibyl run` and `sibyl replay`: the main job, and rerunning a stored run exactly."""

from __future__ import annotations

import argparse
import shlex
import sys

from rich.console import Console

from harness.commands.run_options import (
    add_options,
    options_config,
    options_flags,
    parse_node_settings,
)
from harness.faults import Fault
from harness.generator import DEFAULT_NEMESES, ScheduleError, parse_nemeses
from harness.runner import RunConfig, run_test
from harness.store import StoreError, find_run, read_json
from harness.test_count import run_many
from workloads import WORKLOADS


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "run",
        help="run a test: workload + faults on a local cluster, then check",
        description="Start a local cluster behind a fault-proxy mesh, run a workload while the "
        "nemesis injects faults, heal, let the cluster quiesce, read every key from every node, "
        "and check the history. Writes store/<test>/<time>/ (store/latest points at it). "
        "Exit status: 0 valid, 1 invalid, 2 unknown, 255 crashed.",
    )
    p.add_argument("--nodes", type=int, default=5, help="cluster size (default 5)")
    p.add_argument("--workload", choices=sorted(WORKLOADS), default="cart")
    p.add_argument("--nemesis", default=",".join(DEFAULT_NEMESES),
                   help="comma list of partition,kill,pause,clock,latency,bandwidth,crash,wipe,"
                   "reset_peer,limit_data, or none "
                   f"(default {','.join(DEFAULT_NEMESES)})")  # fmt: skip
    p.add_argument("--time-limit", type=float, default=60.0, help="seconds of chaos (default 60)")
    p.add_argument("--rate", type=float, default=200.0, help="client ops/s in total (default 200)")
    p.add_argument("--concurrency", type=int, default=10, help="client processes (default 10)")
    p.add_argument("--seed", type=int, default=None, help="seed (default: random, printed)")
    p.add_argument("--mode", choices=("sloppy", "strict"), default="sloppy", help="quorum mode")
    p.add_argument("--conflict", choices=("siblings", "lww"), default="siblings")
    p.add_argument("--n", type=int, default=3, help="replicas per key (default 3)")
    p.add_argument("--r", type=int, default=2, help="read quorum (default 2)")
    p.add_argument("--w", type=int, default=2, help="write quorum incl. the coordinator (2)")
    p.add_argument("--quiesce", type=float, default=5.0, help="seconds between heal and reads")
    p.add_argument("--store", default="store", help="where run directories go (default store)")
    p.add_argument("--keep-cluster", action="store_true", help="leave the nodes running")
    p.add_argument("--intercept", action="append", default=[], metavar="MODULE",
                   help="import MODULE in every node: plant a bug (tests/intercepts)")  # fmt: skip
    add_options(p)
    p.set_defaults(func=_run)
    r = sub.add_parser("replay", help="rerun a stored run: same config, seed and fault schedule")
    r.add_argument("run_dir", help="a run directory, e.g. store/latest")
    r.add_argument("--store", default=None, help="where the new run goes (default: as before)")
    r.set_defaults(func=_replay)


def _config(args: argparse.Namespace) -> RunConfig:
    for name in ("nodes", "concurrency"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name} must be at least 1")
    if args.time_limit <= 0 or args.rate <= 0:
        raise ValueError("--time-limit and --rate must be positive")
    n = min(args.n, args.nodes)
    if not (1 <= args.r <= n and 1 <= args.w <= n):
        raise ValueError(f"need 1 <= --r, --w <= --n (and --n <= --nodes); got n={n} "
                         f"r={args.r} w={args.w}")  # fmt: skip
    cfg = RunConfig(
        nodes=args.nodes, workload=args.workload, nemesis=parse_nemeses(args.nemesis),
        time_limit_s=args.time_limit, rate=args.rate, concurrency=args.concurrency,
        seed=args.seed, mode=args.mode, conflict=args.conflict, n=args.n, r=args.r, w=args.w,
        store=args.store, keep_cluster=args.keep_cluster, quiesce_s=args.quiesce,
        intercepts=tuple(args.intercept), **options_config(args),
    )  # fmt: skip
    cfg.node_settings = parse_node_settings(args.node_setting, cfg.settings())
    return cfg


def _run(args: argparse.Namespace) -> int:
    try:
        cfg = _config(args)
    except (ValueError, ScheduleError) as e:
        print(f"sibyl run: {e}", file=sys.stderr)
        return 2
    if cfg.seed is None:
        import random

        cfg.seed = random.SystemRandom().randrange(1 << 31)
    if args.test_count > 1:
        return run_many(cfg, args.test_count, Console(),
                        lambda c: shlex.join(["sibyl", "run", *_flags(c)]))  # fmt: skip
    command = shlex.join(["sibyl", "run", *_flags(cfg)])
    return run_test(cfg, command, Console()).status


def _flags(cfg: RunConfig) -> list[str]:
    """The full command line that reproduces `cfg` (every option spelled out)."""
    out = ["--nodes", str(cfg.nodes), "--workload", cfg.workload,
           "--nemesis", ",".join(cfg.nemesis) or "none", "--time-limit", f"{cfg.time_limit_s:g}",
           "--rate", f"{cfg.rate:g}", "--concurrency", str(cfg.concurrency),
           "--seed", str(cfg.seed), "--mode", cfg.mode, "--conflict", cfg.conflict,
           "--n", str(cfg.n), "--r", str(cfg.r), "--w", str(cfg.w),
           "--quiesce", f"{cfg.quiesce_s:g}", "--store", cfg.store]  # fmt: skip
    if cfg.keep_cluster:
        out.append("--keep-cluster")
    for m in cfg.intercepts:
        out += ["--intercept", m]
    return out + options_flags(cfg)


def _replay(args: argparse.Namespace) -> int:
    try:
        run_dir = find_run(args.run_dir)
        cfg = RunConfig.from_dict(read_json(run_dir / "config.json"))
        schedule = read_json(run_dir / "schedule.json")
        faults = [Fault.from_dict(f) for f in schedule.get("realised") or schedule["planned"]]
    except (StoreError, KeyError, ValueError, TypeError) as e:
        print(f"sibyl replay: {e}", file=sys.stderr)
        return 2
    if args.store:
        cfg.store = args.store
    command = f"sibyl replay {shlex.quote(str(run_dir))}"
    return run_test(cfg, command, Console(), faults=faults).status
