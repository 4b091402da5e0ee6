"""Version algebra: properties of clocks, sync, put and truncation."""

from __future__ import annotations

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from node import versions as v
from node.versions import Dot, Sibling, Versioned

ACTORS = ["a", "b", "c", "d"]

clocks = st.dictionaries(
    st.sampled_from(ACTORS),
    st.tuples(st.integers(1, 6), st.integers(0, 5)),
    max_size=4,
)


@st.composite
def objects(draw: st.DrawFn) -> Versioned:
    """A valid object: every sibling's dot is covered by the object's own clock."""
    clock = draw(clocks)
    dots = sorted({Dot(a, c) for a, (n, _) in clock.items() for c in range(1, n + 1)})
    chosen = draw(st.lists(st.sampled_from(dots), unique=True, max_size=3)) if dots else []
    sibs = tuple(sorted((Sibling(d, f"{d.actor}{d.counter}".encode(), 0) for d in chosen),
                        key=lambda s: s.dot))  # fmt: skip
    return Versioned(clock, sibs)


@given(clocks, clocks)
def test_merge_is_commutative(a: v.Clock, b: v.Clock) -> None:
    assert v.merge(a, b) == v.merge(b, a)


@given(clocks, clocks, clocks)
def test_merge_is_associative(a: v.Clock, b: v.Clock, c: v.Clock) -> None:
    assert v.merge(v.merge(a, b), c) == v.merge(a, v.merge(b, c))


@given(clocks)
def test_merge_is_idempotent(a: v.Clock) -> None:
    assert v.merge(a, a) == dict(a)


@given(clocks)
def test_descends_is_reflexive(a: v.Clock) -> None:
    assert v.descends(a, a)
    assert not v.dominates(a, a)


@given(clocks, clocks, clocks)
def test_descends_is_transitive(a: v.Clock, b: v.Clock, c: v.Clock) -> None:
    if v.descends(a, b) and v.descends(b, c):
        assert v.descends(a, c)


@given(clocks, clocks)
def test_merge_descends_both(a: v.Clock, b: v.Clock) -> None:
    m = v.merge(a, b)
    assert v.descends(m, a) and v.descends(m, b)


@given(objects(), objects())
def test_sync_is_commutative(a: Versioned, b: Versioned) -> None:
    assert v.sync(a, b) == v.sync(b, a)


@given(objects(), objects(), objects())
def test_sync_is_associative(a: Versioned, b: Versioned, c: Versioned) -> None:
    assert v.sync(v.sync(a, b), c) == v.sync(a, v.sync(b, c))


@given(objects())
def test_sync_is_idempotent(a: Versioned) -> None:
    assert v.sync(a, a) == a


@given(objects(), objects())
def test_sync_never_drops_a_value_the_other_clock_does_not_cover(
    a: Versioned, b: Versioned
) -> None:
    merged = {s.dot for s in v.sync(a, b).siblings}
    for s in a.siblings:
        if not v.covers(b.clock, s.dot):
            assert s.dot in merged
    for s in b.siblings:
        if not v.covers(a.clock, s.dot):
            assert s.dot in merged


def test_concurrent_puts_by_one_coordinator_stay_siblings() -> None:
    first = v.update(v.EMPTY, {}, b"x", "n1", 1)
    second = v.update(first, {}, b"y", "n1", 2)
    assert second.values == [b"x", b"y"]
    assert first.siblings[0].dot != second.siblings[1].dot


@given(objects(), st.data())
def test_put_supersedes_exactly_the_siblings_its_context_covers(
    local: Versioned, data: st.DataObject
) -> None:
    seen = (
        data.draw(st.lists(st.sampled_from(local.siblings), unique=True)) if local.siblings else []
    )
    context: dict[str, tuple[int, int]] = {}
    for s in seen:
        context = v.merge(context, {s.dot.actor: (s.dot.counter, 0)})
    out = v.update(local, context, b"new", "z", 9)
    kept = {s.dot for s in out.siblings} - {Dot("z", 1)}
    expected = {s.dot for s in local.siblings if not v.covers(context, s.dot)}
    assert kept == expected
    assert v.covers(out.clock, Dot("z", 1))


@given(objects(), st.integers(1, 4))
def test_truncation_never_removes_a_live_siblings_dot(obj: Versioned, limit: int) -> None:
    clock = v.truncate(obj.clock, obj.siblings, limit)
    for s in obj.siblings:
        assert v.covers(clock, s.dot)
    protected = {s.dot.actor for s in obj.siblings}
    assert len(clock) <= max(limit, len(protected))


def test_truncation_drops_oldest_first() -> None:
    clock = {"a": (1, 30), "b": (1, 10), "c": (1, 20)}
    assert set(v.truncate(clock, [], 2)) == {"a", "c"}


@given(objects())
def test_encoding_round_trips(obj: Versioned) -> None:
    assert v.decode(v.encode(obj)) == obj
    assert v.decode_context(v.encode_context(obj.clock)) == dict(obj.clock)


def test_lww_keeps_the_newest_wall_clock_write() -> None:
    a = v.update_lww(v.EMPTY, b"old", "n1", 100)
    b = v.update_lww(v.EMPTY, b"skewed", "n2", 50)  # written later by a node whose clock lags
    assert v.sync_lww(a, b).values == [b"old"]


def test_decode_refuses_malformed_sibling_rows() -> None:
    for row in ([1, 1, 0, b"v"], ["a", 0, 0, b"v"], ["a", 1, "ts", b"v"], ["a", 1, 0, "v"]):
        with pytest.raises(v.VersionError):
            v.decode(msgpack.packb([[["a", 1, 0]], [row]], use_bin_type=True))


def test_equal_bytes_decode_to_one_shared_object_and_the_memo_stays_bounded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = v.encode(v.update(v.EMPTY, {}, b"value", "n1", 5))
    first = v.decode(data)
    assert v.decode(bytes(bytearray(data))) is first  # equal bytes, another object
    monkeypatch.setattr(v, "_MAX_DECODED_BYTES", 4 * len(data))
    for i in range(20):
        obj = v.update(v.EMPTY, {}, b"value%d" % i, "n1", 5)
        assert v.decode(v.encode(obj)) == obj
        assert v._decoded_bytes <= 4 * len(data) + 8
    assert len(v._decoded) <= 4
    assert len(v._last_of_size) <= len(v._decoded)  # cleared with the memo


def test_bytes_of_one_size_decode_by_comparison_to_the_right_object() -> None:
    a, b = (v.update(v.EMPTY, {}, value, "n1", 5) for value in (b"aaaa", b"bbbb"))
    data_a, data_b = v.encode(a), v.encode(b)
    assert len(data_a) == len(data_b)
    for data, want in ((data_a, a), (data_b, b), (data_a, a), (data_a, a), (data_b, b)):
        assert v.decode(bytes(bytearray(data))) == want


def test_encode_remembers_objects_by_identity_within_its_bound(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    objs = [v.update(v.EMPTY, {}, b"value%d" % i, "n1", 5) for i in range(20)]
    fresh = [msgpack.packb([[["n1", 1, 5]], [["n1", 1, 5, o.values[0]]]], use_bin_type=True)
             for o in objs]  # fmt: skip
    monkeypatch.setattr(v, "_MAX_DECODED_BYTES", 4 * len(fresh[0]))
    for obj, want in zip(objs, fresh, strict=True):
        assert v.encode(obj) == want and v.encode(obj) is v.encode(obj)  # the second remembered
        assert v._encoded_bytes <= 4 * len(fresh[0]) + 8
    assert len(v._encoded) <= 4
    equal = v.Versioned(dict(objs[0].clock), objs[0].siblings)  # equal, not the same object
    assert v.encode(equal) == fresh[0]


def test_malformed_bytes_are_refused_every_time_not_remembered() -> None:
    bad = msgpack.packb([[["a", 1, 0]], [["a", 2, 0, b"v"]]], use_bin_type=True)  # not covered
    for _ in range(2):
        with pytest.raises(v.VersionError, match="not in the clock"):
            v.decode(bad)


@st.composite
def related(draw: st.DrawFn) -> tuple[Versioned, Versioned]:
    """Two objects of one key as replicas hold them: often one the other's descendant
    (a put or a merge on top of it), sometimes concurrent, sometimes unrelated."""
    a = draw(objects())
    b = a
    for _ in range(draw(st.integers(0, 3))):
        if draw(st.booleans()):
            context = dict(b.clock) if draw(st.booleans()) else draw(clocks)
            b = v.update(b, context, draw(st.binary(max_size=2)), draw(st.sampled_from(ACTORS)), 9)
        else:
            b = v.sync(b, draw(objects()))
    return (a, b) if draw(st.booleans()) else (b, a)


@given(related())
def test_sync_shortcuts_give_the_full_merge(pair: tuple[Versioned, Versioned]) -> None:
    a, b = pair
    assert v.sync(a, b) == v._merged(a, b)
    assert v.sync(b, a) == v._merged(b, a)


@given(objects(), objects())
def test_sync_of_unrelated_objects_gives_the_full_merge(a: Versioned, b: Versioned) -> None:
    assert v.sync(a, b) == v._merged(a, b)


def test_sync_shares_the_newer_side_itself() -> None:
    old = v.update(v.EMPTY, {}, b"x", "n1", 1)
    new = v.update(old, dict(old.clock), b"y", "n2", 2)
    assert v.sync(old, new) is new and v.sync(new, old) is new
    unsorted = Versioned(dict(new.clock), tuple(reversed(v.sync(old, v.update(
        v.EMPTY, {}, b"z", "n3", 3)).siblings)))  # fmt: skip
    assert v.sync(old, unsorted) == v._merged(old, unsorted)  # not trusted to be in order


def test_decoded_canonical_bytes_are_the_objects_encoding() -> None:
    obj = v.update(v.EMPTY, {}, b"canonical", "n1", 5)
    data = bytes(bytearray(v.encode(obj)))  # the same bytes, as a peer's message carries them
    v._decoded.clear()
    v._last_of_size.clear()
    assert v.encode(v.decode(data)) is data
    # the counter as a uint16 (msgpack picks a fixint): valid, but not canonical
    narrow = msgpack.packb([[["n1", 1, 5]], [["n1", 1, 5, b"wide"]]], use_bin_type=True)
    wide = narrow.replace(b"\xa2n1\x01\x05\xc4", b"\xa2n1\xcd\x00\x01\x05\xc4")
    assert wide != narrow
    decoded = v.decode(wide)
    assert decoded.values == [b"wide"] and v.encode(decoded) != wide
    assert v.decode(v.encode(decoded)) == decoded
    clock = [["n1", 1, 5], ["n2", 1, 6]]
    sibs = [["n1", 1, 5, b"x"], ["n2", 1, 6, b"y"]]
    for top in ([clock[::-1], sibs], [clock, sibs[::-1]], [[*clock, clock[1]], sibs]):
        data = msgpack.packb(top, use_bin_type=True)  # valid, not in encode's order
        decoded = v.decode(data)
        assert v.encode(decoded) == msgpack.packb([clock, sibs], use_bin_type=True) != data
