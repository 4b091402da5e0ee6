"""The cart's shortcuts: `merged` (the in-place path for one version) gives exactly what
the set union and a sort give, `encode_version` the bytes `json.dumps` gives, and a read
records a fresh decoding, whatever the bytes."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from workloads.cart import Cart, decode_version, encode_version, merged, union

ITEM = st.one_of(st.integers(-5, 40), st.booleans(), st.text(max_size=2))
VERSION = st.one_of(
    st.lists(st.integers(-5, 40), unique=True).map(sorted),  # as the workload writes them
    st.lists(ITEM, max_size=8),  # anything a faulty node might hand back
).map(lambda items: {"put": "p", "items": items})


def _by_set(versions: list[dict[str, Any]], item: Any, remove: bool) -> list[Any]:
    """The reference: the items of every version as a set, with `item` in or out, sorted."""
    items: set[Any] = union(versions)
    return sorted(items - {item} if remove else items | {item})


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


@settings(max_examples=300, deadline=None)
@given(put=st.one_of(st.text(max_size=6), st.none(), st.integers()),
       items=st.one_of(st.lists(st.integers(-(2**60), 2**60), max_size=6),
                       st.lists(st.one_of(ITEM, st.floats()), max_size=6)))  # fmt: skip
def test_encode_version_gives_the_bytes_json_dumps_gives(put: Any, items: list[Any]) -> None:
    """Whatever the put id and the items (unicode, quotes, bools, floats, big ints), and
    with the item texts remembered from before or not."""
    texts: dict[int, str] = {}
    want = json.dumps({"put": put, "items": items}).encode()
    assert encode_version(put, items, texts) == want
    assert encode_version(put, items, texts) == want  # the texts now remembered
    assert all(texts[i] == json.dumps(i) for i in texts)


@settings(max_examples=100, deadline=None)
@given(raw=st.one_of(
    st.lists(st.integers(-(2**53), 2**53), unique=True).map(
        lambda items: json.dumps({"put": "p1", "items": sorted(items)}).encode()),
    st.binary(max_size=20),
    st.builds(lambda v: json.dumps(v).encode(), st.dictionaries(st.text(max_size=3), ITEM)),
))  # fmt: skip
def test_a_read_records_a_fresh_decoding_whatever_the_bytes(raw: bytes) -> None:
    """A read records what `decode_version` gives, as new objects, even when the add that
    wrote the bytes (or an earlier read) left a decoding in the cart's memo."""
    cart = Cart()
    first, again = cart._fresh(raw), cart._fresh(raw)
    assert first == again == decode_version(raw)
    assert (
        first is not again
        and first.get("items") is not again.get("items")
        or (first.get("items") is None)
    )
