"""Merkle trees over one partition's keys: what two replicas compare to find what differs.

A tree holds one *leaf digest* per key: `leaf_hash` of the key and the
canonical bytes of its object (`versions.encode`: sorted clock, siblings in
dot order), so the digest changes whenever a sibling, a dot or a clock entry
does. Keys fall into `BUCKETS` buckets by a hash of the key alone, so a key
lands in the same bucket on every replica whatever its value. A bucket's hash
covers its (key, digest) pairs in key order; the root covers the bucket hashes
in bucket order.

The invariant (up to hash collisions): two trees have equal roots iff they hold
the same keys with the same digests, and a bucket's hashes are equal iff the
two buckets hold the same pairs. So two replicas compare roots, then the
bucket hashes of differing trees, then the digests of differing buckets, and
find exactly the keys whose states differ (`differing_keys`).

Updates are O(1): they mark the key's bucket dirty, and the next read of a
bucket hash or of the root rehashes only the dirty buckets. Everything here is
pure and deterministic; no iteration order depends on set or string hashing.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Final, cast

DIGEST_BYTES: Final = 16
"""Size of every digest (leaf, bucket, root): BLAKE2b truncated to 128 bits."""

BUCKETS: Final = 64
"""Buckets per tree; the same on every replica (a mismatch is refused, not guessed)."""


def _hash(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=DIGEST_BYTES).digest()


@functools.lru_cache(maxsize=4096)  # bounded; a key is framed at every change to it
def _framed(key: str) -> bytes:
    raw = key.encode("utf-8")
    return len(raw).to_bytes(4, "big") + raw


def leaf_hash(key: str, data: bytes) -> bytes:
    """The digest of one key's replica state: covers the key and `data`, the object's
    canonical bytes (`versions.encode`). Equal digests mean equal (key, data).

    A named step, so an intercept can replace it (tests/intercepts/ae_keys_only.py).
    """
    return _hash(_framed(key) + data)


@functools.lru_cache(maxsize=4096)  # bounded: every change to a key finds its bucket again
def bucket_of(key: str, buckets: int = BUCKETS) -> int:
    """The bucket of `key`: a function of the key alone, the same on every replica."""
    digest = hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % buckets


EMPTY_BUCKET: Final = _hash(b"")


@functools.lru_cache(maxsize=8)
def _empty_root(buckets: int) -> bytes:
    """The root of a tree of `buckets` empty buckets (as `MerkleTree.root` computes it)."""
    return _hash(EMPTY_BUCKET * buckets)


class MerkleTree:
    """The leaf digests of one partition's keys, bucketed, with cached bucket hashes and root."""

    def __init__(self, buckets: int = BUCKETS) -> None:
        if buckets < 1:
            raise ValueError(f"a tree needs at least one bucket, got {buckets}")
        self.buckets = buckets
        self._leaves: dict[int, dict[str, bytes]] = {}  # by bucket, made when first set
        self._hashes: list[bytes | None] = [EMPTY_BUCKET] * buckets
        self._root: bytes | None = _empty_root(buckets)  # a node makes a tree per partition

    @classmethod
    def build(cls, items: Iterable[tuple[str, bytes]], buckets: int = BUCKETS) -> MerkleTree:
        """A tree holding exactly `items` (key, leaf digest); a later pair for a key wins."""
        tree = cls(buckets)
        for key, digest in items:
            tree.set(key, digest)
        return tree

    def set(self, key: str, digest: bytes) -> None:
        """Makes `digest` the leaf of `key` (adding the key if new)."""
        b = bucket_of(key, self.buckets)
        leaves = self._leaves.get(b)
        if leaves is None:
            leaves = self._leaves[b] = {}
        if leaves.get(key) != digest:
            leaves[key] = digest
            self._hashes[b] = None
            self._root = None

    def discard(self, key: str) -> None:
        """Removes `key` if present."""
        b = bucket_of(key, self.buckets)
        leaves = self._leaves.get(b)
        if leaves is not None and leaves.pop(key, None) is not None:
            self._hashes[b] = None
            self._root = None

    def digest(self, key: str) -> bytes | None:
        """The leaf digest of `key`, or None if the tree does not hold it."""
        leaves = self._leaves.get(bucket_of(key, self.buckets))
        return None if leaves is None else leaves.get(key)

    def __len__(self) -> int:
        return sum(len(leaves) for leaves in self._leaves.values())

    def bucket_hash(self, b: int) -> bytes:
        """The hash of bucket `b`: over its (key, digest) pairs in key order."""
        h = self._hashes[b]
        if h is None:
            parts = [_framed(k) + d for k, d in sorted(self._leaves.get(b, {}).items())]
            h = self._hashes[b] = _hash(b"".join(parts))
        return h

    def bucket_hashes(self) -> list[bytes]:
        """Every bucket's hash, in bucket order."""
        hashes = self._hashes
        if None in hashes:  # rehash only the dirty buckets (a root covers all of them)
            for b, h in enumerate(hashes):
                if h is None:
                    self.bucket_hash(b)
        return cast(list[bytes], list(hashes))  # no None left: hashed just above

    def root(self) -> bytes:
        """The root: over the bucket hashes in bucket order. Equal roots iff equal contents."""
        if self._root is None:
            self._root = _hash(b"".join(self.bucket_hashes()))
        return self._root

    def bucket_items(
        self, b: int, lo: str | None = None, hi: str | None = None
    ) -> list[tuple[str, bytes]]:
        """Bucket `b`'s (key, digest) pairs with lo <= key < hi (None: unbounded), by key."""
        items = sorted(self._leaves.get(b, {}).items())
        return [(k, d) for k, d in items if (lo is None or k >= lo) and (hi is None or k < hi)]


def differing_buckets(mine: Sequence[bytes], theirs: Sequence[bytes]) -> list[int]:
    """The buckets whose hashes differ, ascending; both lists must have the same length."""
    if len(mine) != len(theirs):
        raise ValueError(f"bucket counts differ: {len(mine)} here, {len(theirs)} there")
    return [b for b, (x, y) in enumerate(zip(mine, theirs, strict=True)) if x != y]


def differing_keys(
    mine: Mapping[str, bytes], theirs: Mapping[str, bytes]
) -> tuple[list[str], list[str]]:
    """Compares two replicas' digests of the same key range.

    Returns (give, take), each sorted: `give` are the keys this side holds and
    the other lacks or holds in another state; `take` are the keys the other
    side holds and this side lacks or holds in another state. A key in both
    states differently is in both lists; keys with equal digests are in neither.
    """
    give = sorted(k for k, d in mine.items() if theirs.get(k) != d)
    take = sorted(k for k, d in theirs.items() if mine.get(k) != d)
    return give, take


def slice_items(
    items: Sequence[tuple[str, bytes]], limit: int, index: int
) -> tuple[str | None, str | None, list[tuple[str, bytes]]]:
    """Chunk `index` (mod the chunk count) of sorted `items` cut into chunks of `limit`.

    Returns (lo, hi, chunk): the chunk covers exactly the keys lo <= key < hi
    (None: unbounded), and the chunks' ranges tile the whole key space, so a
    peer comparing the same range sees every key it holds in it. With at most
    `limit` items the one chunk is (None, None, items).
    """
    if limit < 1:
        raise ValueError(f"limit must be positive, got {limit}")
    chunks = max(1, -(-len(items) // limit))
    i = index % chunks
    chunk = list(items[i * limit : (i + 1) * limit])
    lo = None if i == 0 else chunk[0][0]
    hi = None if i == chunks - 1 else items[(i + 1) * limit][0]
    return lo, hi, chunk
