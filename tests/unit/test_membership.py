"""Membership: the history merge is a semilattice, tombstones stick, and gossip converges.

The history functions are tested directly; whole-cluster behaviour runs sans-I/O
nodes in a tiny deterministic simulator (virtual time, in-memory links, memory disks).
"""

from __future__ import annotations

import heapq
import random
from collections import deque
from itertools import count
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from node import versions
from node.config import ConfigError, config_from_dict
from node.core import Node
from node.events import (
    CancelTimer,
    ClientRequest,
    Effect,
    Event,
    Now,
    PeerMessage,
    PeerUnreachable,
    Persist,
    Persisted,
    Reply,
    SendPeer,
    SetTimer,
    TimerFired,
)
from node.membership import (
    Change,
    Kind,
    decode_addrs,
    decode_changes,
    members,
    merge,
    next_change,
    ordered,
    tombstones,
)
from node.ring import Member
from node.storage import MemoryStorage

J, L = Kind.JOIN, Kind.LEAVE

events = st.builds(
    Change,
    seq=st.integers(0, 6),
    name=st.sampled_from(["n1", "n2", "n3"]),
    version=st.integers(1, 3),
    kind=st.sampled_from([J, L]),
    weight=st.integers(1, 2),
)


@given(st.lists(events), st.lists(events), st.lists(events))
def test_merge_is_commutative_associative_and_idempotent(
    a: list[Change], b: list[Change], c: list[Change]
) -> None:
    ha, hb, hc = merge({}, a), merge({}, b), merge({}, c)
    assert merge(ha, hb.values()) == merge(hb, ha.values())
    assert merge(merge(ha, hb.values()), hc.values()) == merge(ha, merge(hb, hc.values()).values())
    assert merge(ha, ha.values()) == ha
    both = merge(ha, hb.values())
    assert ordered(both) == ordered(merge(hb, ha.values()))
    assert members(both) == members(merge(hb, ha.values()))


def test_members_are_in_join_order_and_a_stale_join_cannot_revive_a_tombstone() -> None:
    h = merge({}, [Change(1, "n2", 1, J), Change(1, "n1", 1, J), Change(2, "n3", 1, J)])
    assert [m.name for m in members(h)] == ["n1", "n2", "n3"]
    stale = dict(h)
    h = merge(h, [next_change(h, "n2", L)])
    assert tombstones(h) == ["n2"]
    assert merge(h, stale.values()) == h  # gossip from before the leave changes nothing
    assert [m.name for m in members(merge(stale, h.values()))] == ["n1", "n3"]
    rejoined = merge(h, [next_change(h, "n2", J)])  # an explicit rejoin is a newer version
    assert [m.name for m in members(rejoined)] == ["n1", "n3", "n2"]


def test_concurrent_edits_of_one_version_resolve_leave_first() -> None:
    h = merge({}, [Change(1, "n1", 1, J), Change(1, "n2", 1, J)])
    leave, join = Change(3, "n2", 2, L), Change(4, "n2", 2, J)
    assert merge(h, [leave, join]) == merge(h, [join, leave])
    assert tombstones(merge(h, [join, leave])) == ["n2"]


@pytest.mark.parametrize(
    "raw",
    [None, [[1, "n1", 1, "join"]], [[1, "", 1, "join", 1]], [[1, "n1", 0, "join", 1]],
     [[1, "n1", 1, "stay", 1]], [[True, "n1", 1, "join", 1]], [[1, "n1", 1, "join", 0]]],
)  # fmt: skip
def test_malformed_events_raise_value_error_only(raw: Any) -> None:
    with pytest.raises(ValueError):
        decode_changes(raw)


def test_malformed_addresses_raise_value_error_only() -> None:
    for raw in ([], {"n1": [1]}, {"n1": [1, "nohost"]}, {"n1": [-1, "h:1"]}, {1: [1, "h:1"]}):
        with pytest.raises(ValueError):
            decode_addrs(raw)


def test_seeds_are_validated_naming_the_field() -> None:
    base = {"name": "n1", "listen": "127.0.0.1:7001", "data_dir": "/tmp/x",
            "members": [{"name": "n1", "addr": "127.0.0.1:7001"}]}  # fmt: skip
    assert config_from_dict({**base, "seeds": ["n1", "h:7002"]}).seeds == ("n1", "h:7002")
    for bad in ("h:7002", ["n9"], ["h:0"], [7002]):
        with pytest.raises(ConfigError, match="'seeds'"):
            config_from_dict({**base, "seeds": bad})


# --- a deterministic simulator ------------------------------------------------


class Sim:
    """Sans-I/O nodes on virtual time: messages are delivered in order, without latency."""

    def __init__(self) -> None:
        self.t = 0.0
        self.nodes: dict[str, Node] = {}
        self.disks: dict[str, MemoryStorage] = {}
        self.by_addr: dict[str, str] = {}
        self.paused: set[str] = set()
        self.held: dict[str, list[tuple[str, dict[str, Any]]]] = {}
        self.timers: list[tuple[float, int, str, int, int]] = []
        self.gen: dict[str, int] = {}
        self.cancelled: set[tuple[str, int, int]] = set()
        self.queue: deque[tuple[str, Event]] = deque()
        self.replies: dict[int, dict[str, Any]] = {}
        self.seq = count()

    def boot(
        self,
        name: str,
        port: int,
        listed: list[str],
        seeds: list[str],
        routes: dict[str, str] | None = None,
        **cfg: Any,
    ) -> None:
        """Boots (or reboots) `name`; its config lists `listed` (at `routes` or their listen
        addresses) and `seeds`."""
        routes = routes or {}
        self.by_addr[f"127.0.0.1:{port}"] = name
        self.gen[name] = self.gen.get(name, 0) + 1  # timers of an earlier boot never fire
        raw = {"name": name, "listen": f"127.0.0.1:{port}", "data_dir": "/nonexistent",
               "members": [{"name": m, "addr": routes.get(m) or self.addr_of(m)} for m in listed],
               "seeds": seeds, "gossip_interval_ms": 100, "seed_interval_ms": 300,
               "request_timeout_ms": 300, "probe_interval_ms": 100, **cfg}  # fmt: skip
        disk = self.disks.setdefault(name, MemoryStorage())
        node = Node(config_from_dict(raw), disk, random.Random(port), f"{name}.0.1")
        self.nodes[name] = node
        self.effects(name, node.start(self.now()))

    def addr_of(self, name: str) -> str:
        return next(a for a, n in self.by_addr.items() if n == name)

    def now(self) -> Now:
        return Now(int(self.t * 1000), self.t)

    def effects(self, name: str, out: list[Effect]) -> None:
        for e in out:
            if isinstance(e, SendPeer):
                dst = self.by_addr.get(e.peer.removeprefix("seed@"), e.peer)
                if dst in self.nodes:
                    self.queue.append((dst, PeerMessage(name, e.msg)))
                else:
                    self.queue.append((name, PeerUnreachable(e.peer)))
            elif isinstance(e, SetTimer):
                due = (self.t + e.delay_s, next(self.seq), name, self.gen[name], e.timer)
                heapq.heappush(self.timers, due)
            elif isinstance(e, CancelTimer):
                self.cancelled.add((name, self.gen[name], e.timer))
            elif isinstance(e, Persist):
                self.disks[name].write(e.items)
                self.queue.append((name, Persisted(e.token)))
            elif isinstance(e, Reply):
                self.replies[e.conn] = e.msg

    def deliver(self, name: str, event: Event) -> None:
        if name in self.paused:
            self.held.setdefault(name, []).append((name, event))  # type: ignore[arg-type]
            return
        self.effects(name, self.nodes[name].handle(event, self.now()))

    def run(self, seconds: float) -> None:
        end = self.t + seconds
        while True:
            while self.queue:
                self.deliver(*self.queue.popleft())
            if not self.timers or self.timers[0][0] > end:
                self.t = end
                return
            self.t, _, name, gen, tid = heapq.heappop(self.timers)
            if (name, gen, tid) not in self.cancelled and gen == self.gen[name]:
                self.deliver(name, TimerFired(tid))

    def resume(self, name: str) -> None:
        self.paused.discard(name)
        for dst, event in self.held.pop(name, []):
            self.queue.append((dst, event))  # type: ignore[arg-type]

    def call(self, name: str, msg: dict[str, Any]) -> dict[str, Any]:
        conn = next(self.seq)
        self.deliver(name, ClientRequest(conn, {"id": conn, **msg}))
        self.run(1.0)
        return self.replies.pop(conn)

    def view(self, name: str) -> tuple[list[str], tuple[str, ...]]:
        node = self.nodes[name]
        return [m.name for m in node.ring.members], node.ring.owners


def seeded_cluster(count_: int) -> Sim:
    sim = Sim()
    sim.boot("n1", 7001, ["n1"], ["n1"])
    for i in range(2, count_ + 1):
        sim.boot(f"n{i}", 7000 + i, [f"n{i}"], ["127.0.0.1:7001"])
    return sim


def test_nodes_that_know_one_seed_converge_on_one_ring() -> None:
    sim = seeded_cluster(5)
    sim.run(5.0)
    views = {name: sim.view(name) for name in sim.nodes}
    assert len(set(map(repr, views.values()))) == 1, views
    assert sorted(views["n1"][0]) == ["n1", "n2", "n3", "n4", "n5"]
    histories = {name: ordered(n.membership.history) for name, n in sim.nodes.items()}
    assert all(h == histories["n1"] for h in histories.values())
    assert sim.call("n3", {"t": "members"})["history_length"] == 5


def test_a_removed_node_stays_removed_though_it_keeps_gossiping() -> None:
    sim = seeded_cluster(4)
    sim.run(3.0)
    assert sim.call("n1", {"t": "leave", "node": "n4"})["tombstones"] == ["n4"]
    sim.run(3.0)
    for name in sim.nodes:
        assert sim.view(name)[0] == sorted(sim.view(name)[0]) == ["n1", "n2", "n3"]
    # n4 restarts with an empty disk and its original config: it asks to join, and is refused.
    del sim.disks["n4"]
    sim.boot("n4", 7004, ["n4"], ["127.0.0.1:7001"])
    sim.run(3.0)
    assert all(sim.view(n)[0] == ["n1", "n2", "n3"] for n in ["n1", "n2", "n3"])
    assert not sim.nodes["n4"].membership.joining  # the seed refused
    # An explicit join brings it back as a new version.
    sim.call("n4", {"t": "join", "seed": "127.0.0.1:7002"})
    sim.run(3.0)
    assert all(sim.view(n)[0] == ["n1", "n2", "n3", "n4"] for n in sim.nodes)


def test_keys_move_to_a_joining_node_and_stay_on_the_old_ones() -> None:
    sim = seeded_cluster(3)
    sim.run(3.0)
    keys = [f"k{i}" for i in range(60)]
    for k in keys:
        assert sim.call("n1", {"t": "put", "key": k, "value": b"v", "context": b""})["t"] == "ok"
    sim.boot("n4", 7004, ["n4"], ["127.0.0.1:7001"])
    sim.run(4.0)
    ring = sim.nodes["n1"].ring
    assert [m.name for m in ring.members] == ["n1", "n2", "n3", "n4"]
    for k in keys:
        for p in ring.preference_list(k, 3):
            data = sim.disks[p].read(k)
            assert data is not None and versions.decode(data).values == [b"v"], (k, p)
    assert sum(1 for k in keys if sim.disks["n1"].read(k)) == len(keys)  # nothing deleted


def test_an_unresponsive_peer_is_routed_around_then_used_again() -> None:
    sim = seeded_cluster(4)
    sim.run(3.0)
    sim.paused.add("n3")
    sim.run(3.0)
    assert all("n3" in sim.nodes[n].down for n in ["n1", "n2", "n4"])
    sim.resume("n3")
    sim.run(2.0)
    assert all(not sim.nodes[n].down for n in sim.nodes)
    assert all(sim.view(n)[0] == [m.name for m in members(sim.nodes["n1"].membership.history)]
               for n in sim.nodes)  # fmt: skip


def test_static_config_keeps_its_ring_and_member_order() -> None:
    sim = Sim()
    for i in range(1, 4):
        sim.by_addr[f"127.0.0.1:{7000 + i}"] = f"n{i}"
    for i in range(1, 4):
        sim.boot(f"n{i}", 7000 + i, ["n1", "n2", "n3"], [])
    sim.run(2.0)
    assert all(sim.view(n)[0] == ["n1", "n2", "n3"] for n in sim.nodes)
    assert sim.nodes["n1"].ring.members == (Member("n1"), Member("n2"), Member("n3"))


def test_membership_calls_refuse_bad_requests_clearly() -> None:
    sim = seeded_cluster(2)
    sim.run(2.0)
    bad = [
        ({"t": "join", "seed": "nohost"}, "bad_request", "'seed'"),
        ({"t": "join", "seed": "127.0.0.1:7001"}, "bad_request", "own address"),
        ({"t": "join", "node": "n9", "weight": 0}, "bad_request", "weight"),
        ({"t": "join"}, "bad_request", "'seed'"),
        ({"t": "leave", "node": "n9"}, "not_member", "n9"),
    ]
    for msg, code, words in bad:
        reply = sim.call("n1", msg)
        assert reply["t"] == "error" and reply["code"] == code and words in reply["message"], reply
    reply = sim.call("n1", {"t": "leave", "node": "n2"})  # 1 member would stay; N is 3
    assert reply["code"] == "bad_request" and "fewer than N=3" in reply["message"], reply
    reply = sim.call("n1", {"t": "leave"})  # a leave names its node: no default
    assert reply["code"] == "bad_request" and "'node'" in reply["message"], reply


def test_configured_addresses_win_over_gossiped_ones_and_seeds_resolve_to_names() -> None:
    sim = seeded_cluster(3)
    sim.boot("n4", 7004, ["n4", "n1"], [], routes={"n1": "127.0.0.1:9001"})  # n1 via a proxy
    sim.run(3.0)
    n4, n2 = sim.nodes["n4"].membership, sim.nodes["n2"].membership
    assert len({repr(sim.view(n)) for n in sim.nodes}) == 1
    assert sorted(sim.view("n1")[0]) == ["n1", "n2", "n3", "n4"]
    assert n4.addrs["n1"][1] == "127.0.0.1:7001"  # what n1 reports about itself...
    assert n4.address_of("n1") == ("127.0.0.1", 9001)  # ...loses to n4's own config
    assert n4.address_of("n3") == ("127.0.0.1", 7003)  # learned by gossip
    assert n2.seed_peers() == ["n1"]  # the seed's address now resolves to its name
