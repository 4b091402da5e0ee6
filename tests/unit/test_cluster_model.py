"""A hypothesis model of a whole cluster: cart adds under partitions, crashes and delays.

Five sans-I/O nodes (N=3, R=W=2, sloppy quorum, siblings) run in the
deterministic simulator. Clients add unique items to a few carts the way
workloads/cart.py does (get, union the siblings, add the item, put with the
context), concurrently with each other and with faults: partitions and heals,
crashes and restarts, slow, lossy or duplicating links, skewed clocks, time
passing. Invariants:

* a put answered "ok" was durable on W disks (replica or hint store) then,
  and every acknowledged add is on some disk at every step;
* after the cluster is healed and quiet (`settle`, and again at teardown):
  the primaries of each key hold equal states (convergence, through handoff
  and anti-entropy alone), and every acknowledged add is in the union of a
  final read's siblings, and no item that was never added is.

Strategies shrink toward the mild case: node 0, the first key, a heal, the
shortest duration, the least severe link fault.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from node import versions
from node.protocol import Message
from node.replica import ReplicaStore
from node.sim.cluster import SimConfig, Simulator
from node.sim.network import LinkFaults
from node.storage import OBJECTS, MemoryStorage
from workloads.cart import decode_version, union

W = 2
TICK_MS = 100
SETTLE_MS = 20_000
KEYS = ("cart-0", "cart-1")
NODES = 5
SHAPES = ("heal", "isolate", "one-way", "halves")
LINK_FAULTS = ("delay", "drop", "duplicate")

nodes = st.integers(0, NODES - 1)
ticks = st.integers(1, 30)
severities = st.integers(1, 10)


def items_of(siblings: list[bytes]) -> set[int]:
    """The cart a read shows: the union of every sibling's items."""
    return union([decode_version(s) for s in siblings])


def items_on(disk: MemoryStorage, key: str) -> set[int]:
    """The items of `key` one disk holds, in its replica store or any hint store."""
    out: set[int] = set()
    for space in [OBJECTS, *disk.hint_counts()]:
        data = disk.read(key, space)
        if data is not None:
            out |= items_of(versions.decode(data).values)
    return out


class ClusterModel(RuleBasedStateMachine):
    """The model's state: what clients were told (acknowledged) and what they tried."""

    def __init__(self) -> None:
        super().__init__()
        self.sim = Simulator(0)
        self.items = itertools.count(1)
        self.acknowledged: dict[str, set[int]] = {k: set() for k in KEYS}
        self.attempted: dict[str, set[int]] = {k: set() for k in KEYS}
        self.final: dict[str, set[int]] | None = None
        self.underreplicated: list[tuple[str, int, int, list[str]]] = []
        self.states: dict[str, dict[str, versions.Versioned]] = {}

    @initialize(seed=st.integers(0, 2**16))
    def boot(self, seed: int) -> None:
        config = SimConfig(nodes=NODES, settings={"n": 3, "r": 2, "w": W}, trace=False)
        self.sim = Simulator(seed, config)

    def name(self, index: int) -> str:
        return self.sim.names[index % NODES]

    def disturb(self) -> None:
        """Any rule but `settle` voids the settled snapshot."""
        self.final = None

    # --- clients ----------------------------------------------------------------

    @rule(node=nodes, key=st.sampled_from(KEYS))
    def add(self, node: int, key: str) -> None:
        """Starts a cart add of a fresh item through `node` (it runs as time passes)."""
        self.disturb()
        item = next(self.items)
        self.attempted[key].add(item)
        coordinator = self.name(node)

        def got(reply: Message) -> None:
            if reply["t"] != "ok":
                return
            cart = items_of(reply["siblings"]) | {item}
            value = json.dumps({"put": f"add-{item}", "items": sorted(cart)}).encode()
            put = {"t": "put", "key": key, "value": value, "context": reply["context"]}
            self.sim.request(coordinator, put, lambda r: self.put_done(key, item, r))

        self.sim.request(coordinator, {"t": "get", "key": key}, got)

    def put_done(self, key: str, item: int, reply: Message) -> None:
        """Records an acknowledged add, and how many disks held it when the client heard "ok"."""
        if reply["t"] == "ok":
            self.acknowledged[key].add(item)
            holders = [n for n, disk in self.sim.disks.items() if item in items_on(disk, key)]
            if len(holders) < W:
                self.underreplicated.append((key, item, self.sim.now_ms, holders))

    # --- faults -----------------------------------------------------------------

    @rule(shape=st.sampled_from(SHAPES), victim=nodes, hold=st.booleans())
    def partition(self, shape: str, victim: int, hold: bool) -> None:
        """Cuts links around `victim`; cut links lose messages, or hold them until heal."""
        self.disturb()
        net, names = self.sim.network, self.sim.names
        v = self.name(victim)
        if shape == "heal":
            net.heal()
        elif shape == "isolate":
            net.partition([v], [n for n in names if n != v], hold=hold)
        elif shape == "one-way":
            for other in names:
                if other != v:
                    net.cut_link(other, v, hold=hold)  # v still speaks, but hears nobody
        else:
            half = [v, self.name(victim + 1)]
            net.partition(half, [n for n in names if n not in half], hold=hold)

    @rule(src=nodes, offset=st.integers(0, NODES - 2), kind=st.sampled_from(LINK_FAULTS),
          severity=severities)  # fmt: skip
    def link_fault(self, src: int, offset: int, kind: str, severity: int) -> None:
        """Makes one directed link slow (severity ticks), or lossy/duplicating (severity/10)."""
        self.disturb()
        faults = {"delay": LinkFaults(delay_ms=severity * TICK_MS),
                  "drop": LinkFaults(drop=severity / 10),
                  "duplicate": LinkFaults(duplicate=severity / 10)}  # fmt: skip
        self.sim.network.set_faults(self.name(src), self.name(src + 1 + offset), faults[kind])

    @precondition(lambda self: len(self.sim.nodes) > 0)
    @rule(victim=nodes)
    def crash(self, victim: int) -> None:
        self.disturb()
        up = sorted(self.sim.nodes)
        self.sim.crash(up[victim % len(up)])

    @precondition(lambda self: len(self.sim.nodes) < NODES)
    @rule(victim=nodes)
    def restart(self, victim: int) -> None:
        self.disturb()
        down = [n for n in self.sim.names if not self.sim.is_up(n)]
        self.sim.restart(down[victim % len(down)])

    @rule(node=nodes, severity=severities)
    def slow_disk(self, node: int, severity: int) -> None:
        """Makes a node's disk writes take `severity` ticks, so a crash loses more of them."""
        self.disturb()
        self.sim.set_disk_delay(self.name(node), severity * TICK_MS)

    @rule(node=nodes, skew=st.integers(-50, 50))
    def skew_clock(self, node: int, skew: int) -> None:
        self.disturb()
        self.sim.set_skew(self.name(node), skew * TICK_MS)

    @rule(duration=ticks)
    def advance(self, duration: int) -> None:
        self.disturb()
        self.sim.run_for(duration * TICK_MS)

    # --- healed and quiet ---------------------------------------------------------

    @rule()
    def settle(self) -> None:
        """Heals everything, restarts the crashed, lets clients finish and the cluster go
        quiet (handoff, anti-entropy), then reads every cart once."""
        sim = self.sim
        sim.network.heal()
        for name in sim.names:
            sim.skew_ms[name] = sim.disk_delay_ms[name] = 0
            if not sim.is_up(name):
                sim.restart(name)
        assert sim.run_until(lambda: sim.open_requests() == 0, 60_000), "clients never finished"
        sim.run_for(SETTLE_MS)
        self.states = {k: {p: sim.local(p, k) for p in sim.primaries(k)} for k in KEYS}
        self.final = {}
        for key in KEYS:
            reply = sim.get(sim.names[0], key)
            assert reply["t"] == "ok", f"final read of {key} failed after settling: {reply}"
            self.final[key] = items_of(reply["siblings"])

    # --- invariants ---------------------------------------------------------------

    @invariant()
    def acknowledged_adds_were_on_w_disks(self) -> None:
        """A put answered "ok" was durable on W replicas (or hint stores) when answered."""
        assert not self.underreplicated, (
            "acknowledged with fewer than W durable copies (key, item, time ms, holders): "
            f"{self.underreplicated}"
        )

    @invariant()
    def acknowledged_adds_are_durable(self) -> None:
        for key in KEYS:
            on_disk = items_of(self.sim.durable_values(key))
            lost = self.acknowledged[key] - on_disk
            assert not lost, f"acknowledged adds {sorted(lost)} of {key} are on no disk"

    @invariant()
    def no_acknowledged_add_is_lost(self) -> None:
        if self.final is None:
            return
        for key in KEYS:
            lost = self.acknowledged[key] - self.final[key]
            assert not lost, f"acknowledged adds {sorted(lost)} of {key} missing from final read"
            phantom = self.final[key] - self.attempted[key]
            assert not phantom, f"final read of {key} shows items never added: {phantom}"

    @invariant()
    def replicas_converge(self) -> None:
        if self.final is None:
            return
        for key, states in self.states.items():
            assert len({versions.encode(obj) for obj in states.values()}) == 1, (
                f"primaries of {key} disagree after settling (before the final reads): "
                + "; ".join(f"{p}: {versions.describe(obj)}" for p, obj in states.items())
            )

    def teardown(self) -> None:
        self.settle()
        self.no_acknowledged_add_is_lost()
        self.replicas_converge()


ClusterModel.TestCase.settings = settings(
    max_examples=30,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestClusterModel = ClusterModel.TestCase


# --- the model bites: planted bugs are caught ------------------------------------

QUICK = settings(max_examples=200, stateful_step_count=25, deadline=None, derandomize=True,
                 phases=(Phase.generate,), suppress_health_check=list(HealthCheck))  # fmt: skip


def overwrite(local: versions.Versioned, incoming: versions.Versioned) -> versions.Versioned:
    return incoming


def test_the_model_catches_a_replica_that_overwrites(monkeypatch: pytest.MonkeyPatch) -> None:
    """tests/intercepts/sync_overwrites: concurrent adds lose items."""
    monkeypatch.setattr(versions, "sync", overwrite)
    with pytest.raises(AssertionError, match="acknowledged adds"):
        run_state_machine_as_test(ClusterModel, settings=QUICK)


def test_the_model_catches_acks_before_fsync(monkeypatch: pytest.MonkeyPatch) -> None:
    """tests/intercepts/ack_before_fsync: acks at once, writes to disk a second later."""
    store = ReplicaStore.store

    def store_acking_early(
        self: ReplicaStore,
        key: str,
        obj: versions.Versioned | None,
        on_durable: Callable[[], None] | None,
        space: str = "",
    ) -> None:
        store(self, key, obj, None, space)
        persist = self.outbox.effects.pop()
        self.outbox.after(1.0, lambda: self.outbox.emit(persist))
        if on_durable is not None:
            self.outbox.after(0, on_durable)

    def durable_now(
        self: ReplicaStore, key: str, callback: Callable[[], None], space: str = ""
    ) -> None:
        self.outbox.after(0, callback)

    monkeypatch.setattr(ReplicaStore, "store", store_acking_early)
    monkeypatch.setattr(ReplicaStore, "when_durable", durable_now)
    with pytest.raises(AssertionError, match="fewer than W durable copies|on no disk"):
        run_state_machine_as_test(ClusterModel, settings=QUICK)
