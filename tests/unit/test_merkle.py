"""Merkle trees (node/merkle.py): updates, rebuilds, root equality and diffs; and the
anti-entropy exchange (node/antientropy.py) driven in memory over sans-I/O nodes."""

from __future__ import annotations

import heapq
import random
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from node import merkle, versions
from node.antientropy import MAX_UNHASHED_BYTES, rotated
from node.config import NodeConfig, Peer
from node.core import Node
from node.events import (
    Effect,
    Event,
    Now,
    PeerMessage,
    Persist,
    Persisted,
    SendPeer,
    SetTimer,
    TimerFired,
)
from node.merkle import MerkleTree
from node.ring import Member
from node.storage import MemoryStorage
from node.versions import Dot, Sibling, Versioned

KEYS = [f"k{i}" for i in range(12)]

contents = st.dictionaries(st.sampled_from(KEYS), st.binary(max_size=3), max_size=len(KEYS))


def leaves(c: dict[str, bytes]) -> list[tuple[str, bytes]]:
    return [(k, merkle.leaf_hash(k, v)) for k, v in c.items()]


def tree_of(c: dict[str, bytes], buckets: int = 4) -> MerkleTree:
    return MerkleTree.build(leaves(c), buckets)


# --- the pure tree ----------------------------------------------------------


@given(contents, contents)
def test_roots_are_equal_iff_the_contents_are(a: dict[str, bytes], b: dict[str, bytes]) -> None:
    assert (tree_of(a).root() == tree_of(b).root()) == (a == b)


@given(contents, st.permutations(KEYS))
def test_the_root_does_not_depend_on_insertion_order(c: dict[str, bytes], order: list[str]) -> None:
    shuffled = [(k, merkle.leaf_hash(k, c[k])) for k in order if k in c]
    assert MerkleTree.build(shuffled, 4).root() == tree_of(c).root()


@given(contents, contents)
def test_updating_a_tree_gives_the_rebuilt_tree(a: dict[str, bytes], b: dict[str, bytes]) -> None:
    tree = tree_of(a)
    tree.root()  # cache the hashes, so the updates must invalidate them
    for k in sorted(set(a) - set(b)):
        tree.discard(k)
    for k, d in leaves(b):
        tree.set(k, d)
    rebuilt = tree_of(b)
    assert tree.root() == rebuilt.root()
    assert tree.bucket_hashes() == rebuilt.bucket_hashes()
    assert len(tree) == len(b)


@given(contents, contents)
def test_diff_finds_exactly_the_differing_keys(a: dict[str, bytes], b: dict[str, bytes]) -> None:
    ta, tb = tree_of(a), tree_of(b)
    give: list[str] = []
    take: list[str] = []
    for bucket in merkle.differing_buckets(ta.bucket_hashes(), tb.bucket_hashes()):
        g, t = merkle.differing_keys(dict(ta.bucket_items(bucket)), dict(tb.bucket_items(bucket)))
        give += g
        take += t
    assert sorted(give) == sorted(k for k in a if b.get(k) != a[k])
    assert sorted(take) == sorted(k for k in b if a.get(k) != b[k])


@given(contents, contents)
def test_equal_bucket_hashes_iff_equal_bucket_contents(
    a: dict[str, bytes], b: dict[str, bytes]
) -> None:
    ta, tb = tree_of(a), tree_of(b)
    for bucket in range(ta.buckets):
        same = ta.bucket_items(bucket) == tb.bucket_items(bucket)
        assert (ta.bucket_hash(bucket) == tb.bucket_hash(bucket)) == same


def test_the_leaf_covers_the_siblings_and_the_clock() -> None:
    a = Versioned({"x": (1, 5)}, (Sibling(Dot("x", 1), b"v", 5),))
    more = Versioned({"x": (1, 5), "y": (1, 6)}, (*a.siblings, Sibling(Dot("y", 1), b"w", 6)))
    later_clock = Versioned({"x": (1, 5), "z": (3, 9)}, a.siblings)
    digests = {merkle.leaf_hash("k", versions.encode(o)) for o in (a, more, later_clock)}
    assert len(digests) == 3
    assert merkle.leaf_hash("k", versions.encode(a)) != merkle.leaf_hash("j", versions.encode(a))


@given(st.lists(st.sampled_from(KEYS), unique=True), st.integers(1, 5), st.integers(0, 20))
def test_slices_tile_the_key_space(keys: list[str], limit: int, index: int) -> None:
    items = [(k, b"d") for k in sorted(keys)]
    chunks = max(1, -(-len(items) // limit))
    seen: list[str] = []
    for i in range(chunks):
        lo, hi, chunk = merkle.slice_items(items, limit, index + i)
        assert len(chunk) <= limit
        assert all((lo is None or k >= lo) and (hi is None or k < hi) for k, _ in chunk)
        assert [k for k, _ in items if (lo is None or k >= lo) and (hi is None or k < hi)] == [
            k for k, _ in chunk
        ]
        seen += [k for k, _ in chunk]
    assert sorted(seen) == sorted(keys)


def test_rotation_keeps_every_item() -> None:
    assert rotated([1, 2, 3], 4) == [2, 3, 1]
    assert rotated([], 3) == []


# --- the exchange, on sans-I/O nodes in memory -------------------------------


class Sim:
    """Nodes in memory: instant delivery, instant durable disk, virtual-time timers."""

    def __init__(self, count: int = 5, seed: int = 1, **settings: object) -> None:
        names = [f"n{i + 1}" for i in range(count)]
        peers = tuple(Peer(n, "127.0.0.1", 7000 + i) for i, n in enumerate(names))
        self.nodes: dict[str, Node] = {}
        self.up: set[str] = set(names)
        self.time = 0.0
        self.timers: list[tuple[float, int, str, int]] = []
        self.seq = 0
        self.largest: dict[str, int] = {}  # most objects / digests any one message carried
        for i, n in enumerate(names):
            cfg = NodeConfig(n, "127.0.0.1", 7000 + i, Path("/nonexistent"), peers, seed=seed + i,
                             read_repair=False, handoff_interval_ms=600_000, **settings)  # type: ignore[arg-type]  # fmt: skip
            self.nodes[n] = Node(cfg, MemoryStorage(), random.Random(seed + i), f"{n}.0.1")
        for n, node in self.nodes.items():
            self.run(n, node.start(self.now()))

    def now(self) -> Now:
        return Now(int(self.time * 1000), self.time)

    def run(self, name: str, effects: list[Effect]) -> None:
        queue: list[tuple[str, Event]] = []
        self._collect(name, effects, queue)
        while queue:
            dst, event = queue.pop(0)
            if dst in self.up:
                self._collect(dst, self.nodes[dst].handle(event, self.now()), queue)

    def _collect(self, name: str, effects: list[Effect], queue: list[tuple[str, Event]]) -> None:
        node = self.nodes[name]
        for e in effects:
            if isinstance(e, SendPeer):
                queue.append((e.peer, PeerMessage(name, e.msg)))
                self._measure(e.msg)
            elif isinstance(e, Persist):
                node.storage.write(e.items)
                queue.append((name, Persisted(e.token)))
            elif isinstance(e, SetTimer):
                self.seq += 1
                heapq.heappush(self.timers, (self.time + e.delay_s, self.seq, name, e.timer))

    def _measure(self, msg: dict) -> None:
        sizes = {
            "ae_objects": len(msg.get("objs", [])),
            "ae_keys": sum(len(r[4]) for r in msg.get("ranges", [])),
        }
        if msg["t"] in sizes:
            self.largest[msg["t"]] = max(self.largest.get(msg["t"], 0), sizes[msg["t"]])

    def advance(self, seconds: float) -> None:
        end = self.time + seconds
        while self.timers and self.timers[0][0] <= end:
            at, _, name, tid = heapq.heappop(self.timers)
            self.time = at
            if name in self.up:
                self.run(name, self.nodes[name].handle(TimerFired(tid), self.now()))
        self.time = end

    def write(self, name: str, key: str, obj: Versioned) -> None:
        """Puts `obj` into one replica directly (a sync write from outside)."""
        msg = {"t": "sync", "key": key, "obj": versions.encode(obj)}
        self.run(name, self.nodes[name].handle(PeerMessage("outside", msg), self.now()))

    def counter(self, name: str) -> int:
        return sum(node.counters.get(name, 0) for node in self.nodes.values())


def obj(actor: str, value: bytes) -> Versioned:
    return Versioned({actor: (1, 1)}, (Sibling(Dot(actor, 1), value, 1),))


def replicated_keys(sim: Sim, node: str, count: int) -> list[str]:
    ring = sim.nodes["n1"].ring
    return [
        k for k in (f"key{i}" for i in range(count * 10)) if node in ring.preference_list(k, 3)
    ][:count]


def test_replicas_converge_and_only_the_differing_keys_travel() -> None:
    sim = Sim(antientropy_interval_ms=100)
    ring = sim.nodes["n1"].ring
    common = replicated_keys(sim, "n2", 30)
    for k in common:
        for r in ring.preference_list(k, 3):
            sim.write(r, k, obj("a", b"common"))
    missing = common[:7]
    for k in missing:  # a later write reaches the other two replicas only
        for r in ring.preference_list(k, 3):
            if r != "n2":
                sim.write(r, k, obj("b", b"late"))
    sim.advance(3.0)
    for k in common:
        want = versions.sync(obj("a", b"common"), obj("b", b"late")) if k in missing else None
        states = {versions.encode(sim.nodes[r].local(k)) for r in ring.preference_list(k, 3)}
        assert len(states) == 1, k
        if want is not None:
            assert states == {versions.encode(want)}
    assert sim.nodes["n2"].counters["ae_keys_repaired"] == len(missing)
    assert sim.counter("ae_keys_repaired") == len(missing)
    assert len(missing) <= sim.counter("ae_keys_sent") <= 2 * len(missing)
    roots = [node.antientropy.roots() for node in sim.nodes.values()]
    for p in range(ring.partitions):
        assert len({r[p] for r in roots if p in r}) == 1


def test_concurrent_states_merge_both_ways_as_siblings() -> None:
    sim = Sim(antientropy_interval_ms=100)
    ring = sim.nodes["n1"].ring
    key = replicated_keys(sim, "n2", 1)[0]
    a, b, c = ring.preference_list(key, 3)
    sim.write(a, key, obj("x", b"x"))
    sim.write(b, key, obj("y", b"y"))
    sim.advance(2.0)
    want = versions.sync(obj("x", b"x"), obj("y", b"y"))
    assert [sim.nodes[r].local(key) for r in (a, b, c)] == [want] * 3


def test_an_exchange_in_sync_sends_only_roots() -> None:
    sim = Sim(antientropy_interval_ms=100)
    ring = sim.nodes["n1"].ring
    for k in replicated_keys(sim, "n3", 20):
        for r in ring.preference_list(k, 3):
            sim.write(r, k, obj("a", b"same"))
    sim.advance(1.0)
    assert sim.counter("ae_exchanges") > 0
    assert sim.counter("ae_partitions_differing") == 0
    assert sim.counter("ae_keys_sent") == 0


def test_a_large_divergence_is_repaired_across_rounds_with_bounded_messages(
    monkeypatch: object,
) -> None:
    import node.antientropy as ae

    monkeypatch.setattr(ae, "MAX_OBJECTS", 16)  # type: ignore[attr-defined]
    monkeypatch.setattr(ae, "MAX_DIGESTS", 8)  # type: ignore[attr-defined]
    sim = Sim(antientropy_interval_ms=100)
    ring = sim.nodes["n1"].ring
    keys = replicated_keys(sim, "n2", 200)
    for k in keys:
        for r in ring.preference_list(k, 3):
            if r != "n2":
                sim.write(r, k, obj("a", b"v"))
    sim.advance(0.1)
    assert 0 < sim.nodes["n2"].counters.get("ae_keys_repaired", 0) < len(keys)
    sim.advance(10.0)
    assert sim.nodes["n2"].counters["ae_keys_repaired"] == len(keys)
    assert all(sim.nodes["n2"].local(k) == obj("a", b"v") for k in keys)
    assert sim.largest["ae_objects"] <= 16 and sim.largest["ae_keys"] <= 8


def test_trees_are_built_from_storage_at_boot() -> None:
    storage = MemoryStorage()
    storage.write([("", "k1", versions.encode(obj("a", b"v")))])
    peers = (Peer("n1", "127.0.0.1", 7000),)
    node = Node(NodeConfig("n1", "127.0.0.1", 7000, Path("/x"), peers, n=1), storage,
                random.Random(0), "n1.0.1")  # fmt: skip
    p = node.ring.partition_of("k1")
    assert node.antientropy.tree(p).digest("k1") == merkle.leaf_hash(
        "k1", versions.encode(obj("a", b"v"))
    )
    assert node.antientropy.roots()[p] != MerkleTree().root().hex()


def test_a_fresh_tree_has_the_root_of_its_empty_buckets() -> None:
    tree = MerkleTree(8)
    fresh = tree.root()
    tree.set("k", merkle.leaf_hash("k", b"v"))
    assert tree.root() != fresh
    tree.discard("k")
    assert tree.root() == fresh == merkle._hash(merkle.EMPTY_BUCKET * 8)  # recomputed
    assert tree.digest("k") is None and len(tree) == 0


def test_a_tree_read_after_many_changes_holds_the_last() -> None:
    storage = MemoryStorage()
    peers = (Peer("n1", "127.0.0.1", 7000),)
    node = Node(NodeConfig("n1", "127.0.0.1", 7000, Path("/x"), peers, n=1), storage,
                random.Random(0), "n1.0.1")  # fmt: skip
    p = node.ring.partition_of("k1")
    before = node.antientropy.tree(p).root()
    for value in (b"v1", b"v2", b"v3"):  # leaves hashed when the tree is next read
        node.replica.store("k1", obj("a", value), None)
    last = versions.encode(obj("a", b"v3"))
    assert node.antientropy.tree(p).digest("k1") == merkle.leaf_hash("k1", last)
    assert node.antientropy.tree(p).root() != before


def test_objects_held_for_unhashed_leaves_stay_bounded() -> None:
    storage = MemoryStorage()
    peers = (Peer("n1", "127.0.0.1", 7000),)
    node = Node(NodeConfig("n1", "127.0.0.1", 7000, Path("/x"), peers, n=1), storage,
                random.Random(0), "n1.0.1")  # fmt: skip
    ae, big = node.antientropy, 256 * 1024
    written = {f"k{i}": obj("a", bytes([i]) * big) for i in range(40)}  # 10 MiB, no tree read
    held = 0
    for key, value in written.items():
        node.replica.store(key, value, None)
        held = max(held, sum(len(d) for pending in ae._unhashed.values() for d in pending.values()))
    assert held <= MAX_UNHASHED_BYTES + big + 1024  # the bound, and the object past it
    for key, value in written.items():  # every leaf, hashed early or late, is the last write
        digest = ae.tree(node.ring.partition_of(key)).digest(key)
        assert digest == merkle.leaf_hash(key, versions.encode(value))


def test_an_ownership_change_reselects_the_exchanged_trees() -> None:
    sim = Sim(antientropy_interval_ms=100)
    n1 = sim.nodes["n1"]
    keys = replicated_keys(sim, "n1", 20)
    for k in keys:
        sim.write("n1", k, obj("a", b"v"))
    before = set(n1.antientropy.roots())
    n1.set_members([Member(n) for n in ("n1", "n3", "n4", "n5")])
    after = set(n1.antientropy.roots())
    assert after == {p for p in range(n1.ring.partitions) if "n1" in n1.ring.walk(p)[:3]}
    assert after != before
    for k in keys:  # every local key is still in its partition's tree
        p = n1.ring.partition_of(k)
        assert n1.antientropy.tree(p).digest(k) == merkle.leaf_hash(
            k, versions.encode(obj("a", b"v"))
        )


def test_malformed_exchange_messages_are_ignored() -> None:
    sim = Sim(antientropy_interval_ms=100)
    n1 = sim.nodes["n1"]
    p = n1.antientropy.replicated[0]
    bad = [
        {"t": "ae_root", "roots": "x"},
        {"t": "ae_root", "roots": [[p, "not bytes"], [True, b""], [p]]},
        {"t": "ae_buckets", "parts": [[p, [b"x"]], [p, "y"], ["p", []]]},
        {"t": "ae_keys", "ranges": [[p, 999, None, None, []], [p, -1, None, None, []]]},
        {"t": "ae_keys", "ranges": [[p, 0, 5, None, []], [p, 0, None, None, [["k", 1], 7]]]},
        {"t": "ae_objects", "objs": [["k", b"\xc1"], [1, b""]], "want": [1, None, "zz"]},
        {"t": "ae_objects"},
    ]
    peer = next(q for q in n1.ring.walk(p)[:3] if q != "n1")
    for msg in bad:
        effects = n1.handle(PeerMessage(peer, msg), sim.now())
        assert not [e for e in effects if isinstance(e, Persist)]
