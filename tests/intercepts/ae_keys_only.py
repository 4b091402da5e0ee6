"""Planted bug: the anti-entropy leaf digest covers only the key, not its siblings and clocks.

Replicas that hold the same keys in different states then build equal Merkle
trees, so anti-entropy never notices that a replica lacks a sibling written
while it was down. Caught by tests/quality/test_planted_ae_keys_only.py.
"""

from node import merkle

_leaf_hash = merkle.leaf_hash


def _key_only(key: str, data: bytes) -> bytes:
    return _leaf_hash(key, b"")


merkle.leaf_hash = _key_only
