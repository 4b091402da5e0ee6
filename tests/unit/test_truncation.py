"""Clock truncation must not resurrect what a put superseded.

`versions.truncate` keeps a clock to `max_clock_entries` entries. It always
kept the entries of the new object's live siblings, but it could drop the
entry of a sibling the same put had just superseded; a replica still holding
that sibling then kept it when it merged the new object (the dropped entry no
longer covers its dot), and reads returned an ancestor next to its
descendant. The regression test reproduces that on the simulator with a
limit of one entry; the property test checks the algebra for any history.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from node import versions as v
from node.protocol import Message
from node.sim.cluster import SimConfig, Simulator
from node.versions import Versioned


def ok(reply: Message) -> Message:
    assert reply["t"] == "ok", reply
    return reply


def test_a_put_through_another_coordinator_supersedes_for_good_with_a_tiny_clock_limit() -> None:
    sim = Simulator(5, SimConfig(nodes=3, settings={"max_clock_entries": 1}))
    sim.run_for(1_000)
    key = "k"
    first, second, _ = sim.primaries(key)
    ok(sim.put(first, key, b"v1"))
    got = ok(sim.get(second, key))
    assert got["siblings"] == [b"v1"]
    ok(sim.put(second, key, b"v2", got["context"]))  # v2 supersedes v1
    sim.run_for(3_000)
    assert ok(sim.get(first, key))["siblings"] == [b"v2"]
    assert {tuple(sim.local(p, key).values) for p in sim.primaries(key)} == {(b"v2",)}


# --- the algebra: replicas A and B, puts at either, syncs between them --------

ops = st.lists(
    st.tuples(
        st.sampled_from(["put_a", "put_b", "sync", "boot_a", "boot_b"]), st.binary(max_size=1)
    ),
    max_size=14,
)


def run_history(steps: list[tuple[str, bytes]], limit: int) -> tuple[Versioned, Versioned, str]:
    """Replica states A and B after `steps` (puts read their own replica first), and A's
    current actor; every boot is a new actor, as on a real node."""
    a, b = v.EMPTY, v.EMPTY
    boots = {"a": 1, "b": 1}
    for t, (op, value) in enumerate(steps):
        if op == "put_a":
            a = v.update(a, a.clock, value, f"a{boots['a']}", t, limit)
        elif op == "put_b":
            b = v.update(b, b.clock, value, f"b{boots['b']}", t, limit)
        elif op == "sync":
            a = b = v.sync(a, b)
        else:
            boots[op[-1]] += 1
    return a, b, f"a{boots['a']}"


@settings(max_examples=400)
@given(ops, st.integers(1, 3))
def test_truncation_never_makes_a_read_return_a_version_with_its_ancestor(
    steps: list[tuple[str, bytes]], limit: int
) -> None:
    """A client reads A and B (the merge is what it sees), then puts through A with that
    context, so every version it saw is an ancestor of the new one. A replica that still
    holds any of them (with as little clock as covers it) must not bring it back next to
    the new version when it merges the new object; nor may A, B or the read itself."""
    a, b, actor = run_history(steps, limit)
    seen = v.sync(a, b)
    new = v.update(a, seen.clock, b"new", actor, 10_000, limit)
    holders = [Versioned({s.dot.actor: (s.dot.counter, 0)}, (s,)) for s in seen.siblings]
    # B counts if every version it holds is one the client saw (else it missed an earlier
    # put, and the entry it needs may have been dropped by that put's successors).
    stale = not {s.dot for s in b.siblings} <= {s.dot for s in seen.siblings}
    for replica in [a, seen, *holders, *([] if stale else [b])]:
        read = v.sync(replica, new)
        assert [s.value for s in read.siblings] == [b"new"], (replica, new)


def test_the_property_bites_without_the_protection() -> None:
    """Truncating as before the fix (only live siblings protected) brings v1 back."""
    a = v.update(v.EMPTY, {}, b"v1", "a1", 1, 1)
    new = v.update(a, a.clock, b"v2", "b1", 2, 1)
    assert [s.value for s in v.sync(a, new).siblings] == [b"v2"]
    before_fix = Versioned(v.truncate(new.clock, new.siblings, 1), new.siblings)
    assert [s.value for s in v.sync(a, before_fix).siblings] == [b"v1", b"v2"]
