"""Leaves cannot empty the ring (issue 16, reproduction 1): a leave names its node, and
leaves that would take the ring below N members are void, the same way on every node."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from node.membership_history import Change, Kind, members, merge, tombstones
from node.sim.cluster import SimConfig, Simulator

J, L = Kind.JOIN, Kind.LEAVE
FIVE = [Change(i, f"n{i}", 1, J) for i in range(1, 6)]


def test_concurrent_leaves_keep_n_members_whatever_order_they_merge_in() -> None:
    leaves = [Change(6, f"n{i}", 2, L) for i in range(1, 6)]  # all made at once
    views = set()
    for order in itertools.permutations(leaves):
        h = merge({}, FIVE)
        for e in order:
            h = merge(h, [e])
        views.add((tuple(m.name for m in members(h, 3)), tuple(tombstones(h, 3))))
    # The log order is (seq, name): n1 and n2 leave first; n3..n5 would go below N=3.
    assert views == {(("n3", "n4", "n5"), ("n1", "n2"))}


@given(st.lists(st.tuples(st.integers(1, 5), st.integers(6, 9), st.booleans()), max_size=12),
       st.integers(1, 5))  # fmt: skip
def test_no_history_has_fewer_than_n_members(changes: list[tuple[int, int, bool]], n: int) -> None:
    h = merge({}, FIVE)
    for who, seq, leave in changes:
        version = max(v for name, v in h if name == f"n{who}") + 1
        h = merge(h, [Change(seq, f"n{who}", version, L if leave else J)])
    assert len(members(h, n)) >= n


def test_a_leave_must_name_its_node_and_cannot_go_below_n() -> None:
    sim = Simulator(5, SimConfig(nodes=3, trace=False))
    for name in sim.names:
        reply = sim.call(name, {"t": "leave"})
        assert reply["code"] == "bad_request" and "'node'" in reply["message"], reply
        reply = sim.call(name, {"t": "leave", "node": name})
        assert reply["code"] == "bad_request" and "fewer than N=3" in reply["message"], reply
    sim.run_for(2000)
    assert all(len(sim.nodes[n].ring.members) == 3 for n in sim.names)
    assert all(sim.get(n, "k")["t"] == "ok" for n in sim.names)


def test_every_node_asked_to_leave_at_once_views_converge_and_every_key_stays_readable() -> None:
    sim = Simulator(6, SimConfig(nodes=5, trace=False, settings={"gossip_interval_ms": 100}))
    keys = [f"k{i}" for i in range(40)]
    for i, k in enumerate(keys):
        assert sim.put(sim.names[i % 5], k, b"v-" + k.encode())["t"] == "ok"
    conns = [sim.request(n, {"t": "leave", "node": n}) for n in sim.names]
    sim.run_for(10_000)
    assert all(sim.replies[c]["t"] == "ok" for c in conns)  # each was allowed where it was asked
    views = {n: [m.name for m in sim.nodes[n].ring.members] for n in sim.names}
    assert len({tuple(v) for v in views.values()}) == 1, views  # the tombstones reached everyone
    assert views["n1"] == ["n3", "n4", "n5"]
    seen = {n: sim.call(n, {"t": "members"}) for n in sim.names}
    assert all(s["tombstones"] == ["n1", "n2"] for s in seen.values()), seen
    for k in keys:  # the departed nodes handed their keys over: the new primaries hold them
        assert all(sim.local(n, k).values == [b"v-" + k.encode()] for n in views["n1"]), k
    for i, k in enumerate(keys):
        reply = sim.get(sim.names[i % 5], k)
        assert reply["t"] == "ok" and reply["siblings"] == [b"v-" + k.encode()], (k, reply)
