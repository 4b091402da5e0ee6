"""Composed schedules, run options and workload knobs: pure, without a cluster."""

from __future__ import annotations

import argparse
import random
from collections import Counter

import pytest

from harness.commands.run import add_parser
from harness.commands.run_options import options_flags, parse_node_settings
from harness.faults import FaultKind
from harness.generator import ScheduleOptions, fault_schedule
from harness.lazyfs import Overlay
from harness.runner import RunConfig
from workloads import Cart

NODES = ["n1", "n2", "n3", "n4", "n5"]


def test_overlapping_faults_differ_in_kind_and_do_overlap() -> None:
    opts = ScheduleOptions(overlap=1.0)
    faults = fault_schedule(["kill", "partition", "clock"], NODES, 60, random.Random(1), opts)
    pairs = list(zip(faults, faults[1:], strict=False))
    assert pairs and all(b.start_s < a.end_s for a, b in pairs), "every next fault overlaps"
    assert all(a.kind != b.kind for a, b in pairs)


def test_without_overlap_faults_follow_one_another() -> None:
    faults = fault_schedule(["kill", "pause"], NODES, 60, random.Random(1))
    assert all(b.start_s > a.end_s for a, b in zip(faults, faults[1:], strict=False))


def test_partition_until_end_stretches_the_last_partition() -> None:
    opts = ScheduleOptions(partition_until_end=True)
    faults = fault_schedule(["partition", "kill"], NODES, 30, random.Random(2), opts)
    last = [f for f in faults if f.kind is FaultKind.PARTITION][-1]
    assert last.end_s == 30


def test_faults_aim_at_a_keys_primaries_sometimes() -> None:
    opts = ScheduleOptions(keys=("cart-0", "cart-1"), aim_ratio=0.5)
    faults = fault_schedule(["kill", "crash"], NODES, 200, random.Random(3), opts)
    aimed = [f for f in faults if "key" in f.params]
    assert aimed and all(not f.targets and f.params["scope"] in ("all", "majority")
                         for f in aimed)  # fmt: skip
    assert any(f.targets for f in faults if f.kind is FaultKind.CRASH)


def test_partition_modes_are_drawn_from_the_options() -> None:
    opts = ScheduleOptions(partition_modes=("hold", "drop", "reset"))
    faults = fault_schedule(["partition"], NODES, 200, random.Random(4), opts)
    assert {f.params["mode"] for f in faults} == {"hold", "drop", "reset"}


def test_node_settings_are_checked_by_the_nodes_own_config_checker() -> None:
    base = RunConfig().settings()
    got = parse_node_settings(["read_repair=false", "antientropy_interval_ms=0"], base)
    assert got == {"read_repair": False, "antientropy_interval_ms": 0}
    for bad, named in (("read_repair=maybe", "read_repair"), ("max_clock_entries=0",
                       "max_clock_entries"), ("nonsense=1", "nonsense"),
                       ("members=[]", "members"), ("n", "KEY=VALUE")):  # fmt: skip
        with pytest.raises(ValueError, match=named):
            parse_node_settings([bad], base)


def test_the_rerun_command_spells_out_every_new_option() -> None:
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers())
    cfg = RunConfig(partition_mode="mixed", fault_overlap=0.5, nemesis_interval_s=2.0,
                    partition_until_end=True, keys=7, key_distribution="zipf",
                    blind_writes=0.25, node_settings={"read_repair": False}, seeds=2)  # fmt: skip
    args = parser.parse_args(["run", *options_flags(cfg)])
    assert (args.partition_mode, args.fault_overlap, args.nemesis_interval) == ("mixed", 0.5, 2.0)
    assert args.partition_until_end and args.keys == 7 and args.key_distribution == "zipf"
    assert args.blind_writes == 0.25 and args.seeds == 2
    assert args.node_setting == ["read_repair=false"]


def test_zipf_keys_are_skewed_and_blind_adds_skip_the_read() -> None:
    cart = Cart(carts=10, zipf=True, blind_ratio=0.5)
    rng = random.Random(5)
    ops = [cart.next_op(rng, 0) for _ in range(4000)]
    hits = Counter(op.key for op in ops)
    assert hits["cart-0"] > 3 * hits["cart-9"]
    blind = [op for op in ops if op.f == "add" and op.extra.get("blind")]
    adds = [op for op in ops if op.f == "add"]
    assert 0.4 < len(blind) / len(adds) < 0.6
    assert {op.extra["blind"] for op in blind} == {"none", "stale"}


def test_the_overlay_holds_writes_until_synced() -> None:
    o = Overlay(bytearray(b"hello"))
    o.write(b"J", 0)
    o.write(b"!!", 5)
    assert bytes(o.content) == b"Jello!!" and o.resized and o.unsynced_bytes() == 3
    o.truncate(2)
    assert bytes(o.content) == b"Je"
