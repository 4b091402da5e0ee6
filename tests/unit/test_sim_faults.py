"""The fault kinds the simulator models beyond kill and cut (issue 15): crash loses what
was not synced, wipe deletes the disk, partition modes, reset_peer, limit_data, membership
changes, composed-fault options, and a node handler bug as a verdict."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, NoReturn

import pytest

from harness.faults import Fault, FaultKind
from harness.generator import fault_schedule
from harness.sim_nemesis import SIM_KINDS, UNSUPPORTED, SimNemesis, unsupported
from harness.sim_runner import (
    SIM_CLOCK_OPS,
    SimSchedule,
    SimSpec,
    as_run_config,
    new_simulator,
    planned_faults,
    simulate,
)
from harness.sim_store import write_run
from node import events
from node.dispatch import Dispatcher
from node.sim.clients import Scheduler
from node.sim.cluster import SimConfig, Simulator
from node.sim.faults import lose_power
from node.sim.lossy import Break, LossyFault, LossyLinks
from node.storage import OBJECTS, MemoryStorage

REPO = Path(__file__).resolve().parents[2]
SETTINGS = {"n": 3, "r": 2, "w": 3, "request_timeout_ms": 300}


def no_sync(self: MemoryStorage) -> None:
    """What tests/intercepts/no_fsync.py plants: the commit makes nothing durable."""


def unreachable_events(sim: Simulator, node: str) -> list[tuple[int, str]]:
    return [(t[0], t[3].peer) for t in sim.trace
            if t[1] == "event" and t[2] == node
            and isinstance(t[3], events.PeerUnreachable)]  # fmt: skip


# --- crash and wipe: the disk's page cache --------------------------------------


def test_memory_storage_loses_only_what_was_not_synced(monkeypatch: pytest.MonkeyPatch) -> None:
    disk = MemoryStorage()
    disk.write([(OBJECTS, "a", b"1")])
    disk.meta_put("boot", b"1")
    assert disk.unsynced() == 0 and disk.lose_unsynced() == 0
    monkeypatch.setattr(MemoryStorage, "sync", no_sync)
    disk.write([(OBJECTS, "a", b"2"), ("n9", "h", b"hint"), (OBJECTS, "b", b"3")])
    disk.write([(OBJECTS, "b", None)])
    disk.meta_put("boot", b"2")
    assert disk.read("a") == b"2" and disk.meta_get("boot") == b"2"  # reads see the cache
    assert disk.lose_unsynced() == 5
    assert (disk.read("a"), disk.read("b"), disk.meta_get("boot")) == (b"1", None, b"1")
    assert disk.hint_counts() == {}


def acked_put_then(sim: Simulator, fault: Callable[[Simulator, str], Any]) -> Any:
    assert sim.put("n1", "k", b"v")["t"] == "ok"  # w=3: on every replica's disk
    sim.run_for(500)
    for name in sim.primaries("k"):
        fault(sim, name)
    for name in sim.primaries("k"):
        sim.restart(name)
    sim.run_for(2000)
    return sim.get(sim.primaries("k")[0], "k")


def test_crash_loses_unsynced_writes_and_kill_does_not(monkeypatch: pytest.MonkeyPatch) -> None:
    # Without syncs, only a power cut loses the acknowledged write; with them, nothing does.
    synced = acked_put_then(Simulator(4, SimConfig(settings=SETTINGS)), lose_power)
    assert synced.get("siblings") == [b"v"], synced
    monkeypatch.setattr(MemoryStorage, "sync", no_sync)
    killed = acked_put_then(Simulator(4, SimConfig(settings=SETTINGS)), Simulator.crash)
    assert killed.get("siblings") == [b"v"], killed  # the OS page cache survives kill -9
    sim = Simulator(4, SimConfig(settings=SETTINGS))
    lost = acked_put_then(sim, lose_power)
    assert lost.get("siblings", []) == [], lost  # the crash dropped it on every replica
    assert any(t[1] == "lose_unsynced" and t[3] > 0 for t in sim.trace)


def test_wipe_deletes_the_disk_and_the_node_boots_as_new() -> None:
    sim = Simulator(5, SimConfig(settings=SETTINGS))
    assert sim.put("n1", "k", b"v")["t"] == "ok"
    victim = sim.primaries("k")[0]
    before = sim.nodes[victim].actor
    nemesis = SimNemesis(sim, 5)
    wipe = Fault(1, FaultKind.WIPE, 0, 1, (victim,))
    details = nemesis.start(wipe)
    assert not sim.is_up(victim) and sim.disks[victim].read("k") is None
    assert sim.disks[victim].meta_get("incarnation") is None
    nemesis.stop(wipe, details)
    assert sim.is_up(victim)
    assert sim.nodes[victim].actor.split(".")[1] != before.split(".")[1]  # a new incarnation


# --- links ---------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["hold", "drop", "reset"])
def test_partition_modes_hold_drop_or_reset(mode: str) -> None:
    sim = Simulator(6, SimConfig(settings=SETTINGS))
    nemesis = SimNemesis(sim, 6)
    cut = Fault(1, FaultKind.PARTITION, 0, 1, (), {"shape": "one", "mode": mode})
    details = nemesis.start(cut)
    links = [tuple(x) for x in details["links"]]
    src, dst = links[0]
    sim.run_for(50)
    at_cut = [e for e in unreachable_events(sim, src) if e[1] == dst]
    assert bool(at_cut) is (mode == "reset")  # only reset tells the sender at the cut
    sim.run_for(2000)  # gossip and probes cross the cut
    held = len(sim._held)
    nemesis.stop(cut, details)
    sim.run_for(50)
    closed = [e for e in unreachable_events(sim, src) if e[1] == dst and e[0] >= 2050]
    assert (held > 0) is (mode == "hold")  # hold keeps what was sent; drop and reset lose it
    assert bool(closed) is (mode != "hold")  # the heal closes lossy links' connections
    assert not sim.network.cut and not sim._held


def test_lossy_links_reset_after_the_timeout_and_close_past_the_byte_limit() -> None:
    links = LossyLinks()
    assert not links
    links.set(("a", "b"), LossyFault(Break.RESET, timeout_ms=100))
    assert links.fates("a", "b", 0, 10, [5]) == ([5], 100)  # opens; reset due in 100 ms
    assert links.fates("a", "b", 90, 10, [5, 20]) == ([5], None)  # the late copy is lost
    assert links.fates("a", "b", 100, 10, [5]) == ([5], 100)  # a new connection
    assert links.fates("b", "a", 0, 10, [5]) == ([5], None)  # another link: untouched
    links.set(("a", "b"), LossyFault(Break.RESET, timeout_ms=0))
    assert links.fates("a", "b", 7, 10, [1]) == ([], 0)
    links.set(("a", "b"), LossyFault(Break.LIMIT, limit_bytes=25))
    assert links.fates("a", "b", 0, 10, [1]) == ([1], None)
    assert links.fates("a", "b", 1, 10, [1]) == ([1], None)
    assert links.fates("a", "b", 2, 10, [1]) == ([], 0)  # crosses 25 bytes: cut part-way
    assert links.fates("a", "b", 3, 10, [1]) == ([1], None)  # a fresh connection
    links.clear(("a", "b"))
    assert not links


@pytest.mark.parametrize(
    "fault",
    [Fault(1, FaultKind.RESET_PEER, 0, 1, ("n1",), {"timeout_ms": 0}),
     Fault(1, FaultKind.LIMIT_DATA, 0, 1, ("n1",), {"bytes": 256})],
)  # fmt: skip
def test_reset_peer_and_limit_data_break_the_targets_peer_links(fault: Fault) -> None:
    sim = Simulator(8, SimConfig(settings=SETTINGS))
    nemesis = SimNemesis(sim, 8)
    details = nemesis.start(fault)
    assert ["n1", "n2"] in details["links"] and ["n2", "n1"] in details["links"]
    sim.run_for(3000)
    broken = [t for t in sim.trace if t[1] == "broken"]
    assert broken and {t[2] for t in broken} <= set(sim.names)
    assert all("n1" in (t[2], t[3]) for t in broken)  # only the target's links
    assert unreachable_events(sim, "n1") and len(sim.trace) > 0
    nemesis.stop(fault, details)
    assert not sim.lossy
    count = len([t for t in sim.trace if t[1] == "broken"])
    sim.run_for(3000)
    assert len([t for t in sim.trace if t[1] == "broken"]) == count


# --- membership ------------------------------------------------------------------


def run_coroutine(sim: Simulator, coro: Any) -> Any:
    out: list[Any] = []

    async def wrapped() -> None:
        out.append(await coro)

    sched = Scheduler(sim)
    sched.spawn(wrapped())
    sched.run()
    return out[0] if out else None


def test_spares_join_by_gossip_and_leave_and_members_leave_and_rejoin() -> None:
    spec = SimSpec(nodes=4, nemesis=("join", "leave"))
    sim = new_simulator(spec, 9)
    assert sorted(sim.spares) == ["n5", "n6"] and not sim.is_up("n5")
    nemesis = SimNemesis(sim, 9)
    join = Fault(1, FaultKind.JOIN, 0, 1, ("n5", "n6"))
    details = run_coroutine(sim, nemesis.begin(join))
    assert details["agreed"] and details["members"] == ["n1", "n2", "n3", "n4", "n5", "n6"]
    assert {m.name for m in sim.nodes["n1"].ring.members} == set(details["members"])
    run_coroutine(sim, nemesis.end(join, details))
    assert not sim.is_up("n5") and sim.disks["n5"].read("x") is None
    assert {m.name for m in sim.nodes["n2"].ring.members} == {"n1", "n2", "n3", "n4"}
    leave = Fault(2, FaultKind.LEAVE, 0, 1, ("n3",))
    details = run_coroutine(sim, nemesis.begin(leave))
    assert details["agreed"] and "n3" not in details["members"] and sim.is_up("n3")
    assert "n3" not in {m.name for m in sim.nodes["n1"].ring.members}
    run_coroutine(sim, nemesis.end(leave, details))
    assert "n3" in {m.name for m in sim.nodes["n1"].ring.members}


def test_a_leave_below_the_floor_is_refused_and_recorded() -> None:
    sim = new_simulator(SimSpec(nodes=3, nemesis=("leave",)), 10)
    nemesis = SimNemesis(sim, 10)
    leave = Fault(1, FaultKind.LEAVE, 0, 1, ("n2",))
    details = run_coroutine(sim, nemesis.begin(leave))
    assert "N=3" in details["error"]
    assert {m.name for m in sim.nodes["n1"].ring.members} == {"n1", "n2", "n3"}
    run_coroutine(sim, nemesis.end(leave, details))  # nothing to undo


def test_a_replace_hands_over_and_is_reversed() -> None:
    sim = new_simulator(SimSpec(nodes=4, nemesis=("replace",)), 11)
    assert list(sim.spares) == ["n5"]
    nemesis = SimNemesis(sim, 11)
    replace = Fault(1, FaultKind.REPLACE, 0, 1, ("n2", "n5"))
    details = run_coroutine(sim, nemesis.begin(replace))
    assert details["agreed"] and details["members"] == ["n1", "n3", "n4", "n5"]
    run_coroutine(sim, nemesis.end(replace, details))
    assert {m.name for m in sim.nodes["n1"].ring.members} == {"n1", "n2", "n3", "n4"}
    assert not sim.is_up("n5")


# --- the schedule, the kinds, determinism ------------------------------------------


def test_every_fault_kind_is_modelled_but_bandwidth() -> None:
    assert set(SIM_KINDS) | set(UNSUPPORTED) == set(FaultKind)
    assert not set(SIM_KINDS) & set(UNSUPPORTED)
    assert unsupported(("crash", "wipe", "join", "bandwidth")) == [
        "bandwidth (the simulator has no byte-rate model)"]  # fmt: skip


@pytest.mark.parametrize(
    "options",
    [{"fault_overlap": 0.9}, {"nemesis_interval_s": 0.5}, {"partition_until_end": True},
     {"partition_mode": "mixed"}],
)  # fmt: skip
def test_the_schedule_is_sibyl_runs_for_the_same_options(options: dict[str, Any]) -> None:
    # One generator and one set of options for both: only the clock operations differ.
    kinds = ("partition", "kill", "crash", "latency", "clock")
    spec = SimSpec(nemesis=kinds, time_limit_s=30.0, **options)
    names = [f"n{i}" for i in range(1, 6)]
    run_opts = replace(as_run_config(spec).schedule_options(), clock_ops=SIM_CLOCK_OPS)
    seeds = range(1, 6)
    schedules = [planned_faults(spec, seed) for seed in seeds]
    for seed, ours in zip(seeds, schedules, strict=True):
        assert ours == fault_schedule(kinds, names, 30.0, random.Random(seed), run_opts)
    plain = [planned_faults(SimSpec(nemesis=kinds, time_limit_s=30.0), s) for s in seeds]
    assert schedules != plain  # the option changed the schedules
    faults = [f for schedule in schedules for f in schedule]
    if "fault_overlap" in options:
        assert any(b.start_s < a.end_s for s in schedules for a, b in zip(s, s[1:], strict=False))
    if "partition_until_end" in options:
        assert all([f for f in s if f.kind is FaultKind.PARTITION][-1].end_s == 30.0
                   for s in schedules)  # fmt: skip
    if "partition_mode" in options:
        modes = {f.params["mode"] for f in faults if f.kind is FaultKind.PARTITION}
        assert modes == {"hold", "drop", "reset"}
    assert all(f.params.get("op", "bump") in SIM_CLOCK_OPS for f in faults)


FAULTED = ("crash", "wipe", "reset_peer", "limit_data", "join", "leave", "replace")


@pytest.mark.parametrize("kind", FAULTED)
def test_every_new_kind_runs_deterministically_and_validly(kind: str) -> None:
    spec = SimSpec(nemesis=(kind,), time_limit_s=6.0, rate=50.0, concurrency=3, quiesce_s=2.0,
                   partition_mode="mixed")  # fmt: skip
    first = simulate(spec, SimSchedule(3, planned_faults(spec, 3)))
    again = simulate(spec, SimSchedule(3, planned_faults(spec, 3)))
    assert first.realised and {r["kind"] for r in first.realised} == {kind}
    assert first.digest == again.digest and first.valid is True, first.failing()


# --- a handler bug is a verdict --------------------------------------------------


def broken(*args: Any) -> NoReturn:
    raise KeyError("planted")


def test_a_handler_bug_fails_the_seed_with_a_schema_valid_result(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(Dispatcher, "client_get", broken)
    spec = SimSpec(nemesis=(), time_limit_s=2.0, rate=20.0, concurrency=2, quiesce_s=1.0)
    schedule = SimSchedule(1, [])
    result = simulate(spec, schedule)
    assert result.valid is False and "handler-bug" in result.failing()
    (finding,) = result.results["handler-bug"].anomalies
    assert finding["nodes"] and finding["nodes"][0] in ("n1", "n2")
    assert "KeyError" in finding["details"]["error"] and "'get'" in finding["details"]["error"]
    run_dir = write_run(spec, result, schedule, str(tmp_path / "store"), ())
    results = json.loads((run_dir / "results.json").read_text())  # conftest checks the schema
    assert results["checkers"]["handler-bug"]["valid"] is False
    assert any("handler bug" in n for n in results["stats"].get("notes", [])), results["stats"]


DIGEST = (
    "from harness.sim_runner import *; s = SimSpec(nemesis=tuple(%r), time_limit_s=8.0,"
    " rate=50.0, concurrency=3, quiesce_s=2.0, partition_mode='mixed', fault_overlap=0.5);"
    " print(simulate(s, SimSchedule(2, planned_faults(s, 2))).digest)"
)


def test_new_kinds_give_the_same_digest_across_processes_and_hash_seeds() -> None:
    kinds = ["partition", "crash", "wipe", "reset_peer", "limit_data", "join", "replace"]
    digests = set()
    for hash_seed in ("0", "1", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        out = subprocess.run([sys.executable, "-c", DIGEST % kinds], cwd=REPO, env=env,
                             check=True, capture_output=True, text=True, timeout=300)  # fmt: skip
        digests.add(out.stdout.strip())
    assert len(digests) == 1 and len(digests.pop()) == 32


@pytest.mark.parametrize("scope, count", [("all", 3), ("majority", 2)])
def test_a_fault_aimed_at_a_key_hits_its_primaries(scope: str, count: int) -> None:
    sim = Simulator(12, SimConfig(settings=SETTINGS))
    nemesis = SimNemesis(sim, 12)
    crash = Fault(1, FaultKind.CRASH, 0, 1, (), {"key": "cart-1", "scope": scope})
    details = nemesis.start(crash)
    assert details["targets"] == sorted(sim.primaries("cart-1")[:count])
    assert [n for n in sim.names if not sim.is_up(n)] == details["targets"]
    nemesis.stop(crash, details)
    assert all(sim.is_up(n) for n in sim.names)
