"""A reference model of a *correct* Dynamo store that writes cart histories.

The model is a discrete-event simulation driven by one seeded `random.Random`:
several replicas per key (the first N nodes from a CRC32 start), each holding a
sibling set with dots (DVV-set style: every sibling carries the dot
(actor, counter) of the put that made it, and the object carries a version
vector). Clients run the cart workload of docs/history.md: read, or
get → union the siblings → add (or remove) an item → put with the context.

Invariants the model keeps (so every Sibyl checker must call it valid):
* a put at coordinator c drops exactly the siblings whose dot its context
  covers, and takes the next counter of c;
* `sync` keeps a sibling unless the other side's clock covers its dot and the
  other side lacks it; replication and anti-entropy ship whole objects;
* messages are delayed at random and dropped while a partition separates the
  two nodes (or with probability `drop_p`); a put that reaches fewer than W
  replicas reports failure (indeterminate: it landed on the coordinator), and a
  get that reaches fewer than R replicas fails before writing (``"get: ..."``);
* after the final heal the run quiesces, anti-entropy merges every key's
  replicas, two rounds of replica reads are written (the first may disagree),
  and every key is read through every node (``"final": true``).

It never imports harness/ or node/. `generate(config, seed)` returns the ops.
"""

from __future__ import annotations

import heapq
import random
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from checkers.history import NEMESIS, Op, OpType

Dot = tuple[str, int]
VV = dict[str, int]
Value = dict[str, Any]
_MS = 1_000_000


class Obj:
    """An immutable stored object: a version vector and the siblings by dot."""

    __slots__ = ("vv", "sibs")

    def __init__(self, vv: VV, sibs: dict[Dot, Value]) -> None:
        self.vv = vv
        self.sibs = sibs


EMPTY = Obj({}, {})


def put_local(obj: Obj, ctx: VV, actor: str, value: Value) -> Obj:
    """Returns `obj` after a coordinated put of `value` by `actor` with context `ctx`."""
    n = max(obj.vv.get(actor, 0), ctx.get(actor, 0)) + 1
    sibs = {d: v for d, v in obj.sibs.items() if ctx.get(d[0], 0) < d[1]}
    sibs[(actor, n)] = value
    vv = _merge_vv(obj.vv, ctx)
    vv[actor] = n
    return Obj(vv, sibs)


def sync(a: Obj, b: Obj) -> Obj:
    """Returns the merge of two replicas of one key: drops only causally covered siblings."""
    if a is b:
        return a
    avv, bvv, asibs, bsibs = a.vv, b.vv, a.sibs, b.sibs
    keep = {d: v for d, v in asibs.items() if d in bsibs or bvv.get(d[0], 0) < d[1]}
    for d, v in bsibs.items():
        if d not in asibs and avv.get(d[0], 0) < d[1]:
            keep[d] = v
    return Obj(_merge_vv(avv, bvv), keep)


def _merge_vv(a: VV, b: VV) -> VV:
    out = dict(a)
    for k, n in b.items():
        if out.get(k, 0) < n:
            out[k] = n
    return out


def encode_context(vv: VV) -> str:
    """The canonical string form of a version vector: equal strings, equal clocks."""
    return ",".join(f"{a}:{n}" for a, n in sorted(vv.items()))


def siblings_of(obj: Obj) -> list[Value]:
    """The sibling values in dot order."""
    return [obj.sibs[d] for d in sorted(obj.sibs)]


@dataclass(frozen=True)
class ReferenceConfig:
    """How big a run to simulate. Fault shapes cycle in order; () means no faults."""

    n_ops: int = 1000
    n_nodes: int = 5
    n_replicas: int = 3
    r: int = 2
    w: int = 2
    n_keys: int = 10
    n_processes: int = 8
    read_fraction: float = 0.4
    remove_fraction: float = 0.1
    faults: Sequence[str] = ("one", "halves")
    drop_p: float = 0.0
    get_fail_p: float = 0.01
    info_p: float = 0.01


class _Pending:
    """One client op in flight."""

    __slots__ = ("process", "f", "key", "item", "coord", "get", "put", "parents", "inv")

    def __init__(self, process: int, f: str, key: str, item: Any, coord: str) -> None:
        self.process, self.f, self.key, self.item, self.coord = process, f, key, item, coord
        self.get: Obj = EMPTY
        self.put: str | None = None
        self.parents: list[str] = []
        self.inv = 0


_INVOKE, _GET, _PUT, _DONE, _DELIVER, _FAULT = range(6)


class Simulation:
    """The cluster, the clients and the history they write; see `generate`."""

    def __init__(self, config: ReferenceConfig, rng: random.Random) -> None:
        self.c, self.rng = config, rng
        self.nodes = [f"n{i + 1}" for i in range(config.n_nodes)]
        self.store: dict[str, dict[str, Obj]] = {n: {} for n in self.nodes}
        self.keys = [f"k{i}" for i in range(config.n_keys)]
        self.prefs = {k: self._preference(k) for k in self.keys}
        self.ops: list[Op] = []
        self.heap: list[tuple[int, int, int, Any]] = []
        self.seq = 0
        self.now = 0
        self.cut: frozenset[str] = frozenset()
        self.next_item = 0
        self.next_process = config.n_processes
        self.put_seq: dict[int, int] = {}
        self.added: dict[str, list[int]] = {k: [] for k in self.keys}
        self.stopping = False

    def _preference(self, key: str) -> list[str]:
        start = zlib.crc32(key.encode()) % len(self.nodes)
        n = min(self.c.n_replicas, len(self.nodes))
        return [self.nodes[(start + i) % len(self.nodes)] for i in range(n)]

    def _at(self, t: int, kind: int, payload: Any) -> None:
        self.seq += 1
        heapq.heappush(self.heap, (t, self.seq, kind, payload))

    def _emit(self, process: int | str, typ: OpType, f: str, **kw: Any) -> int:
        i = len(self.ops)
        self.ops.append(Op(i, self.now, process, typ, f, **kw))
        return i

    def _lat(self, lo_ms: float = 0.2, hi_ms: float = 3.0) -> int:
        return int(self.rng.uniform(lo_ms, hi_ms) * _MS)

    def _reachable(self, a: str, b: str) -> bool:
        return a == b or ((a in self.cut) == (b in self.cut))

    def run_clients(self, budget_ops: int) -> None:
        """Runs clients and faults until about `budget_ops` ops are written, then quiesces."""
        for p in range(self.c.n_processes):
            self._at(self._lat(0, 1), _INVOKE, p)
        self._plan_faults()
        while self.heap:
            t, _, kind, payload = heapq.heappop(self.heap)
            self.now = t
            if not self.stopping and len(self.ops) >= budget_ops:
                self._heal()
            self._step(kind, payload)
        if not self.stopping:
            self._heal()

    def _step(self, kind: int, payload: Any) -> None:
        if kind == _INVOKE:
            if not self.stopping:
                self._invoke(payload)
        elif kind == _GET:
            self._get_step(payload)
        elif kind == _PUT:
            self._put_step(payload)
        elif kind == _DONE:
            self._done(*payload)
        elif kind == _DELIVER:
            node, key, obj = payload
            cur = self.store[node].get(key, EMPTY)
            self.store[node][key] = sync(cur, obj)
        elif kind == _FAULT and not self.stopping:
            self._fault(*payload)

    def _plan_faults(self) -> None:
        t = 0
        for i in range(max(1, self.c.n_ops // 400) if self.c.faults else 0):
            t += int(self.rng.uniform(20, 60) * _MS)
            shape = self.c.faults[i % len(self.c.faults)]
            dur = int(self.rng.uniform(20, 80) * _MS)
            self._at(t, _FAULT, ("start", i, shape))
            self._at(t + dur, _FAULT, ("stop", i, shape))
            t += dur

    def _fault(self, f: str, fid: int, shape: str) -> None:
        if f == "start":
            k = 1 if shape == "one" else len(self.nodes) // 2
            self.cut = frozenset(self.rng.sample(self.nodes, k))
            targets = sorted(self.cut)
        else:
            self.cut, targets = frozenset(), []
        value = {"id": fid, "kind": "partition", "shape": shape, "targets": targets, "params": {}}
        self._emit(NEMESIS, OpType.INFO, f, value=value)

    def _heal(self) -> None:
        self.stopping = True
        self.cut = frozenset()
        self._emit(NEMESIS, OpType.INFO, "heal", value={})

    def _invoke(self, process: int) -> None:
        rng, c = self.rng, self.c
        key = rng.choice(self.keys)
        coord = rng.choice(self.prefs[key])
        x = rng.random()
        if x < c.read_fraction:
            p = _Pending(process, "read", key, None, coord)
        elif x < c.read_fraction + c.remove_fraction and self.added[key]:
            p = _Pending(process, "remove", key, rng.choice(self.added[key]), coord)
        else:
            self.next_item += 1
            p = _Pending(process, "add", key, self.next_item, coord)
        p.inv = self._emit(process, OpType.INVOKE, p.f, key=key, value=p.item)
        self._at(self.now + self._lat(), _GET, p)

    def _get_step(self, p: _Pending) -> None:
        pref = [n for n in self.prefs[p.key] if self._reachable(p.coord, n)]
        if len(pref) < self.c.r or self.rng.random() < self.c.get_fail_p:
            self._at(self.now + self._lat(), _DONE, (p, OpType.FAIL, "get: too few replicas"))
            return
        others = [n for n in pref if n != p.coord]
        self.rng.shuffle(others)
        obj = EMPTY
        for n in ([p.coord] if p.coord in pref else []) + others[: self.c.r - 1]:
            obj = sync(obj, self.store[n].get(p.key, EMPTY))
        p.get = obj
        if p.f == "read":
            self._at(self.now + self._lat(), _DONE, (p, OpType.OK, None))
        else:
            self._at(self.now + self._lat(), _PUT, p)

    def _put_step(self, p: _Pending) -> None:
        items: set[int] = set()
        for v in p.get.sibs.values():
            items.update(v["items"])
        if p.f == "add":
            items.add(p.item)
        else:
            items.discard(p.item)
        seq = self.put_seq.get(p.process, 0) + 1
        self.put_seq[p.process] = seq
        p.put = f"p{p.process}-{seq}"
        p.parents = [v["put"] for v in siblings_of(p.get)]
        value = {"put": p.put, "items": sorted(items)}
        store = self.store[p.coord]
        obj = put_local(store.get(p.key, EMPTY), p.get.vv, p.coord, value)
        store[p.key] = obj
        acks = 1
        for n in self.prefs[p.key]:
            if n == p.coord:
                continue
            if self._reachable(p.coord, n) and self.rng.random() >= self.c.drop_p:
                acks += 1
                self._at(self.now + self._lat(0.1, 8.0), _DELIVER, (n, p.key, obj))
        ok = acks >= self.c.w and self.rng.random() >= self.c.info_p
        typ = OpType.OK if ok else self.rng.choice((OpType.FAIL, OpType.INFO))
        self._at(self.now + self._lat(), _DONE, (p, typ, None if ok else "put: timeout"))

    def _done(self, p: _Pending, typ: OpType, error: str | None) -> None:
        extra: dict[str, Any] = {}
        if p.f == "read" and typ is OpType.OK:
            self._emit(
                p.process,
                typ,
                "read",
                key=p.key,
                siblings=siblings_of(p.get),
                context=encode_context(p.get.vv),
                node=p.coord,
            )
        else:
            if p.put is not None:
                extra = {"put": p.put, "parents": p.parents}
                if typ is OpType.OK and p.f == "add":
                    self.added[p.key].append(p.item)
            ctx = encode_context(p.get.vv) if p.put is not None else None
            self._emit(
                p.process,
                typ,
                p.f,
                key=p.key,
                value=p.item,
                context=ctx,
                node=p.coord,
                error=error,
                extra=extra,
            )
        nxt = p.process
        if typ is OpType.INFO:
            nxt = self.next_process
            self.next_process += 1
        self._at(self.now + self._lat(0, 2), _INVOKE, nxt)

    def finish(self) -> None:
        """Anti-entropy, two rounds of replica reads, then final reads of every key."""
        ae_ns = 20 * _MS
        t_q = self.now + _MS
        merged: dict[str, Obj] = {}
        ae_at: dict[str, int] = {}
        for k in self.keys:
            obj = EMPTY
            for n in self.prefs[k]:
                obj = sync(obj, self.store[n].get(k, EMPTY))
            merged[k] = obj
            ae_at[k] = t_q + self.rng.randrange(ae_ns)
        self.now = t_q + ae_ns // 2
        self._replica_round(0, lambda k, n: merged[k] if ae_at[k] <= self.now else None)
        for k in self.keys:
            for n in self.prefs[k]:
                self.store[n][k] = merged[k]
        self.now = t_q + ae_ns + _MS
        self._replica_round(1, lambda k, n: merged[k])
        self._final_reads()

    def _replica_round(self, rnd: int, state: Any) -> None:
        for k in self.keys:
            for n in self.prefs[k]:
                self.now += 1000
                obj = state(k, n) or self.store[n].get(k, EMPTY)
                self._emit(
                    "checker",
                    OpType.OK,
                    "replica-read",
                    key=k,
                    node=n,
                    siblings=siblings_of(obj),
                    context=encode_context(obj.vv),
                    extra={"round": rnd},
                )

    def _final_reads(self) -> None:
        base = self.next_process
        for k in self.keys:
            obj = self.store[self.prefs[k][0]].get(k, EMPTY)
            for i, n in enumerate(self.nodes):
                self.now += 1000
                self._emit(base + i, OpType.INVOKE, "read", key=k, extra={"final": True})
                self.now += 1000
                self._emit(
                    base + i,
                    OpType.OK,
                    "read",
                    key=k,
                    siblings=siblings_of(obj),
                    context=encode_context(obj.vv),
                    node=n,
                    extra={"final": True},
                )


def generate(config: ReferenceConfig, seed: int) -> list[Op]:
    """Returns a cart history (docs/history.md) of about `config.n_ops` ops.

    Deterministic in (config, seed). The history is valid for every Sibyl
    Dynamo checker: no lost acknowledged add, no phantom or dominated sibling,
    converged replicas after the heal.
    """
    sim = Simulation(config, random.Random(seed))
    finals = config.n_keys * (2 * len(sim.nodes) + 2 * min(config.n_replicas, config.n_nodes))
    sim.run_clients(max(config.n_processes * 2, config.n_ops - finals))
    sim.finish()
    return sim.ops
