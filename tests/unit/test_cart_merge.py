"""The cart's shortcuts: `merged` (the in-place path for one version) gives exactly what
the set union and a sort give, `encode_version` the bytes `json.dumps` gives, and a read
records a fresh decoding, whatever the bytes."""

from __future__ import annotations

import json
import random
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from node.client import GetResult
from node.sim.clients import Scheduler, SimClient
from node.sim.cluster import Simulator
from workloads.base import OpSpec
from workloads.cart import Cart, decode_version, encode_version, item_texts, merged, union

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
    """Whatever the put id and the items (unicode, quotes, bools, floats, big ints)."""
    texts = item_texts(items)
    assert texts is None or texts == [json.dumps(i) for i in items]
    assert encode_version(put, items, texts) == json.dumps({"put": put, "items": items}).encode()


class _Checking:
    """A KVClient that passes every call to a simulated node's client, and checks each
    value put against `json.dumps` of the version the op should write: the items of the
    siblings its get read (decoded anew), with its item added or removed."""

    def __init__(self, node: str) -> None:
        self.client, self.op, self.puts = SimClient(node), OpSpec("", ""), 0
        self.read: list[dict[str, Any]] = []

    async def get(self, key: str) -> GetResult:
        got = await self.client.get(key)
        self.read = [decode_version(s) for s in got.siblings]
        return got

    async def put(self, key: str, value: bytes, context: bytes = b"") -> None:
        items = merged(self.read, self.op.value, self.op.f == "remove")
        assert value == json.dumps({"put": self.op.extra["put"], "items": items}).encode()
        self.puts += 1
        await self.client.put(key, value, context)


async def _ops(cart: Cart, client: _Checking, seed: int, count: int) -> None:
    rng = random.Random(seed)
    for _ in range(count):
        client.op = cart.next_op(rng, seed)
        try:
            await cart.apply(client, client.op, seed, {})
        except TimeoutError:
            pass


def test_the_values_a_cart_writes_are_what_json_dumps_gives() -> None:
    """Adds and removes by three clients on two carts of the simulated cluster (so some
    adds read siblings), each value's item texts worked out from those of the version
    its add read: each value is byte for byte what `json.dumps` makes of its version."""
    sim, cart = Simulator(5), Cart(carts=2, remove_ratio=0.3)
    clients = [_Checking(node) for node in ("n1", "n2", "n3")]
    sched = Scheduler(sim)
    for seed, client in enumerate(clients):
        sched.spawn(_ops(cart, client, seed, 150))
    sched.run()
    assert sum(c.puts for c in clients) > 300
    assert max(len(v["items"]) for c in clients for v in c.read) > 50


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
