"""Consistent hashing: balance, distinct preference lists, minimal movement."""

from __future__ import annotations

from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from node import ring
from node.ring import Member, Ring, targets

FIVE = [Member(f"n{i}") for i in range(1, 6)]


def test_five_equal_nodes_each_own_20_percent_within_5_points() -> None:
    ring = Ring(FIVE, 64)
    for name, share in ring.share().items():
        assert abs(share - 0.20) <= 0.05, (name, share)


@given(st.text(min_size=0, max_size=40))
def test_preference_lists_have_n_distinct_physical_nodes(key: str) -> None:
    ring = Ring(FIVE, 64)
    pl = ring.preference_list(key, 3)
    assert len(pl) == 3 and len(set(pl)) == 3
    assert pl[0] == ring.owners[ring.partition_of(key)]


def test_every_partition_preference_list_is_distinct() -> None:
    ring = Ring(FIVE, 64)
    for p in range(64):
        walk = ring.walk(p)
        assert len(walk) == 5 and len(set(walk)) == 5


def test_adding_a_sixth_node_moves_about_a_sixth_only_to_it() -> None:
    before = Ring(FIVE, 64).owners
    after = Ring([*FIVE, Member("n6")], 64).owners
    moved = [p for p in range(64) if before[p] != after[p]]
    assert all(after[p] == "n6" for p in moved)
    assert abs(len(moved) - 64 / 6) <= 2, len(moved)


def test_weights_scale_shares() -> None:
    ring = Ring([Member("big", 3), Member("small", 1)], 64)
    assert Counter(ring.owners) == Counter({"big": 48, "small": 16})


@given(st.lists(st.integers(1, 4), min_size=1, max_size=8))
def test_targets_sum_to_partitions(weights: list[int]) -> None:
    members = [Member(f"m{i}", w) for i, w in enumerate(weights)]
    t = targets(members, 64)
    assert sum(t.values()) == 64
    assert Counter(Ring(members, 64).owners) == Counter({k: c for k, c in t.items() if c})


def test_ring_is_deterministic() -> None:
    assert Ring(FIVE, 64).owners == Ring(list(FIVE), 64).owners


def test_rings_of_one_membership_share_a_layout_equal_to_a_fresh_computation() -> None:
    first = Ring(FIVE, 64)
    assert Ring(list(FIVE), 64).owners is first.owners  # remembered, not recomputed
    ring._layouts.clear()
    fresh = Ring(FIVE, 64)
    assert fresh.owners == first.owners and fresh.owners is not first.owners
    assert [fresh.walk(p) for p in range(64)] == [first.walk(p) for p in range(64)]
    heavier = Ring([Member("n1", 2), *FIVE[1:]], 64)
    assert heavier.owners != first.owners  # another membership, another layout
