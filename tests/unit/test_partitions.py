"""Partition shapes are pure functions of the node list and a seeded rng."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.partitions import (
    SHAPES,
    Shape,
    bridge,
    cut_between,
    cut_for,
    halves,
    isolate_one,
    majorities_ring,
    one_way,
    sorted_links,
    visible,
)

#: Node counts, fewest first so failures shrink to the smallest cluster.
counts = st.integers(min_value=3, max_value=9)
seeds = st.integers(min_value=0, max_value=2**32 - 1)


def names(n: int) -> list[str]:
    return [f"n{i + 1}" for i in range(n)]


def all_links(nodes: list[str]) -> set[tuple[str, str]]:
    return {(a, b) for a in nodes for b in nodes if a != b}


def groups(nodes: list[str], cut: frozenset[tuple[str, str]]) -> set[frozenset[str]]:
    """The distinct sets of nodes each node can talk with both ways."""
    return set(visible(nodes, cut).values())


def majority(n: int) -> int:
    return n // 2 + 1


@settings(max_examples=60, deadline=None)
@given(n=counts, seed=seeds, shape=st.sampled_from(list(Shape)))
def test_every_shape_is_pure_and_cuts_only_links_between_listed_nodes(
    n: int, seed: int, shape: Shape
) -> None:
    nodes = names(n)
    if shape is Shape.MAJORITIES_RING and n < 4:
        with pytest.raises(ValueError, match="at least 4 nodes"):
            cut_for(shape, nodes, random.Random(seed))
        return
    cut = cut_for(shape, nodes, random.Random(seed))
    assert cut == cut_for(shape, nodes, random.Random(seed))  # same seed, same cut
    assert cut == cut_for(shape, list(reversed(nodes)), random.Random(seed))  # order-free
    assert cut and cut <= all_links(nodes)


@given(n=counts, seed=seeds)
def test_halves_splits_into_two_groups_with_every_cross_link_cut_both_ways(
    n: int, seed: int
) -> None:
    nodes = names(n)
    cut = halves(nodes, random.Random(seed))
    sides = groups(nodes, cut)
    assert len(sides) == 2
    small, big = sorted(sides, key=len)
    assert len(small) == n // 2 and small | big == set(nodes) and not small & big
    assert cut == cut_between(small, big)
    assert all((b, a) in cut for a, b in cut)


@given(n=counts, seed=seeds)
def test_isolate_one_cuts_one_node_off_both_ways(n: int, seed: int) -> None:
    nodes = names(n)
    cut = isolate_one(nodes, random.Random(seed))
    (alone,) = [a for a, seen in visible(nodes, cut).items() if seen == {a}]
    others = set(nodes) - {alone}
    assert cut == {(alone, b) for b in others} | {(b, alone) for b in others}


@given(n=st.integers(min_value=4, max_value=9), seed=seeds)
def test_majorities_ring_every_node_sees_a_majority_and_no_two_the_same(n: int, seed: int) -> None:
    nodes = names(n)
    seen = visible(nodes, majorities_ring(nodes, random.Random(seed)))
    assert all(len(s) >= majority(n) for s in seen.values())
    assert len(set(seen.values())) == n
    assert all(a in s for a, s in seen.items())


def test_majorities_ring_on_five_nodes_is_the_classic_ring() -> None:
    nodes = names(5)
    cut = majorities_ring(nodes, random.Random(1))
    seen = visible(nodes, cut)
    assert all(len(s) == 3 for s in seen.values())  # itself and its two ring neighbours
    assert len(cut) == 5 * 2  # each node stops talking to the two nodes across the ring
    assert all((b, a) in cut for a, b in cut)


def test_majorities_ring_refuses_three_nodes() -> None:
    with pytest.raises(ValueError, match="majorities-ring.*at least 4"):
        majorities_ring(names(3), random.Random(0))


@given(n=counts, seed=seeds)
def test_bridge_keeps_one_node_connected_to_both_halves(n: int, seed: int) -> None:
    nodes = names(n)
    cut = bridge(nodes, random.Random(seed))
    seen = visible(nodes, cut)
    (hub,) = [a for a, s in seen.items() if s == set(nodes)]
    left, right = {frozenset(seen[a] - {hub}) for a in nodes if a != hub}
    assert not left & right and left | right == set(nodes) - {hub}
    assert abs(len(left) - len(right)) <= 1
    assert cut == cut_between(left, right)


@given(n=counts, seed=seeds)
def test_one_way_cuts_only_one_direction(n: int, seed: int) -> None:
    nodes = names(n)
    cut = one_way(nodes, random.Random(seed))
    sources, targets = {a for a, _ in cut}, {b for _, b in cut}
    assert not sources & targets and sources | targets == set(nodes)
    assert len(sources) == n // 2
    assert cut == {(a, b) for a in sources for b in targets}
    assert not any((b, a) in cut for a, b in cut)


def test_unknown_shape_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match="unknown partition shape 'triangle'.*halves"):
        cut_for("triangle", names(5), random.Random(0))


def test_too_few_nodes_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="'bridge' needs at least 3 nodes"):
        bridge(["n1", "n2"], random.Random(0))


def test_shapes_table_covers_every_shape_and_links_serialise_sorted() -> None:
    assert set(SHAPES) == set(Shape)
    assert sorted_links({("n2", "n1"), ("n1", "n2")}) == [["n1", "n2"], ["n2", "n1"]]
