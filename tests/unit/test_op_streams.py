"""A client's op stream is a function of its seed alone (not of timing or other clients)."""

from __future__ import annotations

import random

import pytest

from workloads import WORKLOADS
from workloads.base import OpSpec


def streams(workload: str, order: list[int]) -> dict[int, list[OpSpec]]:
    """Draws ops for slots 0..2 in the given interleaving, each slot from its own seeded rng."""
    w = WORKLOADS[workload]()
    rngs = {slot: random.Random(f"42/{slot}") for slot in range(3)}
    out: dict[int, list[OpSpec]] = {slot: [] for slot in rngs}
    for slot in order:
        out[slot].append(w.next_op(rngs[slot], slot))
    return out


@pytest.mark.parametrize("workload", sorted(WORKLOADS))
def test_interleaving_does_not_change_any_stream(workload: str) -> None:
    rr = [0, 1, 2] * 60
    batched = [0] * 60 + [2] * 60 + [1] * 60
    assert streams(workload, rr) == streams(workload, batched)


def test_cart_streams_remove_only_their_own_adds() -> None:
    ops = streams("cart", [0, 1, 2] * 200)
    removes = [op for ops_ in ops.values() for op in ops_ if op.f == "remove"]
    assert removes
    for slot, stream in ops.items():
        added = set()
        for op in stream:
            if op.f == "add":
                added.add(op.value)
            elif op.f == "remove":
                assert op.value in added, (slot, op)
