"""The deterministic simulator (node/sim/cluster.py, node/sim/network.py).

It must replay a seed event for event, and reproduce in virtual time what the
node does on real sockets: siblings for concurrent blind puts, a put with the
merged context replacing them, availability with a node down, and no dot
reissued by a node that crashed and restarted.
"""

from __future__ import annotations

import itertools
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from node import core, events, versions
from node.events import Now
from node.messages import PeerMsg
from node.outbox import Outbox
from node.protocol import Message
from node.sim import cluster
from node.sim.cluster import EPOCH_MS, SimConfig, Simulator
from node.sim.network import CLEAN, LinkFaults, Network, uniform_ints

REPO = Path(__file__).resolve().parents[2]


def keys_with_primary(sim: Simulator, node: str, count: int, prefix: str = "k") -> list[str]:
    """`count` keys whose first N preference-list nodes include `node`."""
    candidates = (f"{prefix}{i}" for i in range(10_000))
    return [k for k in candidates if node in sim.primaries(k)][:count]


def ok(reply: Message) -> Message:
    assert reply["t"] == "ok", reply
    return reply


# --- the network ------------------------------------------------------------


def test_link_fates_follow_the_faults() -> None:
    net = Network(random.Random(0), (2, 4))
    assert all(2 <= d <= 4 for d in net.fates("a", "b")) and len(net.fates("a", "b")) == 1
    net.set_faults("a", "b", LinkFaults(duplicate=1.0, delay_ms=100))
    assert [102 <= d <= 104 for d in net.fates("a", "b")] == [True, True]
    assert len(net.fates("b", "a")) == 1  # the other direction is its own link
    net.set_faults("a", "b", LinkFaults(drop=1.0))
    assert net.fates("a", "b") == []
    net.set_faults("a", "b", CLEAN)
    net.partition(["a"], ["b", "c"])
    assert net.fates("a", "b") == net.fates("c", "a") == [] and net.connected("b", "c")
    net.heal()
    assert net.connected("a", "b") and not net.faults
    with pytest.raises(ValueError, match="drop"):
        LinkFaults(drop=1.5)


# --- determinism --------------------------------------------------------------


def eventful_run(seed: int) -> Simulator:
    """Puts and gets under drops, duplicates, a partition, skew, a crash and a restart."""
    sim = Simulator(seed)
    sim.network.set_faults("n1", "n2", LinkFaults(drop=0.3, duplicate=0.3, delay_ms=7))
    sim.set_skew("n4", -3_000)
    for i in range(6):
        sim.request(sim.names[i % 5], {"t": "put", "key": f"k{i % 3}", "value": b"%d" % i,
                                       "context": b""})  # fmt: skip
    sim.run_for(300)
    sim.network.partition(["n1", "n2"], ["n3", "n4", "n5"])
    sim.crash("n3")
    for i in range(3):
        sim.get("n5", f"k{i}")
    sim.run_for(2_000)
    sim.network.heal()
    sim.restart("n3")
    sim.run_for(3_000)
    for i in range(3):
        sim.get("n3", f"k{i}")
    return sim


def test_the_same_seed_gives_the_same_run() -> None:
    a, b, c = eventful_run(7), eventful_run(7), eventful_run(8)
    assert a.traced + len(a.trace) > 500
    assert a.traced == b.traced and a.trace == b.trace  # the newest entries, not yet hashed
    assert a.replies == b.replies and a.logs == b.logs
    assert a.trace_digest() == b.trace_digest() != c.trace_digest()


def test_the_digest_covers_the_trace_entries_already_hashed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    whole = eventful_run(7)
    assert whole.traced == 0
    monkeypatch.setattr(cluster, "TRACE_BATCH", 50)
    batched = eventful_run(7)
    assert batched.traced >= 450 and len(batched.trace) < 50
    assert batched.trace_digest() == whole.trace_digest()


def test_the_digest_sees_a_change_in_one_message_body(monkeypatch: pytest.MonkeyPatch) -> None:
    """The digest hashes what messages say, not only which went where and when."""
    plain = eventful_run(7)
    send, sent = Outbox.send, itertools.count()

    def send_one_changed(self: Outbox, peer: str, msg: PeerMsg) -> None:
        send(self, peer, msg)
        wire = self.effects[-1].msg  # type: ignore[union-attr]
        if wire["t"] == "read_ok" and next(sent) == 3:
            wire["extra"] = 1  # an extra field: every receiver ignores it

    monkeypatch.setattr(Outbox, "send", send_one_changed)
    changed = eventful_run(7)
    assert next(sent) > 4 and changed.replies == plain.replies  # the same run otherwise
    assert changed.trace_digest() != plain.trace_digest()


def test_a_run_does_not_depend_on_string_hashing() -> None:
    """A set iterated where order reaches the wire would differ across PYTHONHASHSEEDs."""
    code = (
        "from tests.unit.test_simulator import eventful_run; print(eventful_run(3).trace_digest())"
    )
    digests = set()
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, check=True,
                             capture_output=True, text=True, timeout=120)  # fmt: skip
        digests.add(out.stdout.strip())
    assert len(digests) == 1


# --- what the node does, reproduced in simulation ----------------------------


def test_concurrent_blind_puts_through_different_coordinators_come_back_as_siblings() -> None:
    sim = Simulator(1)
    sim.run_for(1_000)
    key = keys_with_primary(sim, "n1", 1)[0]
    coordinators = sim.primaries(key)
    conns = [sim.request(c, {"t": "put", "key": key, "value": c.encode(), "context": b""})
             for c in coordinators]  # fmt: skip
    assert sim.run_until(lambda: all(c in sim.replies for c in conns), 5_000)
    assert all(sim.replies[c]["t"] == "ok" for c in conns), sim.replies
    got = ok(sim.get(coordinators[0], key))
    assert sorted(got["siblings"]) == sorted(c.encode() for c in coordinators)


def test_a_put_with_the_merged_context_replaces_the_siblings() -> None:
    sim = Simulator(2)
    sim.run_for(1_000)
    key = keys_with_primary(sim, "n2", 1)[0]
    a, b, _ = sim.primaries(key)
    ok(sim.put(a, key, b"left"))
    ok(sim.put(b, key, b"right"))
    got = ok(sim.get(a, key))
    assert sorted(got["siblings"]) == [b"left", b"right"]
    ok(sim.put(b, key, b"both", got["context"]))
    assert ok(sim.get(a, key))["siblings"] == [b"both"]
    sim.run_for(3_000)  # every primary ends up with the one value
    assert {tuple(sim.local(p, key).values) for p in sim.primaries(key)} == {(b"both",)}


def test_with_one_node_crashed_puts_and_gets_still_succeed() -> None:
    sim = Simulator(3)
    sim.run_for(1_000)
    sim.crash("n3")
    keys = keys_with_primary(sim, "n3", 12)
    for i, key in enumerate(keys):
        ok(sim.put(f"n{1 + i % 2}", key, b"v%d" % i))  # n1, n2: coordinators or forwarders
    for i, key in enumerate(keys):
        assert ok(sim.get("n4", key))["siblings"] == [b"v%d" % i]
    assert sim.disks["n3"].hint_counts() == {}
    sim.restart("n3")
    sim.run_for(5_000)  # hinted handoff and anti-entropy bring n3 up to date
    for i, key in enumerate(keys):
        assert sim.local("n3", key).values == [b"v%d" % i], key


def crash_before_own_write_then_put_again(sim: Simulator) -> list[bytes]:
    """n1 coordinates a put acked by two peers, crashes before its own write, restarts and
    coordinates a blind put of the same key; returns the siblings of a read."""
    sim.run_for(1_000)
    key = keys_with_primary(sim, "n1", 1)[0]
    sim.set_disk_delay("n1", 500)
    conn = sim.request("n1", {"t": "put", "key": key, "value": b"before", "context": b""})
    assert sim.run_until(lambda: conn in sim.replies, 400)
    ok(sim.replies[conn])
    sim.crash("n1")
    assert sim.disks["n1"].read(key) is None  # the unwritten Persist was lost
    sim.set_disk_delay("n1", 0)
    sim.restart("n1")
    ok(sim.put("n1", key, b"after"))
    sim.run_for(3_000)
    return sorted(ok(sim.get("n2", key))["siblings"])


def test_a_restarted_node_does_not_reissue_dots() -> None:
    sim = Simulator(4)
    assert crash_before_own_write_then_put_again(sim) == [b"after", b"before"]
    assert sim.nodes["n1"].actor.endswith(".2")  # the second boot's actor
    key = keys_with_primary(sim, "n1", 1)[0]
    for replica in sim.primaries(key):
        actors = [s.dot.actor for s in sim.local(replica, key).siblings]
        assert sorted(actors) == sorted(
            {f"{sim.nodes['n1'].actor.rsplit('.', 1)[0]}.{b}" for b in (1, 2)}
        )


def test_the_restart_check_catches_a_node_that_reissues_dots(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The planted bug of tests/intercepts/reissued_dots loses the first acknowledged put."""
    monkeypatch.setattr(core, "boot_actor", lambda storage, name, fresh: name)
    assert len(crash_before_own_write_then_put_again(Simulator(4))) == 1


def test_duplicated_and_delayed_messages_change_no_answer() -> None:
    """Syncs, reads and their replies are idempotent. (A duplicated *forwarded put* is not:
    the coordinator writes it twice, as two siblings with the same value, so the puts here
    go to primaries, which coordinate them without forwarding.)"""
    sim = Simulator(5)
    for src in sim.names:
        for dst in sim.names:
            sim.network.set_faults(src, dst, LinkFaults(duplicate=1.0, delay_ms=20))
    sim.run_for(1_000)
    a, b, c = sim.primaries("dup")
    ok(sim.put(a, "dup", b"a"))
    ok(sim.put(b, "dup", b"b"))
    got = ok(sim.get(c, "dup"))
    assert sorted(got["siblings"]) == [b"a", b"b"]
    ok(sim.put(c, "dup", b"c", got["context"]))
    assert ok(sim.get(a, "dup"))["siblings"] == [b"c"]
    sim.run_for(2_000)
    assert {tuple(sim.local(p, "dup").values) for p in (a, b, c)} == {(b"c",)}


def test_an_isolated_coordinator_fails_puts_and_recovers_after_heal() -> None:
    sim = Simulator(6)
    sim.run_for(1_000)
    key = keys_with_primary(sim, "n1", 1)[0]
    sim.network.partition(["n1"], [n for n in sim.names if n != "n1"])
    reply = sim.put("n1", key, b"alone")
    assert reply["t"] == "error" and reply["code"] == "unavailable", reply
    sim.network.heal()
    sim.run_for(3_000)
    ok(sim.put("n1", key, b"together"))
    assert b"together" in ok(sim.get("n2", key))["siblings"]


@pytest.mark.parametrize("hold", [False, True])
def test_a_holding_cut_delivers_after_heal_and_a_losing_cut_never_does(hold: bool) -> None:
    sim = Simulator(9, SimConfig(settings={"antientropy_interval_ms": 0, "read_repair": False}))
    sim.run_for(1_000)
    key = keys_with_primary(sim, "n1", 1)[0]
    a, b, c = sim.primaries(key)
    sim.network.partition([a], [b, c], hold=hold)
    assert sim.put(a, key, b"v")["t"] == "error"  # W=2, and nobody else hears of it
    sim.run_for(1_000)
    assert sim.local(b, key).values == []
    sim.network.heal()
    sim.run_for(100)
    assert sim.local(b, key).values == ([b"v"] if hold else [])


def test_clients_of_a_crashed_node_get_errors_and_clocks_are_skewed_per_node() -> None:
    sim = Simulator(7)
    sim.set_skew("n2", -5_000)
    sim.run_for(100)
    assert sim.now("n2") == Now(EPOCH_MS + 100 - 5_000, 0.1)
    assert ok(sim.call("n2", {"t": "status"}))["wall_ms"] <= EPOCH_MS + sim.now_ms - 5_000
    conn = sim.request("n1", {"t": "get", "key": "x"})
    sim.crash("n1")
    assert sim.replies.pop(conn)["code"] == "closed"
    assert sim.get("n1", "x")["code"] == "unreachable"
    with pytest.raises(ValueError, match="n1"):
        sim.crash("n1")


def test_durable_values_cover_replicas_and_hints() -> None:
    sim = Simulator(8, SimConfig(settings={"handoff_interval_ms": 600_000}))
    sim.run_for(1_000)
    key = keys_with_primary(sim, "n5", 1)[0]
    sim.crash("n5")
    live = [p for p in sim.primaries(key) if p != "n5"]
    ok(sim.put(live[0], key, b"v"))
    sim.run_for(500)
    assert sim.durable_values(key) == [b"v"] * 3  # two primaries and one fallback's hint
    hints = {n: sim.disks[n].hint_counts() for n in sim.names if sim.disks[n].hint_counts()}
    assert list(hints.values()) == [{"n5": 1}]
    for p in live:
        assert versions.decode(sim.disks[p].read(key) or b"").values == [b"v"]


# --- node bugs the simulator found --------------------------------------------


def test_a_late_ack_to_a_previous_boot_does_not_acknowledge_a_new_put() -> None:
    """A put answered ok must be durable on W=2 disks. A regression test for a bug found
    with the simulator (seed 1), fixed by boot-unique request ids (`core.id_base`); before:

    1. t=0: n1 coordinates put(k1) (primaries n3, n1, n2); n2's disk is slow (500 ms),
       so n1 answers ok with n1 + n3 while n2's `sync_ok` for request id 6 is pending.
    2. n2's disk gets slower (2 s for later writes). n1 crashes and restarts at once.
       Node.new_id() starts again from 1 and the boot sequence is the same, so n1's
       first put after the restart, put(k2) (primaries n5, n2, n1; n1 → n5 cut), is
       again request id 6.
    3. t≈503: n2's write of k1 lands and it sends sync_ok id 6 to n1 (the new boot);
       `Dispatcher.peer_message` routes it by id alone to the put of k2, whose
       PutRequest.ack("n2") counts it: the client hears ok for k2 while only n1's disk
       holds it (n2 would write k2 at t≈2005; a correct node times the put out at
       t≈1005; had n2 crashed in between, one disk would be all an acknowledged W=2
       write ever had).

    The same id reuse can let a stale `fwd_reply` answer the wrong forwarded put, and a
    stale `sync_ok` to a hint delivery (AckedSync) delete a hint the target does not yet
    hold (by reading coordinator.py and delivery.py; not run here).
    """
    sim = Simulator(1, SimConfig(latency_ms=(1, 1), disk_ms=(0, 0)))
    k1, k2 = [k for k in (f"k{i}" for i in range(1000)) if {"n1", "n2"} <= set(sim.primaries(k))][
        :2
    ]
    sim.set_disk_delay("n2", 500)
    first = sim.request("n1", {"t": "put", "key": k1, "value": b"one", "context": b""})
    assert sim.run_until(lambda: first in sim.replies, 400)
    ok(sim.replies[first])
    sim.set_disk_delay("n2", 2_000)
    sim.crash("n1")
    sim.restart("n1")
    third = next(p for p in sim.primaries(k2) if p not in ("n1", "n2"))
    sim.network.cut_link("n1", third)
    holders: list[str] = []

    def answered(reply: Message) -> None:
        holders.extend(n for n in sim.names if sim.disks[n].read(k2) is not None)

    second = sim.request("n1", {"t": "put", "key": k2, "value": b"two", "context": b""}, answered)
    assert sim.run_until(lambda: second in sim.replies, 3_000)
    if sim.replies[second]["t"] == "ok":
        assert len(holders) >= 2, f"put of {k2} acknowledged at {sim.now_ms} ms; on disk: {holders}"


def test_uniform_ints_draws_what_randint_draws() -> None:
    """The simulator's latency draw is randint's, value for value, for every range it uses."""
    for lo, hi in [(0, 0), (0, 2), (1, 5), (3, 3), (7, 1000)]:
        ours, theirs = random.Random(lo * 31 + hi), random.Random(lo * 31 + hi)
        draw = uniform_ints(ours, lo, hi)
        assert [draw() for _ in range(500)] == [theirs.randint(lo, hi) for _ in range(500)]
        assert ours.random() == theirs.random()  # and leaves the rng in the same state


def test_events_traced_as_tuples_have_the_fields_the_tuples_name() -> None:
    """The simulator traces timer, disk and client events as the tuples `_plain`
    would make of them (type name, then fields): a field added to one of these events
    must be added to its tuple in cluster.py too, or the trace would stop covering it."""
    made = [events.TimerFired(7), events.Persisted(8), events.ClientRequest(9, {"t": "get"})]
    tuples = [("TimerFired", 7), ("Persisted", 8), ("ClientRequest", 9, {"t": "get"})]
    assert [cluster._plain(e) for e in made] == tuples


@pytest.mark.parametrize("n", [0, 1, 15, 16, 65_535, 65_536])
def test_a_batch_hashes_as_its_entries_packed_one_by_one(n: int) -> None:
    """A batch is packed in one call, as an array whose header is skipped: what is hashed
    must be the entries' own encodings back to back, whatever the array header's size."""
    import msgpack
    import xxhash

    entries = [(i, "PeerMessage", "n2", "n1", b"x" * (i % 7)) for i in range(n)]
    one_by_one = xxhash.xxh3_128(b"".join(msgpack.packb(e) for e in entries)).hexdigest()
    h = xxhash.xxh3_128()
    Simulator(1)._hash_into(h, entries)
    assert h.hexdigest() == one_by_one


def test_forgetting_the_codec_memos_changes_no_encoding() -> None:
    """`versions.forget` (run after each simulated run) only drops memory."""
    obj = versions.Versioned({"a": (1, 5)}, (versions.Sibling(versions.Dot("a", 1), b"v", 5),))
    data, context = versions.encode(obj), versions.encode_context(obj.clock)
    assert versions.decode(data) == obj
    versions.forget()
    assert not (versions._encoded or versions._decoded or versions._contexts)
    assert versions.encode(obj) == data and versions.encode_context(obj.clock) == context
    assert versions.decode(data) == obj


def test_a_step_interrupts_only_a_run_that_asks_for_it() -> None:
    """A reply whose callback interrupts stops `run_until_interrupted` at that reply;
    `run_for` ignores it and runs its whole time (the scheduler relies on both)."""
    from node.messages import Get

    sim = Simulator(3)
    sim.request("n1", Get("k").wire(), lambda _: sim.interrupt())
    start = sim.now_ms
    assert sim.run_until_interrupted(5_000) is True
    assert start < sim.now_ms < start + 5_000 and sim.open_requests() == 0
    sim.request("n2", Get("k").wire(), lambda _: sim.interrupt())
    start = sim.now_ms
    sim.run_for(5_000)
    assert sim.now_ms == start + 5_000 and sim.open_requests() == 0
    sim.interrupt()  # between runs: not for the next one
    assert sim.run_until_interrupted(1_000) is False and sim.now_ms == start + 6_000
