"""The membership history: join/leave events whose merge defines the ring.

The history is a set of `Change` events, at most one per (member, version): a
join or a leave, stamped with a Lamport sequence number `seq` (one more than any seq its
author knew) and the member's weight. Two events with the same (member,
version) resolve to the greater (leave beats join, then higher seq, then
weight), so `merge` is a union that is commutative, associative and
idempotent: nodes that have seen the same events hold the same history. A
member's state is its highest-version event; the ring is the members whose
state is a join, in join order (seq, then name). A member whose state is a
leave is a tombstone: stale gossip carries only older versions, so it cannot
revive it; only an explicit join (a higher version) can. A leave that would
take the ring below N members is void (`effective`), so concurrent leaves
cannot empty it.

Everything here is a pure function of its arguments; gossiping, persisting and
applying the history is node/membership.py's job.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from node.config import NodeConfig
from node.ring import Member


class Kind(enum.Enum):
    JOIN = "join"
    LEAVE = "leave"


_RANK: Final = {Kind.JOIN: 0, Kind.LEAVE: 1}
_KINDS: Final = {k.value: k for k in Kind}
"""A kind by its wire value (`Kind(value)` runs the Enum machinery as Python)."""


@dataclass(frozen=True, slots=True)  # `__init__` written out: mypyc compiles it (node/events.py)
class Change:
    """`name`'s `version`-th membership change, made at Lamport time `seq`."""

    seq: int
    name: str
    version: int
    kind: Kind
    weight: int = 1

    def __init__(self, seq: int, name: str, version: int, kind: Kind, weight: int = 1) -> None:
        object.__setattr__(self, "seq", seq)
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "version", version)
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "weight", weight)

    def rank(self) -> tuple[int, int, int]:
        """Of two changes with the same (name, version), the greater rank wins."""
        return (_RANK[self.kind], self.seq, self.weight)

    def encode(self) -> list[Any]:
        return [self.seq, self.name, self.version, self.kind.value, self.weight]


History = Mapping[tuple[str, int], Change]


def merge(history: History, events: Iterable[Change]) -> dict[tuple[str, int], Change]:
    """The union of `history` and `events`, the greater-ranked change per (name, version)."""
    out = dict(history)
    for e in events:
        old = out.get((e.name, e.version))
        if old is None or e.rank() > old.rank():
            out[(e.name, e.version)] = e
    return out


def ordered(history: History) -> list[Change]:
    """The history as a log: by (seq, name, version), the same on every node."""
    return sorted(history.values(), key=lambda e: (e.seq, e.name, e.version))


def states(history: History) -> dict[str, Change]:
    """Each name's current state: its highest-version change."""
    out: dict[str, Change] = {}
    for e in history.values():
        if e.name not in out or e.version > out[e.name].version:
            out[e.name] = e
    return out


def effective(history: History, floor: int = 1) -> dict[str, Change]:
    """Each name's state once the leaves that would shrink the ring below `floor` are void.

    The history is replayed as its log (`ordered`): a change replaces its name's
    state if its version is higher; a leave that would leave fewer than `floor`
    members is void (its member stays; a later, higher version still applies).
    The log order is the same on every node, so nodes that hold the same
    history void the same leaves, whatever order they learned them in:
    concurrent leaves can never take the ring below `floor` (the node passes
    its N, a cluster-wide setting).
    """
    out: dict[str, Change] = {}
    live = 0
    for e in ordered(history):
        current = out.get(e.name)
        if current is not None and current.version >= e.version:
            continue
        was_live = current is not None and current.kind is Kind.JOIN
        if e.kind is Kind.LEAVE and was_live and live - 1 < floor:
            continue  # void: this member stays
        out[e.name] = e
        live += (e.kind is Kind.JOIN) - was_live
    return out


def members(history: History, floor: int = 1) -> list[Member]:
    """The live members in join order (seq of their current join, then name)."""
    live = [e for e in effective(history, floor).values() if e.kind is Kind.JOIN]
    return [Member(e.name, e.weight) for e in sorted(live, key=lambda e: (e.seq, e.name))]


def tombstones(history: History, floor: int = 1) -> list[str]:
    """Names whose current state is a leave, sorted."""
    return sorted(n for n, e in effective(history, floor).items() if e.kind is Kind.LEAVE)


def next_change(history: History, name: str, kind: Kind, weight: int = 1) -> Change:
    """A new change for `name`: its next version, ordered after every seq in `history`."""
    current = states(history).get(name)
    seq = max((e.seq for e in history.values()), default=0) + 1
    return Change(seq, name, current.version + 1 if current else 1, kind, weight)


def bootstrap(cfg: NodeConfig) -> list[Change]:
    """Joins for the configured members, seq by config order; none if this node joins via a seed.

    Nodes that share a config agree on the ring at once. A config that lists existing
    members in another order than the cluster's history reorders the ring when merged
    (the higher seq wins), which moves more data: add nodes through a seed instead."""
    if len(cfg.members) == 1 and seeds_elsewhere(cfg):
        return []
    return [Change(i + 1, p.name, 1, Kind.JOIN, p.weight) for i, p in enumerate(cfg.members)]


def seeds_elsewhere(cfg: NodeConfig) -> bool:
    """Whether any configured seed is another node."""
    me = f"{cfg.host}:{cfg.port}"
    return any(s not in (cfg.name, me) for s in cfg.seeds)


def decode_changes(raw: Any) -> list[Change]:
    """Changes from their wire form; raises ValueError (only) saying what is malformed."""
    if not isinstance(raw, list):
        raise ValueError("history must be a list")
    out = []
    for item in raw:
        if not (isinstance(item, list) and len(item) == 5):
            raise ValueError(f"malformed history event {item!r}")
        seq, name, version, kind, weight = item
        ok = (
            is_int_at_least(seq, 0)
            and is_int_at_least(version, 1)
            and is_int_at_least(weight, 1)
            and isinstance(kind, str)  # hashable, then
            and kind in _KINDS
        )
        if not (ok and isinstance(name, str) and name):
            raise ValueError(f"malformed history event {item!r}")
        out.append(Change(seq, name, version, _KINDS[kind], weight))
    return out


def is_int_at_least(v: Any, lo: int) -> bool:
    """Whether `v` is an int (not a bool) of at least `lo`."""
    return isinstance(v, int) and not isinstance(v, bool) and v >= lo
