"""Gossip membership: the protocol that spreads the join/leave history and defines the ring.

The history itself (`Change` events and their merge rules, the ring they define)
is node/membership_history.py; its names stay importable from here. This module
keeps a node's copy of it: the history is persisted with `storage.meta_put`
before it takes effect.

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

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import msgpack

from node.config import parse_addr
from node.membership_history import Change as Change
from node.membership_history import History as History
from node.membership_history import Kind as Kind
from node.membership_history import bootstrap as bootstrap
from node.membership_history import decode_changes as decode_changes
from node.membership_history import is_int_at_least
from node.membership_history import members as members
from node.membership_history import merge as merge
from node.membership_history import next_change as next_change
from node.membership_history import ordered as ordered
from node.membership_history import seeds_elsewhere as seeds_elsewhere
from node.membership_history import states as states
from node.membership_history import tombstones as tombstones
from node.ownership import Mover
from node.protocol import Message, error

if TYPE_CHECKING:
    from node.coordinator import Origin
    from node.core import Node

SEED_ALIAS = "seed@"
"""Prefix of the peer name used for a seed known only by address."""
META_KEY = "membership"


Addrs = Mapping[str, tuple[int, str]]
"""name -> (stamp, "host:port") as the node itself reported it; the higher stamp wins."""


def decode_addrs(raw: Any) -> dict[str, tuple[int, str]]:
    """Addresses from their wire form; raises ValueError saying what is malformed."""
    if not isinstance(raw, dict):
        raise ValueError("addrs must be a map")
    out = {}
    for name, entry in raw.items():
        ok = isinstance(name, str) and isinstance(entry, list) and len(entry) == 2
        if not ok or not is_int_at_least(entry[0], 0):
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


class Membership:
    """This node's history, addresses, gossip rounds, failure detector and data mover."""

    def __init__(self, node: Node) -> None:
        self.node = node
        cfg = node.cfg
        self.me = f"{cfg.host}:{cfg.port}"
        self.weight = next(p.weight for p in cfg.members if p.name == cfg.name)
        self.configured = {p.name: (p.host, p.port) for p in (*cfg.routes, *cfg.members)}
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
    weight = weight if is_int_at_least(weight, 1) else 1
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
    elif isinstance(name, str) and name and (weight is None or is_int_at_least(weight, 1)):
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
