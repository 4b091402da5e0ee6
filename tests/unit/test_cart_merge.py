"""The cart's next items: `merged` (the in-place path for one version) gives exactly what
the set union and a sort give, whatever the versions hold."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from workloads.cart import merged, union

ITEM = st.one_of(st.integers(-5, 40), st.booleans(), st.text(max_size=2))
VERSION = st.one_of(
    st.lists(st.integers(-5, 40), unique=True).map(sorted),  # as the workload writes them
    st.lists(ITEM, max_size=8),  # anything a faulty node might hand back
).map(lambda items: {"put": "p", "items": items})


def _by_set(versions: list[dict[str, Any]], item: Any, remove: bool) -> list[Any]:
    got: set[Any] = union(versions)
    if remove:
        got.discard(item)
    else:
        got.add(item)
    return sorted(got)


@settings(max_examples=300, deadline=None)
@given(versions=st.lists(VERSION, min_size=0, max_size=3), item=st.integers(-5, 40),
       remove=st.booleans())  # fmt: skip
def test_merged_is_the_sorted_union_with_the_item_added_or_removed(
    versions: list[dict[str, Any]], item: int, remove: bool
) -> None:
    want = _by_set(versions, item, remove)
    got = merged(versions, item, remove)
    assert got == want and [type(i) for i in got] == [type(i) for i in want]


def test_merged_leaves_the_version_it_read_unchanged() -> None:
    version = {"put": "p", "items": [1, 5, 9]}
    assert merged([version], 3, False) == [1, 3, 5, 9]
    assert merged([version], 5, True) == [1, 9]
    assert merged([version], 7, True) == [1, 5, 9]
    assert version["items"] == [1, 5, 9]
