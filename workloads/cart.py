"""The shopping cart: add and remove unique item ids on a few carts (and `set`: adds only).

An add is get → union the siblings → add the item → put with the context, so
concurrent adds leave siblings that the next add reconciles. Every stored
version names the put that made it (docs/history.md), which lets the causality
checker rebuild the version graph. An acknowledged add must never be lost.
"""

from __future__ import annotations

import bisect
import itertools
import json
import random
import weakref
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from json.encoder import encode_basestring_ascii
from typing import Any

from mypy_extensions import mypyc_attr

from checkers import causality, convergence, lost_adds, staleness
from checkers.history import OpType
from node.client import NodeError
from workloads.base import Checker, Completion, KVClient, OpSpec, b64, node_error, read_op


def decode_version(raw: bytes) -> dict[str, Any]:
    """A stored cart version as JSON; undecodable bytes become a visible marker."""
    try:
        v = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return {"put": None, "items": [], "undecodable": raw.hex()[:64]}
    return v if isinstance(v, dict) else {"put": None, "items": [], "undecodable": repr(v)}


def item_texts(items: list[Any]) -> list[str] | None:
    """Each item's JSON text, if every item is an exact int (else None)."""
    texts: list[str] = []
    for i in items:
        if type(i) is not int:  # a bool (json: true/false), a float, ...
            return None
        texts.append(str(i))  # int.__repr__, as json writes an int
    return texts


def encode_version(put: Any, items: list[Any], texts: list[str] | None) -> bytes:
    """`json.dumps({"put": put, "items": items}).encode()`, the same bytes; faster given
    `texts`, which must be `item_texts(items)`.

    The items' decimal text is most of the cost, and an add reads the one version its
    put replaces: the cart works out the new version's texts from the old one's."""
    if texts is None or type(put) is not str:
        return json.dumps({"put": put, "items": items}).encode()
    # json.dumps' default separators (", ", ": ") and ensure_ascii string escaping
    return f'{{"put": {encode_basestring_ascii(put)}, "items": [{", ".join(texts)}]}}'.encode()


def union(versions: list[dict[str, Any]]) -> set[int]:
    """The Dynamo cart reconciliation: every item of every sibling."""
    out: set[int] = set()
    for v in versions:
        items = v.get("items", [])
        try:
            got = set(items)  # built in C: a cart holds hundreds of items
        except TypeError:  # something unhashable among them: filter one by one
            got = {i for i in items if isinstance(i, int)}
        else:
            if not set(map(type, got)) <= _INT_TYPES:
                got = {i for i in got if isinstance(i, int)}
        out |= got
    return out


def merged(versions: list[dict[str, Any]], item: Any, remove: bool) -> list[Any]:
    """`sorted(union(versions))` with `item` added (or removed): the items of the next put.

    With one version whose items are ascending ints (as this workload writes them), that
    is its own list with `item` put in (or taken out) in place, without a set or a sort."""
    if len(versions) == 1 and type(item) is int:
        items = versions[0].get("items")
        if type(items) is list and _ascending_ints(items):
            out = list(items)
            at = bisect.bisect_left(out, item)
            present = at < len(out) and out[at] == item
            if remove and present:
                del out[at]
            elif not remove and not present:
                out.insert(at, item)
            return out
    got: set[Any] = union(versions)
    if remove:
        got.discard(item)
    else:
        got.add(item)
    return sorted(got)


def _ascending_ints(items: list[Any]) -> bool:
    """Whether every item is an int (not a bool), each greater than the one before."""
    prev: int | None = None
    for i in items:
        if type(i) is not int or (prev is not None and i <= prev):
            return False
        prev = i
    return True


_MAX_VERSIONS = 1024
"""Bound of a cart's memo of decoded versions (values grow to a few KiB)."""
_INT_TYPES = {int, bool}
"""Types that pass `isinstance(i, int)` without a check per item (json.loads gives no others)."""


@dataclass
class _Stream:
    """One op stream's own state: what it added (and may remove), and its put counter."""

    removable: dict[str, list[int]]
    seq: Iterator[int] = field(default_factory=lambda: itertools.count(1))


@mypyc_attr(allow_interpreted_subclasses=True)  # compiled (native), and tests subclass it
class Cart:
    """Adds (and some removes) of unique items on `carts` keys.

    Each op stream (one per client slot, identified by the rng it is given) is a
    function of that rng alone, not of timing: item ids and put names are
    drawn from it (53 random bits: unique with overwhelming probability), and a
    remove picks an item the same stream added before, acknowledged or not (a
    remove of an add that failed removes nothing; the checkers settle it).
    """

    name = "cart"

    def __init__(
        self, carts: int = 5, remove_ratio: float = 0.1, read_ratio: float = 0.2,
        blind_ratio: float = 0.0, zipf: bool = False,
    ) -> None:  # fmt: skip
        self._keys = [f"cart-{i}" for i in range(carts)]
        self.remove_ratio = remove_ratio
        self.read_ratio = read_ratio
        self.blind_ratio = blind_ratio
        # Zipf (s = 1): key i is chosen with weight 1 / (i + 1), so a few keys are hot.
        self._cum_weights = list(itertools.accumulate(1 / (i + 1) for i in range(carts)))
        self.zipf = zipf
        self._old_reads: dict[str, tuple[bytes, list[dict[str, Any]]]] = {}
        self._versions: dict[bytes, dict[str, Any]] = {}
        """Sibling bytes an add read or wrote lately, decoded (bounded). Only adds share
        them, and only read them; a read op records a copy (`_fresh`) in the history."""
        self._texts: dict[bytes, list[str]] = {}
        """`item_texts` of the versions this cart wrote (their bytes in `_versions`)."""
        self._streams: weakref.WeakKeyDictionary[random.Random, _Stream] = (
            weakref.WeakKeyDictionary()
        )

    def keys(self) -> list[str]:
        return list(self._keys)

    def next_op(self, rng: random.Random, process: int) -> OpSpec:
        """A read, an add of a fresh item (blind: without reading first, with
        probability `blind_ratio`), or the remove of an item this stream added."""
        stream = self._streams.get(rng)
        if stream is None:
            stream = self._streams[rng] = _Stream({k: [] for k in self._keys})
        if self.zipf:
            key = rng.choices(self._keys, cum_weights=self._cum_weights)[0]
        else:
            key = rng.choice(self._keys)
        if rng.random() < self.read_ratio:
            return OpSpec("read", key)
        removable = stream.removable[key]
        put = {"put": f"p{rng.getrandbits(32):08x}-{next(stream.seq)}"}
        if removable and rng.random() < self.remove_ratio:
            return OpSpec("remove", key, removable.pop(rng.randrange(len(removable))), put)
        item = rng.getrandbits(53)
        removable.append(item)
        if self.blind_ratio and rng.random() < self.blind_ratio:
            put["blind"] = rng.choice(("none", "stale"))  # no context, or an old one
        return OpSpec("add", key, item, put)

    async def apply(
        self, client: KVClient, spec: OpSpec, process: int, learned: dict[str, Any]
    ) -> Completion:
        if spec.f == "read":
            return await self.read(client, spec.key)
        if spec.extra.get("blind"):
            context, read, node = self._blind_context(spec.key, spec.extra["blind"])
            raws: list[bytes] = []
        else:
            try:
                got = await client.get(spec.key)
            except NodeError as e:
                return Completion(OpType.FAIL, {"error": node_error(e, "get")})
            raws = got.siblings
            context, read, node = got.context, [self._version(s) for s in raws], got.node
            self._old_reads[spec.key] = (context, read)
        item = spec.value
        put_id = spec.extra["put"]
        items, texts = self._merged(raws, read, item, spec.f == "remove")
        version = {"put": put_id, "items": items}
        value = encode_version(put_id, items, texts)
        self._remember(value, version)  # what decode_version(value) gives: the next add reads it
        if texts is not None:
            self._texts[value] = texts
        fields = {"value": item, "put": put_id, "parents": [v.get("put") for v in read],
                  "context": b64(context), "node": node}  # fmt: skip
        learned.update(fields)
        try:
            await client.put(spec.key, value, context)
        except NodeError as e:
            return Completion(OpType.FAIL, {**fields, "error": node_error(e, "put")})
        return Completion(OpType.OK, fields)

    def _merged(
        self, raws: list[bytes], read: list[dict[str, Any]], item: Any, remove: bool
    ) -> tuple[list[Any], list[str] | None]:
        """`merged(read, item, remove)` and its `item_texts`. When the one version read
        was written by this cart (so its items are ascending ints, their texts known),
        both are its own with `item` put in or taken out at its sorted place."""
        old = self._texts.get(raws[0]) if len(raws) == 1 and type(item) is int else None
        if old is None:
            items = merged(read, item, remove)
            return items, item_texts(items)
        items = list(read[0]["items"])
        at = bisect.bisect_left(items, item)
        present = at < len(items) and items[at] == item
        if remove and present:
            del items[at]
            return items, [*old[:at], *old[at + 1 :]]
        if not remove and not present:
            items.insert(at, item)
            return items, [*old[:at], str(item), *old[at:]]
        return items, old

    def _version(self, raw: bytes) -> dict[str, Any]:
        """`decode_version(raw)`, remembered: replicas return one version to many adds."""
        v = self._versions.get(raw)
        if v is None:
            v = self._remember(raw, decode_version(raw))
        return v

    def _remember(self, raw: bytes, version: dict[str, Any]) -> dict[str, Any]:
        if len(self._versions) >= _MAX_VERSIONS:
            self._versions.clear()
            self._texts.clear()
        self._versions[raw] = version
        return version

    def _fresh(self, raw: bytes) -> dict[str, Any]:
        """`decode_version(raw)` as a new object (a read records it in the history): a copy
        of the remembered one when it holds only a put id and ints, else a decoding."""
        v = self._version(raw)
        items = v.get("items")
        put = v.get("put")
        if len(v) == 2 and type(items) is list and (put is None or type(put) is str):
            if all(type(i) is int for i in items):
                return {"put": put, "items": list(items)}
        return decode_version(raw)

    def _blind_context(self, key: str, how: str) -> tuple[bytes, list[dict[str, Any]], str | None]:
        """A blind put's context: none at all, or ("stale") the last one any process
        read for the key, which later puts may have superseded; with the versions
        that context covers."""
        if how == "stale":
            context, read = self._old_reads.get(key, (b"", []))
            return context, read, None
        return b"", [], None

    async def read(self, client: KVClient, key: str) -> Completion:
        """A get, recorded with the decoded siblings and the context."""
        return (await read_op(client, key, self._fresh))[0]

    async def final_read(self, client: KVClient, key: str) -> Completion:
        done = await self.read(client, key)
        done.fields["final"] = True
        return done

    def checkers(self, opts: Mapping[str, Any]) -> dict[str, Checker]:
        limit = float(opts.get("time_limit_s", 60.0))
        return {
            "lost_adds": lambda h: lost_adds.check(h, time_limit_s=limit),
            "causality": lambda h: causality.check(h, time_limit_s=limit),
            "convergence": lambda h: convergence.check(
                h, time_limit_s=limit, replicas_per_key=opts.get("n")
            ),
            "staleness": lambda h: staleness.check(h, time_limit_s=limit),
        }


class SetWorkload(Cart):
    """Add-only: every element is added once and must stay."""

    name = "set"

    def __init__(self, carts: int = 5, blind_ratio: float = 0.0, zipf: bool = False) -> None:
        super().__init__(carts, remove_ratio=0.0, blind_ratio=blind_ratio, zipf=zipf)
