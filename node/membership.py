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

import random
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import msgpack

from node.config import NodeConfig, parse_addr
from node.health import Health
from node.membership_history import Change as Change
from node.membership_history import History as History
from node.membership_history import Kind as Kind
from node.membership_history import bootstrap as bootstrap
from node.membership_history import decode_changes as decode_changes
from node.membership_history import effective, is_int_at_least
from node.membership_history import members as members
from node.membership_history import merge as merge
from node.membership_history import next_change as next_change
from node.membership_history import ordered as ordered
from node.membership_history import seeds_elsewhere as seeds_elsewhere
from node.membership_history import states as states
from node.membership_history import tombstones as tombstones
from node.messages import (
    ClientReq,
    Gossip,
    GossipAck,
    Join,
    JoinReq,
    Leave,
    Members,
    MembersOk,
    PeerMsg,
)
from node.modes import LogLevel
from node.origin import Origin
from node.outbox import Outbox
from node.ownership import Mover
from node.placement import Placement
from node.protocol import packb
from node.ring import Member
from node.storage import Storage

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
        addr = entry[1]
        if not (isinstance(addr, str) and addr in _WELL_FORMED):  # every gossip repeats them
            parse_addr(addr, f"address of {name}")
            if len(_WELL_FORMED) >= _MAX_WELL_FORMED:
                _WELL_FORMED.clear()
            _WELL_FORMED.add(addr)
        out[name] = (entry[0], addr)
    return out


_WELL_FORMED: set[str] = set()
"""Addresses `parse_addr` accepted lately (bounded): each is checked once, not per gossip."""
_MAX_WELL_FORMED = 1024


def merge_addrs(a: Addrs, b: Addrs) -> dict[str, tuple[int, str]]:
    """Per name, the entry with the higher (stamp, address)."""
    out = dict(a)
    for name, entry in b.items():
        if name not in out or entry > out[name]:
            out[name] = entry
    return out


class Membership:
    """This node's history, addresses, gossip rounds, failure detector and data mover."""

    def __init__(
        self,
        cfg: NodeConfig,
        rng: random.Random,
        outbox: Outbox,
        storage: Storage,
        placement: Placement,
        health: Health,
        mover: Mover,
    ) -> None:
        self.cfg, self.name, self.rng = cfg, cfg.name, rng
        self.outbox, self.storage, self.placement, self.health = outbox, storage, placement, health
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
        self.mover = mover
        self._rows: tuple[object, object, list[Any], dict[Any, Any]] = (None, None, [], {})
        """The history and addresses last put in wire form, and that form: every gossip
        message carries both, and they rarely change (`absorb` replaces, never edits, them)."""

    def peer_handlers(self) -> dict[type[PeerMsg], Callable[[str, Any], None]]:
        """Gossip's messages and their handlers, for the dispatcher."""
        return {Gossip: self.on_gossip, GossipAck: self.on_gossip_ack, JoinReq: self.on_join_req}

    def client_handlers(self) -> dict[type[ClientReq], Callable[[Origin, Any], None]]:
        """The membership calls and their handlers, for the dispatcher."""
        return {Join: self.client_join, Leave: self.client_leave, Members: self.client_members}

    def start(self) -> None:
        """Restores the persisted history, merges the config's, and arms the gossip rounds."""
        self.history, self.addrs = self.load()
        self.apply()
        self.mover.watch()  # local data was placed under the ring persisted last
        boot = int(self.storage.meta_get("boot") or b"0")
        boot_events = bootstrap(self.cfg)
        self.joining = not boot_events and not any(n == self.name for n, _ in self.history)
        self.absorb(boot_events, {self.name: (boot, self.me)})
        self.outbox.every(self.cfg.gossip_interval_ms / 1000, self.gossip_round)

    # --- state --------------------------------------------------------------

    def load(self) -> tuple[dict[tuple[str, int], Change], dict[str, tuple[int, str]]]:
        raw = self.storage.meta_get(META_KEY)
        if raw is None:
            return {}, {}
        try:
            body = msgpack.unpackb(raw, raw=False)
            return merge({}, decode_changes(body["history"])), decode_addrs(body["addrs"])
        except (ValueError, KeyError, TypeError) as e:
            self.outbox.log(
                LogLevel.ERROR, f"stored membership unreadable ({e}); starting from the config"
            )
            return {}, {}

    def history_rows(self) -> list[Any]:
        """The whole history in its wire form (shared: never change it)."""
        return self._wire()[2]

    def addr_rows(self) -> dict[Any, Any]:
        """Every known self-reported address in its wire form (shared: never change it)."""
        return self._wire()[3]

    def _wire(self) -> tuple[object, object, list[Any], dict[Any, Any]]:
        rows = self._rows
        if rows[0] is not self.history or rows[1] is not self.addrs:
            history = [e.encode() for e in ordered(self.history)]
            addrs = {n: list(a) for n, a in sorted(self.addrs.items())}
            rows = self._rows = (self.history, self.addrs, history, addrs)
        return rows

    def absorb(self, events: Iterable[Change], addrs: Addrs) -> bool:
        """Merges events and addresses; persists, then rebuilds the ring, if anything changed."""
        history, known = merge(self.history, events), merge_addrs(self.addrs, addrs)
        if history == self.history and known == self.addrs:
            return False
        self.history, self.addrs = history, known
        stored = {"history": self.history_rows(), "addrs": self.addr_rows()}
        self.storage.meta_put(META_KEY, packb(stored))
        self.apply()
        return True

    def absorb_message(self, peer: str, history: list[Any], addrs_raw: dict[Any, Any]) -> bool:
        """Merges a peer's gossip payload; a malformed one is logged and ignored."""
        try:
            events = decode_changes(history)
            addrs = decode_addrs(addrs_raw)
        except ValueError as e:
            self.outbox.log(LogLevel.ERROR, f"dropped malformed gossip from {peer}: {e}")
            return False
        return self.absorb(events, addrs)

    def live(self) -> list[Member]:
        """The members, in join order (leaves that would go below N members are void)."""
        return members(self.history, self.cfg.n)

    def apply(self) -> None:
        live = self.live()
        if live:
            self.placement.set_members(live)

    def state_of(self, name: str) -> Kind | None:
        current = effective(self.history, self.cfg.n).get(name)
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
        down = self.health.down
        for alias in [d for d in down if d.startswith(SEED_ALIAS)]:
            down.discard(alias)
        if self.joining:
            self.ask_to_join()
        else:
            peers = self.live_peers()
            if peers:
                self.gossip_to(self.rng.choice(peers))
            mono = self.outbox.now.mono
            due = mono - self.last_seed_mono >= self.cfg.seed_interval_ms / 1000
            seeds = self.seed_peers()
            if seeds and (due or not peers):
                self.last_seed_mono = mono
                self.gossip_to(self.rng.choice(seeds))
        self.mover.step()

    def live_peers(self) -> list[str]:
        names = (m.name for m in self.placement.ring.members)
        down = self.health.down
        return [n for n in names if n != self.name and n not in down and self.address_of(n)]

    def seed_peers(self) -> list[str]:
        """Peer names of the seeds other than this node (an alias for an unknown address)."""
        by_addr = {a: n for n, (_, a) in self.addrs.items()}
        by_addr.update({f"{h}:{p}": n for n, (h, p) in self.configured.items()})
        out = set()
        for seed in self.seeds:
            peer = seed if seed in self.configured else by_addr.get(seed, SEED_ALIAS + seed)
            if peer != self.name and seed != self.me:
                out.add(peer)
        return sorted(out)

    def gossip_to(self, peer: str, join: bool = False) -> None:
        """Sends our history (as a join_req if `join`); no acknowledgement within the request
        timeout marks `peer` down."""
        gid = self.outbox.new_id()
        timeout_s = self.cfg.request_timeout_ms / 1000
        timer = self.outbox.after(timeout_s, lambda: self.unanswered(gid))
        self.awaiting[gid] = (peer, timer)
        history, addrs = self.history_rows(), self.addr_rows()
        if join:
            self.outbox.send(peer, JoinReq(gid, history, addrs, self.weight, self.rejoin))
        else:
            self.outbox.send(peer, Gossip(gid, history, addrs))

    def ask_to_join(self) -> None:
        seeds = self.seed_peers()
        if seeds:
            self.gossip_to(self.rng.choice(seeds), join=True)

    def unanswered(self, gid: int) -> None:
        peer, _ = self.awaiting.pop(gid, ("", 0))
        if peer in {m.name for m in self.placement.ring.members}:
            self.outbox.count("gossip_unanswered")
            self.health.mark_down(peer)

    def acknowledged(self, peer: str, gid: Any) -> None:
        """A gossip reply proves the round trip works: `peer` is usable again."""
        entry = self.awaiting.pop(gid, None) if isinstance(gid, int) else None
        if entry is not None:
            self.outbox.cancel(entry[1])
        self.health.mark_up(peer)

    def admit(self, peer: str, weight: int, rejoin: bool) -> str:
        """Adds `peer` as a member at a seed's request: "joined", "refused" or "not_member"."""
        if self.state_of(self.name) is not Kind.JOIN:
            return "not_member"  # only a member can admit others
        state = self.state_of(peer)
        if state is Kind.LEAVE and not rejoin:
            self.outbox.log(LogLevel.WARNING, f"{peer} asked to join but was removed; refusing")
            return "refused"
        if state is not Kind.JOIN:
            self.absorb([next_change(self.history, peer, Kind.JOIN, weight)], {})
            self.outbox.log(LogLevel.INFO, f"{peer} joined through this node")
        return "joined"

    # --- peer messages --------------------------------------------------------

    def on_gossip(self, peer: str, msg: Gossip) -> None:
        """Merges the sender's history and answers with ours (push-pull)."""
        self.absorb_message(peer, msg.history, msg.addrs)
        self.outbox.send(peer, GossipAck(msg.id, self.history_rows(), self.addr_rows()))

    def on_gossip_ack(self, peer: str, msg: GossipAck) -> None:
        self.acknowledged(peer, msg.id)
        self.absorb_message(peer, msg.history, msg.addrs)
        if self.joining and msg.join in ("joined", "refused"):
            self.joining = False
            level = LogLevel.INFO if msg.join == "joined" else LogLevel.ERROR
            self.outbox.log(level, f"join through {peer}: {msg.join}")

    def on_join_req(self, peer: str, msg: JoinReq) -> None:
        """A node asks to become a member; a member adds it (unless it was removed)."""
        self.absorb_message(peer, [], msg.addrs)  # its history comes by gossip
        outcome = self.admit(peer, msg.weight, msg.rejoin)
        ack = GossipAck(msg.id, self.history_rows(), self.addr_rows(), outcome)
        self.outbox.send(peer, ack)

    # --- client requests --------------------------------------------------------

    def client_join(self, origin: Origin, msg: Join) -> None:
        """{"seed": "host:port"}: this node joins through that seed (a removed node rejoins).
        {"node": name, "addr": "host:port"?, "weight": w?}: this node adds `name` as a member."""
        seed, name, addr, weight = msg.seed, msg.node, msg.addr, msg.weight
        try:
            for field, text in (("seed", seed), ("addr", addr)):
                own = (self.cfg.host, self.cfg.port)
                if text is not None and parse_addr(text, f"field {field!r}") == own:
                    raise ValueError(f"field {field!r} is this node's own address {text!r}")
        except ValueError as e:
            origin.fail("bad_request", str(e))
            return
        if isinstance(seed, str):
            if seed not in self.seeds:
                self.seeds.append(seed)
            self.joining = self.rejoin = True
            self.ask_to_join()
        elif name and (weight is None or is_int_at_least(weight, 1)):
            if self.state_of(name) is not Kind.JOIN:
                known = {name: (0, addr)} if isinstance(addr, str) else {}
                self.absorb([next_change(self.history, name, Kind.JOIN, weight or 1)], known)
        else:
            why = "join needs 'seed' (\"host:port\") or 'node' (a name) with an optional 'addr'"
            origin.fail("bad_request", why + " and a positive integer 'weight'")
            return
        self.client_members(origin, Members())

    def client_leave(self, origin: Origin, msg: Leave) -> None:
        """{"node": name}: `name` leaves; it is tombstoned everywhere. Refused if the ring
        would keep fewer than N members (and void in the merge if concurrent leaves would)."""
        name, n = msg.node, self.cfg.n
        live = [x.name for x in self.live()]
        if name not in live:
            origin.fail("not_member", f"{name!r} is not a member: {live}")
        elif len(live) - 1 < n:
            origin.fail("bad_request", f"{name!r} cannot leave: the ring would keep "
                        f"{len(live) - 1} members, fewer than N={n}")  # fmt: skip
        else:
            self.absorb([next_change(self.history, name, Kind.LEAVE)], {})
            self.client_members(origin, Members())

    def client_members(self, origin: Origin, msg: Members) -> None:
        """This node's view: members in join order, tombstones, history length, join progress."""
        origin.answer(
            MembersOk(
                node=self.name,
                members=[x.name for x in self.live()],
                tombstones=tombstones(self.history, self.cfg.n),
                history_length=len(self.history),
                joining=self.joining,
                moving=len(self.mover.pending),
                addresses={n: a for n, (_, a) in sorted(self.addrs.items())},
            )
        )
