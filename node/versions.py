"""Version vectors with dots: the causal bookkeeping of one key.

A `Versioned` object is a causal context (`clock`: actor -> (counter, ts_ms))
plus the live siblings, each tagged with the *dot* (actor, counter) of the put
that made it. This is the dotted causal container of Riak 2.x (DVV sets):

* Every sibling's dot is covered by its own object's clock (the invariant).
* `sync(a, b)` keeps a sibling iff one side holds it and no side has seen its
  dot without holding it (seen-and-dropped means superseded). It is
  commutative, associative and idempotent, and never drops a value the other
  side's clock does not cover.
* A put with context C at coordinator actor A keeps the local siblings that C
  does not cover, adds the new sibling with the fresh dot (A, n), and joins C
  into the clock. Two puts coordinated by the same actor get distinct dots, so
  they never collapse; a put supersedes exactly the siblings its context covers.

Soundness needs the coordinator to hold every live dot of its own actor for the
key, which is why the node replicates whole objects and takes a fresh actor id
per boot (see core.py). Truncation drops the oldest clock entries past a
threshold but never the entry of a live sibling's actor nor of a version the
put supersedes, and it is applied only by a coordinator's put, never on repair
paths. (An entry of a version superseded by an *earlier* put may still be
dropped later; a replica that missed that earlier put and all repair since
would then bring the version back as a sibling. A larger limit makes this
rarer; nothing local rules it out.)

Last-write-wins mode keeps one sibling: the greatest (timestamp, actor, counter).
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import msgpack

from node.protocol import packb

Clock = Mapping[str, tuple[int, int]]
"""actor -> (counter, timestamp_ms of the write that set the counter)."""


# Dot, Sibling and Versioned write out the `__init__`, `__eq__` and `__hash__` their
# dataclass would generate: mypyc compiles a written one, not a generated one (node/events.py).
# (Not Dot's `__eq__`: written, it comes with the `__lt__` that `order=True` must generate.)
@dataclass(frozen=True, slots=True, order=True)
class Dot:
    """One event: the `counter`-th write coordinated by `actor`."""

    actor: str
    counter: int

    def __init__(self, actor: str, counter: int) -> None:
        object.__setattr__(self, "actor", actor)
        object.__setattr__(self, "counter", counter)

    def __hash__(self) -> int:  # the generated one's value, written out: mypyc compiles it
        return hash((self.actor, self.counter))


@dataclass(frozen=True, slots=True)
class Sibling:
    """A live value and the dot of the put that wrote it."""

    dot: Dot
    value: bytes
    timestamp_ms: int

    def __init__(self, dot: Dot, value: bytes, timestamp_ms: int) -> None:
        object.__setattr__(self, "dot", dot)
        object.__setattr__(self, "value", value)
        object.__setattr__(self, "timestamp_ms", timestamp_ms)

    def __hash__(self) -> int:  # as the generated one
        return hash((self.dot, self.value, self.timestamp_ms))

    def __eq__(self, other: object) -> bool:  # as the generated one
        if other.__class__ is not self.__class__ or not isinstance(other, Sibling):
            return NotImplemented
        return (
            self.dot == other.dot
            and self.value == other.value
            and self.timestamp_ms == other.timestamp_ms
        )


@dataclass(frozen=True, slots=True)
class Versioned:
    """A key's causal context and live siblings (sorted by dot)."""

    clock: Clock
    siblings: tuple[Sibling, ...]

    def __init__(self, clock: Clock, siblings: tuple[Sibling, ...]) -> None:
        object.__setattr__(self, "clock", clock)
        object.__setattr__(self, "siblings", siblings)

    def __hash__(self) -> int:  # as the generated one (which fails: a clock is a dict)
        return hash((self.clock, self.siblings))

    def __eq__(self, other: object) -> bool:  # as the generated one
        if other is self:  # what the comparison below gives, at once: merges share objects
            return True
        if other.__class__ is not self.__class__ or not isinstance(other, Versioned):
            return NotImplemented
        return self.clock == other.clock and self.siblings == other.siblings

    @property
    def values(self) -> list[bytes]:
        return [s.value for s in self.siblings]


EMPTY: Final = Versioned({}, ())

# Dot order (actor, then counter) as plain tuples: Dot's generated __lt__ is a Python call.
_dot_key: Final = operator.attrgetter("actor", "counter")
_sibling_key: Final = operator.attrgetter("dot.actor", "dot.counter")


class VersionError(ValueError):
    """Bytes that do not decode to a context or an object."""


# --- clocks ---------------------------------------------------------------


def covers(clock: Clock, dot: Dot) -> bool:
    """True iff `clock` has seen `dot`."""
    entry = clock.get(dot.actor)
    return entry is not None and entry[0] >= dot.counter


def descends(a: Clock, b: Clock) -> bool:
    """True iff `a` has seen everything `b` has (a ≥ b). Reflexive and transitive."""
    for actor, (counter, _) in b.items():
        entry = a.get(actor)
        if entry is None or entry[0] < counter:
            return False
    return True


def dominates(a: Clock, b: Clock) -> bool:
    """True iff a > b strictly."""
    return descends(a, b) and not descends(b, a)


def concurrent(a: Clock, b: Clock) -> bool:
    """True iff neither clock descends the other."""
    return not descends(a, b) and not descends(b, a)


def merge(a: Clock, b: Clock) -> dict[str, tuple[int, int]]:
    """The per-actor maximum (ties on counter keep the larger timestamp).

    Commutative, associative and idempotent.
    """
    out: dict[str, Any] = dict(a)
    entries: Mapping[str, Any] = b  # entries as objects: mypyc would unbox and rebox each
    for actor, entry in entries.items():
        mine = out.get(actor)
        if mine is None or (entry is not mine and entry > mine):  # clocks share their entries
            out[actor] = entry
    return out


def truncate(
    clock: Clock, live: Iterable[Sibling], max_entries: int, protected: Iterable[str] = ()
) -> dict[str, tuple[int, int]]:
    """Drops the oldest entries (by timestamp, then actor) until at most `max_entries` remain.

    Never drops the entry of an actor that has a live sibling, so a live
    sibling's dot stays covered, nor of a `protected` actor; may keep more
    than `max_entries` for that.
    """
    out = dict(clock)
    if len(out) <= max_entries:
        return out
    keep = {s.dot.actor for s in live} | set(protected)
    droppable = sorted((entry[1], actor) for actor, entry in out.items() if actor not in keep)
    for _, actor in droppable[: len(out) - max_entries]:
        del out[actor]
    return out


# --- objects --------------------------------------------------------------


def sync(a: Versioned, b: Versioned) -> Versioned:
    """Merges two replicas' states of one key, dropping causally covered siblings."""
    if a is b or a == b:  # idempotent, and replicas in agreement are the common case
        return a
    if not b.clock and not b.siblings:  # nothing on one side (a get's fold starts so)
        return a
    if not a.clock and not a.siblings:
        return b
    if _absorbs(b, a):  # the common cases: one side is newer; it is the merge
        return b
    if _absorbs(a, b):
        return a
    merged = _merged(a, b)
    return b if merged == b else merged  # b itself, whose encoding may be known


def _merged(a: Versioned, b: Versioned) -> Versioned:
    """`sync(a, b)` built in full: the kept siblings, and the clocks joined."""
    a_dots = {s.dot for s in a.siblings}
    b_dots = {s.dot for s in b.siblings}
    keep: dict[Dot, Sibling] = {}
    for s in a.siblings:
        if s.dot in b_dots or not covers(b.clock, s.dot):
            keep[s.dot] = s
    for s in b.siblings:
        if s.dot in a_dots or not covers(a.clock, s.dot):
            keep.setdefault(s.dot, s)
    return Versioned(merge(a.clock, b.clock), tuple(keep[d] for d in sorted(keep, key=_dot_key)))


def _absorbs(b: Versioned, a: Versioned) -> bool:
    """True iff `sync(a, b)` equals `b`, found without building the merge: `b`'s clock
    is at or above `a`'s in every entry, `b` holds every sibling it shares with `a`
    (equal), and of the others, `b` has seen (and dropped) every one of `a`'s, and `a`
    has seen none of `b`'s. Walks both sibling lists in dot order; False if either is
    not strictly in dot order (then the general merge decides)."""
    bc, ac = b.clock, a.clock
    for actor, (counter, ts) in ac.items():  # ints compared: no tuple built
        theirs = bc.get(actor)
        if theirs is None or theirs[0] < counter or (theirs[0] == counter and theirs[1] < ts):
            return False
    sa, sb = a.siblings, b.siblings
    i, j, na, nb = 0, 0, len(sa), len(sb)
    while i < na or j < nb:
        if j == nb or (i < na and _before(sa[i].dot, sb[j].dot)):
            if not covers(bc, sa[i].dot):  # a sibling only `a` holds, not superseded by `b`
                return False
            i += 1
        elif i == na or _before(sb[j].dot, sa[i].dot):
            if covers(ac, sb[j].dot):  # a sibling `a` has seen and dropped
                return False
            j += 1
        else:  # the same dot on both sides: the merge keeps `a`'s sibling
            if sa[i] is not sb[j] and sa[i] != sb[j]:
                return False
            i += 1
            j += 1
    return _ordered(sa) and _ordered(sb)


def _before(x: Dot, y: Dot) -> bool:
    """Dot order (actor, then counter), without building the tuples."""
    return x.actor < y.actor or (x.actor == y.actor and x.counter < y.counter)


def _ordered(siblings: tuple[Sibling, ...]) -> bool:
    """True iff the siblings' dots are strictly increasing (distinct, in dot order)."""
    return all(_before(siblings[k - 1].dot, siblings[k].dot) for k in range(1, len(siblings)))


def next_dot(clock: Clock, actor: str) -> Dot:
    """The dot a put coordinated by `actor` takes on top of `clock`: one past its entry."""
    entry = clock.get(actor)
    return Dot(actor, (entry[0] if entry else 0) + 1)


def update(
    local: Versioned,
    context: Clock,
    value: bytes,
    actor: str,
    now_ms: int,
    max_entries: int = 32,
) -> Versioned:
    """The coordinator's put: supersedes exactly the local siblings `context` covers.

    The new sibling's dot is fresh for `actor`; siblings the context does not
    cover stay as concurrent siblings. Truncation keeps the entries of the live
    siblings and of every version this put supersedes (`superseded_actors`).
    """
    clock = merge(local.clock, context)
    dot = next_dot(clock, actor)
    new = Sibling(dot, value, now_ms)
    kept = [s for s in local.siblings if not covers(context, s.dot)]
    siblings = tuple(sorted([*kept, new], key=_sibling_key))
    clock[actor] = (dot.counter, now_ms)
    protected = superseded_actors(local, context)
    return Versioned(truncate(clock, siblings, max_entries, protected), siblings)


def superseded_actors(local: Versioned, context: Clock) -> set[str]:
    """Actors of the versions a put with `context` supersedes that replicas may still hold.

    Those are the local siblings the context covers, and the versions the
    client saw elsewhere: the entries where the context is ahead of the local
    clock. If the new object's clock dropped such an entry, a replica still
    holding that version would keep it when merging the new object (its dot
    no longer covered), and reads would return it next to its descendant.
    """
    out = {s.dot.actor for s in local.siblings if covers(context, s.dot)}
    for actor, (counter, _) in context.items():
        mine = local.clock.get(actor)
        if mine is None or mine[0] < counter:
            out.add(actor)
    return out


def lww_winner(siblings: Iterable[Sibling]) -> tuple[Sibling, ...]:
    """The one sibling with the greatest (timestamp, actor, counter), or none."""
    best = max(siblings, key=lambda s: (s.timestamp_ms, s.dot), default=None)
    return () if best is None else (best,)


def sync_lww(a: Versioned, b: Versioned) -> Versioned:
    """Last-write-wins merge: the wall-clock newest sibling survives, clocks join."""
    return Versioned(merge(a.clock, b.clock), lww_winner([*a.siblings, *b.siblings]))


def update_lww(local: Versioned, value: bytes, actor: str, now_ms: int) -> Versioned:
    """Last-write-wins put: the new value wins only if its timestamp is the newest."""
    dot = next_dot(local.clock, actor)
    clock = dict(local.clock)
    clock[actor] = (dot.counter, now_ms)
    return Versioned(clock, lww_winner([*local.siblings, Sibling(dot, value, now_ms)]))


# --- encodings ------------------------------------------------------------


def _clock_rows(clock: Clock) -> list[tuple[Any, ...]]:
    # Tuples pack as the lists they are read back as, and cost one allocation less; the
    # entries are read as objects, as mypyc would unbox them and box the ints again.
    entries: Mapping[str, Any] = clock
    rows = []
    for actor in sorted(entries):
        entry = entries[actor]
        rows.append((actor, entry[0], entry[1]))
    return rows


def _clock_from_rows(rows: Any) -> dict[str, tuple[int, int]]:
    if not isinstance(rows, list):
        raise VersionError("clock must be a list of [actor, counter, timestamp]")
    out: dict[str, tuple[int, int]] = {}
    for row in rows:
        if (
            not isinstance(row, list)
            or len(row) != 3
            or not isinstance(row[0], str)
            or type(row[1]) is not int
            or type(row[2]) is not int
            or row[1] < 1
        ):
            raise VersionError(f"bad clock entry {row!r}: want [actor, counter>=1, timestamp]")
        out[row[0]] = (row[1], row[2])
    return out


def encode_context(clock: Clock) -> bytes:
    """Canonical bytes for a causal context: equal clocks give equal bytes.

    Clocks encoded lately are remembered, by identity (clocks are values too, and each
    is held there), in a bounded memo: gets of a key that did not change answer with
    the same clock.
    """
    known = _contexts.get(id(clock))
    if known is not None and known[0] is clock:
        return known[1]
    data: bytes = packb(_clock_rows(clock))
    if len(_contexts) >= _MAX_DECODED:
        _contexts.clear()
    _contexts[id(clock)] = (clock, data)
    return data


_contexts: Final[dict[int, tuple[Clock, bytes]]] = {}


def decode_context(data: bytes) -> dict[str, tuple[int, int]]:
    """Parses `encode_context` output; raises VersionError on anything else."""
    if not data:
        return {}
    try:
        rows = msgpack.unpackb(data)  # raw=False: the default
    except Exception as e:  # noqa: BLE001 - msgpack raises several types
        raise VersionError(f"context is not valid msgpack: {e}") from None
    return _clock_from_rows(rows)


def encode(obj: Versioned) -> bytes:
    """Canonical bytes for an object (sorted clock, siblings in dot order).

    Objects encoded lately are remembered, by identity, in a bounded memo (objects
    are immutable, and each is held there, so its identity is not reused): a put
    encodes its new object to send it and again to persist it, and a replica's
    stored object is encoded again for every read of its key; only the first costs.
    """
    known = _encoded.get(id(obj))
    if known is not None and known[0] is obj:
        return known[1]
    sibs = [(s.dot.actor, s.dot.counter, s.timestamp_ms, s.value) for s in obj.siblings]
    data: bytes = packb([_clock_rows(obj.clock), sibs])
    _remember(obj, data)
    return data


def _remember(obj: Versioned, data: bytes) -> None:
    """Remembers `data` as the encoding of `obj`."""
    global _encoded_bytes
    if len(_encoded) >= _MAX_DECODED or _encoded_bytes + len(data) > _MAX_DECODED_BYTES:
        _encoded.clear()
        _encoded_bytes = 0
    _encoded[id(obj)] = (obj, data)
    _encoded_bytes += len(data)


_encoded: Final[dict[int, tuple[Versioned, bytes]]] = {}
_encoded_bytes = 0


def decode(data: bytes) -> Versioned:
    """Parses `encode` output; raises VersionError on anything else.

    Equal bytes give one shared object (objects are values: nothing changes one, or
    its clock, once built), from a bounded memo: a replica's stored object is read
    and decoded by every request for its key, and replicas in agreement send each
    other the same bytes.
    """
    global _decoded_bytes
    last = _last_of_size.get(len(data))
    if last is not None and last[0] == data:  # compared, not hashed: bytes off the wire are new
        return last[1]
    obj = _decoded.get(data)
    if obj is None:
        obj = _decode(data)
        if len(_decoded) >= _MAX_DECODED or _decoded_bytes + len(data) > _MAX_DECODED_BYTES:
            _decoded.clear()
            _last_of_size.clear()
            _decoded_bytes = 0
        _decoded[data] = obj
        _decoded_bytes += len(data)
    _last_of_size[len(data)] = (data, obj)
    return obj


_MAX_DECODED: Final = 4096
_MAX_DECODED_BYTES = 8 << 20
"""Bounds of the memo, in objects and in encoded bytes (values may be up to 1 MiB each)."""
_decoded: Final[dict[bytes, Versioned]] = {}
_decoded_bytes = 0
_last_of_size: Final[dict[int, tuple[bytes, Versioned]]] = {}
"""Per size, the bytes last decoded and their object: a replica's state is read again and
again, and comparing bytes costs less than hashing them. Holds only objects `_decoded`
holds (the two are cleared together), so it is bounded as that memo is."""


def forget() -> None:
    """Empties the codec's memos (`encode`, `decode`, `encode_context`): they only save
    work, so nothing changes but the memory they held. A finished simulation calls it, so
    the cyclic collector does not pass over objects of a cluster that is gone."""
    global _encoded_bytes, _decoded_bytes
    _contexts.clear()
    _encoded.clear()
    _decoded.clear()
    _last_of_size.clear()
    _encoded_bytes = _decoded_bytes = 0


def _decode(data: bytes) -> Versioned:
    try:
        top = msgpack.unpackb(data)  # raw=False: the default
    except Exception as e:  # noqa: BLE001
        raise VersionError(f"object is not valid msgpack: {e}") from None
    if not isinstance(top, list) or len(top) != 2 or not isinstance(top[1], list):
        raise VersionError("object must be [clock, siblings]")
    clock = _clock_from_rows(top[0])
    sibs = []
    for row in top[1]:
        if not (
            isinstance(row, list)
            and len(row) == 4
            and isinstance(row[0], str)
            and type(row[1]) is int
            and row[1] >= 1
            and type(row[2]) is int
            and isinstance(row[3], bytes)
        ):
            raise VersionError(f"bad sibling {row!r}: want [actor, counter>=1, ts, value]")
        sibs.append(Sibling(Dot(row[0], row[1]), row[3], row[2]))
    ordered = well_formed(clock, sibs)
    obj = Versioned(clock, ordered)
    if _canonical(top, sibs, ordered) and packb(top) == data:
        _remember(obj, data)  # canonical bytes (ours always are) need no encoding again
    return obj


def _canonical(top: list[Any], sibs: list[Sibling], ordered: tuple[Sibling, ...]) -> bool:
    """True iff the rows read (`top`) are in the order `encode` writes them: the clock's
    by strictly increasing actor, the siblings' as `well_formed` put them. Then `encode`
    packs the very values read, in their order, and bytes that `packb(top)` gives back
    (minimal encodings) are the object's encoding."""
    rows = top[0]
    for k in range(1, len(rows)):
        if not rows[k - 1][0] < rows[k][0]:
            return False
    return all(ordered[k] is sibs[k] for k in range(len(sibs)))  # `sorted` kept the order


def well_formed(clock: Clock, sibs: list[Sibling]) -> tuple[Sibling, ...]:
    """The siblings in dot order, if every dot is distinct and covered by `clock`.

    Every object this module builds keeps both; a foreign one that broke them
    would let a coordinator reissue a dot its clock does not cover: the new
    write and the old sibling then share a dot, and reads return one value
    twice or lose the acknowledged one (issue 16, reproduction 3).
    Raises VersionError otherwise.
    """
    ordered = tuple(sorted(sibs, key=_sibling_key))
    for prev, s in zip((None, *ordered), ordered):
        if prev is not None and prev.dot == s.dot:
            raise VersionError(f"two siblings share the dot {s.dot.actor}:{s.dot.counter}")
        if not covers(clock, s.dot):
            raise VersionError(f"sibling {s.dot.actor}:{s.dot.counter} is not in the clock")
    return ordered


def describe(obj: Versioned) -> dict[str, Any]:
    """A JSON-ready view for debugging: decoded clock and sibling dots."""
    return {
        "clock": {a: c for a, (c, _) in sorted(obj.clock.items())},
        "siblings": [
            {"dot": [s.dot.actor, s.dot.counter], "ts_ms": s.timestamp_ms, "size": len(s.value)}
            for s in obj.siblings
        ],
    }
