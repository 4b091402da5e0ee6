"""Merkle-tree anti-entropy: replicas of a partition find what differs and sync-merge it.

Each node keeps one `MerkleTree` per partition (preference-list range) for
every key in its replica store, updated on every local change (puts, merges,
read repairs, hint deliveries, repairs from here) and built from storage at
boot. It *exchanges* the trees of the partitions it replicates, those where it
is among `ring.walk(p)[:n]`; an ownership change re-selects them (the trees
already cover every local key, so nothing is re-read).

Every `antientropy_interval_ms` (0 disables) a node starts one exchange with a
random healthy peer that shares partitions with it. The exchange is one-way
messages, no state kept between them, each bounded; whatever a message
cannot carry is found again by the next round:

    A → B  ae_root     roots of the partitions A and B both replicate
    B → A  ae_buckets  B's bucket hashes of the partitions whose roots differ
    A → B  ae_keys     A's key digests in the buckets that differ
    B → A  ae_objects  B's objects for keys A lacks or holds differently,
                       and the keys B wants from A
    A → B  ae_objects  A's objects for the wanted keys (unless A's state, after
                       merging B's, already equals B's)

Repair is `ReplicaStore.merge_into_local` (sync, never overwrite) in both directions,
so an exchange never loses a sibling and a duplicate or stale message is
harmless. Only keys whose leaf digests differ travel as objects. Counters
(`ae_*`, see `COUNTERS`) go to the `status` debug call.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any, Final, TypeVar

from node import merkle, versions
from node.config import NodeConfig
from node.health import Health
from node.merkle import MerkleTree
from node.messages import AeBuckets, AeKeys, AeObjects, AeRoot, PeerMsg
from node.modes import LogLevel
from node.outbox import Outbox
from node.placement import Placement
from node.protocol import packb
from node.replica import ReplicaStore
from node.ring import Ring
from node.storage import Storage
from node.versions import VersionError

MAX_ROOTS = 256
"""Partition roots per ae_root."""
MAX_PARTS = 16
"""Partitions whose bucket hashes go in one ae_buckets."""
MAX_DIGESTS = 4096
"""Key digests per ae_keys, and keys asked for per ae_objects."""
MAX_OBJECTS = 1024
"""Objects per ae_objects."""
MAX_OBJECT_BYTES = 4 * 1024 * 1024
"""Object bytes per ae_objects (a single larger object still goes, alone)."""
MAX_UNHASHED_BYTES: Final = 4 * 1024 * 1024
"""Object bytes held for leaves not yet hashed, past which every pending leaf is hashed at
once: a partition whose tree is seldom read must not keep its objects in memory."""

COUNTERS = {
    "ae_exchanges": "exchanges this node started (ae_root sent)",
    "ae_partitions_differing": "partitions whose roots differed from a peer's",
    "ae_buckets_compared": "bucket hashes compared with a peer's",
    "ae_buckets_differing": "bucket hashes that differed",
    "ae_keys_sent": "objects sent to peers",
    "ae_keys_received": "objects received from peers",
    "ae_keys_repaired": "received objects that changed the local replica",
    "ae_object_bytes_sent": "bytes of objects sent",
    "ae_bytes_sent": "bytes of all anti-entropy messages sent (msgpack bodies)",
}

T = TypeVar("T")


class AntiEntropy:
    """The node's Merkle trees and its side of every exchange."""

    def __init__(
        self,
        cfg: NodeConfig,
        rng: random.Random,
        outbox: Outbox,
        storage: Storage,
        store: ReplicaStore,
        placement: Placement,
        health: Health,
    ) -> None:
        self.name, self.n, self.interval_ms = cfg.name, cfg.n, cfg.antientropy_interval_ms
        self.rng, self.outbox, self.storage, self.store = rng, outbox, storage, store
        self.placement, self.health = placement, health
        self.trees: dict[int, MerkleTree] = {}
        self._unhashed: dict[int, dict[str, bytes]] = {}
        """Per partition, the keys changed since the trees were last looked at, and their
        objects' bytes: a key changes many times between two exchanges, so its leaf is
        hashed only when a tree is next read (`tree`)."""
        self._unhashed_bytes = 0
        """Bytes tracked into `_unhashed` since it was last empty (what it holds, or more)."""
        self.replicated: list[int] = []
        self._replicated: frozenset[int] = frozenset()
        self._holders: tuple[Ring | None, list[frozenset[str]]] = (None, [])
        self._peers: tuple[Ring | None, list[int], list[str]] = (None, [], [])
        store.change_listeners.append(self.track)
        placement.listeners.append(self.on_ring)
        self.rebuild()

    def peer_handlers(self) -> dict[type[PeerMsg], Callable[[str, Any], None]]:
        """The exchange's messages and their handlers, for the dispatcher."""
        return {
            AeRoot: self.on_root,
            AeBuckets: self.on_buckets,
            AeKeys: self.on_keys,
            AeObjects: self.on_objects,
        }

    # --- the trees ----------------------------------------------------------

    def rebuild(self) -> None:
        """Rebuilds every tree from the durable store (synchronous reads), then re-selects."""
        self.trees, self._unhashed, self._unhashed_bytes = {}, {}, 0
        storage = self.storage
        for key in storage.keys():
            data = storage.read(key)
            if data is not None:
                self.track(key, data)
        self.on_ring(self.placement.ring)

    def on_ring(self, ring: Ring) -> None:
        """Ownership changed: exchange exactly the partitions this node now replicates."""
        name, n = self.name, self.n
        self.replicated = [p for p in range(ring.partitions) if name in ring.walk(p)[:n]]
        self._replicated = frozenset(self.replicated)

    def track(self, key: str, data: bytes) -> None:
        """Sets the leaf of `key` to the digest of its object bytes `data` (hashed when a
        tree is next read: only the last change of a key before that is hashed)."""
        p = self.placement.ring.partition_of(key)
        unhashed = self._unhashed.get(p)
        if unhashed is None:
            unhashed = self._unhashed[p] = {}
        unhashed[key] = data
        self._unhashed_bytes += len(data)
        if self._unhashed_bytes > MAX_UNHASHED_BYTES:  # bounded: hash every pending leaf now
            for partition in list(self._unhashed):
                self.tree(partition)

    def tree(self, partition: int) -> MerkleTree:
        """The tree of `partition` (created empty on first use), every change tracked so far
        in it."""
        tree = self.trees.get(partition)
        if tree is None:
            tree = self.trees[partition] = MerkleTree()
        changed = self._unhashed.pop(partition, None)
        if changed is not None:
            for key, data in changed.items():
                tree.set(key, merkle.leaf_hash(key, data))
            if not self._unhashed:
                self._unhashed_bytes = 0
        return tree

    def roots(self) -> dict[int, str]:
        """Merkle root (hex) per locally replicated partition."""
        return {p: self.tree(p).root().hex() for p in self.replicated}

    def shares(self, partition: int, peer: str) -> bool:
        """True iff this node replicates `partition` and, in its ring view, so does `peer`."""
        return partition in self._replicated and peer in self.holders()[partition]

    def holders(self) -> list[frozenset[str]]:
        """Per partition, the first N nodes of its walk in the current ring (the replicas),
        kept until the ring changes: every exchange asks for most partitions."""
        ring = self.placement.ring
        if self._holders[0] is not ring:
            self._holders = (
                ring,
                [frozenset(ring.walk(p)[: self.n]) for p in range(ring.partitions)],
            )
        return self._holders[1]

    # --- starting an exchange ---------------------------------------------

    def start(self) -> None:
        """Arms the periodic exchange (`antientropy_interval_ms`; 0 disables it)."""
        if self.interval_ms > 0:
            self.outbox.every(self.interval_ms / 1000, self.exchange_round)

    def exchange_round(self) -> None:
        """Starts one exchange: sends our roots of the partitions shared with a random peer."""
        peer = self.pick_peer()
        if peer is None:
            return
        holders = self.holders()
        shared = [p for p in self.replicated if peer in holders[p]]
        if len(shared) > MAX_ROOTS:
            shared = sorted(self.rng.sample(shared, MAX_ROOTS))
        self.outbox.count("ae_exchanges")
        self.send(peer, AeRoot([[p, self.tree(p).root()] for p in shared]))

    def pick_peer(self) -> str | None:
        """A random healthy peer replicating some partition with this node, or None."""
        ring, replicated = self.placement.ring, self.replicated
        if self._peers[0] is not ring or self._peers[1] is not replicated:  # kept until then
            holders = self.holders()
            peers = {q for p in replicated for q in holders[p]} - {self.name}
            self._peers = (ring, replicated, sorted(peers))
        candidates = [q for q in self._peers[2] if self.health.healthy(q)]
        return self.rng.choice(candidates) if candidates else None

    # --- the exchange, one handler per message ---------------------------

    def on_root(self, peer: str, msg: AeRoot) -> None:
        """B: answers with our bucket hashes of the partitions whose roots differ."""
        differing = [
            p for p, root in msg.roots if self.shares(p, peer) and self.tree(p).root() != root
        ]
        if not differing:
            return
        if len(differing) > MAX_PARTS:
            differing = sorted(self.rng.sample(differing, MAX_PARTS))
        self.outbox.count("ae_partitions_differing", len(differing))
        parts: list[list[Any]] = [[p, self.tree(p).bucket_hashes()] for p in differing]
        self.send(peer, AeBuckets(parts))

    def on_buckets(self, peer: str, msg: AeBuckets) -> None:
        """A: sends our key digests in the buckets whose hashes differ (up to MAX_DIGESTS)."""
        candidates: list[tuple[int, int]] = []
        for p, hashes in msg.parts:
            if self.shares(p, peer) and len(hashes) == self.tree(p).buckets:
                diff = merkle.differing_buckets(self.tree(p).bucket_hashes(), hashes)
                self.outbox.count("ae_buckets_compared", len(hashes))
                self.outbox.count("ae_buckets_differing", len(diff))
                candidates += [(p, b) for b in diff]
        ranges = self.describe(rotated(candidates, self.rng.randrange(1 << 30)))
        if ranges:
            self.send(peer, AeKeys(ranges))

    def describe(self, buckets: Sequence[tuple[int, int]]) -> list[list[Any]]:
        """[partition, bucket, lo, hi, [[key, digest], ...]] for whole buckets (a slice of
        one too large for a message) until MAX_DIGESTS digests; at least one range."""
        ranges: list[list[Any]] = []
        budget = MAX_DIGESTS
        for p, b in buckets:
            items = self.tree(p).bucket_items(b)
            lo, hi, chunk = merkle.slice_items(items, MAX_DIGESTS, self.rng.randrange(1 << 30))
            if ranges and len(chunk) > budget:
                break
            ranges.append([p, b, lo, hi, [[k, d] for k, d in chunk]])
            budget -= len(chunk)
        return ranges

    def on_keys(self, peer: str, msg: AeKeys) -> None:
        """B: sends our objects the peer lacks or holds differently, and asks for theirs."""
        give: list[str] = []
        take: list[str] = []
        ring = self.placement.ring
        for p, b, lo, hi, digests in msg.ranges:
            if not (self.shares(p, peer) and 0 <= b < self.tree(p).buckets):
                continue
            mine = dict(self.tree(p).bucket_items(b, lo, hi))
            theirs = {k: d for k, d in digests if ring.partition_of(k) == p}
            g, t = merkle.differing_keys(mine, theirs)
            give += g
            take += t
        if give or take:
            self.send_objects(peer, give, take[:MAX_DIGESTS])

    def on_objects(self, peer: str, msg: AeObjects) -> None:
        """Merges the objects received; answers with ours for the keys the peer wants."""
        received: dict[str, bytes] = {}
        ring = self.placement.ring
        for key, data in msg.objs:
            if self.shares(ring.partition_of(key), peer) and self.repair(peer, key, data):
                received[key] = data
        want = [
            k
            for k in msg.want[:MAX_DIGESTS]
            if self.shares(ring.partition_of(k), peer)
            and not (k in received and received[k] == versions.encode(self.store.local(k)))
        ]
        if want:
            self.send_objects(peer, want, [])

    # --- repair and sending ------------------------------------------------

    def repair(self, peer: str, key: str, data: bytes) -> bool:
        """Sync-merges a peer's object into the local replica; False if it does not decode."""
        try:
            incoming = versions.decode(data)
        except VersionError as e:
            self.outbox.log(
                LogLevel.ERROR, f"dropped a malformed anti-entropy object from {peer}: {e}"
            )
            return False
        self.outbox.count("ae_keys_received")
        before = self.store.local(key)
        if self.store.merge_into_local(key, incoming) != before:
            self.outbox.count("ae_keys_repaired")
        return True

    def send_objects(self, peer: str, keys: list[str], want: list[str]) -> None:
        """Sends our objects for `keys` (from a random start, up to the caps) and `want`."""
        objs: list[list[Any]] = []
        size = 0
        for key in rotated(keys, self.rng.randrange(1 << 30)):
            obj = self.store.local(key)
            if not obj.siblings and not obj.clock:
                self.tree(self.placement.ring.partition_of(key)).discard(key)  # stale leaf
                continue
            data = versions.encode(obj)
            if objs and (len(objs) >= MAX_OBJECTS or size + len(data) > MAX_OBJECT_BYTES):
                break
            objs.append([key, data])
            size += len(data)
        self.outbox.count("ae_keys_sent", len(objs))
        self.outbox.count("ae_object_bytes_sent", size)
        if objs or want:
            self.send(peer, AeObjects(objs, want))

    def send(self, peer: str, msg: AeRoot | AeBuckets | AeKeys | AeObjects) -> None:
        """Sends one anti-entropy message, counting its size."""
        self.outbox.count("ae_bytes_sent", len(packb(msg.wire())))
        self.outbox.send(peer, msg)


# --- helpers ---------------------------------------------------------------


def rotated(items: Sequence[T], start: int) -> list[T]:
    """`items` starting at index `start` (mod len) and wrapping around: spreads what
    concurrent exchanges pick when a message cannot carry everything."""
    if not items:
        return []
    i = start % len(items)
    return [*items[i:], *items[:i]]
