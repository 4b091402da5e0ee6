"""The options of `sibyl run` that shape chaos and workload beyond the basics (issue 12):
partition mode, composed faults, key count and distribution, blind writes, node
settings, repeated runs. Each is validated here with a message naming it."""

from __future__ import annotations

import argparse
import tomllib
from typing import Any

from harness.errors import UsageError
from harness.generator import ScheduleError, check_cluster_size, parse_nemeses
from node.config import ConfigError, config_from_dict

#: Node config fields the harness sets itself; --node-setting may not change them.
MANAGED = ("name", "listen", "data_dir", "members", "seeds")


def add_options(p: argparse.ArgumentParser) -> None:
    """Adds the options to `sibyl run`'s parser."""
    add_chaos_options(p)
    add_workload_options(p)


def add_chaos_options(p: argparse.ArgumentParser) -> None:
    """The options that shape the fault schedule (`sibyl run` and `sibyl sim` share them)."""
    p.add_argument(
        "--partition-mode",
        choices=("hold", "drop", "mixed"),
        default="hold",
        help="cut links hold bytes until the heal (hold), lose them and reset "
        "connections (drop), or either per fault (mixed); default hold",
    )
    p.add_argument(
        "--fault-overlap",
        type=float,
        default=0.0,
        metavar="P",
        help="chance (0-1) that a fault starts while the previous one is still "
        "in force, with another kind (composed faults); default 0",
    )
    p.add_argument(
        "--nemesis-interval",
        type=float,
        default=None,
        metavar="S",
        help="mean seconds between faults (default: 1-3 s apart)",
    )
    p.add_argument(
        "--partition-until-end",
        action="store_true",
        help="the last partition lasts until the chaos phase ends",
    )


def add_workload_options(p: argparse.ArgumentParser) -> None:
    """The workload and node options of `sibyl run` beyond the basics."""
    add_shape_options(p)
    add_run_only_options(p)


def add_shape_options(p: argparse.ArgumentParser) -> None:
    """Keys, key distribution, blind writes and node settings (`sibyl run` and `sibyl sim`
    share them)."""
    p.add_argument(
        "--keys",
        type=int,
        default=None,
        metavar="N",
        help="keys the workload uses (default: cart/set 5, register 3)",
    )
    p.add_argument(
        "--key-distribution",
        choices=("uniform", "zipf"),
        default="uniform",
        help="how cart/set pick keys (zipf: key i with weight 1/(i+1))",
    )
    p.add_argument(
        "--blind-writes",
        type=float,
        default=0.0,
        metavar="RATIO",
        help="share (0-1) of cart/set adds that skip the read: no context, or an old one",
    )
    p.add_argument(
        "--node-setting",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a node config field for every node (repeatable), e.g. "
        "read_repair=false, antientropy_interval_ms=0, max_clock_entries=4",
    )


def add_run_only_options(p: argparse.ArgumentParser) -> None:
    """Options the simulator has its own form of: --no-liveness (`sibyl sim --sim-mode`),
    --seeds K (gossip seeds; `sibyl sim --seeds` is a seed range) and --test-count
    (`sibyl sim --count`)."""
    p.add_argument(
        "--no-liveness",
        action="store_true",
        help="skip recording node status after quiescence (and its checker)",
    )
    p.add_argument(
        "--seeds",
        type=int,
        default=0,
        metavar="K",
        help="configs name only themselves and the first K nodes; gossip finds "
        "the rest (default 0: every node in every config; membership faults use 1)",
    )
    p.add_argument("--test-count", type=int, default=1, metavar="N",
                   help="run the same configuration N times with seeds seed, seed+1, ... "
                   "and report how many failed")  # fmt: skip


def parse_node_settings(items: list[str], base: dict[str, Any]) -> dict[str, Any]:
    """KEY=VALUE texts (VALUE a TOML value, else a string) checked by the node's own config
    checker over `base`; raises ValueError naming the bad setting."""
    out: dict[str, Any] = {}
    for item in items:
        key, eq, text = item.partition("=")
        key = key.strip()
        if not eq or not key:
            raise ValueError(f"--node-setting {item!r}: expected KEY=VALUE")
        if key in MANAGED:
            raise ValueError(f"--node-setting {key}: the harness sets {key} itself")
        try:
            value = tomllib.loads(f"v = {text.strip()}")["v"]
        except tomllib.TOMLDecodeError:
            value = text.strip()
        out[key] = value
    raw = {"name": "n1", "listen": "127.0.0.1:1", "data_dir": "/nonexistent",
           "members": [{"name": "n1", "addr": "127.0.0.1:1"}], **base, **out}  # fmt: skip
    try:
        config_from_dict(raw, "--node-setting")
    except ConfigError as e:
        raise ValueError(str(e)) from None
    return out


def options_config(args: argparse.Namespace) -> dict[str, Any]:
    """The RunConfig fields of these options; raises ValueError naming a bad one."""
    chaos = chaos_config(args)
    shape = shape_config(args)
    if args.test_count < 1:
        raise ValueError("--test-count must be at least 1")
    if not 0 <= args.seeds <= args.nodes:
        raise ValueError("--seeds must be between 0 and --nodes")
    return {**chaos, **shape, "liveness": not args.no_liveness, "seeds": args.seeds}


def shape_config(args: argparse.Namespace) -> dict[str, Any]:
    """The RunConfig (and SimSpec) fields of `add_shape_options` but node settings (checked
    against the full config by `parse_node_settings`); raises ValueError naming a bad one."""
    if not 0.0 <= args.blind_writes <= 1.0:
        raise ValueError("--blind-writes must be between 0 and 1")
    if args.keys is not None and not 1 <= args.keys <= 10_000:
        raise ValueError("--keys must be between 1 and 10000")
    return {"keys": args.keys, "key_distribution": args.key_distribution,
            "blind_writes": args.blind_writes}  # fmt: skip


def options_flags(cfg: Any) -> list[str]:
    """The command-line spelling of these options in `cfg` (a RunConfig)."""
    out = ["--partition-mode", cfg.partition_mode, "--fault-overlap", f"{cfg.fault_overlap:g}",
           "--key-distribution", cfg.key_distribution, "--blind-writes",
           f"{cfg.blind_writes:g}"]  # fmt: skip
    if cfg.nemesis_interval_s is not None:
        out += ["--nemesis-interval", f"{cfg.nemesis_interval_s:g}"]
    if cfg.partition_until_end:
        out.append("--partition-until-end")
    if cfg.keys is not None:
        out += ["--keys", str(cfg.keys)]
    if not cfg.liveness:
        out.append("--no-liveness")
    if cfg.seeds:
        out += ["--seeds", str(cfg.seeds)]
    for key, value in sorted(cfg.node_settings.items()):
        out += ["--node-setting", f"{key}={_toml(value)}"]
    return out


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value) if isinstance(value, int | float) else f'"{value}"'


def chaos_config(args: argparse.Namespace) -> dict[str, Any]:
    """The RunConfig (and SimSpec) fields of `add_chaos_options`; raises ValueError naming
    a bad one."""
    if not 0.0 <= args.fault_overlap <= 1.0:
        raise ValueError("--fault-overlap must be between 0 and 1")
    if args.nemesis_interval is not None and args.nemesis_interval <= 0:
        raise ValueError("--nemesis-interval must be positive")
    return {"partition_mode": args.partition_mode, "fault_overlap": args.fault_overlap,
            "nemesis_interval_s": args.nemesis_interval,
            "partition_until_end": args.partition_until_end}  # fmt: skip


def nemesis_option(args: argparse.Namespace) -> tuple[str, ...]:
    """The `--nemesis` kinds, checked against `--nodes` and `--n`; raises UsageError naming
    the problem (`sibyl run` and `sibyl sim` share it)."""
    try:
        nemesis = parse_nemeses(args.nemesis)
        check_cluster_size(nemesis, args.nodes)
    except ScheduleError as e:
        raise UsageError(f"--nemesis: {e}") from None
    if "leave" in nemesis and args.nodes - 1 < args.n:
        raise UsageError(f"--nemesis leave needs --nodes above --n ({args.n}): no node lets a "
                         "leave take the ring below N members")  # fmt: skip
    return nemesis
