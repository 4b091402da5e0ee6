"""`sibyl run` and `sibyl replay`: the main job, and rerunning a stored run exactly."""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
from pathlib import Path

from rich.console import Console

from harness.commands.lab import LABS, remote_prelude
from harness.commands.run_options import (
    add_options,
    nemesis_option,
    options_config,
    options_flags,
    parse_node_settings,
)
from harness.errors import UsageError
from harness.faults import Fault, FaultKind
from harness.generator import DEFAULT_NEMESES
from harness.inventory import load_inventory
from harness.runner import RunConfig, intercept_env, run_test
from harness.store import StoreError, find_run, read_json
from harness.test_count import run_many
from workloads import WORKLOADS

LAB_HELP = (
    "where the nodes run: local processes (default), or the hosts of --inventory: "
    "netns / vagrant (from `sibyl lab up`) or any ssh hosts"
)
INVENTORY_HELP = "the lab's hosts (TOML, see docs/labs.md); for --lab other than local"


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "run",
        help="run a test: workload + faults on a local cluster, then check",
        description="Start a local cluster behind a fault-proxy mesh, run a workload while the "
        "nemesis injects faults, heal, let the cluster quiesce, read every key from every node, "
        "and check the history. Writes store/<test>/<time>/ (store/latest points at it).",
    )
    p.add_argument("--nodes", type=int, default=5, help="cluster size")
    p.add_argument(
        "--workload",
        choices=sorted(WORKLOADS),
        default="cart",
        help="what clients do: cart (adds/removes with contexts), set (adds only), "
        "register (reads/writes, checked for linearizability)",
    )
    p.add_argument(
        "--nemesis",
        default=",".join(DEFAULT_NEMESES),
        help=f"comma list of {','.join(k.value for k in FaultKind)}, or none",
    )
    p.add_argument("--time-limit", type=float, default=60.0, help="seconds of chaos")
    p.add_argument("--rate", type=float, default=200.0, help="client ops per second, in total")
    p.add_argument("--concurrency", type=int, default=10, help="client processes")
    p.add_argument(
        "--seed",
        type=int,
        default=None,
        help="seed of the fault schedule and client ops (default: random, printed)",
    )
    p.add_argument(
        "--mode",
        choices=("sloppy", "strict"),
        default="sloppy",
        help="quorum mode: sloppy (fallbacks count) or strict (primaries only)",
    )
    p.add_argument(
        "--conflict",
        choices=("siblings", "lww"),
        default="siblings",
        help="concurrent writes: keep siblings, or last write (wall clock) wins",
    )
    p.add_argument("--n", type=int, default=3, help="replicas per key (at most --nodes)")
    p.add_argument("--r", type=int, default=2, help="read quorum (1..n)")
    p.add_argument("--w", type=int, default=2, help="write quorum, counting the coordinator (1..n)")
    p.add_argument(
        "--quiesce", type=float, default=5.0, help="seconds between the heal and the final reads"
    )
    p.add_argument("--store", default="store", help="folder where run directories go")
    p.add_argument("--keep-cluster", action="store_true", help="leave the nodes running")
    p.add_argument(
        "--intercept",
        action="append",
        default=[],
        metavar="MODULE",
        help="import MODULE in every node to plant a bug, e.g. "
        "tests.intercepts.sync_overwrites (repeatable)",
    )
    p.add_argument("--lab", choices=LABS, default="local", help=LAB_HELP)
    p.add_argument("--inventory", default="", metavar="FILE", help=INVENTORY_HELP)
    p.add_argument("--accept-new-host-key", action="store_true",
                   help="trust and record a host's SSH key the first time it is seen")  # fmt: skip
    add_options(p)
    p.set_defaults(func=_run)
    r = sub.add_parser("replay", help="rerun a stored run: same config, seed and fault schedule")
    r.add_argument("run_dir", help="a run directory, e.g. store/latest")
    r.add_argument("--store", default=None, help="where the new run goes (default: as before)")
    r.set_defaults(func=_replay)


def _config(args: argparse.Namespace) -> RunConfig:
    """The run's config from its options; raises UsageError naming the bad option."""
    for name in ("nodes", "concurrency"):
        if getattr(args, name) < 1:
            raise UsageError(f"--{name} must be at least 1, got {getattr(args, name)}")
    for name, value, unit in (("time-limit", args.time_limit, "seconds"),
                              ("rate", args.rate, "ops per second")):  # fmt: skip
        if not value > 0:
            raise UsageError(f"--{name} must be a positive number of {unit}, got {value:g}")
    if not args.quiesce >= 0:
        raise UsageError(f"--quiesce must be 0 or more seconds, got {args.quiesce:g}")
    if args.lab == "local":  # a remote lab's size is its inventory's: checked once it is read
        check_quorum(args.n, args.r, args.w, args.nodes)
    check_store(args.store)
    for module in args.intercept:
        check_intercept(module)
    nemesis = nemesis_option(args)
    try:
        options = options_config(args)
    except ValueError as e:
        raise UsageError(str(e)) from None
    cfg = RunConfig(
        nodes=args.nodes, workload=args.workload, nemesis=nemesis,
        time_limit_s=args.time_limit, rate=args.rate, concurrency=args.concurrency,
        seed=args.seed, mode=args.mode, conflict=args.conflict, n=args.n, r=args.r, w=args.w,
        store=args.store, keep_cluster=args.keep_cluster, quiesce_s=args.quiesce,
        intercepts=tuple(args.intercept), lab=args.lab, inventory=args.inventory,
        accept_new_host_key=args.accept_new_host_key, **options,
    )  # fmt: skip
    try:
        cfg.node_settings = parse_node_settings(args.node_setting, cfg.settings())
    except ValueError as e:
        raise UsageError(str(e)) from None
    return cfg


def check_quorum(n: int, r: int, w: int, nodes: int, what: str = "--nodes") -> None:
    """Raises UsageError unless 1 <= r, w <= n <= nodes."""
    if not 1 <= n <= nodes:
        raise UsageError(f"--n {n} needs 1 <= n <= {what} ({nodes}): raise {what} or lower --n")
    for name, value in (("r", r), ("w", w)):
        if not 1 <= value <= n:
            raise UsageError(f"--{name} {value} needs 1 <= {name} <= --n ({n})")


def check_store(store: str) -> None:
    """Raises UsageError unless `store` is (or can become) a writable folder."""
    path = Path(store)
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        what = f"--store {store}" if probe == path else f"--store {store}: {probe}"
        raise UsageError(f"{what} is a file, not a folder; pass a folder for run directories")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise UsageError(f"--store {store}: cannot write in {probe}; pass a folder you can write")


def check_intercept(module: str) -> None:
    """Raises UsageError unless a node started from here can import `module` (tried in a
    child process with the nodes' environment, so the module's own errors show too)."""
    env = {**os.environ, **intercept_env((module,))}
    code = "import importlib, sys; importlib.import_module(sys.argv[1])"
    try:
        proc = subprocess.run([sys.executable, "-c", code, module], env=env,
                              capture_output=True, text=True, timeout=60)  # fmt: skip
    except subprocess.TimeoutExpired:
        raise UsageError(f"--intercept {module}: importing it did not finish in 60 s") from None
    if proc.returncode != 0:
        why = (proc.stderr.strip().splitlines() or ["no error text"])[-1]
        raise UsageError(
            f"--intercept {module}: a node cannot import it from {os.getcwd()} ({why}); "
            "planted bugs live in tests/intercepts (e.g. tests.intercepts.sync_overwrites)"
        )


def _run(args: argparse.Namespace) -> int:
    cfg = _config(args)
    if cfg.seed is None:
        import random

        cfg.seed = random.SystemRandom().randrange(1 << 31)
    prelude = remote_prelude(cfg.lab, cfg.inventory, ["run", *_flags(cfg)])
    if prelude is not None:
        return prelude
    if cfg.lab != "local":  # as many nodes as the inventory has hosts
        cfg.nodes = len(load_inventory(cfg.inventory).hosts)
        check_quorum(cfg.n, cfg.r, cfg.w, cfg.nodes, f"the hosts of {cfg.inventory}")
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
    if cfg.lab != "local":
        out += ["--lab", cfg.lab, "--inventory", cfg.inventory]
    if cfg.accept_new_host_key:
        out.append("--accept-new-host-key")
    return out + options_flags(cfg)


def _replay(args: argparse.Namespace) -> int:
    try:
        run_dir = find_run(args.run_dir)
        cfg = RunConfig.from_dict(read_json(run_dir / "config.json"))
        schedule = read_json(run_dir / "schedule.json")
        faults = [Fault.from_dict(f) for f in schedule.get("realised") or schedule["planned"]]
    except (StoreError, KeyError, ValueError, TypeError) as e:
        raise UsageError(f"{args.run_dir}: cannot replay it: {e}") from None
    if args.store:
        check_store(args.store)
        cfg.store = args.store
    store = ["--store", args.store] if args.store else []
    prelude = remote_prelude(cfg.lab, cfg.inventory, ["replay", str(run_dir), *store])
    if prelude is not None:
        return prelude
    command = f"sibyl replay {shlex.quote(str(run_dir))}"
    return run_test(cfg, command, Console(), faults=faults).status
