"""Gossip membership: an explicit join/leave history, merged by gossip, defines the ring.

The history is a set of `Change` events, at most one per (member, version): a
join or a leave, stamped with a Lamport sequence number `seq` (one more than any seq its
author knew) and the member's weight. Two events with the same (member,
version) resolve to the greater (leave beats join, then higher seq, then
weight), so `merge` is a union that is commutative, associative and
idempotent: nodes that have seen the same events hold the same history. A
member's state is its highest-version event; the ring is the members whose
state is a join, in join order (seq, then name). A member whose state is a
leave is a tombstone: stale gossip carries only older versions, so it cannot
revive it; only an explicit join (a higher version) can. The history is
persisted with `storage.meta_put` before it takes effect.

Every gossip round a node pushes its history to one random live member, and
every `seed_interval_ms` to a seed; the receiver merges it and answers with
its own (push-pull). Messages carry each node's self-reported listen address,
so a node that knows one seed learns everyone; addresses in the local config's
members table win (they may be fault proxies). A node whose config names only
itself plus seeds other than itself asks a seed to add it (`join_req`) until a
seed confirms.

Failure detection is local: a member that does not acknowledge gossip within
`request_timeout_ms` is marked down (routed around); core re-probes down peers
with pings, and any answer brings it back into use.

Each round also moves a bounded batch of data to new owners (see ownership.py).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import msgpack

from node.config import NodeConfig, parse_addr
from node.ownership import Mover
from node.protocol import Message, error
from node.ring import Member

if TYPE_CHECKING:
    from node.coordinator import Origin
    from node.core import Node

SEED_ALIAS = "seed@"
"""Prefix of the peer name used for a seed known only by address."""
META_KEY = "membership"


class Kind(enum.Enum):
    JOIN = "join"
    LEAVE = "leave"


_RANK = {Kind.JOIN: 0, Kind.LEAVE: 1}


@dataclass(frozen=True, slots=True)
class Change:
    """`name`'s `version`-th membership change, made at Lamport time `seq`."""

    seq: int
    name: str
    version: int
    kind: Kind
    weight: int = 1

    def rank(self) -> tuple[int, int, int]:
        """Of two changes with the same (name, version), the greater rank wins."""
        return (_RANK[self.kind], self.seq, self.weight)

    def encode(self) -> list[Any]:
        return [self.seq, self.name, self.version, self.kind.value, self.weight]


History = Mapping[tuple[str, int], Change]
Addrs = Mapping[str, tuple[int, str]]
"""name -> (stamp, "host:port") as the node itself reported it; the higher stamp wins."""


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


def members(history: History) -> list[Member]:
    """The live members in join order (seq of their current join, then name)."""
    live = [e for e in states(history).values() if e.kind is Kind.JOIN]
    return [Member(e.name, e.weight) for e in sorted(live, key=lambda e: (e.seq, e.name))]


def tombstones(history: History) -> list[str]:
    """Names whose current state is a leave, sorted."""
    return sorted(n for n, e in states(history).items() if e.kind is Kind.LEAVE)


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
        ok = _pos(seq, 0) and _pos(version, 1) and _pos(weight, 1) and kind in ("join", "leave")
        if not (ok and isinstance(name, str) and name):
            raise ValueError(f"malformed history event {item!r}")
        out.append(Change(seq, name, version, Kind(kind), weight))
    return out


def decode_addrs(raw: Any) -> dict[str, tuple[int, str]]:
    """Addresses from their wire form; raises ValueError saying what is malformed."""
    if not isinstance(raw, dict):
        raise ValueError("addrs must be a map")
    out = {}
    for name, entry in raw.items():
        ok = isinstance(name, str) and isinstance(entry, list) and len(entry) == 2
        if not ok or not _pos(entry[0], 0):
            raise ValueError(f"malformed address entry {name!r}: {entry!r}")
        parse_addr(entry[1], f"address of {name}")
        out[name] = (entry[0], entry[1])
    return out


def merge_addrs(a: Addrs, b: Addrs) -> dict[str, tuple[int, str]]:
    """Per name, the entry with the higher (stamp, address)."""
    out = dict(a)
    for name, entry in b.items():
        if name not in out or entry > out[name]:
            out[name] = entry
    return out


def _pos(v: Any, lo: int) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= lo


class Membership:
    """This node's history, addresses, gossip rounds, failure detector and data mover."""

    def __init__(self, node: Node) -> None:
        self.node = node
        cfg = node.cfg
        self.me = f"{cfg.host}:{cfg.port}"
        self.weight = next(p.weight for p in cfg.members if p.name == cfg.name)
        self.configured = {p.name: (p.host, p.port) for p in cfg.members}
        self.history: dict[tuple[str, int], Change] = {}
        self.addrs: dict[str, tuple[int, str]] = {}
        self.seeds = list(cfg.seeds)
        self.joining = False
        self.rejoin = False
        self.last_seed_mono = float("-inf")
        self.awaiting: dict[int, tuple[str, int]] = {}
        self.mover = Mover(node)

    def start(self) -> None:
        """Restores the persisted history, merges the config's, and arms the gossip rounds."""
        node = self.node
        self.history, self.addrs = self.load()
        self.apply()
        self.mover.watch()  # local data was placed under the ring persisted last
        boot = int(node.storage.meta_get("boot") or b"0")
        boot_events = bootstrap(node.cfg)
        self.joining = not boot_events and not any(n == node.name for n, _ in self.history)
        self.absorb(boot_events, {node.name: (boot, self.me)})
        node.every(node.cfg.gossip_interval_ms / 1000, self.gossip_round)

    # --- state --------------------------------------------------------------

    def load(self) -> tuple[dict[tuple[str, int], Change], dict[str, tuple[int, str]]]:
        raw = self.node.storage.meta_get(META_KEY)
        if raw is None:
            return {}, {}
        try:
            body = msgpack.unpackb(raw, raw=False)
            return merge({}, decode_changes(body["history"])), decode_addrs(body["addrs"])
        except (ValueError, KeyError, TypeError) as e:
            self.node.log("error", f"stored membership unreadable ({e}); starting from the config")
            return {}, {}

    def digest(self) -> Message:
        """The gossip payload: the whole history and every known self-reported address."""
        return {
            "history": [e.encode() for e in ordered(self.history)],
            "addrs": {n: list(a) for n, a in sorted(self.addrs.items())},
        }

    def absorb(self, events: Iterable[Change], addrs: Addrs) -> bool:
        """Merges events and addresses; persists, then rebuilds the ring, if anything changed."""
        history, known = merge(self.history, events), merge_addrs(self.addrs, addrs)
        if history == self.history and known == self.addrs:
            return False
        self.history, self.addrs = history, known
        self.node.storage.meta_put(META_KEY, msgpack.packb(self.digest(), use_bin_type=True))
        self.apply()
        return True

    def absorb_message(self, peer: str, msg: Message) -> bool:
        """Merges a peer's gossip payload; a malformed one is logged and ignored."""
        try:
            events = decode_changes(msg.get("history", []))
            addrs = decode_addrs(msg.get("addrs", {}))
        except ValueError as e:
            self.node.log("error", f"dropped malformed gossip from {peer}: {e}")
            return False
        return self.absorb(events, addrs)

    def apply(self) -> None:
        live = members(self.history)
        if live:
            self.node.set_members(live)

    def state_of(self, name: str) -> Kind | None:
        current = states(self.history).get(name)
        return current.kind if current else None

    def address_of(self, name: str) -> tuple[str, int] | None:
        """How this node reaches `name`: its config entry, else its gossiped address."""
        if name in self.configured:
            return self.configured[name]
        text = self.addrs[name][1] if name in self.addrs else None
        if text is None and name.startswith(SEED_ALIAS):
            text = name[len(SEED_ALIAS) :]
        return None if text is None else parse_addr(text, f"address of {name}")

    # --- gossip -------------------------------------------------------------

    def gossip_round(self) -> None:
        """One round: join via a seed, or gossip with a random live member (and a seed if due)."""
        node = self.node
        for alias in [d for d in node.down if d.startswith(SEED_ALIAS)]:
            node.down.discard(alias)
        if self.joining:
            self.ask_to_join()
        else:
            peers = self.live_peers()
            if peers:
                self.gossip_to(node.rng.choice(peers))
            due = node.now.mono - self.last_seed_mono >= node.cfg.seed_interval_ms / 1000
            seeds = self.seed_peers()
            if seeds and (due or not peers):
                self.last_seed_mono = node.now.mono
                self.gossip_to(node.rng.choice(seeds))
        self.mover.step()

    def live_peers(self) -> list[str]:
        node = self.node
        names = (m.name for m in node.ring.members)
        return [n for n in names if n != node.name and n not in node.down and self.address_of(n)]

    def seed_peers(self) -> list[str]:
        """Peer names of the seeds other than this node (an alias for an unknown address)."""
        by_addr = {a: n for n, (_, a) in self.addrs.items()}
        by_addr.update({f"{h}:{p}": n for n, (h, p) in self.configured.items()})
        out = set()
        for seed in self.seeds:
            peer = seed if seed in self.configured else by_addr.get(seed, SEED_ALIAS + seed)
            if peer != self.node.name and seed != self.me:
                out.add(peer)
        return sorted(out)

    def gossip_to(self, peer: str, t: str = "gossip", **extra: Any) -> None:
        """Sends our digest; no acknowledgement within the request timeout marks `peer` down."""
        node = self.node
        gid = node.new_id()
        timer = node.after(node.cfg.request_timeout_ms / 1000, lambda: self.unanswered(gid))
        self.awaiting[gid] = (peer, timer)
        node.send(peer, {"t": t, "id": gid, **self.digest(), **extra})

    def ask_to_join(self) -> None:
        seeds = self.seed_peers()
        if seeds:
            peer = self.node.rng.choice(seeds)
            self.gossip_to(peer, "join_req", weight=self.weight, rejoin=self.rejoin)

    def unanswered(self, gid: int) -> None:
        peer, _ = self.awaiting.pop(gid, ("", 0))
        if peer in {m.name for m in self.node.ring.members}:
            self.node.count("gossip_unanswered")
            self.node.mark_down(peer)

    def acknowledged(self, peer: str, gid: Any) -> None:
        """A gossip reply proves the round trip works: `peer` is usable again."""
        entry = self.awaiting.pop(gid, None) if isinstance(gid, int) else None
        if entry is not None:
            self.node.cancel(entry[1])
        self.node.mark_up(peer)

    def admit(self, peer: str, weight: int, rejoin: bool) -> str:
        """Adds `peer` as a member at a seed's request: "joined", "refused" or "not_member"."""
        if self.state_of(self.node.name) is not Kind.JOIN:
            return "not_member"  # only a member can admit others
        state = self.state_of(peer)
        if state is Kind.LEAVE and not rejoin:
            self.node.log("warning", f"{peer} asked to join but was removed; refusing")
            return "refused"
        if state is not Kind.JOIN:
            self.absorb([next_change(self.history, peer, Kind.JOIN, weight)], {})
            self.node.log("info", f"{peer} joined through this node")
        return "joined"


# --- peer messages ------------------------------------------------------------


def peer_gossip(node: Node, peer: str, msg: Message) -> None:
    """Merges the sender's history and answers with ours (push-pull)."""
    node.membership.absorb_message(peer, msg)
    node.send(peer, {"t": "gossip_ack", "id": msg.get("id"), **node.membership.digest()})


def peer_gossip_ack(node: Node, peer: str, msg: Message) -> None:
    m = node.membership
    m.acknowledged(peer, msg.get("id"))
    m.absorb_message(peer, msg)
    outcome = msg.get("join")
    if m.joining and outcome in ("joined", "refused"):
        m.joining = False
        level = "info" if outcome == "joined" else "error"
        node.log(level, f"join through {peer}: {outcome}")


def peer_join_req(node: Node, peer: str, msg: Message) -> None:
    """A node asks to become a member; a member adds it (unless it was removed)."""
    m = node.membership
    m.absorb_message(peer, {"addrs": msg.get("addrs", {})})  # its history comes by gossip
    weight = msg.get("weight", 1)
    weight = weight if _pos(weight, 1) else 1
    outcome = m.admit(peer, weight, msg.get("rejoin") is True)
    node.send(peer, {"t": "gossip_ack", "id": msg.get("id"), "join": outcome, **m.digest()})


# --- client requests ----------------------------------------------------------


def client_join(node: Node, origin: Origin, msg: Message) -> None:
    """{"seed": "host:port"}: this node joins through that seed (a removed node rejoins).
    {"node": name, "addr": "host:port"?, "weight": w?}: this node adds `name` as a member."""
    m, rid = node.membership, msg.get("id")
    seed, name, addr, weight = msg.get("seed"), msg.get("node"), msg.get("addr"), msg.get("weight")
    try:
        for field, text in (("seed", seed), ("addr", addr)):
            if text is not None and parse_addr(text, f"field {field!r}") == (
                node.cfg.host,
                node.cfg.port,
            ):
                raise ValueError(f"field {field!r} is this node's own address {text!r}")
    except ValueError as e:
        origin.answer(error(rid, "bad_request", str(e)))
        return
    if isinstance(seed, str):
        if seed not in m.seeds:
            m.seeds.append(seed)
        m.joining = m.rejoin = True
        m.ask_to_join()
    elif isinstance(name, str) and name and (weight is None or _pos(weight, 1)):
        if m.state_of(name) is not Kind.JOIN:
            known = {name: (0, addr)} if isinstance(addr, str) else {}
            m.absorb([next_change(m.history, name, Kind.JOIN, weight or 1)], known)
    else:
        why = "join needs 'seed' (\"host:port\") or 'node' (a name) with an optional 'addr'"
        origin.answer(error(rid, "bad_request", why + " and a positive integer 'weight'"))
        return
    client_members(node, origin, msg)


def client_leave(node: Node, origin: Origin, msg: Message) -> None:
    """{"node": name?}: `name` (default this node) leaves; it is tombstoned everywhere."""
    m, name = node.membership, msg.get("node") or node.name
    live = [x.name for x in members(m.history)]
    if name not in live:
        origin.answer(error(msg.get("id"), "not_member", f"{name!r} is not a member: {live}"))
    elif live == [name]:
        origin.answer(error(msg.get("id"), "bad_request", f"{name!r} is the last member"))
    else:
        m.absorb([next_change(m.history, name, Kind.LEAVE)], {})
        client_members(node, origin, msg)


def client_members(node: Node, origin: Origin, msg: Message) -> None:
    """This node's view: members in join order, tombstones, history length, join progress."""
    m = node.membership
    origin.answer(
        {
            "t": "ok",
            "node": node.name,
            "members": [x.name for x in members(m.history)],
            "tombstones": tombstones(m.history),
            "history_length": len(m.history),
            "joining": m.joining,
            "moving": len(m.mover.pending),
            "addresses": {n: a for n, (_, a) in sorted(m.addrs.items())},
        }
    )


PEER_HANDLERS: dict[str, Callable[[Node, str, Message], None]] = {
    "gossip": peer_gossip,
    "gossip_ack": peer_gossip_ack,
    "join_req": peer_join_req,
}
CLIENT_HANDLERS: dict[str, Callable[[Node, Origin, Message], None]] = {
    "join": client_join,
    "leave": client_leave,
    "members": client_members,
}
